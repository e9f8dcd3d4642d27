"""``sweeps run`` draws its two pictures in painter processes forked before the sweep starts."""
import os
import sys

import pytest

from sweeps import _painters
from sweeps._painters import Painters

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork on Linux")


@pytest.fixture(autouse=True)
def _forking(monkeypatch):
    # the CLI forks its painters while it is single-threaded; pytest may hold other threads
    monkeypatch.setattr(_painters, "_can_fork", lambda: True)


def _pid_and_matplotlib(tag):
    return tag, os.getpid(), "matplotlib.pyplot" in sys.modules


def _fails_in_a_painter(parent):
    if os.getpid() != parent:
        raise RuntimeError("painter trouble")
    return "drawn here"


def _fails_everywhere():
    raise ValueError("a real drawing error")


def test_two_pictures_are_drawn_at_once_in_two_painters_that_imported_matplotlib():
    with Painters() as painters:
        pids = {p.pid for p, _ in painters._painters}
        results = painters.draw([(_pid_and_matplotlib, ("curves",)),
                                 (_pid_and_matplotlib, ("board",))])
    assert [tag for tag, _, _ in results] == ["curves", "board"]
    used = {pid for _, pid, _ in results}
    assert len(used) == 2 and used == pids and os.getpid() not in used
    assert all(imported for _, _, imported in results)  # matplotlib was imported in advance
    for pid in pids:  # no painter is left behind
        assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2]


def test_a_job_a_painter_cannot_draw_is_drawn_here_and_a_real_error_shows_here():
    with Painters(1) as painters:
        assert painters.draw([(_fails_in_a_painter, (os.getpid(),))]) == ["drawn here"]
    with Painters(1) as painters:
        with pytest.raises(ValueError, match="a real drawing error"):
            painters.draw([(_fails_everywhere, ())])


def test_a_dead_painter_costs_nothing_but_its_help():
    with Painters(2) as painters:
        process, _ = painters._painters[0]
        process.kill()
        process.join(5)
        results = painters.draw([(_pid_and_matplotlib, ("a",)), (_pid_and_matplotlib, ("b",))])
    assert results[0][1] == os.getpid()  # drawn here
    assert results[1][1] != os.getpid()


def test_more_jobs_than_painters_are_drawn_here():
    with Painters(1) as painters:
        results = painters.draw([(_pid_and_matplotlib, ("a",)), (_pid_and_matplotlib, ("b",))])
    assert results[0][1] != os.getpid() and results[1][1] == os.getpid()


def test_where_a_painter_cannot_be_forked_everything_is_drawn_here(monkeypatch):
    monkeypatch.setattr(_painters, "_can_fork", lambda: False)
    with Painters() as painters:
        results = painters.draw([(_pid_and_matplotlib, ("a",)), (_pid_and_matplotlib, ("b",))])
    assert [pid for _, pid, _ in results] == [os.getpid(), os.getpid()]


def test_the_cli_forks_its_painters_while_it_has_one_thread():
    import subprocess

    code = ("import threading, sys; from sweeps import _painters; "
            "print(_painters._can_fork()); "
            "threading.Thread(target=threading.Event().wait, daemon=True).start(); "
            "print(_painters._can_fork())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60).stdout.split()
    assert out == ["True", "False"]
