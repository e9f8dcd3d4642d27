"""``sweeps dashboard`` in a real browser: Debian's chromium, headless, driven by Playwright.

The sweep's pages must show the task names the CLI prints and the learning-curve chart. The
screenshots land in the test's tmp_path, or in $SWEEPS_SCREENSHOTS when it is set (to look at
them). Without chromium or Playwright the test is skipped, except under CI.
"""
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from sweeps import Store, sweep

pytestmark = pytest.mark.slow

REPO = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def _require(found, message):
    if not found:
        if os.environ.get("CI"):
            pytest.fail(message)  # CI always runs the real browser
        pytest.skip(message)


@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium")
    _require(path, "Debian's chromium is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    _require(sync_playwright, "Playwright's Python package is missing: pip install -e '.[dev]'")
    return path, sync_playwright


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def dashboard(tmp_path):
    """A store with one sweep of the iris study (tuple params), served by `sweeps dashboard`:
    (base URL, store)."""
    from studies.iris import create_task, load_bundle

    store = Store(str(tmp_path / "s.log"))
    sweep(create_task, dict(network_size=[(), (10,), (10, 10)], epoch_count=4), data=load_bundle,
          store=store, name="iris", executor="sequential", progress=False)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, "-m", "sweeps", "dashboard", "--store", store.url,
                               "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/studies", timeout=5) as reply:
                    json.load(reply)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "the dashboard did not answer in 60 s"
                time.sleep(0.3)
        yield base, store
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_dashboard_speaks_in_task_names(chromium, dashboard, tmp_path):
    executable, sync_playwright = chromium
    base, store = dashboard
    shots = pathlib.Path(os.environ.get("SWEEPS_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    study_id = store.study_id("iris")
    trials = {t.user_attrs["name"]: (t.number, t.user_attrs["params"])
              for t in store.optuna_storage().get_all_trials(study_id)}
    assert sorted(trials) == ["NS", "NS10", "NS10-10"]  # the names sweeps leaderboard prints
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=executable, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        try:
            page = browser.new_page()
            page.goto(f"{base}/dashboard/studies/{study_id}")
            chart = page.locator("#graph-intermediate-values")
            chart.locator(".scatterlayer .trace").first.wait_for(timeout=30_000)
            assert chart.locator(".scatterlayer .trace").count() == 3  # one curve per task
            assert page.get_by_text("Intermediate values", exact=True).count() == 1
            page.screenshot(path=str(shots / "dashboard_study.png"), full_page=True)

            sizes = {"NS": "()", "NS10": "(10,)", "NS10-10": "(10, 10)"}
            for name, (number, stored) in trials.items():
                page.goto(f"{base}/dashboard/studies/{study_id}/trials?numbers={number}")
                heading = page.locator("h2", has_text=name)
                heading.wait_for(timeout=30_000)  # the note, under the trial's header
                assert heading.inner_text() == name
                note = heading.locator("xpath=..")
                assert f"network_size = {sizes[name]}" in note.inner_text()  # as Python writes it
                assert "__tuple__" in json.dumps(stored) and "__tuple__" not in note.inner_text()
                assert page.get_by_text("metric:accuracy_test", exact=False).count() >= 1
            page.screenshot(path=str(shots / "dashboard_trial.png"))
        finally:
            browser.close()
    assert (shots / "dashboard_study.png").stat().st_size > 0


def test_without_chromium_it_skips_with_a_reason_but_under_ci_it_fails(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        _require(None, "Debian's chromium is missing: apt-get install -y chromium")
    monkeypatch.setenv("CI", "true")  # as .ci/run sets it
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        _require(None, "Debian's chromium is missing: apt-get install -y chromium")
