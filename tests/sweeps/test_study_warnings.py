"""A warning raised while a study file's task is built names the user's file and line, once per
sweep, whichever process builds the task."""
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

from sweeps import Store, sweep

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

STUDY = textwrap.dedent("""\
    import warnings
    from sweeps import register
    from tests.sweeps.tasks_for_tests import create_task as toy, load_offset

    def create_task(x):
        warnings.warn("create_task was called", UserWarning)
        return toy(x)

    register("warny", create_task, grid=dict(x=[1, 2, 3, 4]), data=load_offset)
""")
LINE = 6

pytestmark = pytest.mark.usefixtures("empty_registry")


def test_in_process_the_warning_points_at_the_file_once(write_study, tmp_path):
    path = write_study("warny", STUDY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sweep(path, store=Store(str(tmp_path / "s.log")), executor="sequential",
                       progress=False)
        again = sweep(path, store=Store(str(tmp_path / "t.log")), executor="sequential",
                      progress=False)
    assert len(result) == 4 and len(again) == 4
    ours = [w for w in caught if "create_task was called" in str(w.message)]
    assert [(w.filename, w.lineno) for w in ours] == [(path, LINE)] * 2  # once in each sweep


@pytest.mark.slow
def test_worker_processes_show_it_once_with_the_file_and_line(write_study, tmp_path):
    path = write_study("warny", STUDY)
    env = {**os.environ, "PYTHONPATH": REPO, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "default"}
    run = subprocess.run([sys.executable, "-m", "sweeps", "run", path, "--n-jobs", "2",
                          "--store", str(tmp_path / "s.log"), "--no-progress"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if ": UserWarning: " in line]
    assert lines == [f"{path}:{LINE}: UserWarning: create_task was called"]
    assert "<dynamic-code>" not in run.stderr
