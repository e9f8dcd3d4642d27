"""Executors: the registry, the shared map contract, n_jobs, threads per worker."""
import itertools
import os

import pytest

from sweeps import EXECUTORS, Executor, SweepsTypeError, SweepsValueError, register_executor, sweep
from sweeps._executors import (
    ProcessExecutor,
    SequentialExecutor,
    _ThreadLimited,
    check_n_jobs,
    make_executor,
)
from tests.sweeps import tasks_for_tests as toys


def _executor_params():
    for name in sorted(n for n in EXECUTORS if n not in ("fused", "dask")):  # own suites
        marks = [pytest.mark.slow] if name == "processes" else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.fixture(params=list(_executor_params()))
def executor(request):
    n_jobs = 2 if request.param == "processes" else None
    with make_executor(request.param, n_jobs) as built:
        yield built


def test_registry_holds_both_builtin_executors():
    assert EXECUTORS["sequential"] is SequentialExecutor
    assert EXECUTORS["processes"] is ProcessExecutor
    assert all(issubclass(cls, Executor) for cls in EXECUTORS.values())


# ------------------------------------------------------------------ shared suite over EXECUTORS


def test_map_returns_every_result(executor):
    assert sorted(executor.map(toys.square, list(range(20)))) == [i * i for i in range(20)]


def test_map_of_nothing(executor):
    assert list(executor.map(toys.square, [])) == []


def test_map_can_run_again_after_being_closed_early(executor):
    outputs = executor.map(toys.square, list(range(50)))
    next(iter(outputs))
    executor.close()
    assert sorted(executor.map(toys.square, [1, 2, 3])) == [1, 4, 9]


def test_sequential_yields_in_input_order():
    assert list(SequentialExecutor().map(toys.square, [3, 1, 2])) == [9, 1, 4]


def test_sequential_is_lazy():
    # on_error='raise' relies on it: nothing after the failing item runs.
    seen = []
    outputs = SequentialExecutor().map(seen.append, [1, 2, 3])
    next(outputs)
    assert seen == [1]


# ------------------------------------------------------------------ n_jobs


@pytest.mark.parametrize("n_jobs", [None, 1, 2, 64, -1])
def test_valid_n_jobs(n_jobs):
    assert check_n_jobs(n_jobs) == n_jobs


@pytest.mark.parametrize("n_jobs", [0, -2, 2.5, "two", True, False])
def test_invalid_n_jobs(n_jobs):
    with pytest.raises(SweepsValueError, match=f"n_jobs={n_jobs!r} must be a positive int"):
        check_n_jobs(n_jobs)


def test_workers_are_capped_at_the_number_of_items():
    import joblib

    assert ProcessExecutor(n_jobs=8).workers_for(3) == 3
    assert ProcessExecutor().workers_for(1000) == joblib.cpu_count()
    assert ProcessExecutor(n_jobs=-1).workers_for(1) == 1


def test_sequential_refuses_several_jobs():
    with pytest.raises(SweepsValueError, match="executor='processes'"):
        SequentialExecutor(n_jobs=4)


# ------------------------------------------------------------------ choosing an executor


def test_unknown_executor_lists_the_valid_ones():
    with pytest.raises(SweepsValueError) as caught:
        make_executor("sequentail")
    message = str(caught.value)
    assert "executor='sequentail'" in message and "did you mean 'sequential'" in message
    assert str(sorted(EXECUTORS)) in message


def test_an_executor_object_is_used_as_is():
    built = ProcessExecutor(n_jobs=2, threads_per_worker=2)
    assert make_executor(built) is built
    with pytest.raises(SweepsValueError, match="n_jobs=3 given with an executor object"):
        make_executor(built, n_jobs=3)


class _ReversedExecutor(Executor):
    """In-process, last item first: a third executor for the registry test."""

    in_process = True

    def map(self, fn, items):
        return (fn(item) for item in reversed(items))


def test_register_executor_makes_a_new_name_usable(tmp_path):
    register_executor("reversed", _ReversedExecutor)
    try:
        result = sweep(toys.create_task, dict(x=[1, 2, 3]), data=toys.load_offset,
                       store=str(tmp_path / "s.log"), executor="reversed", progress=False)
    finally:
        del EXECUTORS["reversed"]
    # Completion order was reversed; the result is still in spec order.
    assert [r.name for r in result] == ["X1", "X2", "X3"]


def test_register_executor_refuses_other_classes():
    with pytest.raises(SweepsTypeError, match="subclass of sweeps.Executor"):
        register_executor("bad", dict)


# ------------------------------------------------------------------ threads per worker


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_bad_threads_per_worker(threads):
    with pytest.raises(SweepsValueError, match="threads_per_worker="):
        ProcessExecutor(threads_per_worker=threads)


def test_thread_limit_applies_to_an_imported_torch_and_is_undone_in_the_driver():
    # One job runs in this process (joblib does so): the driver's setting must come back.
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert _ThreadLimited(toys.torch_threads, 1)(None) == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_workers_run_one_thread_by_default():
    with ProcessExecutor(n_jobs=2) as executor:
        assert set(executor.map(toys.omp_threads, [0, 1, 2, 3])) == {"1"}
    with ProcessExecutor(n_jobs=2, threads_per_worker=2) as executor:
        assert set(executor.map(toys.omp_threads, [0, 1])) == {"2"}


@pytest.mark.slow
def test_closing_cancels_pending_items(tmp_path):
    from tests.sweeps.pinned_tasks import block

    # two workers: item 0 returns once item 1 runs in the other worker; items 1.. never return
    executor = ProcessExecutor(n_jobs=2)
    outputs = executor.map(block, [(str(tmp_path), number) for number in range(6)])
    assert next(iter(outputs)) == 0
    (started,) = tmp_path.glob("*-started")
    pid, number, _ = started.name.split("-")
    assert number == "1"
    executor.close()  # kills the worker still running item 1; items 2.. are never sent
    assert list(itertools.islice(outputs, 1)) == []
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)
    assert [path.name for path in tmp_path.glob("*-started")] == [started.name]
    assert sorted(executor.map(toys.square, [1, 2, 3])) == [1, 4, 9]  # the pool works on
