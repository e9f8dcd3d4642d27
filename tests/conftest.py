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
