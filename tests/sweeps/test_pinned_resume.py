"""What a store gives back after several runs of the same tasks: the latest failure, a complete
record over any failure, the grid's order; and a resumed sweep runs nothing that completed."""
from sweeps import Store, TaskResult, load_sweep, sweep
from tests.sweeps import tasks_for_tests as toys


def failed(name, error, index=0):
    return TaskResult(name, {"x": 1}, 0, "failed", error=error, extra={"index": index})


def done(name, score, index=0):
    return TaskResult(name, {"x": 1}, 0, "complete", history=[{"score_test": score}],
                      extra={"index": index})


def test_the_latest_record_of_a_name_wins_unless_an_earlier_one_completed(tmp_path):
    store = Store(str(tmp_path / "s.log"))
    for result in (failed("a", "first"), failed("a", "second"), done("b", 0.1), done("b", 0.2),
                   done("c", 0.5), failed("c", "later")):
        store.record("s", result)
    records = {r.name: r for r in load_sweep("s", Store(store.url)).results}
    assert records["a"].error == "second"
    assert records["b"].history == [{"score_test": 0.2}]
    assert records["c"].ok and records["c"].history == [{"score_test": 0.5}]


def test_records_follow_the_grid_index_then_the_name(tmp_path):
    store = Store(str(tmp_path / "s.log"))
    for result in (done("z", 0.1, index=2), done("y", 0.1, index=0), done("b", 0.1, index=None),
                   done("a", 0.1, index=True), done("m", 0.1, index=1)):
        store.record("s", result)
    # a bool is no index: 'a' sorts with the unindexed, by name, after every indexed task
    assert [r.name for r in store.records("s")] == ["y", "m", "z", "a", "b"]


def test_a_resumed_sweep_runs_nothing_that_completed(tmp_path):
    store = Store(str(tmp_path / "s.log"))
    grid = dict(x=[1, 2, 3])
    sweep(toys.create_task, grid, data={"offset": 100, "fail_x": [2]}, store=store,
          executor="sequential", progress=False)
    sweep(toys.create_task, grid, data={"offset": 200}, store=store, executor="sequential",
          progress=False)
    third = sweep(toys.create_task, grid, data={"offset": 300}, store=store,
                  executor="sequential", progress=False)
    offsets = {r.name: r.metrics["offset"] for r in third}
    assert offsets == {"X1": 100, "X2": 200, "X3": 100}
    assert len(store.entries("create_task")) == 4  # X2 failed once, then completed
    assert store.meta("create_task")["grid"] == grid
