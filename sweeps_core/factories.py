"""The walkthrough's ``factories`` module: ``from sweeps_core import factories as btf``."""
from ._batcher import Batch
from ._ctor import CtorAdapter, Obj
from ._networks import FeedForwardNetwork, Factories, InputConversionNetwork, Perceptron, Tailing, call_factory
from ._torch_task import AssemblyPoint, Conventions, TorchModelHandler, TorchTrainingTask

__all__ = [
    "AssemblyPoint",
    "Batch",
    "Conventions",
    "CtorAdapter",
    "Factories",
    "FeedForwardNetwork",
    "InputConversionNetwork",
    "Obj",
    "Perceptron",
    "Tailing",
    "TorchModelHandler",
    "TorchTrainingTask",
    "call_factory",
]
