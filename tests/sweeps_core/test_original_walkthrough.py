"""The ORIGINAL walkthrough (tg + yo_fluq_ds imports), with only its import lines changed through
the mapping table of docs/factories_walkthrough.md, runs cell by cell: the project's promise to
users who come with an old notebook."""
import pathlib
import random
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from tests.walkthrough import cells, import_table, run_cell, translate

ORIGINAL = pathlib.Path(__file__).resolve().parents[1] / "data" / "original_factories_walkthrough.md"
AUTONAMER_CELL = 20


@pytest.fixture(scope="module")
def run():
    """Every cell of the original, in order, in one namespace: (the cells, their values, the names)."""
    imports = import_table()
    codes = cells(ORIGINAL)
    namespace = {"__name__": "__original_walkthrough__"}
    values = []
    np.random.seed(0)
    torch.manual_seed(0)
    random.seed(0)
    with warnings.catch_warnings(record=True):  # the original's 'mini_match_size' typo warns
        warnings.simplefilter("always")
        for index, code in enumerate(codes):
            try:
                values.append(run_cell(code, namespace, imports))
            except Exception as error:  # name the cell: the traceback alone says '<walkthrough>'
                raise AssertionError(f"cell {index} of the original failed:\n{code}") from error
    plt.close("all")
    return codes, values, namespace


def test_the_vendored_original_uses_the_yo_fluq_names_and_the_table_maps_every_import_line():
    codes = cells(ORIGINAL)
    assert len(codes) == 24
    assert "from yo_fluq_ds import *" in codes[0]
    assert "Query.en(tasks).feed(fluq.with_progress_bar())" in codes[21]
    table = import_table()
    assert table["from yo_fluq_ds import *"] == "from sweeps_core.fluq import Query, fluq"
    for code in codes:
        translated = translate(code, table)  # raises for an import line the table does not map
        assert "tg." not in translated and "yo_fluq" not in translated
        # only import lines change: every other line is kept as written
        kept = [line for line in code.splitlines() if "tg." not in line and "yo_fluq" not in line]
        assert [line for line in translated.splitlines() if line in kept] == kept


def test_every_cell_of_the_original_runs_with_only_its_imports_changed(run):
    """18 iris tasks of 20 one-step epochs: a few seconds."""
    codes, values, namespace = run
    assert len(values) == len(codes) == 24
    assert values[AUTONAMER_CELL] == "NS10-10-LR1-ASGD"
    results = namespace["results"]
    assert len(results) == 18
    assert list(results)[0] == "NS-LR01-AAdam" and list(results)[-1] == "NS10-10-LR1-ASGD"
    for name, series in results.items():
        assert series.name == "accuracy_test", name
        assert list(series.index) == list(range(20)), name
        assert series.between(0, 1).all(), name
    # the two plot cells after the loop drew what the original shows
    rdf = namespace["rdf"]
    assert rdf.shape == (20, 18)
    assert len(values[22].get_lines()) == 18
    assert [bar.get_width() for bar in values[23].patches] == pytest.approx(
        rdf.iloc[-1].sort_values(ascending=False).tolist())


# --- sweeps_core.fluq: the yo_fluq_ds names the original uses ----------------------------------

def test_with_progress_bar_yields_the_same_items_and_shows_the_total(capsys):
    from sweeps_core.fluq import Query, fluq

    tasks = ["a", "b", "c"]
    assert list(Query.en(tasks).feed(fluq.with_progress_bar())) == tasks
    assert "3/3" in capsys.readouterr().err  # tqdm's text bar, with the total from len()
    generated = Query.en(task for task in tasks).feed(fluq.with_progress_bar(desc="tasks"))
    assert list(generated) == tasks  # no len(): a bar without a total, the same items
    assert "tasks: 3it" in capsys.readouterr().err


def test_feed_returns_what_the_function_returns():
    from sweeps_core.fluq import Query

    assert Query.en([3, 1, 2]).feed(sorted) == [1, 2, 3]


def test_combinatorics_grid_is_the_product_in_key_order_with_attribute_access():
    import itertools
    import pickle

    from sweeps_core.fluq import Query

    grid = Query.combinatorics.grid(network_size=[(), (10,)], learning_rate=[0.1, 1], algorithm="ab")
    assert len(grid) == 8  # known without expanding
    points = grid.to_list()
    assert [(p.network_size, p.learning_rate, p.algorithm) for p in points] == list(
        itertools.product([(), (10,)], [0.1, 1], "ab"))
    assert points[0] == {"network_size": (), "learning_rate": 0.1, "algorithm": "a"}
    assert grid.to_list() == points  # iterable again
    assert pickle.loads(pickle.dumps(points[-1])).algorithm == "b"
    with pytest.raises(AttributeError, match="no key 'lr'"):
        points[0].lr
    assert len(Query.combinatorics.grid(x=range(1000), y=range(1000))) == 10**6
