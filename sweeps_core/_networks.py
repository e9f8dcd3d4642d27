"""Network factories: functions of a sample batch that return a ``torch.nn.Module``.

A factory is any callable ``factory(sample) -> nn.Module``; a module with no parameters to size
(``InputConversionNetwork``) is its own factory and is deep-copied. The built-in networks read
the batch's ready tensors (``batch.tensor(name)``), so no ``forward`` converts a DataFrame.
"""
from __future__ import annotations

import copy
import warnings
from functools import partial
from typing import Any, Callable, Iterable, Optional, Union

import numpy as np
import pandas as pd
import torch

from ._errors import ConfigurationError, DataError

LABEL_FRAME = "label"


def _frame_names(batch: Any) -> list:
    names = getattr(batch, "frame_names", None)
    if names is not None:
        return list(names)
    if isinstance(batch, dict):
        return [k for k in batch if k != "index"]
    bundle = getattr(batch, "bundle", None)
    if bundle is not None:
        return list(bundle.data_frames)
    raise ConfigurationError(f"cannot list the frames of {type(batch).__name__}: pass a batch or a dict of frames")


def _input_tensor(batch: Any, name: str) -> Optional[torch.Tensor]:
    if hasattr(batch, "tensor"):
        return batch.tensor(name) if name in batch else None
    if isinstance(batch, dict):
        value = batch.get(name)
    else:
        value = batch.bundle.data_frames.get(name) if name in _frame_names(batch) else None
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return value
    if hasattr(value, "tensor") and isinstance(value.tensor, torch.Tensor):  # AnnotatedTensor-like
        return value.tensor
    return torch.from_numpy(np.asarray(value.astype(float).values, dtype=np.float32))


class InputConversionNetwork(torch.nn.Module):
    """Picks frames of the batch and returns them as one float tensor (joined on columns).

    ``input_frames`` is a frame name, a list of names, or None for every frame of the batch, in
    the batch's order. In a training task the batch holds the label frame too, and a network
    that reads its own label learns nothing useful: name the inputs there (a warning says so).
    """

    def __init__(self, input_frames: Union[str, Iterable[str], None] = None, raise_if_inputs_are_missing: bool = False):
        super().__init__()
        if isinstance(input_frames, str):
            input_frames = [input_frames]
        self.input_frames = None if input_frames is None else list(input_frames)
        self.raise_if_inputs_are_missing = raise_if_inputs_are_missing

    def forward(self, batch: Any) -> torch.Tensor:
        names = self.input_frames
        if names is None:
            names = _frame_names(batch)
            if LABEL_FRAME in names and not getattr(self, "_warned", False):
                warnings.warn(
                    f"InputConversionNetwork(None) takes every frame of the batch, the label frame "
                    f"{LABEL_FRAME!r} too; name the inputs instead, e.g. InputConversionNetwork('features')",
                    UserWarning, stacklevel=2)
                self._warned = True
        tensors = []
        for name in names:
            tensor = _input_tensor(batch, name)
            if tensor is None:
                if self.raise_if_inputs_are_missing:
                    raise DataError(f"InputConversionNetwork: frame {name!r} is not in the batch; frames: {_frame_names(batch)}")
                continue
            tensors.append(tensor)
        if not tensors:
            raise DataError(
                f"InputConversionNetwork({self.input_frames!r}) found none of its frames in the batch; "
                f"the batch has {_frame_names(batch)}"
            )
        return tensors[0] if len(tensors) == 1 else torch.cat(tensors, dim=1)


def _size_of(value: Any, what: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ConfigurationError(f"Perceptron: {what} must be an int, a tensor or a DataFrame, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, torch.Tensor):
        return int(value.shape[-1]) if value.dim() > 0 else 1
    if isinstance(value, pd.DataFrame):
        return int(value.shape[1])
    raise ConfigurationError(
        f"Perceptron: {what} must be an int, a tensor or a DataFrame to take the size from, got {type(value).__name__}"
    )


_ACTIVATIONS = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}


def _activation(activation: Any) -> Optional[Callable]:
    if activation is None or callable(activation):
        return activation
    if isinstance(activation, str) and activation in _ACTIVATIONS:
        return _ACTIVATIONS[activation]
    raise ConfigurationError(
        f"Perceptron: activation {activation!r} is not known; use one of {sorted(_ACTIVATIONS)}, None or a function"
    )


class Perceptron(torch.nn.Module):
    """One linear layer followed by a sigmoid (``activation=None`` for a plain linear layer).

    Sizes are ints, or tensors / DataFrames whose last dimension gives the size.
    """

    def __init__(self, input_size: Any, output_size: Any, activation: Any = "sigmoid"):
        super().__init__()
        self.linear_layer = torch.nn.Linear(_size_of(input_size, "input_size"), _size_of(output_size, "output_size"))
        _activation(activation)  # fail now, not in the first forward
        self.activation = activation  # kept as given (a name pickles; torch functions do too)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.linear_layer(x)
        activation = self.activation
        if activation is None:
            return x
        return _ACTIVATIONS[activation](x) if isinstance(activation, str) else activation(x)


def factory_name(factory: Any) -> str:
    """How messages name a factory: its qualified name, else its repr."""
    return getattr(factory, "__qualname__", None) or repr(factory)  # a Factory object: its repr


def call_factory(factory: Any, sample: Any) -> torch.nn.Module:
    """A module is deep-copied (it is its own factory); a callable is called with the sample."""
    if isinstance(factory, torch.nn.Module):
        return copy.deepcopy(factory)
    if callable(factory):
        network = factory(sample)
        if not isinstance(network, torch.nn.Module):
            raise ConfigurationError(
                f"network factory {factory_name(factory)} returned {type(network).__name__}, not a torch.nn.Module: "
                f"a factory takes the sample batch and returns the network"
            )
        return network
    raise ConfigurationError(
        f"network factory {factory!r} is neither a torch.nn.Module nor a callable returning one"
    )


class FeedForwardNetwork(torch.nn.Module):
    """Applies its networks one after another."""

    def __init__(self, *networks: torch.nn.Module):
        super().__init__()
        self.networks = torch.nn.ModuleList(networks)

    def forward(self, x: Any) -> Any:
        for network in self.networks:
            x = network(x)
        return x

    class Factory:
        """Builds each step from the output of the previous one on the sample batch."""

        def __init__(self, *factories: Any):
            self.factories = factories

        def __call__(self, sample: Any) -> "FeedForwardNetwork":
            networks, current = [], sample
            for step, factory in enumerate(self.factories):
                try:
                    network = call_factory(factory, current)
                    with torch.no_grad():
                        current = network(current)
                except Exception as error:
                    raise ConfigurationError(
                        f"FeedForwardNetwork.Factory: step {step} ({factory_name(factory)}) failed: {error}"
                    ) from error
                networks.append(network)
            return FeedForwardNetwork(*networks)

        def __repr__(self) -> str:
            return f"FeedForwardNetwork.Factory({', '.join(map(repr, self.factories))})"


class Tailing:
    """Adds a last ``Perceptron`` whose width is the number of columns of the output frame."""

    def __init__(self, head_factory: Any, output_frame_name: str, activation: Any = "sigmoid"):
        self.head_factory = head_factory
        self.output_frame_name = output_frame_name
        self.activation = activation

    def __call__(self, sample: Any) -> FeedForwardNetwork:
        head = call_factory(self.head_factory, sample)
        with torch.no_grad():
            head_output = head(sample)
        output_size = sample[self.output_frame_name].shape[1]
        return FeedForwardNetwork(head, Perceptron(head_output, output_size, activation=self.activation))

    def __repr__(self) -> str:
        return f"Factories.Tailing({self.head_factory!r}, {self.output_frame_name!r})"


class Factories:
    """Ready-made factories."""

    Tailing = Tailing

    @staticmethod
    def FullyConnected(sizes: Union[int, Iterable[int]], input_frame_name: Optional[str] = None,
                       output_frame_name: Optional[str] = None, activation: Any = "sigmoid") -> Any:
        """Input conversion, one sigmoid ``Perceptron`` per size, then (with an output frame) a tail
        as wide as the output frame.

        >>> factory = Factories.FullyConnected([10], 'features', 'label')
        >>> # factory(batch) -> FeedForwardNetwork(FeedForwardNetwork(InputConversion, 30->10), 10->1)
        """
        if isinstance(sizes, (int, np.integer)):
            sizes = [int(sizes)]
        steps = [] if input_frame_name is None else [InputConversionNetwork(input_frame_name)]
        steps += [partial(Perceptron, output_size=size, activation=activation) for size in sizes]
        factory = FeedForwardNetwork.Factory(*steps)
        if output_frame_name is not None:
            return Tailing(factory, output_frame_name, activation=activation)
        return factory

    FeedForward = FeedForwardNetwork.Factory
