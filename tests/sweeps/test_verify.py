"""sweeps verify: tasks by state, and the records that do not hold together (real stores)."""
import copy
import math

import optuna
import pytest

from sweeps import cli, sweep
from sweeps._store import Store
from sweeps._trials import KEY, LEASE, params_key
from sweeps._verify import STATES, verify
from sweeps._errors import UnknownSweepError
from tests.sweeps.tasks_for_tests import create_task


@pytest.fixture(params=["log", "db"])
def stored(request, tmp_path):
    """A consistent sweep: x=1 and x=3 complete, x=2 failed."""
    path = tmp_path / f"s.{request.param}"
    sweep(create_task, dict(x=[1, 2, 3]), data={"offset": 0, "fail_x": (2,)}, name="toy",
          store=str(path), executor="sequential", progress=False, metric="score_test")
    return str(path)


def _storage(path):
    store = Store(path)
    storage = store.optuna_storage()
    return storage, storage.get_study_id_from_name("toy")


def _trials(path):
    storage, study_id = _storage(path)
    return storage.get_all_trials(study_id)


def _add(path, template, **changes):
    """Add a trial made from ``template`` with some fields changed (the damage)."""
    storage, study_id = _storage(path)
    trial = copy.deepcopy(template)
    for field, value in changes.items():
        setattr(trial, field, value)
    trial.number, trial._trial_id = -1, -1
    storage.create_new_trial(study_id, template_trial=trial)


def _complete(path):
    return next(t for t in _trials(path) if t.state.name == "COMPLETE")


def _states(verification):
    return verification.counts()


def test_a_consistent_sweep_is_counted_and_exits_0(stored, capsys):
    verification = verify("toy", stored)
    assert verification.consistent and verification.problems == []
    assert _states(verification) == dict(complete=2, failed=1, **{"timed out": 0}, pruned=0,
                                         waiting=0, running=0, stale=0)
    assert cli.main(["verify", "toy", "--store", stored]) == 0
    out = capsys.readouterr().out
    assert "3 tasks" in out and "consistent" in out and "INCONSISTENT" not in out
    assert [line.split()[:2] for line in out.splitlines()[1:4]] == [
        ["complete", "2"], ["failed", "1"], ["timed", "out"]]


def test_a_failed_task_that_completed_later_counts_as_complete(stored):
    sweep(create_task, dict(x=[1, 2, 3]), data={"offset": 0}, name="toy", store=stored,
          executor="sequential", progress=False, metric="score_test")
    verification = verify("toy", stored)
    assert verification.consistent, verification.problems
    assert _states(verification)["complete"] == 3 and _states(verification)["failed"] == 0


def test_duplicate_complete_trials_for_one_task(stored, capsys):
    _add(stored, _complete(stored))
    verification = verify("toy", stored)
    assert not verification.consistent
    assert any("2 complete trials for one task" in p for p in verification.problems)
    assert _states(verification)["complete"] == 2  # still two tasks
    assert cli.main(["verify", "toy", "--store", stored]) == 1
    assert "INCONSISTENT: 1 problem" in capsys.readouterr().out


def test_a_complete_trial_without_a_history(stored):
    template = _complete(stored)
    attrs = {k: v for k, v in template.user_attrs.items() if k != "history"}
    _add(stored, template, user_attrs=attrs, system_attrs={KEY: "k-without-history"})
    problems = verify("toy", stored).problems
    assert any("complete without a history" in p for p in problems), problems


def test_a_non_finite_value_where_the_history_has_a_finite_one(stored):
    template = _complete(stored)
    _add(stored, template, value=-math.inf, system_attrs={KEY: "k-inf"})
    problems = verify("toy", stored).problems
    assert any("value -inf is not finite, but the history's last 'score_test' is" in p
               for p in problems), problems


def test_a_value_that_is_not_the_historys_last(stored):
    template = _complete(stored)
    _add(stored, template, value=12345.0, system_attrs={KEY: "k-other"})
    problems = verify("toy", stored).problems
    assert any("value 12345.0 is not the history's last 'score_test'" in p for p in problems), problems


@pytest.mark.parametrize("attr, value, expected", [
    ("history", {"__dict__": 5}, "user attr 'history' does not decode"),
    ("params", {"x": {"__pickle__": "gASVDQAAAAAAAACMAm9zlIwGc3lzdGVtlJOULg=="}},
     "user attr 'params' holds the unknown tag '__pickle__'"),
    ("history", "abc", "history is 'abc' (a str), not a list"),
    ("history", [1, 2, 3], "the history holds rows that are not dicts"),
    ("params", [1], "params is [1] (a list), not a dict"),
    ("status", "exploded", "unknown status 'exploded'"),
    ("status", "failed", "status 'failed' contradicts the trial's state COMPLETE"),
])
def test_user_attrs_that_do_not_decode_or_do_not_fit(stored, attr, value, expected):
    template = _complete(stored)
    _add(stored, template, user_attrs={**template.user_attrs, attr: value},
         system_attrs={KEY: "k-damaged"})
    problems = verify("toy", stored).problems
    assert any(expected in p for p in problems), problems


def test_a_name_used_by_two_tasks(stored):
    template = _complete(stored)
    waiting = copy.deepcopy(template)
    _add(stored, waiting, state=optuna.trial.TrialState.WAITING, value=None,
         datetime_complete=None, system_attrs={KEY: "another-key"})
    problems = verify("toy", stored).problems
    name = template.user_attrs["name"]
    assert any(f"the name {name!r} is used by 2 tasks" in p for p in problems), problems


def test_a_key_that_is_not_its_params_digest(stored):
    template = _complete(stored)
    params = template.user_attrs["params"]
    _add(stored, template, user_attrs={**template.user_attrs, "name": "x99",
                                       "params": {**params, "x": 99}},
         system_attrs={KEY: template.system_attrs[KEY] + "0"})
    problems = verify("toy", stored).problems
    assert any("is not the digest of its params" in p for p in problems), problems


def test_timed_out_waiting_running_and_stale_are_counted(stored, capsys):
    template = _complete(stored)
    base = dict(value=None, datetime_complete=None)
    _add(stored, template, state=optuna.trial.TrialState.FAIL, **base,
         user_attrs={**template.user_attrs, "name": "t1", "status": "timed_out",
                     "params": {"x": 7}},
         system_attrs={KEY: params_key({"x": 7})})
    _add(stored, template, state=optuna.trial.TrialState.WAITING, **base,
         user_attrs={"name": "w1"}, system_attrs={KEY: "k-waiting"})
    dead = {"host": __import__("socket").gethostname(), "pid": 2 ** 22 + 7, "start": "1",
            "id": "dead", "attempts": 1, "until": 0}
    _add(stored, template, state=optuna.trial.TrialState.RUNNING, **base,
         user_attrs={"name": "s1"}, system_attrs={KEY: "k-stale", LEASE: dead})
    alive = {"host": "another-host", "pid": 1, "attempts": 1, "until": 4102444800.0}
    _add(stored, template, state=optuna.trial.TrialState.RUNNING, **base,
         user_attrs={"name": "r1"}, system_attrs={KEY: "k-running", LEASE: alive})
    verification = verify("toy", stored)
    assert verification.consistent, verification.problems  # stale is the queue's way to recover
    assert _states(verification) == dict(complete=2, failed=1, **{"timed out": 1}, pruned=0,
                                         waiting=1, running=1, stale=1)
    assert verification.tasks["stale"] == ["s1"] and verification.tasks["timed out"] == ["t1"]
    assert cli.main(["verify", "toy", "--store", stored]) == 0
    assert "put them back" in capsys.readouterr().out


def test_names_with_control_characters_print_escaped(stored, capsys):
    template = _complete(stored)
    _add(stored, template, state=optuna.trial.TrialState.WAITING, value=None,
         datetime_complete=None, user_attrs={"name": "evil\nconsistent: fake\x1b[2J"},
         system_attrs={KEY: "k-evil"})
    assert cli.main(["verify", "toy", "--store", stored]) == 0
    out = capsys.readouterr().out
    assert "evil\\nconsistent: fake\\x1b[2J" in out and "\x1b" not in out


def test_an_unknown_sweep_is_a_usage_error_and_creates_no_store(tmp_path, capsys):
    path = tmp_path / "none.log"
    with pytest.raises(UnknownSweepError, match="sweep 'toy' is not in the store"):
        verify("toy", str(path))
    assert cli.main(["verify", "toy", "--store", str(path)]) == 2
    assert "is not in the store" in capsys.readouterr().err
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_states_are_listed_in_order():
    assert STATES == ("complete", "failed", "timed out", "pruned", "waiting", "running", "stale")
