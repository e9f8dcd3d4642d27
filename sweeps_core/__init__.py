"""sweeps_core: the batched-training API of the walkthrough, reproducible, picklable and fast.

    import sweeps_core as bt
    from sweeps_core import factories as btf
    from sweeps_core import dft
"""
from ._batcher import (  # the original's names for the samplers too
    Batcher,
    PriorityRandomBatcherStrategy,
    PriorityRandomSampler,
    SequencialSampler,
    SequentialSampler,
    SimpleBatcherStrategy,
    make_priorities_for_even_representation,
)
from ._bundle import DataBundle, IndexedDataBundle
from ._errors import ConfigurationError, DataError, PicklingError, SweepsCoreError, TrainingDivergedError
from ._extractors import Extractor, PlainExtractor
from ._log import Logger
from ._metrics import Metric, MetricPool, MulticlassMetrics, SklearnMetric
from ._split import train_display_test_split
from ._task import BatchedTrainingTask, PredefinedSplitter, TrainingSettings

__all__ = [
    "BatchedTrainingTask",
    "Batcher",
    "ConfigurationError",
    "DataBundle",
    "DataError",
    "Extractor",
    "IndexedDataBundle",
    "Logger",
    "Metric",
    "MetricPool",
    "MulticlassMetrics",
    "PicklingError",
    "PlainExtractor",
    "PredefinedSplitter",
    "PriorityRandomBatcherStrategy",
    "PriorityRandomSampler",
    "SequencialSampler",
    "SequentialSampler",
    "SimpleBatcherStrategy",
    "SklearnMetric",
    "SweepsCoreError",
    "TrainingDivergedError",
    "TrainingSettings",
    "make_priorities_for_even_representation",
    "train_display_test_split",
]
