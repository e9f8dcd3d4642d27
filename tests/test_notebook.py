"""The walkthrough notebook runs top to bottom, its outputs are stripped in git, and it holds the
cells of docs/factories_walkthrough.md, which imports only this project."""
import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.ipynb"


def test_notebook_holds_the_cells_of_the_walkthrough_in_docs():
    from tests.walkthrough import cells

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0].startswith("import matplotlib")  # the notebook's own headless set-up
    assert code[1:] == [cell.strip() for cell in cells()]


def test_the_walkthrough_imports_only_this_project_and_maps_the_original_imports():
    from tests.walkthrough import IMPORTS, WALKTHROUGH, cells

    for cell in cells():
        for line in cell.splitlines():
            assert not re.match(r"\s*(from|import) (tg|yo_fluq)", line), line
    table = dict(re.findall(r"^\| `([^`]+)` \| (?:`([^`]+)`|\(drop it)", WALKTHROUGH.read_text(), re.M))
    assert table == IMPORTS


def test_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.slow
def test_notebook_executes(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    texts = [output.get("data", {}).get("text/plain", "") for cell in notebook.cells if cell.cell_type == "code"
             for output in cell.outputs]
    assert "'NS10-10-LR1-ASGD'" in texts
    assert (tmp_path / "runs").is_dir()  # the default store is a file under ./runs/
