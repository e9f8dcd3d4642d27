"""Fused training: many same-shape tasks trained as one program.

A sweep's tasks are mostly one network with other learning rates, optimizers or seeds. Run one at a
time, a small network leaves the CPU or GPU idle: the cost is Python and kernel launches. Here
the tasks of a *group* (same layers and shapes, same data, epochs and batching, same loss) keep
their parameters stacked along a first "task" dimension; a step is a few batched matrix products
for the whole group, and per-task hyperparameters (learning rate, momentum, betas, weight decay)
are tensors along the same dimension.

Every task is prepared as ``BatchedTrainingTask.prepare`` prepares it (its seed draws the same
initial weights and the same batch order), trained with torch's update rules for SGD (momentum,
Nesterov, dampening, weight decay), Adam and AdamW, and reported on with the same metrics, so
its history equals the unfused one within float rounding. A task the fused path cannot take says
why (``NotFusible``) and runs as usual.

    >>> results = run_fused(tasks, bundle, seeds=[0, 1, 2])                # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import datetime
import logging
import math
import pickle
import time
import traceback
import types
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ._batcher import Batch, PriorityRandomSampler, SequentialSampler
from ._errors import SweepsCoreError
from ._evaluation import Evaluation, StageResult
from ._task import BatchedTrainingTask, resolve_device

logger = logging.getLogger("sweeps_core")

# The loop steps a task may not override: the fused loop re-implements exactly these.
_LOOP_METHODS = ("run", "train_epoch", "report", "_simple_epoch", "_mini_batch_epoch", "_evaluate",
                 "_training_batches", "_prepare")
_MODEL_METHODS = ("train_step", "evaluate_arrays", "mean_loss", "_outputs_and_target", "instantiate")
_ACTIVATIONS = ("sigmoid", "relu", "tanh")


class NotFusible(SweepsCoreError, ValueError):
    """A task that the fused path cannot train; the message says which property stops it."""


class NotATorchTask(NotFusible):
    """The task is not a sweeps_core torch task at all (no option of it would make it fuse)."""


# ----------------------------------------------------------------------------- preparation


@dataclasses.dataclass
class Member:
    """One prepared task of a fused group."""

    task: Any
    seed: Optional[int]
    inputs: list  # frame names joined into the network's input
    ops: list  # ("linear", weight, bias) | ("act", name)
    optimizer: dict  # kind + hyperparameters
    loss: tuple  # (name, options)
    key: tuple = ()  # equal keys: the tasks can train together
    error: Optional[str] = None  # a traceback once the task failed inside its group
    evaluation: Any = None  # (row, outputs per stage) of the task's last report
    position: int = 0  # where run_fused was given the task


def prepare(task: Any, data: Any, *, seed: Optional[int] = None, cache: Optional[dict] = None) -> Member:
    """Prepare ``task`` on ``data`` as ``task.prepare`` does and describe it for fusing.

    ``cache`` (a dict shared by the tasks of one sweep) lets tasks whose batchers, splitters and
    settings pickle to the same bytes share one fitted batcher and one extraction of the data:
    fitting and extracting is most of a small task's preparation. Raises ``NotFusible`` naming
    the property that keeps the task off the fused path (the task is then unprepared).
    """
    _check_task(task)
    _prepare_shared(task, data, seed, {} if cache is None else cache)
    try:
        return _describe(task, seed)
    except NotFusible:
        task._state = None
        raise


def _check_task(task: Any) -> None:
    from ._torch_task import TorchModelHandler

    if not isinstance(task, BatchedTrainingTask):
        raise NotATorchTask(f"the task is a {type(task).__name__}, not a sweeps_core BatchedTrainingTask")
    for name in _LOOP_METHODS:
        if getattr(type(task), name) is not getattr(BatchedTrainingTask, name):
            raise NotFusible(f"{type(task).__name__} overrides {name}(), which the fused loop replaces")
    settings = task.settings
    for name in ("continue_training", "training_time_limit", "evaluation_time_limit", "is_quite_time",
                 "delay_after_iteration_in_seconds"):
        if getattr(settings, name):
            raise NotFusible(f"settings.{name}={getattr(settings, name)!r} (the fused loop has no clock "
                             f"per task); leave it unset to fuse")
    if settings.mini_batch_size is not None and not settings.mini_reporting_conventional:
        raise NotFusible("settings.mini_reporting_conventional=False reports after every mini-epoch")
    if task.artificiers:
        raise NotFusible("the task has artificiers, which change each report's frame")
    handler = getattr(task, "model_handler", None)
    if handler is not None and type(handler) is not TorchModelHandler:
        raise NotATorchTask(f"model_handler is a {type(handler).__name__}, not a TorchModelHandler")


def _prepare_shared(task: Any, data: Any, seed: Optional[int], cache: dict) -> None:
    """``BatchedTrainingTask._prepare`` with the fit and the extraction shared through ``cache``."""
    from ._torch_task import TorchModelHandler

    state = types.SimpleNamespace(iteration=0, first_iteration=0, losses=[], run_seed=seed, output={},
                                  started=time.perf_counter())
    task._state = state
    _seed_weights(task)
    state.original_ibundle = task._to_ibundle(data)
    task.late_initialization(state.original_ibundle)
    _seed_weights(task)  # again: initialize_task may have set the seed
    task._check_ready()
    if type(task.model_handler) is not TorchModelHandler:
        raise NotATorchTask(f"model_handler is a {type(task.model_handler).__name__}, not a TorchModelHandler")
    if task.artificiers:
        raise NotFusible("the task has artificiers, which change each report's frame")
    task.settings.check()
    state.device = resolve_device(task.settings.device)
    state.rng = task._sample_rng()
    key = _preparation_key(task, data, state.device)
    shared = cache.get(key) if key is not None else None
    if shared is None:
        task._split(state)
        task._fit(state)
        task._extract(state)
        if key is not None:
            cache[key] = (task.batcher, state.split, state.train_source, state.test_sources,
                          state.train_data, state.test_data)
    else:
        (task.batcher, state.split, state.train_source, state.test_sources, state.train_data,
         state.test_data) = shared
        if task.settings.fit_on == "first_batch":  # fitting draws the first batch from the task's rng
            task.batcher.first_training_rows(state.train_source, task.settings.batch_size, state.rng)
    sample = next(task.batcher.batches(state.train_data, task.batcher.training_sampler, task.settings.batch_size,
                                       "cpu", task._sample_rng(), state.train_source), None)
    if sample is None:
        raise NotFusible("the training split gives no batches (the unfused run names the problem)")
    task.model_handler.instantiate(task, sample, state.device)
    task.history = []
    state.prepared = time.perf_counter()


def _seed_weights(task: Any) -> None:
    """``task._seed_everything()`` on the generators that draw initial weights: torch's CPU one
    (networks are built on the CPU, then moved) and CUDA's where it runs. ``torch.manual_seed``
    also queues the seed for every device not started yet, which costs more than building a
    small network, thousands of times over."""
    seed = task._current_seed()
    if seed is None:
        return
    import torch

    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(seed)


def _preparation_key(task: Any, data: Any, device: Any) -> Optional[tuple]:
    """Equal keys: the same unfitted batcher, splitter and settings on the same data object."""
    settings = task.settings
    try:
        recipe = pickle.dumps((task.batcher, task.splitter, settings.fit_on, settings.batch_size,
                               settings.index_frame_name_in_bundle), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a batcher that does not pickle is prepared on its own
        return None
    return id(data), str(device), recipe


# ----------------------------------------------------------------------------- description


def _describe(task: Any, seed: Optional[int]) -> Member:
    handler, settings, state = task.model_handler, task.settings, task._state
    if not task.batcher.rowwise:
        raise NotFusible("an extractor is not rowwise (batches are extracted one by one)")
    inputs, ops = _compile(handler.network, state.train_data)
    optimizer = _optimizer_spec(handler.optimizer)
    loss = _loss_spec(handler.loss)
    sampling = _sampling_key(task, len(state.train_data))
    shapes = tuple((op[0], tuple(op[1].shape)) if op[0] == "linear" else op for op in ops)
    key = (str(state.device), tuple(inputs), shapes, optimizer["kind"], loss, sampling,
           getattr(settings, "on_nan", None),
           settings.epoch_count, settings.batch_size, settings.evaluation_batch_limit,
           handler.label_frame, len(handler.label_columns), id(state.train_data),
           tuple((k, id(v)) for k, v in state.test_data.items()), _pool_key(task.metric_pool))
    return Member(task, seed, inputs, ops, optimizer, loss, key)


def _compile(network: Any, train_data: Any) -> tuple:
    """(input frame names, layer ops) of a network made of the walkthrough's pieces."""
    import torch

    from ._networks import FeedForwardNetwork, InputConversionNetwork, Perceptron

    flat: list = []

    def walk(module: Any) -> None:
        kind = type(module)
        if kind in (FeedForwardNetwork,):
            for child in module.networks:
                walk(child)
        elif kind is torch.nn.Sequential:
            for child in module:
                walk(child)
        else:
            flat.append(module)

    walk(network)
    if not flat or type(flat[0]) is not InputConversionNetwork:
        raise NotFusible(f"the network {type(network).__name__} does not start with an InputConversionNetwork "
                         "(Factories.FullyConnected(sizes, 'features', 'label') does)")
    names = flat[0].input_frames
    if names is None:
        raise NotFusible("InputConversionNetwork(None) reads every frame; name the input frames to fuse")
    inputs = [name for name in names if name in train_data.frames]
    ops: list = []
    for module in flat[1:]:
        kind = type(module)
        if kind is Perceptron:
            ops.append(_linear(module.linear_layer))
            activation = _activation_name(module.activation)
            if activation is not None:
                ops.append(("act", activation))
        elif kind is torch.nn.Linear:
            ops.append(_linear(module))
        elif kind in (torch.nn.Sigmoid, torch.nn.ReLU, torch.nn.Tanh) and not getattr(module, "inplace", False):
            ops.append(("act", kind.__name__.lower()))
        else:
            raise NotFusible(f"the network holds a {kind.__name__}; the fused path takes InputConversionNetwork, "
                             "Perceptron, Linear, Sigmoid, ReLU and Tanh in FeedForwardNetwork or Sequential")
    if not any(op[0] == "linear" for op in ops):
        raise NotFusible("the network has no parameters to train")
    return inputs, ops


def _linear(layer: Any) -> tuple:
    if layer.bias is None:
        raise NotFusible("a Linear layer without bias")
    return ("linear", layer.weight, layer.bias)


def _activation_name(activation: Any) -> Optional[str]:
    import torch

    if activation is None or activation in _ACTIVATIONS:
        return activation
    by_function = {torch.sigmoid: "sigmoid", torch.relu: "relu", torch.tanh: "tanh"}
    if activation in by_function:
        return by_function[activation]
    raise NotFusible(f"the activation {activation!r} is not one of {list(_ACTIVATIONS)}")


def _optimizer_spec(optimizer: Any) -> dict:
    import torch

    if type(optimizer) not in (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW):
        raise NotFusible(f"the optimizer {type(optimizer).__name__} is not SGD, Adam or AdamW")
    if len(optimizer.param_groups) != 1:
        raise NotFusible("the optimizer has several parameter groups")
    group = optimizer.param_groups[0]
    if group.get("maximize") or group.get("amsgrad"):
        raise NotFusible(f"{type(optimizer).__name__} with maximize or amsgrad")
    lr = float(group["lr"])
    if isinstance(optimizer, torch.optim.SGD):
        return dict(kind="sgd", lr=lr, momentum=float(group["momentum"]), dampening=float(group["dampening"]),
                    weight_decay=float(group["weight_decay"]), nesterov=bool(group["nesterov"]))
    decoupled = type(optimizer) is torch.optim.AdamW or bool(group.get("decoupled_weight_decay", False))
    beta1, beta2 = (float(b) for b in group["betas"])
    return dict(kind="adam", lr=lr, beta1=beta1, beta2=beta2, eps=float(group["eps"]),
                weight_decay=float(group["weight_decay"]), decoupled=decoupled)


def _loss_spec(loss: Any) -> tuple:
    import torch

    kinds = {torch.nn.MSELoss: "mse", torch.nn.L1Loss: "l1", torch.nn.BCELoss: "bce",
             torch.nn.BCEWithLogitsLoss: "bce_logits", torch.nn.CrossEntropyLoss: "cross_entropy"}
    kind = kinds.get(type(loss))
    if kind is None:
        raise NotFusible(f"the loss {type(loss).__name__} is not one of "
                         f"{sorted(k.__name__ for k in kinds)}")
    if loss.reduction != "mean":
        raise NotFusible(f"the loss has reduction={loss.reduction!r}; the fused path takes 'mean'")
    for name in ("weight", "pos_weight"):
        if getattr(loss, name, None) is not None:
            raise NotFusible(f"the loss has a {name}")
    if kind == "cross_entropy" and loss.label_smoothing:
        raise NotFusible("CrossEntropyLoss with label_smoothing")
    return (kind,)


def _sampling_key(task: Any, rows: int) -> tuple:
    """What makes every task of a group take the same number of steps per epoch."""
    settings, batcher = task.settings, task.batcher
    training, mini = batcher.training_sampler, batcher.mini_batching_sampler
    for sampler in (training, mini):
        if type(sampler) not in (SequentialSampler, PriorityRandomSampler):
            raise NotFusible(f"the sampler {sampler!r} is not a SequentialSampler or PriorityRandomSampler")
    fixed_size = type(training) is SequentialSampler or not training.deduplicate
    if settings.mini_batch_size is not None and not fixed_size:
        raise NotFusible("mini-batches of deduplicated random batches vary in number from task to task")
    return (type(training).__name__, training.batch_count(rows, settings.batch_size), fixed_size,
            settings.mini_batch_size, settings.mini_epoch_count, type(mini).__name__,
            getattr(mini, "dataset_size_factor", None), settings.training_batch_limit)


def _pool_key(pool: Any) -> Any:
    try:
        return pickle.dumps(pool, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return id(pool)


def group(members: Sequence[Member]) -> list:
    """The members in groups that can train together, in order of first appearance."""
    groups: dict = {}
    for member in members:
        groups.setdefault(member.key, []).append(member)
    return list(groups.values())


# ----------------------------------------------------------------------------- the program


def group_size_for(members: Sequence[Member], fraction: float = 0.5) -> int:
    """How many tasks of a group fit ``fraction`` of the device's free memory at once."""
    import torch

    first = members[0]
    state, settings = first.task._state, first.task.settings
    widths = [op[1].shape[0] for op in first.ops if op[0] == "linear"]
    parameters = sum(op[1].numel() + op[2].numel() for op in first.ops if op[0] == "linear")
    inputs = first.ops[0][1].shape[1]
    batch = min(settings.mini_batch_size or settings.batch_size, len(state.train_data))
    evaluated = sum(len(data) for data in state.test_data.values())
    per_task = 4 * (8 * parameters + 4 * batch * (sum(widths) + inputs) + 2 * evaluated * sum(widths))
    if state.device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(state.device)
    else:
        free = 2 ** 31  # a CPU group gains little past cache sizes; 2 GiB keeps it modest
    return max(1, min(len(members), int(free * fraction) // per_task))


def train(members: Sequence[Member], *, on_epoch: Optional[Sequence[Optional[Callable]]] = None,
          group_size: Optional[int] = None, result_frames: bool = True) -> list:
    """Train a group (``group()`` made it) and finish every task: the list of each task's
    ``finish()`` result dict, the ``TrainingDivergedError`` its run would raise, or the traceback
    text of a task that failed on the way.

    ``result_frames=False`` leaves ``result_df`` (the last report's predictions as a DataFrame)
    out of the results: making thousands of frames costs more than training a small group.
    """
    members = list(members)
    hooks = list(on_epoch) if on_epoch is not None else [None] * len(members)
    size = group_size or group_size_for(members)
    results: list = []
    for start in range(0, len(members), size):
        chunk = members[start:start + size]
        results.extend(_Program(chunk, hooks[start:start + size], result_frames).run())
    return results


class _Program:
    """One group on one device: stacked parameters, optimizer state and the epoch loop."""

    def __init__(self, members: list, hooks: list, result_frames: bool = True):
        import torch

        self.members, self.hooks, self.result_frames = members, hooks, result_frames
        first = members[0]
        self.first = first
        self.settings = first.task.settings
        self.state = first.task._state
        self.device = self.state.device
        self.activations = [op[1] if op[0] == "act" else None for op in first.ops]
        self.params = []  # weight, bias per linear layer: (tasks, ...) each
        for position, op in enumerate(first.ops):
            if op[0] == "linear":
                for part in (1, 2):
                    self.params.append(torch.stack([m.ops[position][part].detach() for m in members]))
        self.optimizer = _Optimizer(first.optimizer["kind"], [m.optimizer for m in members], self.params)
        self.loss = first.loss[0]
        self.x_train = _joined(self.state.train_data, first.inputs, self.device)
        label = first.task.model_handler.label_frame
        self.y_train = self.state.train_data.tensor(label, self.device)
        self._evaluation()
        self.active = list(range(len(members)))  # positions in members of the rows still training
        # samplers that draw nothing give every task the same batches: drawn once per epoch
        self.deterministic = all(getattr(m.task.batcher.training_sampler, "deterministic", False)
                                 and getattr(m.task.batcher.mini_batching_sampler, "deterministic", False)
                                 for m in members)
        self.rows: list = [[] for _ in members]
        self.stopped = [False] * len(members)

    def _evaluation(self) -> None:
        import torch

        from ._torch_task import _stage_truths

        task = self.first.task
        batches = task._evaluation_batches(self.state)
        truths = _stage_truths(batches, task.model_handler.label_frame)
        self.stage_truths = [truth for truth, _ in truths]
        self.eval_x, start = [], 0
        for _, count in truths:
            parts = [torch.cat([batch.tensor(name) for name in self.first.inputs], dim=1)
                     for _, batch in batches[start:start + count]]
            start += count
            self.eval_x.append(parts[0] if len(parts) == 1 else torch.cat(parts))

    # ------------------------------------------------------------------------- forward
    def forward(self, x: Any, params: list) -> Any:
        import torch

        linear = 0
        for activation in self.activations:
            if activation is None:
                weight, bias = params[2 * linear], params[2 * linear + 1]
                linear += 1
                # (tasks, rows, in) or (rows, in) shared by all tasks, times (tasks, in, out)
                x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2)) if x.dim() == 3 else (
                    torch.matmul(x, weight.transpose(1, 2)) + bias.unsqueeze(1))
            else:
                x = getattr(torch, activation)(x)
        return x

    def losses(self, output: Any, target: Any, mask: Any) -> Any:
        """Each task's mean loss over its rows (and label columns): shape (tasks,)."""
        import torch
        import torch.nn.functional as F

        target = target.expand_as(output) if target.dim() == 2 else target
        if self.loss == "mse":
            elements = (output - target) ** 2
        elif self.loss == "l1":
            elements = (output - target).abs()
        elif self.loss == "bce":
            elements = F.binary_cross_entropy(output, target, reduction="none")
        elif self.loss == "bce_logits":
            elements = F.binary_cross_entropy_with_logits(output, target, reduction="none")
        else:
            tasks, rows, classes = output.shape
            elements = F.cross_entropy(output.reshape(-1, classes), target.reshape(-1, classes),
                                       reduction="none").reshape(tasks, rows, 1)
        if mask is None:
            return elements.mean(dim=(1, 2))
        weights = mask.unsqueeze(2).to(elements.dtype)
        return (elements * weights).sum(dim=(1, 2)) / (weights.sum(dim=(1, 2)) * elements.shape[2])

    # ------------------------------------------------------------------------- the loop
    def run(self) -> list:
        epochs = self.settings.epoch_count
        try:
            for _ in range(epochs):
                if not self.active:
                    break
                self.train_epoch()
                self.report()
        except Exception:  # the whole group fails: every unfinished task carries the traceback
            text = traceback.format_exc()
            for position in self.active:
                self.members[position].error = text
            self.active = []
        return self.finish()

    def train_epoch(self) -> None:
        import torch

        steps = self._steps()
        losses = []
        for rows in steps:
            x, y, mask = self._batch(rows)
            with torch.enable_grad():
                params = [p.requires_grad_(True) for p in self.params]
                output = self.forward(x, params)
                per_task = self.losses(output, y, mask)
                grads = torch.autograd.grad(per_task.sum(), params)
            with torch.no_grad():
                self.params = [p.detach() for p in self.params]
                self.optimizer.step(self.params, grads)
            losses.append(per_task.detach())
        self.epoch_losses = losses

    def _steps(self) -> list:
        """Per step, each active task's rows of the training split (one shared entry where the
        samplers are deterministic), drawn from each task's own generator as the unfused loop does."""
        tasks = [self.members[p].task for p in self.active]
        first = tasks[0]
        if self.deterministic:
            return [[rows] for rows in _task_steps(first)]
        per_task = [_task_steps(t) for t in tasks]
        counts = {len(steps) for steps in per_task}
        if len(counts) != 1:
            raise SweepsCoreError(f"the tasks of a fused group took {sorted(counts)} steps in one epoch; "
                                  "run them with fusion off")
        return [list(step) for step in zip(*per_task)]

    def _batch(self, rows: list) -> tuple:
        import torch

        if len(rows) == 1 or all(_same_rows(rows[0], r) for r in rows[1:]):
            index = _as_index(rows[0], self.device)
            return self.x_train[index], self.y_train[index], None
        sizes = [len(_positions(r)) for r in rows]
        width = max(sizes)
        index = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=bool)
        for i, r in enumerate(rows):
            index[i, :sizes[i]] = _positions(r)
            mask[i, :sizes[i]] = True
        index_t = torch.as_tensor(index, device=self.device)
        mask_t = None if min(sizes) == width else torch.as_tensor(mask, device=self.device)
        return self.x_train[index_t], self.y_train[index_t], mask_t

    def report(self) -> None:
        import torch

        from ._fused_metrics import group_metrics

        with torch.no_grad():
            # one device-to-host transfer per stage and report, as the unfused report makes
            outputs = [self.forward(x, self.params).float().cpu().numpy() for x in self.eval_x]
            mean_losses = (torch.stack(self.epoch_losses).float().mean(dim=0).cpu().numpy()
                           if self.epoch_losses else None)
        measured = (group_metrics(self.first.task.metric_pool, self.stage_truths, outputs) if outputs
                    else [{} for _ in self.active])
        stop, now = [], str(datetime.datetime.now())  # one moment for the whole group's report
        losses = mean_losses.tolist() if mean_losses is not None else [math.nan] * len(self.active)
        # as BatchedTrainingTask.report: a loss from batches that is not finite ends the task
        # (settings.on_nan='stop'), its last row holding no metrics and reaching no hook
        watch = mean_losses is not None and self.settings.on_nan != "continue"
        for row, position in enumerate(self.active):
            member = self.members[position]
            if watch and not math.isfinite(losses[row]):
                member.task._state.diverged = len(self.rows[position])
                self.rows[position].append({"loss": losses[row], "iteration": len(self.rows[position]),
                                            "timestamp": now})
                stop.append(row)
                continue
            if isinstance(measured[row], str):
                member.error = measured[row]
                stop.append(row)
                continue
            history_row = measured[row]
            history_row["loss"] = losses[row]
            history_row["iteration"] = len(self.rows[position])
            history_row["timestamp"] = now
            self.rows[position].append(history_row)
            member.evaluation = (row, outputs)
            hook = self.hooks[position]
            if hook is None:
                continue
            try:
                if hook(history_row["iteration"], history_row):
                    self.stopped[position] = True
                    stop.append(row)
            except Exception:
                member.error = traceback.format_exc()
                stop.append(row)
        if stop:
            self._drop(stop)

    def _drop(self, rows: list) -> None:
        """Take stopped tasks out of the group: their weights are copied out first."""
        import torch

        self._copy_weights(rows)
        gone = set(rows)
        keep = [r for r in range(len(self.active)) if r not in gone]
        self.active = [self.active[r] for r in keep]
        if keep:
            index = torch.as_tensor(keep, device=self.device, dtype=torch.long)
            self.params = [p.index_select(0, index) for p in self.params]
            self.optimizer.keep(index)

    def _copy_weights(self, rows: Sequence[int]) -> None:
        """The trained weights of the tasks at ``rows`` of the stack, into their own networks."""
        import torch

        with torch.no_grad():
            for row in rows:
                member = self.members[self.active[row]]
                layers = [op for op in member.ops if op[0] == "linear"]
                for layer, (_, weight, bias) in enumerate(layers):
                    weight.copy_(self.params[2 * layer][row])
                    bias.copy_(self.params[2 * layer + 1][row])

    def finish(self) -> list:
        """Each task's result dict, from the task's own ``finish()``."""
        self._copy_weights(range(len(self.active)))
        results = []
        for position, member in enumerate(self.members):
            task, state = member.task, member.task._state
            if member.error is not None:
                task._state = None
                results.append(member.error)
                continue
            task.history = self.rows[position]
            state.iteration = len(task.history)
            if task.history and self.result_frames and member.evaluation is not None:
                row, outputs = member.evaluation
                state.evaluated = Evaluation([StageResult(truth, output[row])
                                              for truth, output in zip(self.stage_truths, outputs)])
            if task.history:
                state.output.update(metrics=task.history[-1], info=None, model=task.model_handler,
                                    training_task=task, train_split=state.split.train,
                                    test_splits=state.split.tests, batcher=task.batcher)
            if "diverged" in vars(state):
                try:
                    task._stop_if_diverged([])  # finishes the task and raises its own error
                except Exception as error:  # TrainingDivergedError, with the history up to then
                    results.append(error)
                continue
            results.append(task.finish(stopped_early=self.stopped[position]))
        return results


def _joined(data: Any, names: list, device: Any) -> Any:
    import torch

    tensors = [data.tensor(name, device) for name in names]
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors, dim=1)


def _task_steps(task: Any) -> list:
    """The training-split rows of each step of one epoch of ``task``, drawn as its loop draws them."""
    settings, batcher, state = task.settings, task.batcher, task._state
    limit = settings.training_batch_limit
    steps = []
    for index, positions in enumerate(batcher.training_sampler.batches(state.train_data.index_frame,
                                                                       settings.batch_size, state.rng)):
        if limit is not None and index >= limit:
            break
        if settings.mini_batch_size is None:
            steps.append(positions)
            continue
        batch = Batch(state.train_data, positions)
        for _ in range(settings.mini_epoch_count or 1):
            for mini in batcher.mini_batches(batch, settings.mini_batch_size, state.rng):
                steps.append(mini._positions)
    return steps


def _positions(rows: Any) -> np.ndarray:
    return np.arange(rows.start, rows.stop) if isinstance(rows, slice) else np.asarray(rows)


def _same_rows(a: Any, b: Any) -> bool:
    if isinstance(a, slice) and isinstance(b, slice):
        return a == b
    return np.array_equal(_positions(a), _positions(b))


def _as_index(rows: Any, device: Any) -> Any:
    import torch

    return rows if isinstance(rows, slice) else torch.as_tensor(np.asarray(rows), device=device)


class _Optimizer:
    """torch's SGD, Adam and AdamW update rules over stacked parameters, hyperparameters per task."""

    def __init__(self, kind: str, specs: list, params: list):
        import torch

        self.kind = kind
        self.step_count = 0
        device = params[0].device

        def column(name: str, dtype: Any = torch.float32) -> Any:
            return torch.tensor([spec[name] for spec in specs], dtype=dtype, device=device)

        self.host = {name: np.array([spec[name] for spec in specs], dtype=np.float64)
                     for name in specs[0] if name not in ("kind",)}

        def tensor(values: np.ndarray) -> Any:
            # torch's optimizers compute these in Python floats; float32 kernels round them once
            return torch.tensor(values, dtype=torch.float32, device=device)

        self.hyper = {name: tensor(values) for name, values in self.host.items()
                      if name not in ("nesterov", "decoupled")}
        for name in ("dampening", "beta1", "beta2"):
            if name in self.host:
                self.hyper["one_minus_" + name] = tensor(1 - self.host[name])
        if kind == "sgd":
            self.hyper["has_momentum"] = column("momentum") != 0
            self.hyper["nesterov"] = column("nesterov", torch.bool)
            self.buffers = [None] * len(params)
        else:
            decoupled = column("decoupled", torch.bool)
            self.hyper["coupled_decay"] = torch.where(decoupled, 0.0, self.hyper["weight_decay"])
            self.hyper["decay_factor"] = tensor(
                1 - self.host["lr"] * np.where(self.host["decoupled"] > 0, self.host["weight_decay"], 0.0))
            self.exp_avg = [torch.zeros_like(p) for p in params]
            self.exp_avg_sq = [torch.zeros_like(p) for p in params]

    def keep(self, index: Any) -> None:
        """Keep the rows ``index`` (tasks still training)."""
        self.hyper = {k: v.index_select(0, index) for k, v in self.hyper.items()}
        rows = index.cpu().numpy()
        self.host = {k: v[rows] for k, v in self.host.items()}
        if self.kind == "sgd":
            self.buffers = [None if b is None else b.index_select(0, index) for b in self.buffers]
        else:
            self.exp_avg = [t.index_select(0, index) for t in self.exp_avg]
            self.exp_avg_sq = [t.index_select(0, index) for t in self.exp_avg_sq]

    def step(self, params: list, grads: Sequence[Any]) -> None:
        self.step_count += 1
        if self.kind == "sgd":
            self._sgd(params, grads)
        else:
            self._adam(params, grads)

    @staticmethod
    def _per_task(value: Any, like: Any) -> Any:
        return value.view((-1,) + (1,) * (like.dim() - 1))

    def _sgd(self, params: list, grads: Sequence[Any]) -> None:
        import torch

        h = self.hyper
        for i, (param, grad) in enumerate(zip(params, grads)):
            def per(name: str) -> Any:
                return self._per_task(h[name], param)

            grad = grad + per("weight_decay") * param  # torch: grad.add(param, alpha=weight_decay)
            buffer = self.buffers[i]
            if buffer is None:
                buffer = grad.clone()  # torch's first step: the buffer is the gradient
            else:
                buffer = buffer * per("momentum") + per("one_minus_dampening") * grad
            self.buffers[i] = buffer
            moved = torch.where(per("nesterov"), grad + per("momentum") * buffer, buffer)
            grad = torch.where(per("has_momentum"), moved, grad)
            param.add_(-per("lr") * grad)

    def _adam(self, params: list, grads: Sequence[Any]) -> None:
        import torch

        host, h, step = self.host, self.hyper, self.step_count
        # torch computes these in Python floats (double) and hands them to float32 kernels
        step_size = torch.tensor(host["lr"] / (1 - host["beta1"] ** step), dtype=torch.float32,
                                 device=params[0].device)
        correction2 = torch.tensor((1 - host["beta2"] ** step) ** 0.5, dtype=torch.float32,
                                   device=params[0].device)
        for i, (param, grad) in enumerate(zip(params, grads)):
            def per(value: Any) -> Any:
                return self._per_task(value, param)

            param.mul_(per(h["decay_factor"]))  # AdamW's decay; a factor of 1 for Adam
            grad = grad + per(h["coupled_decay"]) * param
            exp_avg, exp_avg_sq = self.exp_avg[i], self.exp_avg_sq[i]
            exp_avg.lerp_(grad, per(h["one_minus_beta1"]))
            exp_avg_sq.mul_(per(h["beta2"])).add_(per(h["one_minus_beta2"]) * grad * grad)
            denom = (exp_avg_sq.sqrt() / per(correction2)).add_(per(h["eps"]))
            param.add_(per(-step_size) * exp_avg / denom)


# ----------------------------------------------------------------------------- one call


def run_fused(tasks: Sequence[Any], data: Any, *, seeds: Optional[Sequence[Optional[int]]] = None,
              on_epoch: Optional[Sequence[Optional[Callable]]] = None,
              group_size: Optional[int] = None) -> list:
    """Run every task on ``data``, fusing those that can train together.

    Returns, per task and in order, what ``task.run(data, seed=..., on_epoch=...)`` returns, or
    the exception that it would have raised. Tasks that cannot fuse run one by one (a log line
    says why).

    Example:
        >>> results = run_fused([make_task(lr) for lr in (0.01, 0.1)], bundle, seeds=[0, 0])
        >>> results[0]['output']['history'][-1]['loss']                        # doctest: +SKIP
    """
    seeds = list(seeds) if seeds is not None else [None] * len(tasks)
    hooks = list(on_epoch) if on_epoch is not None else [None] * len(tasks)
    results: list = [None] * len(tasks)
    members, cache = [], {}
    for position, task in enumerate(tasks):
        try:
            member = prepare(task, data, seed=seeds[position], cache=cache)
        except NotFusible as reason:
            logger.info("task %d runs unfused: %s", position, reason)
            results[position] = _run_alone(task, data, seeds[position], hooks[position])
            continue
        except Exception as error:
            results[position] = error
            continue
        member.position = position
        members.append(member)
    for members_of_group in group(members):
        finished = train(members_of_group, on_epoch=[hooks[m.position] for m in members_of_group],
                         group_size=group_size)
        for member, result in zip(members_of_group, finished):
            results[member.position] = FusedTaskError(result) if isinstance(result, str) else result
    return results


def _run_alone(task: Any, data: Any, seed: Optional[int], hook: Optional[Callable]) -> Any:
    try:
        return task.run(data, seed=seed, on_epoch=hook)
    except Exception as error:
        return error


class FusedTaskError(SweepsCoreError, RuntimeError):
    """A task that failed inside its fused group; the message holds its traceback."""
