"""The walkthrough notebook runs top to bottom, and its outputs are stripped in git."""
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.ipynb"


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
