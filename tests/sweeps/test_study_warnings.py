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


def test_a_full_temp_folder_still_builds_the_tasks_and_shows_the_warning(write_study, tmp_path,
                                                                        monkeypatch, tmpfs):
    """Once-per-sweep is kept with marker files in the temp folder; when none can be made there
    the warning is shown (perhaps more than once) and no task fails for it."""
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    tmpfs(folder, "size=64k,nr_inodes=2", "needs root to mount a tiny tmpfs")
    (folder / "filler").touch()  # the last inode: no file or folder can be made there now
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    path = write_study("warny", STUDY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sweep(path, store=Store(str(tmp_path / "s.log")), executor="sequential",
                       progress=False)
    assert len(result) == 4 and all(r.ok for r in result), result.failed
    ours = [w for w in caught if "create_task was called" in str(w.message)]
    assert ours and {(w.filename, w.lineno) for w in ours} == {(path, LINE)}


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


# The walkthrough's task, in a study file of its own: the typo sits in initialize_task, which runs
# inside task.run() in a worker process, not while create_task builds the task.
WALKTHROUGH_STUDY = textwrap.dedent("""\
    from sweeps import register
    from studies.iris import ClassificationTask, load_bundle


    class TypoTask(ClassificationTask):
        def initialize_task(self, data):
            self.settings.mini_match_size = None
            super().initialize_task(data)


    def create_task(learning_rate):
        task = TypoTask()
        task.settings.epoch_count = 2
        task.optimizer_ctor.kwargs.lr = learning_rate
        return task


    register("typo", create_task, grid=dict(learning_rate=[0.1, 0.2, 0.3, 0.4]), data=load_bundle)
""")
TYPO_LINE = 7


@pytest.mark.slow
def test_the_walkthrough_typo_in_a_task_method_names_the_file_once_per_sweep(write_study, tmp_path):
    path = write_study("typo", WALKTHROUGH_STUDY)
    env = {**os.environ, "PYTHONPATH": REPO, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "default"}
    for store in ("s.log", "t.log"):  # a second sweep shows it again
        run = subprocess.run([sys.executable, "-m", "sweeps", "run", path, "--n-jobs", "2",
                              "--store", str(tmp_path / store), "--no-progress"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        assert "ran 4 tasks (4 complete, 0 failed)" in run.stderr
        lines = [line for line in run.stderr.splitlines() if ": UserWarning: " in line]
        assert lines == [f"{path}:{TYPO_LINE}: UserWarning: TrainingSettings has no setting "
                         "'mini_match_size', so it has no effect; did you mean 'mini_batch_size'?"]


def test_in_process_the_walkthrough_typo_names_the_file_once_per_sweep(write_study, tmp_path):
    path = write_study("typo", WALKTHROUGH_STUDY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for store in ("s.log", "t.log"):
            assert len(sweep(path, store=Store(str(tmp_path / store)), executor="sequential",
                             progress=False)) == 4
    ours = [w for w in caught if "mini_match_size" in str(w.message)]
    assert [(w.filename, w.lineno) for w in ours] == [(path, TYPO_LINE)] * 2  # once in each sweep
