"""The README's promises: CI runs its commands, and its Python example runs."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _fresh_machine_commands():
    section = README.split("## On a fresh machine", 1)[1]
    return re.findall(r"```bash\n(.*?)```", section, re.S)[0].strip().splitlines()


def test_ci_runs_the_readme_install_and_test_commands():
    install, _main_job, tests = _fresh_machine_commands()
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert install in ci and tests in ci


@pytest.mark.slow
def test_the_python_example_runs(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    code = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    board = namespace["result"].leaderboard("accuracy_test")
    assert len(board) == 18 and board["accuracy_test"].iloc[0] >= 0.9
    assert (tmp_path / "curves.png").stat().st_size > 0 and (tmp_path / "leaderboard.png").stat().st_size > 0
    assert len(namespace["load_sweep"]("iris")) == 18
