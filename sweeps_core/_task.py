"""``BatchedTrainingTask``: the epoch loop, the reports, the history and the result dict."""
from __future__ import annotations

import datetime
import difflib
import itertools
import logging
import math
import time
import types
import warnings
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from ._batcher import SequentialSampler
from ._bundle import DataBundle, IndexedDataBundle
from ._errors import ConfigurationError, DataError, TrainingDivergedError

logger = logging.getLogger("sweeps_core")

_SETTINGS = dict(
    epoch_count=100,
    batch_size=10000,
    continue_training=False,
    training_time_limit=None,
    evaluation_time_limit=None,
    training_batch_limit=None,
    evaluation_batch_limit=None,
    is_quite_time=None,
    mini_batch_size=None,
    mini_epoch_count=None,
    mini_reporting_conventional=True,
    delay_after_iteration_in_seconds=None,
    index_frame_name_in_bundle="index",
    seed=None,
    device="cpu",
    fit_on="train",
    on_nan="stop",
)
_FIT_ON = ("train", "first_batch")
_ON_NAN = ("stop", "continue")


class TrainingSettings:
    """The knobs of the epoch loop. Setting a name that is not a setting warns with a suggestion.

    ``seed`` (int or None) seeds weight initialisation and any random sampler; ``device`` is
    ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'auto'``. ``fit_on`` says which rows the transformers
    are fitted on: ``'train'`` (all of the training split, the default, so that preprocessing does
    not depend on the batch size or the order of rows) or ``'first_batch'`` (the original library's
    way, to reproduce old runs). ``on_nan`` says what a NaN or infinite mean training loss does:
    ``'stop'`` (the default) ends the run at that epoch with ``TrainingDivergedError``, which carries
    the history up to it; ``'continue'`` trains on, as the original library did.
    """

    def __init__(self, **kwargs: Any):
        for key, value in _SETTINGS.items():
            object.__setattr__(self, key, value)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        if key not in _SETTINGS:
            close = difflib.get_close_matches(key, list(_SETTINGS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; settings are {sorted(_SETTINGS)}"
            warnings.warn(f"TrainingSettings has no setting {key!r}, so it has no effect{hint}", UserWarning, stacklevel=2)
        object.__setattr__(self, key, value)

    def check(self) -> None:
        """Raise one ConfigurationError naming every setting whose value cannot work."""
        problems = []
        for name, least, optional in (("epoch_count", 0, False), ("batch_size", 1, False),
                                      ("mini_batch_size", 1, True), ("mini_epoch_count", 1, True)):
            value = getattr(self, name)
            if optional and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                kind = "a non-negative int" if least == 0 else "a positive int"
                problems.append(f"settings.{name}={value!r} must be {kind}" + (" or None" if optional else ""))
        if self.fit_on not in _FIT_ON:
            problems.append(f"settings.fit_on={self.fit_on!r} must be one of {list(_FIT_ON)}")
        if self.on_nan not in _ON_NAN:
            problems.append(f"settings.on_nan={self.on_nan!r} must be one of {list(_ON_NAN)}: 'stop' ends "
                            "the run when the training loss becomes NaN or infinite, 'continue' trains on")
        if problems:
            raise ConfigurationError("; ".join(problems))

    def __repr__(self) -> str:
        changed = {k: v for k, v in vars(self).items() if _SETTINGS.get(k, object()) != v}
        return f"TrainingSettings({', '.join(f'{k}={v!r}' for k, v in changed.items())})"


def resolve_device(device: Any):
    """'auto' -> cuda when available, else cpu; a cuda device that is absent is an error."""
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigurationError(
            f"settings.device {device!r} is not a device: use 'cpu', 'cuda', 'cuda:N' or 'auto'"
        ) from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigurationError(
                f"settings.device {device!r} asks for a GPU, but torch sees none: use 'cpu' or 'auto'"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ConfigurationError(
                f"settings.device {device!r}: there are only {torch.cuda.device_count()} GPUs (cuda:0..)"
            )
    return resolved


class PredefinedSplitter:
    """Reads the split from a column of the index frame: train on some values, evaluate others."""

    def __init__(self, column: str = "split", test_values=("test", "display"), train_values=("train", "display")):
        self.column = column
        self.test_values = list(test_values)
        self.train_values = list(train_values)

    def get_subset_names(self) -> list:
        return list(self.test_values)

    def split(self, index_frame: pd.DataFrame):
        if self.column not in index_frame.columns:
            raise DataError(
                f"the index frame has no split column {self.column!r}; its columns are {list(index_frame.columns)}. "
                f"Add one, e.g. df['{self.column}'] = train_display_test_split(df, 0.2, 0.2, 'label')"
            )
        values = index_frame[self.column]
        train = index_frame.index[values.isin(self.train_values).to_numpy()]
        tests = {name: index_frame.index[(values == name).to_numpy()] for name in self.test_values}
        return train, tests


def _as_frame(evaluated: Any) -> pd.DataFrame:
    """A report's result frame, from an ``Evaluation`` or as it already is."""
    return evaluated if isinstance(evaluated, pd.DataFrame) else evaluated.frame()


def _diverged(loss: Any) -> bool:
    """Whether a mean training loss is NaN or infinite (a loss that is not a number is left alone)."""
    try:
        return not math.isfinite(float(loss))
    except (TypeError, ValueError, OverflowError):
        return False


def _as_seconds(limit: Any) -> Optional[float]:
    if limit is None:
        return None
    if isinstance(limit, datetime.timedelta):
        return limit.total_seconds()
    return float(limit)


class BatchedTrainingTask:
    """Trains a model batch by batch; reports metrics on the evaluation splits after every epoch.

    ``run(data)`` returns ``{'metrics': last epoch's metrics, 'runs': {}, 'output': {'history': [...], ...}}``;
    the history has one dict per epoch: ``<metric>_<stage>`` values, ``loss`` (mean training loss of
    the epoch), ``iteration`` (from 0) and ``timestamp``.
    """

    def __init__(self, splitter=None, batcher=None, model_handler=None, metric_pool=None, settings=None,
                 artificiers=None, late_initialization: Optional[Callable] = None, debug: bool = False):
        from ._metrics import MetricPool

        self.splitter = splitter if splitter is not None else PredefinedSplitter()
        self.batcher = batcher
        self.model_handler = model_handler
        self.metric_pool = metric_pool if metric_pool is not None else MetricPool()
        self.settings = settings if settings is not None else TrainingSettings()
        self.artificiers = list(artificiers or [])
        self._late_initialization = late_initialization
        self.debug = debug
        self.info = {}
        self.history = None
        self.data_ = None
        self._state = None  # the run between prepare() and finish()

    # -- hooks ---------------------------------------------------------------------------
    def late_initialization(self, ibundle: IndexedDataBundle) -> None:
        """Called with the whole bundle before the split; sets batcher, model handler, metrics."""
        if self._late_initialization is not None:
            self._late_initialization(self, ibundle)

    def get_metric_names(self) -> list:
        """Exactly the keys of a history row that hold numbers, in their order."""
        names = [f"{m}_{stage}" for stage in self.splitter.get_subset_names() for m in self.metric_pool.get_metric_names()]
        return names + ["loss", "iteration"]

    # -- preparation ---------------------------------------------------------------------
    def _to_ibundle(self, data: Any) -> IndexedDataBundle:
        if isinstance(data, str):
            data = DataBundle.load(data)
        if isinstance(data, IndexedDataBundle):
            return data
        if isinstance(data, DataBundle):
            name = self.settings.index_frame_name_in_bundle
            if name not in data.data_frames:
                raise DataError(
                    f"the bundle has no index frame {name!r}; its frames are {list(data.data_frames)}. "
                    f"Name it {name!r} or set settings.index_frame_name_in_bundle"
                )
            return IndexedDataBundle(data[name], data)
        raise ConfigurationError(
            f"task.run expects a DataBundle, an IndexedDataBundle or a path to a saved bundle, got {type(data).__name__}"
        )

    def prepare(self, data: Any, *, seed: Optional[int] = None, device: Any = None) -> None:
        """The first step of ``run``: late initialization, split, fit, extract, network.

        Afterwards ``train_epoch()`` and ``report()`` may be called in turn, and ``finish()``
        returns the result dict. ``seed`` is used where ``settings.seed`` is None; ``device``,
        when given, instead of ``settings.device`` (a sweep's device slot).
        """
        self._state = self._prepare(data, seed, device)

    def _prepare(self, data: Any, seed: Optional[int] = None,
                 device: Any = None) -> types.SimpleNamespace:
        state = types.SimpleNamespace(iteration=0, first_iteration=0, losses=[], run_seed=seed, output={},
                                      started=time.perf_counter())
        self._state = state  # the seed helpers read the run's seed from here
        self._seed_everything()
        state.original_ibundle = self._to_ibundle(data)
        continuing = self._continuing()
        if not continuing:
            self.late_initialization(state.original_ibundle)
            self._seed_everything()  # again: initialize_task may have set the seed
        self._check_ready()
        self.settings.check()  # after late initialization, which may set them
        state.device = resolve_device(device if device is not None else self.settings.device)
        state.rng = self._sample_rng()
        self._split(state)
        if not continuing:
            self._fit(state)
        self._extract(state)
        if not continuing:
            logger.info("Instantiating model")
            sample = next(self.batcher.batches(state.train_data, self.batcher.training_sampler, self.settings.batch_size,
                                               "cpu", self._sample_rng(), state.train_source), None)
            if sample is None:
                raise DataError(self._no_batches("the training split", self.batcher.training_sampler, len(state.train_data)))
            self.model_handler.instantiate(self, sample, state.device)
            self.history = []
        state.first_iteration = state.iteration = len(self.history)
        state.prepared = time.perf_counter()
        return state

    def _current_seed(self) -> Optional[int]:
        """The seed of this run: ``settings.seed`` when set, else the one given to ``run``/``prepare``."""
        if self.settings.seed is not None:
            return self.settings.seed
        state = self.__dict__.get("_state")
        return None if state is None else state.run_seed

    def _fit(self, state) -> None:
        """Fit the transformers on the rows ``settings.fit_on`` names."""
        logger.info("Fitting the transformers")
        rows = state.train_source
        if self.settings.fit_on == "first_batch":
            first = self.batcher.first_training_rows(rows, self.settings.batch_size, state.rng)
            rows = rows.change_index(first)
        self.batcher.fit(rows)

    def _continuing(self) -> bool:
        return bool(self.settings.continue_training and self.history is not None
                    and getattr(self.model_handler, "network", None) is not None)

    def _split(self, state) -> None:
        ibundle = state.original_ibundle
        if hasattr(self.batcher, "preprocess_bundle"):
            ibundle = self.batcher.preprocess_bundle(ibundle) or ibundle
        train_index, test_indices = self.splitter.split(ibundle.index_frame)
        if len(train_index) == 0:
            found = sorted(map(str, ibundle.index_frame[self.splitter.column].unique()))
            raise DataError(
                f"the training split is empty: no row of the index frame has {self.splitter.column!r} in "
                f"{self.splitter.train_values}; found values {found}"
            )
        state.split = types.SimpleNamespace(train=train_index, tests=test_indices)
        state.train_source = ibundle.change_index(train_index)
        state.test_sources = {k: ibundle.change_index(v) for k, v in test_indices.items() if len(v) > 0}

    def _extract(self, state) -> None:
        """Each split extracted once; with rowwise extractors its tensors made now, on the device."""
        state.train_data = self.batcher.extract(state.train_source)
        state.test_data = {k: self.batcher.extract(v) for k, v in state.test_sources.items()}
        if self.batcher.rowwise:
            for data in [state.train_data, *state.test_data.values()]:
                for name in data.frames:
                    data.tensor(name, state.device, strict=False)

    def _seed_everything(self) -> None:
        """Weight initialisation follows the task's seed (the samplers have their own generator)."""
        seed = self._current_seed()
        if seed is not None:
            import torch
            torch.manual_seed(seed)

    def _sample_rng(self):
        """The generator of the training batches: a sampler seeded on purpose wins over the task's seed."""
        sampler_seed = getattr(getattr(self.batcher, "training_sampler", None), "random_state", None)
        return np.random.default_rng(self._current_seed() if sampler_seed is None else sampler_seed)

    def _check_ready(self) -> None:
        missing = [name for name in ("batcher", "model_handler") if getattr(self, name) is None]
        if missing:
            raise ConfigurationError(
                f"the task has no {' and no '.join(missing)} after late initialization: "
                f"call self.setup_batcher(...) and self.setup_model(...) in initialize_task"
            )

    # -- the loop ------------------------------------------------------------------------
    def run(self, data: Any, *, seed: Optional[int] = None,
            on_epoch: Optional[Callable[[int, dict], Optional[bool]]] = None,
            device: Any = None) -> dict:
        """Train on ``data`` (a DataBundle with an ``index`` frame) and return the result dict.

        Args:
            data: a DataBundle, an IndexedDataBundle or the path of a saved bundle.
            seed: the seed of this run where ``settings.seed`` is None (settings are not changed).
            on_epoch: called as ``on_epoch(epoch, row)`` after each report, with the history row
                just appended and its ``iteration`` as ``epoch`` (0 for the first). Returning True
                stops training after that epoch; ``result['output']['stopped_early']`` says so.
            device: the device to train on instead of ``settings.device`` (settings are not
                changed): a sweep hands each task its worker's device slot.

        Raises:
            TrainingDivergedError: the mean training loss of an epoch became NaN or infinite
                (unless ``settings.on_nan='continue'``): "loss became NaN at epoch k", where k is
                the row's ``iteration``. The run is finished first; the error's ``history`` holds
                the rows up to and including epoch k (the hook is not called for that row).

        Example:
            >>> result = task.run(bundle, seed=0, on_epoch=lambda epoch, row: row['loss'] < 0.1)
            >>> pd.DataFrame(result['output']['history']).set_index('iteration')
        """
        logger.info("Training starts. Info: %s", self.info)
        self.prepare(data, seed=seed, device=device)
        stopped_early = False
        for _ in range(self.settings.epoch_count):
            rows = self.train_epoch()
            if self._reports_per_epoch():
                rows.append(self.report())
            self._stop_if_diverged(rows)
            if on_epoch is not None and any([bool(on_epoch(row["iteration"], row)) for row in rows]):
                stopped_early = True
                break
            if self.settings.delay_after_iteration_in_seconds:
                time.sleep(self.settings.delay_after_iteration_in_seconds)
        return self.finish(stopped_early=stopped_early)

    def _stop_if_diverged(self, rows: list) -> None:
        """End the run with TrainingDivergedError at the first row whose training loss is not finite.

        A row without training batches (a batch limit of 0) has a NaN loss too, but nothing diverged:
        only a loss computed from batches counts.
        """
        epoch = vars(self._running_state()).get("diverged")
        if epoch is None or self.settings.on_nan == "continue":
            return
        history = [row for row in self.finish()["output"]["history"] if row["iteration"] <= epoch]
        word = "NaN" if math.isnan(float(history[-1]["loss"])) else "infinite"
        raise TrainingDivergedError(
            f"loss became {word} at epoch {epoch}; the run stopped there (its history up to that "
            "epoch is kept). Lower the learning rate, scale the inputs, or set "
            "settings.on_nan='continue' to train on regardless", history=history, epoch=epoch)

    def _reports_per_epoch(self) -> bool:
        return self.settings.mini_batch_size is None or self.settings.mini_reporting_conventional

    def _running_state(self) -> types.SimpleNamespace:
        state = self.__dict__.get("_state")
        if state is None:
            raise ConfigurationError("call task.prepare(data) before train_epoch(), report() or finish()")
        return state

    def train_epoch(self) -> list:
        """Train one epoch; returns the history rows reported during it.

        The list is empty unless ``settings.mini_reporting_conventional`` is False with mini-batches,
        which reports after every mini-epoch; otherwise call ``report()`` after the epoch.
        """
        state = self._running_state()
        logger.info("Epoch %d of %d", state.iteration - state.first_iteration, self.settings.epoch_count)
        if self.settings.mini_batch_size is None:
            return self._simple_epoch(state)
        return self._mini_batch_epoch(state)

    def finish(self, *, stopped_early: bool = False) -> dict:
        """The result dict of the run so far: ``{'metrics', 'runs', 'output'}``; ends the run."""
        state = self._running_state()
        if hasattr(self.model_handler, "clear_cache"):
            self.model_handler.clear_cache()
        if self.debug:
            self.data_ = state
        output = state.output
        if "evaluated" in vars(state):
            output["result_df"] = _as_frame(state.evaluated)
        # a copy, so that training on does not change a returned result; rows hold only scalars
        output["history"] = [dict(row) for row in self.history]
        output["stopped_early"] = stopped_early
        # seconds spent preparing (fitting, extracting, building the network) and in the epoch loop
        output["timings"] = {"prepare": state.prepared - state.started, "epochs": time.perf_counter() - state.prepared}
        metrics = {k: v for k, v in output.get("metrics", {}).items() if k != "timestamp"}
        self._state = None
        return {"metrics": metrics, "runs": {}, "output": output}

    def _training_batches(self, state):
        settings = self.settings
        return self.batcher.batches(state.train_data, self.batcher.training_sampler, settings.batch_size,
                                    state.device, state.rng, state.train_source)

    def _wait_for_quiet_time(self) -> None:
        while self.settings.is_quite_time is not None and self.settings.is_quite_time():
            time.sleep(60)

    def _batch_allowed(self, index: int, started: float) -> bool:
        limit = _as_seconds(self.settings.training_time_limit)
        if limit is not None and time.monotonic() - started > limit:
            return False
        batch_limit = self.settings.training_batch_limit
        return batch_limit is None or index < batch_limit

    def _simple_epoch(self, state) -> list:
        started = time.monotonic()
        for index, batch in enumerate(self._training_batches(state)):
            self._wait_for_quiet_time()
            if not self._batch_allowed(index, started):
                break
            state.losses.append(self.model_handler.train_step(batch))
        return []

    def _mini_batch_epoch(self, state) -> list:
        started, rows = time.monotonic(), []
        for index, batch in enumerate(self._training_batches(state)):
            self._wait_for_quiet_time()
            if not self._batch_allowed(index, started):
                break
            for _ in range(self.settings.mini_epoch_count or 1):
                for mini_batch in self.batcher.mini_batches(batch, self.settings.mini_batch_size, state.rng):
                    state.losses.append(self.model_handler.train_step(mini_batch))
                if not self.settings.mini_reporting_conventional:
                    rows.append(self.report())
        return rows

    # -- reports -------------------------------------------------------------------------
    def _evaluation_batches(self, state) -> list:
        """(stage, batch) for every evaluation batch, within the evaluation limits.

        Where extraction is rowwise the batches are the same windows in every report: made once.
        """
        cached = vars(state).get("evaluation_batches")
        if cached is not None:
            return cached
        chosen, limit = [], self.settings.evaluation_batch_limit
        for stage, data in state.test_data.items():
            batches = self.batcher.batches(data, SequentialSampler(), self.settings.batch_size,
                                           state.device, None, state.test_sources[stage])
            chosen.extend((stage, batch) for batch in itertools.islice(batches, limit))
        if self.batcher.rowwise:
            state.evaluation_batches = chosen
        return chosen

    def _evaluate(self, state) -> Any:
        """A report's ``Evaluation`` (arrays) where the model handler makes one, else a result frame."""
        batches = self._evaluation_batches(state)
        if self.settings.evaluation_time_limit is None:
            if hasattr(self.model_handler, "evaluate_arrays"):
                return self.model_handler.evaluate_arrays(batches)
            if hasattr(self.model_handler, "evaluate"):
                return self.model_handler.evaluate(batches)
        frames, started = [], time.monotonic()
        limit = _as_seconds(self.settings.evaluation_time_limit)
        for stage, batch in batches:
            if limit is not None and time.monotonic() - started > limit:
                break
            frame = self.model_handler.predict(batch)
            frame["stage"] = stage
            frames.append(frame)
        return pd.concat(frames) if frames else pd.DataFrame()

    def report(self) -> dict:
        """Evaluate on every evaluation split, append the history row and return it.

        The row holds ``<metric>_<stage>`` values, ``loss`` (mean training loss since the last
        report), ``iteration`` and ``timestamp``. Once the loss has diverged (``settings.on_nan='stop'``)
        the row holds only ``loss``, ``iteration`` and ``timestamp``: the model's outputs are no
        longer numbers, and the metrics would fail on them.
        """
        state = self._running_state()
        loss = self.model_handler.mean_loss(state.losses) if state.losses else math.nan
        if state.losses and _diverged(loss) and "diverged" not in vars(state):
            state.diverged = state.iteration  # an epoch without batches is NaN too, but did not diverge
        if "diverged" in vars(state) and self.settings.on_nan != "continue":
            metrics = {}
        else:
            evaluated = self._evaluate(state)
            if self.artificiers:  # they read and may change the result frame: make it now
                evaluated = _as_frame(evaluated)
                for artificier in self.artificiers:
                    artificier.run_before_metrics(evaluated)
            metrics = dict(self.metric_pool.run(evaluated) if len(evaluated) else {})
            state.evaluated = evaluated  # the frame is made once, in finish(), not in every report
        metrics["loss"] = loss
        metrics["iteration"] = state.iteration
        for name, value in metrics.items():
            logger.debug("###%s:%s", name, value)
        metrics["timestamp"] = str(datetime.datetime.now())
        self.history.append(metrics)
        state.output.update(
            metrics=metrics, info=None, model=self.model_handler, training_task=self,
            train_split=state.split.train, test_splits=state.split.tests, batcher=self.batcher,
        )
        state.iteration += 1
        state.losses = []
        return metrics

    # -- inspection ----------------------------------------------------------------------
    def generate_sample_batch_and_temp_data(self, bundle: Any, batch_index: int = 0, from_split: Optional[str] = None,
                                            force_default_strategy: bool = False):
        """Prepare as ``run`` does (late init, fitting, network) and return one batch and the state."""
        state = self._prepare(bundle)
        if from_split is None:
            data, source = state.train_data, state.train_source
            sampler = SequentialSampler() if force_default_strategy else self.batcher.training_sampler
        elif from_split in state.test_data:
            data, source, sampler = state.test_data[from_split], state.test_sources[from_split], SequentialSampler()
        else:
            names = self.splitter.get_subset_names()
            raise DataError(f"from_split={from_split!r} has no rows to batch: the evaluation splits are {names}, "
                            f"and those with rows are {list(state.test_data)}")
        batches = self.batcher.batches(data, sampler, self.settings.batch_size, "cpu", self._sample_rng(), source)
        count = 0
        for count, batch in enumerate(batches, start=1):
            if count - 1 == batch_index:
                state.batch = batch
                return batch, state
        if count == 0:
            raise DataError(self._no_batches(f"split {from_split or 'train'!r}", sampler, len(data)))
        raise ConfigurationError(f"batch_index {batch_index} is out of range: the split has {count} batches")

    def _no_batches(self, what: str, sampler: Any, rows: int) -> str:
        return (f"{what} gives no batches: {sampler!r} makes none of its {rows} rows with "
                f"settings.batch_size={self.settings.batch_size!r}; check the sampler's settings "
                f"(e.g. dataset_size_factor) and the split")

    def predict(self, bundle: Any) -> pd.DataFrame:
        """Predictions of the trained model for every row of ``bundle``'s index frame."""
        ibundle = self._to_ibundle(bundle)
        data = self.batcher.extract(ibundle)
        device = resolve_device(self.settings.device)
        frames = [self.model_handler.predict(batch) for batch in
                  self.batcher.batches(data, SequentialSampler(), self.settings.batch_size, device, None, ibundle)]
        result = pd.concat(frames)
        result["stage"] = "prediction"
        return result

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["data_"] = None  # run-time state holds tensors and data; it is not part of the task
        state.pop("_state", None)
        return state
