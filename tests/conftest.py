"""Fixtures shared by the test folders."""
import pytest


@pytest.fixture
def one_torch_thread():
    """Networks this small train fastest on one thread (two fight on a busy 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def marks(tmp_path, monkeypatch):
    """A folder where tests/bad_input_tasks.py's tasks leave a mark when built or run."""
    from tests import bad_input_tasks

    folder = tmp_path / "marks"
    folder.mkdir()
    monkeypatch.setenv(bad_input_tasks.MARKER, str(folder))
    return folder
