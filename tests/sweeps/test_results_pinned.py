"""What users read off a sweep's leaderboard where the plain cases say too little: pruned tasks
ranked after every complete one (ties and NaN in both groups), ties that keep the sweep's order
among many tasks, the epoch a task's best value was reached, the epochs each task ran when some
were pruned, and the pruned count in the repr."""
import math

import pytest

from sweeps._results import SweepResult
from sweeps._spec import COMPLETE, PRUNED, TaskResult


def task(name, value, status=COMPLETE, iterations=None):
    rows = [{"score_test": value, "iteration": i} for i in (iterations or [0])]
    return TaskResult(name, {"v": name}, 0, status, history=rows, seconds=1.0)


# three-way ties in both groups: a rank method other than 'min' shows there (an 'average' rank
# of three tied at r is r + 1), and NaN in both groups ranks last within its group
MIXED = [task("a", 0.5), task("b", 0.7), task("c", 0.7), task("d", math.nan), task("e", 0.7),
         task("p1", 0.9, PRUNED), task("p2", 0.9, PRUNED), task("p3", math.nan, PRUNED),
         task("p4", 0.2, PRUNED), task("p5", 0.9, PRUNED)]


@pytest.mark.parametrize("mode, order, ranks", [
    ("max", ["b", "c", "e", "a", "d", "p1", "p2", "p5", "p4", "p3"],
     [1, 1, 1, 4, 5, 6, 6, 6, 9, 10]),
    ("min", ["a", "b", "c", "e", "d", "p4", "p1", "p2", "p5", "p3"],
     [1, 2, 2, 2, 5, 6, 7, 7, 7, 10]),
])
def test_pruned_tasks_rank_after_every_complete_task_with_their_own_ties(mode, order, ranks):
    board = SweepResult("s", MIXED).leaderboard(mode=mode)
    assert board["name"].tolist() == order
    assert board["rank"].tolist() == ranks
    assert board["status"].tolist() == [COMPLETE] * 5 + [PRUNED] * 5
    assert list(board.columns) == ["rank", "name", "v", "score_test", "seconds", "status",
                                   "epochs"]


def test_pruned_leaderboards_say_how_many_epochs_each_task_ran():
    tasks = [task("a", 0.5, iterations=[0, 1, 2, 3]), task("p", 0.9, PRUNED, iterations=[0, 1]),
             task("q", 0.1, PRUNED, iterations=[0])]
    board = SweepResult("s", tasks).leaderboard()
    assert board[["name", "status", "epochs"]].values.tolist() == [
        ["a", COMPLETE, 4], ["p", PRUNED, 2], ["q", PRUNED, 1]]
    assert board["epochs"].dtype.kind == "i"
    assert "epochs" not in SweepResult("s", tasks[:1]).leaderboard().columns  # none pruned


def test_best_is_a_complete_task_even_when_a_pruned_one_scored_higher():
    assert SweepResult("s", MIXED).best.name == "b"
    assert SweepResult("s", MIXED, direction="minimize").best.name == "a"


def test_repr_counts_the_pruned_tasks():
    assert repr(SweepResult("s", MIXED)) == (
        "SweepResult('s', 5 complete, 5 pruned, 0 failed, metric='score_test', "
        "direction='maximize')")


def test_ties_among_many_tasks_keep_the_sweeps_order():
    # 120 tasks over three values in a scrambled order: an unstable sort reorders the ties
    values = [(0.1, 0.5, 0.7)[(i * 7 + i // 5) % 3] for i in range(120)]
    tasks = [task(f"t{i:03d}", value) for i, value in enumerate(values)]
    result = SweepResult("s", tasks)
    for mode, sign in (("max", -1), ("min", 1)):
        expected = [t.name for _, t in sorted(zip(values, tasks),
                                              key=lambda pair: sign * pair[0])]
        assert result.leaderboard(mode=mode)["name"].tolist() == expected


def test_the_best_epoch_is_the_iteration_a_row_names_not_its_position():
    rows = [{"score_test": 0.2, "iteration": 10}, {"score_test": 0.9, "iteration": 20},
            {"score_test": 0.4, "iteration": 30}]
    result = SweepResult("s", [TaskResult("a", {}, 0, COMPLETE, history=rows)])
    board = result.leaderboard(at="best")
    assert board[["score_test", "epoch"]].values.tolist() == [[0.9, 20]]
    assert result.leaderboard(at="best", mode="min")["epoch"].tolist() == [10]
