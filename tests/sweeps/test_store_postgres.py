"""The store on a real PostgreSQL server (started for these tests, on a free loopback port)."""

import optuna
import pytest

from sweeps import Store, SweepsValueError, load_sweep, sweep
from tests import postgres
from tests.sweeps import tasks_for_tests as toys

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def url():
    yield from postgres.database_or_skip()


def test_a_process_sweep_records_in_postgres_and_resumes(url):
    grid = dict(x=[1, 2, 3, 4])
    first = sweep(toys.create_task, grid, data={"offset": 10, "fail_x": [3]}, store=url, name="pg",
                  n_jobs=2, progress=False)
    assert sorted(r.name for r in first if r.ok) == ["X1", "X2", "X4"]
    assert list(first.failed["name"]) == ["X3"]
    again = sweep(toys.create_task, grid, data={"offset": 10}, store=url, name="pg",
                  executor="sequential", progress=False)
    assert all(r.ok for r in again) and len(again) == 4
    rebuilt = load_sweep("pg", store=Store(url))  # a fresh view, as another machine would have
    assert rebuilt.leaderboard("score_test")["name"].tolist() == again.leaderboard("score_test")["name"].tolist()
    study = optuna.load_study(study_name="pg", storage=url)
    assert len(study.trials) == 5  # 4 tasks, X3 recorded twice (failed, then complete)
    assert study.metric_names == ["score_test"]


def test_an_unreachable_server_is_refused_before_any_task_runs(url):
    dead = url.rsplit(":", 1)[0] + ":1/sweeps"  # nothing listens on port 1
    before = len(toys.LOADS)
    with pytest.raises(SweepsValueError, match="cannot be opened.*database server is running"):
        sweep(toys.create_task, dict(x=[1]), data=toys.load_offset, store=dead, n_jobs=2, progress=False)
    assert len(toys.LOADS) == before
