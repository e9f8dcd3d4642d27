"""The ``sweeps`` command: grid parsing, run/list/leaderboard/plot, one-line errors."""
import os
import subprocess
import sys
import textwrap

import pytest

from sweeps.cli import main, parse_grid, split_top_level
from sweeps import SweepsValueError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

STUDY = textwrap.dedent("""
    from sweeps import register
    from tests.sweeps.tasks_for_tests import create_task, load_offset

    register("clitoy", create_task, grid=dict(x=[1, 2, 3], epochs=2), data=load_offset)
""")


pytestmark = pytest.mark.usefixtures("empty_registry")


@pytest.fixture
def study(write_study):
    return write_study("clitoy", STUDY)


def sweeps_command(*args, cwd, buffered=False):
    env = {**os.environ, "PYTHONPATH": REPO, "MPLBACKEND": "Agg"}
    if buffered:  # output held in Python's buffers until written out, as on most machines
        env.pop("PYTHONUNBUFFERED", None)
    return subprocess.run([sys.executable, "-m", "sweeps", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


# ------------------------------------------------------------------ --grid


def test_parse_grid_examples_from_the_issue():
    grid = parse_grid(["learning_rate=0.1,0.3", "algorithm=Adam,SGD", "network_size=(),(10,)"])
    assert grid == {"learning_rate": [0.1, 0.3], "algorithm": ["Adam", "SGD"],
                    "network_size": [(), (10,)]}


def test_parse_grid_single_values_and_literals():
    assert parse_grid(["x=5", "flag=True,None", "name='a,b',c", "sizes=[1,2],[3]"]) == {
        "x": [5], "flag": [True, None], "name": ["a,b", "c"], "sizes": [[1, 2], [3]]}


def test_split_top_level():
    assert split_top_level("(1,2),{'a': (3, 4)},x") == ["(1,2)", "{'a': (3, 4)}", "x"]
    assert split_top_level("") == []


@pytest.mark.parametrize("item", ["x", "=1", "x=", "x=1,,2", "bad key=1"])
def test_parse_grid_errors(item):
    with pytest.raises(SweepsValueError, match="--grid"):
        parse_grid([item])


# ------------------------------------------------------------------ in process


def test_run_prints_the_leaderboard_and_writes_both_plots(study, tmp_path, capsys):
    store = str(tmp_path / "runs" / "s.log")
    code = main(["run", study, "--executor", "sequential", "--store", store, "--no-progress",
                 "--grid", "x=4,5"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["rank", "name", "x"]
    assert lines[1].split()[:2] == ["1", "X5"] and lines[2].split()[:2] == ["2", "X4"]
    for kind in ("curves", "leaderboard"):
        path = tmp_path / "runs" / f"s.clitoy.{kind}.png"  # beside the store, named after it
        assert path.stat().st_size > 0 and str(path) in out


def test_a_rerun_says_what_ran_and_what_was_already_complete(study, tmp_path, capsys):
    store = str(tmp_path / "s.log")
    base = ["run", study, "--executor", "sequential", "--store", store, "--no-progress"]
    assert main(base + ["--grid", "x=4,5"]) == 0
    assert "sweep 'clitoy': ran 2 tasks (2 complete, 0 failed), in" in capsys.readouterr().err
    assert main(base + ["--grid", "x=4,5"]) == 0
    assert "nothing to run: all 2 tasks were already complete" in capsys.readouterr().err
    assert main(base + ["--grid", "x=4,5,6"]) == 0
    assert "ran 1 task (1 complete, 0 failed); 2 were already complete" in capsys.readouterr().err


def test_a_grid_subset_shows_what_it_asked_for(study, tmp_path, capsys):
    store = str(tmp_path / "s.log")
    base = ["run", study, "--executor", "sequential", "--store", store, "--no-progress"]
    assert main(base) == 0  # x=1,2,3
    capsys.readouterr()
    assert main(base + ["--grid", "x=1,2"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == ("showing the 2 tasks of this --grid; sweep 'clitoy' holds 3 "
                        "(`sweeps leaderboard clitoy` shows them all)")
    assert [line.split()[1] for line in lines[2:4]] == ["X2", "X1"] and "X3" not in captured.out
    assert "nothing to run: all 2 tasks were already complete" in captured.err


def test_two_stores_in_one_folder_keep_their_own_plots(study, tmp_path):
    for stem in ("a", "b"):
        assert main(["run", study, "--executor", "sequential", "--store", str(tmp_path / f"{stem}.log"),
                     "--no-progress"]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "a.clitoy.curves.png", "a.clitoy.leaderboard.png",
        "b.clitoy.curves.png", "b.clitoy.leaderboard.png"]


def test_run_exits_1_when_a_task_failed(study, tmp_path, capsys):
    code = main(["run", study, "--executor", "sequential", "--store", str(tmp_path / "s.log"),
                 "--no-progress", "--grid", "x=1,2", "fail_on=2", "--name", "withfail"])
    assert code == 1
    assert "1 of 2 tasks failed" in capsys.readouterr().err


def test_plot_writes_into_out(study, tmp_path, capsys):
    store = str(tmp_path / "s.log")
    main(["run", study, "--executor", "sequential", "--store", store, "--no-progress"])
    assert main(["plot", "clitoy", "--store", store, "--out", str(tmp_path / "figs"),
                 "--hue", "x", "--baseline", "100"]) == 0
    assert sorted(os.listdir(tmp_path / "figs")) == ["s.clitoy.curves.png",
                                                      "s.clitoy.leaderboard.png"]


def test_plot_roles_must_be_params(study, tmp_path, capsys):
    store = str(tmp_path / "s.log")
    main(["run", study, "--executor", "sequential", "--store", store, "--no-progress"])
    capsys.readouterr()
    assert main(["plot", "clitoy", "--store", store, "--by", "y"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sweeps: error: by='y' is not a param of this sweep.") and "['x', 'epochs']" in err


def every_option():
    """(command, option, help text) for every option of every subcommand."""
    from sweeps.cli import _parser

    commands = next(a for a in _parser()._actions if a.dest == "==SUPPRESS==" or a.choices)
    for command, parser in commands.choices.items():
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                yield command, action.option_strings[0], action.help or ""


def test_every_option_has_help_that_matches_the_readme():
    import pathlib

    options = list(every_option())
    assert len(options) > 20
    assert [(c, o) for c, o, text in options if len(text) < 10] == []
    for command, option, text in options:
        if option == "--store":
            assert "(default: ./runs/sweeps.log)" in text, command
    readme = (pathlib.Path(REPO) / "README.md").read_text()
    cli = readme.split("## The command line", 1)[1].split("\n## ", 1)[0]
    import re

    for command, option in re.findall(r"^sweeps (\w+)\b.*?(--[a-z-]+)", cli, re.M):
        assert (command, option) in {(c, o) for c, o, _ in options}, (command, option)


def test_dashboard_help_describes_its_options(capsys):
    assert main(["dashboard", "--help"]) == 0
    out = capsys.readouterr().out
    for needle in ("--store URL", "./runs/sweeps.log", "--host", "127.0.0.1", "--port", "8080",
                   "note"):
        assert needle in out


@pytest.mark.parametrize("argv, needle", [
    (["run"], "STUDY"),
    (["fly"], "invalid choice"),
    (["run", "nosuchstudy_xyz"], "unknown study 'nosuchstudy_xyz'. Known studies:"),
    (["run", "x.py"], "does not exist"),
    (["leaderboard", "nope"], "is not in the store"),
    (["run", "clitoy.py", "--grid", "x"], "KEY=VALUES"),
    (["run", "clitoy.py", "--executor", "threads"], "executor='threads'"),
    (["run", "clitoy.py", "--n-jobs", "0"], "n_jobs=0"),
    (["run", "clitoy.py", "--n-jobs", "two"], "invalid int value"),
])
def test_errors_print_one_line_and_exit_2(study, tmp_path, monkeypatch, capsys, argv, needle):
    monkeypatch.chdir(tmp_path)
    argv = argv + (["--store", "s.log"] if argv[0] == "leaderboard" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sweeps: error: ") and needle in err
    assert err.rstrip().endswith((".", ")", "?")), err  # a sentence, or argparse's pointer


# ------------------------------------------------------------------ a real process


def test_run_list_leaderboard_through_python_m_sweeps(study, tmp_path):
    store = str(tmp_path / "s.log")
    run = sweeps_command("run", study, "--executor", "sequential", "--store", store,
                         "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "X3" in run.stdout and "s.clitoy.curves.png" in run.stdout

    listing = sweeps_command("list", "--store", store, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "iris" in listing.stdout  # a built-in study
    assert "clitoy: 3 complete, 0 failed" in listing.stdout

    board = sweeps_command("leaderboard", "clitoy", "--store", store, "--metric", "score_display",
                           cwd=tmp_path)
    assert board.returncode == 0, board.stderr
    names = [line.split()[1] for line in board.stdout.splitlines()[1:]]
    assert names == ["X3", "X2", "X1"]


def test_a_reader_that_stops_early_ends_the_command_quietly(study, tmp_path):
    """`sweeps leaderboard NAME | head -1`: the pipe closes before the table is written."""
    store = str(tmp_path / "s.log")
    assert sweeps_command("run", study, "--executor", "sequential", "--store", store,
                          "--no-progress", cwd=tmp_path).returncode == 0
    env = {**os.environ, "PYTHONPATH": REPO, "MPLBACKEND": "Agg"}
    for command in (["leaderboard", "clitoy"], ["list"]):
        reader, writer = os.pipe()
        os.close(reader)  # the reader is gone before anything is written
        with subprocess.Popen([sys.executable, "-m", "sweeps", *command, "--store", store],
                              cwd=tmp_path, env=env, stdout=writer, stderr=subprocess.PIPE,
                              text=True) as process:
            os.close(writer)
            _, err = process.communicate(timeout=120)
        assert (process.returncode, err) == (141, ""), command


def test_an_error_through_python_m_sweeps(tmp_path):
    result = sweeps_command("run", "irsi", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("sweeps: error: unknown study 'irsi'")
    assert "did you mean 'iris'" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.slow
def test_dashboard_serves_the_store_in_optuna_dashboard(study, tmp_path):
    import json
    import socket
    import time
    import urllib.request

    store = str(tmp_path / "s.log")
    assert main(["run", study, "--store", store, "--executor", "sequential", "--no-progress"]) == 0
    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": REPO}
    server = subprocess.Popen([sys.executable, "-m", "sweeps", "dashboard", "--store", store,
                               "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, studies = time.monotonic() + 60, None
        while studies is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as reply:
                    studies = json.load(reply)["study_summaries"]
            except OSError:
                assert server.poll() is None, server.stderr.read()
                time.sleep(0.3)
        assert [s["study_name"] for s in studies] == ["clitoy"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_dashboard_of_an_empty_store_is_a_one_line_error(tmp_path, capsys):
    assert main(["dashboard", "--store", str(tmp_path / "none.log")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sweeps: error: no sweeps in") and "\n" not in err


def test_an_unexpected_error_is_one_line_too(tmp_path, capsys, study):
    store = str(tmp_path / "s.log")
    assert main(["run", study, "--store", store, "--executor", "sequential", "--no-progress"]) == 0
    capsys.readouterr()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["plot", "clitoy", "--store", store, "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sweeps: error: ") and "Error" in err and "\n" not in err


def test_the_command_ends_at_once_with_its_output_its_files_its_code_and_no_process_left(
        study, tmp_path):
    # the command skips the interpreter's slow teardown (torch's modules): nothing it owes the
    # user may be skipped with it
    import re
    import time

    store = str(tmp_path / "runs" / "s.log")
    start = time.monotonic()
    ran = sweeps_command("run", study, "--store", store, "--no-progress", cwd=str(tmp_path),
                         buffered=True)
    wall = time.monotonic() - start
    assert ran.returncode == 0, ran.stderr
    # the time it took, interpreter start included
    seconds = float(re.search(r"s\.log, (\d+\.\d) s \(running", ran.stderr).group(1))
    assert 0.3 < seconds <= wall + 0.05
    assert "NS" not in ran.stdout and "rank" in ran.stdout  # the leaderboard, flushed
    assert "ran 3 tasks (3 complete, 0 failed)" in ran.stderr
    assert sorted(os.listdir(tmp_path / "runs"))[:2] == ["s.clitoy.curves.png",
                                                         "s.clitoy.leaderboard.png"]
    missing = sweeps_command("leaderboard", "nope", "--store", store, cwd=str(tmp_path),
                             buffered=True)
    assert missing.returncode == 2 and "sweeps: error:" in missing.stderr
    # its forked workers and painters carry its command line, store path included
    survivors = subprocess.run(["pgrep", "-f", store], capture_output=True, text=True)
    assert survivors.stdout.split() == []


# ------------------------------------------------------------------ SWEEPS_DEBUG


@pytest.mark.parametrize("args, shown", [
    (["leaderboard", "nope"], "UnknownSweepError: sweep 'nope' is not in the store"),
    (["plot", "clitoy", "--out", "a-file"], "FileExistsError"),
], ids=["sweeps-error", "other-error"])
def test_sweeps_debug_shows_the_traceback_that_the_one_line_error_hides(
        study, tmp_path, monkeypatch, args, shown):
    store = str(tmp_path / "s.log")
    assert sweeps_command("run", study, "--executor", "sequential", "--store", store,
                          "--no-progress", "--grid", "x=1", cwd=tmp_path).returncode == 0
    (tmp_path / "a-file").write_text("not a folder")
    plain = sweeps_command(*args, "--store", store, cwd=tmp_path)
    assert plain.returncode == 2 and plain.stderr.startswith("sweeps: error: ")
    assert plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr
    monkeypatch.setenv("SWEEPS_DEBUG", "1")
    debug = sweeps_command(*args, "--store", store, cwd=tmp_path)
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr and shown in debug.stderr


# ------------------------------------------------------------------ what a store holds


def test_names_from_a_crafted_store_print_escaped_and_plots_stay_in_the_folder(tmp_path):
    """A store written by someone else: a sweep named '../../escaped', a task name and a param
    value with a newline and terminal escapes. The leaderboard shows them escaped and the plots
    land inside --out."""
    import copy

    import optuna

    from sweeps import Store, sweep
    from tests.sweeps.tasks_for_tests import create_task

    path = tmp_path / "s.log"
    sweep(create_task, dict(x=[1]), data={"offset": 0}, store=str(path), name="ok",
          executor="sequential", progress=False)
    store = Store(path)
    storage = store.optuna_storage()
    (trial,) = storage.get_all_trials(store.study_id("ok"))
    evil = copy.deepcopy(trial)
    evil.number, evil._trial_id = -1, -1
    evil.user_attrs.update(name="evil\n1 FAKE\x1b[2J", params={"x": "a\x1b[31mred"})
    evil.system_attrs["sweeps:key"] = "another-key"
    storage.create_new_trial(store.study_id("ok"), template_trial=evil)
    escaped = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "../../escaped")
    storage.create_new_trial(escaped, template_trial=copy.deepcopy(trial))
    board = sweeps_command("leaderboard", "ok", "--store", str(path), cwd=tmp_path)
    assert board.returncode == 0
    assert "\x1b" not in board.stdout and "FAKE\\x1b[2J" in board.stdout
    assert "a\\x1b[31mred" in board.stdout
    assert len(board.stdout.splitlines()) == 3  # the header and two rows: no faked line
    out = tmp_path / "deep" / "plots"
    plot = sweeps_command("plot", "../../escaped", "--store", str(path), "--out", str(out),
                          cwd=tmp_path)
    assert plot.returncode == 0, plot.stderr
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 2 and all(".." not in name and "/" not in name for name in written)
    for folder in (tmp_path, tmp_path.parent, tmp_path.parent.parent, out.parent):
        assert list(folder.glob("*escaped*")) == [], folder


HANGING_STUDY = textwrap.dedent("""
    from sweeps import register
    from tests.sweeps.tasks_for_tests import create_hanging_task, load_offset

    register("clihang", create_hanging_task, grid=dict(x=[0, 1], hang_on=[(1,)]),
             data=load_offset)
""")


@pytest.mark.parametrize("executor", ["sequential", pytest.param("processes",
                                                                 marks=pytest.mark.slow)])
def test_task_timeout_stops_a_hanging_task_and_the_run_goes_on(write_study, tmp_path, executor):
    from sweeps import load_sweep

    study = write_study("clihang", HANGING_STUDY)
    store = str(tmp_path / "s.log")
    jobs = ["--n-jobs", "2"] if executor == "processes" else []
    done = sweeps_command("run", study, "--executor", executor, *jobs, "--store", store,
                          "--no-progress", "--task-timeout", "1.5", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # a task did not complete
    assert "ran 2 tasks (1 complete, 0 failed, 1 timed out)" in done.stderr
    statuses = {r.name: r.status for r in load_sweep("clihang", store)}
    assert statuses == {"X0-HO1": "complete", "X1-HO1": "timed_out"}


# ------------------------------------------------------------------ the installed command


def installed_sweeps(*args, cwd, env=None, **kwargs):
    """The ``sweeps`` console script (sweeps.cli:entry), which, unlike ``python -m``, does not
    put the current folder on sys.path by itself."""
    script = os.path.join(os.path.dirname(sys.executable), "sweeps")
    command = [script] if os.path.exists(script) else [
        sys.executable, "-P", "-c", "import sys; from sweeps.cli import entry; sys.argv[0] = "
        "'sweeps'; entry()"]
    env = {**os.environ, "PYTHONPATH": REPO, "MPLBACKEND": "Agg", **(env or {})}
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, **kwargs)


JOIN_STUDY = textwrap.dedent("""
    from sweeps import register
    from join_helpers import make  # a module beside the study file
    from tests.sweeps.tasks_for_tests import load_offset


    def load():  # defined in the study file itself
        return load_offset()


    register("clijoin", make, grid=dict(x=[1, 2, 3], delay=[0.3]), data=load)
""")

JOIN_HELPERS = textwrap.dedent("""
    from tests.sweeps.tasks_for_tests import create_task


    def make(x, delay):
        return create_task(x, epochs=2, delay=delay)
""")


@pytest.mark.slow
def test_the_installed_command_imports_from_its_folder_and_a_worker_joins_there(write_study,
                                                                              tmp_path):
    """`sweeps run clijoin.py` is killed once its grid is queued; `sweeps worker clijoin`,
    started in the same folder, imports the helper module and the study file's loader from it
    and runs the rest."""
    import signal
    import time

    from sweeps import Store, load_sweep

    (tmp_path / "join_helpers.py").write_text(JOIN_HELPERS)
    write_study("clijoin", JOIN_STUDY)
    script = os.path.join(os.path.dirname(sys.executable), "sweeps")
    command = [script] if os.path.exists(script) else [
        sys.executable, "-P", "-c", "from sweeps.cli import entry; entry()"]
    env = {**os.environ, "PYTHONPATH": REPO, "MPLBACKEND": "Agg"}
    driver = subprocess.Popen([*command, "run", "clijoin.py", "--executor", "sequential",
                               "--no-progress"], cwd=tmp_path, env=env, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = Store(str(tmp_path / "runs" / "sweeps.log"))
    try:
        deadline = time.monotonic() + 120
        while len(store.entries("clijoin")) < 3:  # the whole grid is queued
            assert driver.poll() is None, driver.communicate()
            assert time.monotonic() < deadline, "the driver never queued its grid"
            time.sleep(0.05)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and anything it forked
        driver.communicate()
    meta = store.meta("clijoin")
    assert meta["create_task"] == "join_helpers.make"
    assert meta["data"].startswith("_sweeps_study_clijoin_") and meta["data"].endswith(".load")
    left = 3 - sum(r.ok for r in load_sweep("clijoin", str(store._path)))
    assert left > 0
    listing = installed_sweeps("list", cwd=tmp_path)
    line = next(line for line in listing.stdout.splitlines() if line.startswith("  clijoin:"))
    # the task the killed driver held is stale (its process is gone), the others wait
    assert line.startswith(f"  clijoin: {3 - left} complete, 0 failed, ") and (
        "waiting" in line or "stale" in line), line
    assert sum(int(word) for word in line.replace(",", "").split()[1::2]) == 3, line

    worker = installed_sweeps("worker", "clijoin", "--executor", "sequential", "--no-progress",
                              cwd=tmp_path)
    assert worker.returncode == 0, worker.stderr
    assert f"this worker ran {left} task" in worker.stdout
    assert "3 tasks recorded in all, 0 not complete" in worker.stdout
    assert sorted(r.params["x"] for r in load_sweep("clijoin", str(store._path)) if r.ok) == [1, 2, 3]


def test_the_installed_command_imports_a_module_beside_the_study_file(write_study, tmp_path):
    (tmp_path / "join_helpers.py").write_text(JOIN_HELPERS)
    write_study("clijoin", "import sys\nprint('FIRST ON sys.path:', sys.path[0])\n" + JOIN_STUDY)
    ran = installed_sweeps("run", "clijoin.py", "--grid", "delay=0", "--executor", "sequential",
                           "--no-progress", "--store", "s.log", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert f"FIRST ON sys.path: {tmp_path}\n" in ran.stdout  # at the front, as python -m puts it
    assert "ran 3 tasks (3 complete, 0 failed)" in ran.stderr


def test_a_worker_run_from_another_folder_names_the_study_file_it_needs(write_study, tmp_path):
    (tmp_path / "join_helpers.py").write_text(JOIN_HELPERS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    store = str(tmp_path / "s.log")
    write_study("clijoin", JOIN_STUDY)
    ran = installed_sweeps("run", "clijoin.py", "--grid", "delay=0", "--executor", "sequential",
                           "--no-progress", "--store", store, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    (elsewhere / "join_helpers.py").write_text(JOIN_HELPERS)
    worker = installed_sweeps("worker", "clijoin", "--store", store, cwd=elsewhere)
    assert worker.returncode == 2
    assert "comes from the study file clijoin.py that the driver ran" in worker.stderr
    assert "start the worker in the folder that holds the study file" in worker.stderr


# ------------------------------------------------------------------ why tasks failed


def test_a_run_shows_why_tasks_failed_and_sweeps_failed_prints_the_tracebacks(study, tmp_path,
                                                                              capsys):
    store = str(tmp_path / "s.log")
    code = main(["run", study, "--executor", "sequential", "--store", store, "--no-progress",
                 "--name", "bad", "--grid", "x=a,b,c,d,e,f,g"])  # strings: every task fails
    err = capsys.readouterr().err
    assert code == 1
    assert "ran 7 tasks (0 complete, 7 failed)" in err
    lines = err.splitlines()
    first = lines.index("sweeps: 7 of 7 tasks failed:")
    shown = lines[first + 1:first + 6]
    assert all(line.startswith("  X") and line.endswith(
        "TypeError: unsupported operand type(s) for +: 'int' and 'str'") for line in shown), shown
    assert lines[first + 6] == "  and 2 more"
    assert lines[first + 7] == f"the whole tracebacks: sweeps failed bad --store {store}"

    assert main(["failed", "bad", "--store", store]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sweep 'bad': 7 failed\n")
    assert out.count("Traceback (most recent call last)") == 7
    assert "params {'x': 'g', 'epochs': 2}" in out and "in run" in out

    assert main(["leaderboard", "bad", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "no complete task" in out and "0 complete, 7 failed" in out
    assert f"why they failed: sweeps failed bad --store {store}" in out


def test_sweeps_failed_on_a_sweep_without_failures(study, tmp_path, capsys):
    store = str(tmp_path / "s.log")
    assert main(["run", study, "--executor", "sequential", "--store", store, "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["failed", "clitoy", "--store", store]) == 0
    assert capsys.readouterr().out == "sweep 'clitoy': no failed or timed-out task\n"
    assert main(["failed", "nope", "--store", store]) == 2
    assert "sweep 'nope' is not in the store" in capsys.readouterr().err


def test_timed_out_tasks_are_counted_apart_from_failed_ones(write_study, tmp_path, capsys):
    study = write_study("clihang", HANGING_STUDY)
    store = str(tmp_path / "s.log")
    code = main(["run", study, "--executor", "sequential", "--store", store, "--no-progress",
                 "--task-timeout", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert "ran 2 tasks (1 complete, 0 failed, 1 timed out)" in err
    assert "sweeps: 1 of 2 tasks did not complete (1 timed out):\n  X1-HO1: " in err
    assert main(["list", "--store", store]) == 0
    assert "  clihang: 1 complete, 0 failed, 1 timed out\n" in capsys.readouterr().out
    assert main(["failed", "clihang", "--store", store]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sweep 'clihang': 1 timed out\n") and "X1-HO1 (timed out)" in out


# ------------------------------------------------------------------ bad options, before anything runs


@pytest.mark.parametrize("option", ["--by", "--hue", "--style"])
def test_a_misspelt_plot_param_is_refused_before_anything_runs(study, tmp_path, capsys, option):
    store = tmp_path / "s.log"
    assert main(["run", study, "--executor", "sequential", "--store", str(store),
                 "--no-progress", option, "xx"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sweeps: error: {option} 'xx' is not a param of this sweep; did you "
                          "mean 'x'? its params are ['x', 'epochs'].")
    assert not store.exists()  # nothing ran, nothing was recorded


def test_a_metric_the_sweep_never_recorded_is_refused_before_anything_runs(study, tmp_path,
                                                                           capsys):
    from sweeps import load_sweep

    store = str(tmp_path / "s.log")
    assert main(["run", study, "--executor", "sequential", "--store", store, "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["run", study, "--executor", "sequential", "--store", store, "--no-progress",
                 "--grid", "x=7", "--metric", "acuracy"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sweeps: error: --metric 'acuracy' is not in the history of sweep "
                          "'clitoy'; its tasks record ['iteration', 'loss', 'score_display',")
    assert len(load_sweep("clitoy", store)) == 3  # x=7 did not run


# ------------------------------------------------------------------ a store that cannot be opened


ALL_COMMANDS = [["run", "clitoy.py", "--executor", "sequential", "--no-progress"], ["list"],
                ["leaderboard", "clitoy"], ["plot", "clitoy"], ["worker", "clitoy"],
                ["verify", "clitoy"], ["failed", "clitoy"], ["dashboard"]]


def assert_every_command_says_the_store_cannot_be_opened(url, shown_url, reason, capsys):
    for argv in ALL_COMMANDS:
        assert main(argv + ["--store", url]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1, (argv, err)
        assert err.startswith(f"sweeps: error: store '{shown_url}' "), (argv, err)
        assert reason in err and "sqlalche.me" not in err, (argv, err)  # as sweep() says it


def test_every_command_says_clearly_that_a_server_is_down(study, tmp_path, monkeypatch, capsys):
    import socket

    monkeypatch.chdir(tmp_path)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://postgres:pw@127.0.0.1:{port}/sweeps"
    assert_every_command_says_the_store_cannot_be_opened(
        url, f"postgresql://postgres:***@127.0.0.1:{port}/sweeps",
        "cannot be opened (OperationalError: ", capsys)
    assert_every_command_says_the_store_cannot_be_opened(
        f"mysql://root@127.0.0.1:{port}/sweeps", f"mysql://root@127.0.0.1:{port}/sweeps",
        "needs a database driver that is not installed", capsys)
    assert os.listdir(tmp_path) == ["clitoy.py"]  # nothing written


def test_every_command_says_clearly_that_the_password_is_wrong(study, tmp_path, monkeypatch,
                                                                capsys):
    from tests import postgres

    if postgres.bindir() is None:
        pytest.skip("PostgreSQL's server binaries are missing")
    monkeypatch.chdir(tmp_path)
    with postgres.server(password="s3cretpw") as url:
        wrong = url.replace("s3cretpw", "wrongpw")
        assert_every_command_says_the_store_cannot_be_opened(
            wrong, wrong.replace("wrongpw", "***"), "password authentication failed", capsys)


# ------------------------------------------------------------------ dashboard


def test_dashboard_on_a_port_in_use_says_so_and_names_port(study, tmp_path, capsys):
    import socket

    store = str(tmp_path / "s.log")
    assert main(["run", study, "--store", store, "--executor", "sequential", "--no-progress"]) == 0
    capsys.readouterr()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["dashboard", "--store", store, "--port", str(port)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"sweeps: error: port {port} on 127.0.0.1 is in use (another "
                            "dashboard or server listens there); pass another port, e.g. "
                            f"--port {port + 1}\n")
    assert "Listening" not in captured.out and "serving" not in captured.err
