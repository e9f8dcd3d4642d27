"""The README's promises: CI runs its commands, its Python example runs, and a new user's study
written from the "Your own study" section alone runs from the command line and from Python."""
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def section(title):
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def blocks(text, language):
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def _fresh_machine_commands():
    return blocks(section("On a fresh machine"), "bash")[0].strip().splitlines()


def test_ci_runs_the_readme_install_and_test_commands():
    install, _main_job, tests = _fresh_machine_commands()
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert install in ci and tests in ci
    # chromium (for the dashboard test) is installed before the tests run
    assert any("apt-get install" in line and "chromium" in line for line in ci)
    assert ci.index(tests) > max(i for i, line in enumerate(ci) if "chromium" in line)


def test_the_readme_shows_the_pictures_it_ships():
    for picture in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", README):
        assert (ROOT / picture).stat().st_size > 0, picture


@pytest.mark.slow
def test_the_python_example_runs(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    code = blocks(section("In Python"), "python")[0]
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    board = namespace["result"].leaderboard("accuracy_test")
    assert len(board) == 18 and board["accuracy_test"].iloc[0] >= 0.9
    assert (tmp_path / "curves.png").stat().st_size > 0 and (tmp_path / "leaderboard.png").stat().st_size > 0
    assert len(namespace["load_sweep"]("iris")) == 18


@pytest.mark.slow
def test_your_own_study_runs_from_the_readme_alone(tmp_path):
    """The study file, the commands and the Python lines of "Your own study", as written."""
    text = section("Your own study")
    study, python = blocks(text, "python")
    assert study.startswith("# my_study.py\n")
    (tmp_path / "my_study.py").write_text(study)
    assert "docs/factories_walkthrough.md" in text and (ROOT / "docs/factories_walkthrough.md").exists()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    outputs = []
    for line in blocks(text, "bash")[0].strip().splitlines():
        command = shlex.split(line.split("#")[0])
        assert command[0] == "sweeps"
        run = subprocess.run([sys.executable, "-m", "sweeps", *command[1:], "--no-progress"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        outputs.append(run)
    assert "ran 4 tasks (4 complete, 0 failed)" in outputs[0].stderr
    assert "HS10-LR01" in outputs[0].stdout and (tmp_path / "runs" / "sweeps.wine.curves.png").exists()
    assert "ran 2 tasks (2 complete, 0 failed)" in outputs[1].stderr

    script = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n{python}\n" \
             "print(len(result), result.best.name)\n"
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    count, best = run.stdout.split()[-2:]
    assert count == "3" and best.startswith("LR")
