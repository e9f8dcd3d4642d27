"""A task module that imports torch only inside ``run`` (no torch at import time)."""


class LazyTorchTask:
    def __init__(self, x):
        self.info = {}
        self.x = x

    def run(self, data):
        import torch

        row = {"torch": float(torch.rand(1)), "iteration": 0}
        return {"metrics": dict(row), "runs": {}, "output": {"history": [row]}}


def create_lazy_torch_task(x):
    return LazyTorchTask(x)
