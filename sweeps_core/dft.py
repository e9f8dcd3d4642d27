"""Data-frame transformers, as the walkthrough imports them: ``from sweeps_core import dft``."""
from ._transformers import (
    CategoricalTransformer2,
    ContinousTransformer,
    ContinuousTransformer,
    DataFrameTransformer,
    DataFrameTransformerFactory,
)

__all__ = [
    "CategoricalTransformer2",
    "ContinousTransformer",
    "ContinuousTransformer",
    "DataFrameTransformer",
    "DataFrameTransformerFactory",
]
