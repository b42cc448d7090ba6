"""Training a dynamics model: Adam on sampled windows, best-eval selection, checkpoints, resume.

The paper pre-trains the joint-wise model on simulated data, then fine-tunes it on real data
(9:1 episode split) keeping the checkpoint with the best eval error. That is two calls::

    from dexndm.dynamics import FitConfig, JointWiseDynamics, fit_dynamics, split_windows

    model = JointWiseDynamics(window=10)
    sim_train, sim_eval = split_windows(sim_q, sim_a, window=10, seed=0)
    fit_dynamics(model, sim_train, sim_eval, FitConfig(steps=50_000, log_dir="runs/ndm_pretrain"))
    real_train, real_eval = split_windows(real_q, real_a, window=10, seed=0)
    fit_dynamics(model, real_train, real_eval, FitConfig(steps=20_000, lr=3e-4, log_dir="runs/ndm_finetune"))
    # model now holds the fine-tuned best-eval weights; runs/ndm_finetune/best.pt is the file.

The second call starts from the first's best weights and keeps its normalisation statistics
(``fit_normalization="auto"`` only fits them on a model that has none), because re-fitting them
would change the function the pre-trained weights compute.

Files under ``log_dir``: ``best.pt`` (+ ``best.pt.json``) the best-eval model (see
:mod:`dexndm.dynamics.checkpoint`); ``checkpoints/last.pt`` the periodic training state (model,
optimizer, step, sampler RNG, best-so-far) used to resume; ``tb/`` TensorBoard scalars.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dexndm.dynamics.checkpoint import (
    FORMAT_VERSION,
    CheckpointMismatchError,
    atomic_torch_save,
    check_format,
    check_payload,
    load_dynamics,
    model_payload,
    save_dynamics,
)
from dexndm.dynamics.metrics import open_loop_error
from dexndm.dynamics.models import DynamicsModel
from dexndm.dynamics.windows import EpisodeWindows

__all__ = ["FitConfig", "FitResult", "fit_dynamics", "load_dynamics", "save_dynamics"]

TRAIN_STATE_FORMAT = "dexndm.dynamics.train_state"

# Fit settings that shape the optimisation; resuming with any of them changed is refused, since
# the result would be neither the old run nor a clean new one. (steps may change: it extends a run.)
_RESUME_MUST_MATCH = (
    "epochs",
    "batch_size",
    "lr",
    "lr_schedule",
    "min_lr_fraction",
    "weight_decay",
    "grad_clip_norm",
    "rollout_horizon",
    "anchor_weight",
    "seed",
)


@dataclass(frozen=True)
class FitConfig:
    """Settings of one :func:`fit_dynamics` call."""

    steps: int | None = 20_000
    """Optimiser steps; ignored when ``epochs`` is set."""
    epochs: float | None = None
    """If set, train for ``ceil(epochs * train_windows / batch_size)`` steps instead."""
    batch_size: int = 1024
    """Windows per step, sampled uniformly with replacement from the train windows."""
    lr: float = 1e-3
    """Adam learning rate (peak, for the cosine schedule)."""
    lr_schedule: Literal["constant", "cosine"] = "cosine"
    """Cosine decay from ``lr`` to ``lr * min_lr_fraction`` over the run, or constant."""
    min_lr_fraction: float = 0.05
    """Final learning rate as a fraction of ``lr`` for the cosine schedule."""
    weight_decay: float = 0.0
    """Adam L2 weight decay."""
    grad_clip_norm: float | None = 1.0
    """Clip the global gradient norm to this; None disables clipping."""
    rollout_horizon: int = 1
    """k of the k-step open-loop loss (1 = one-step loss). Eval uses the same k."""
    anchor_weight: float = 0.0
    """Adds ``anchor_weight * sum((w - w_start) ** 2)`` over the parameters to the loss, where
    ``w_start`` are the weights the model is handed in with (L2-SP, Li et al. 2018). For a
    fine-tune from the sim-pretrained model this keeps the sim's dynamics where the real episodes
    say nothing, instead of letting the fit drift there; 0 turns it off."""
    eval_every: int = 500
    """Evaluate (and maybe keep as best) every this many steps, at step 0 and at the end."""
    eval_windows: int | None = 20_000
    """Evaluate on at most this many evenly spaced eval windows (None: all)."""
    checkpoint_every: int = 1000
    """Write ``checkpoints/last.pt`` every this many steps and at the end (needs ``log_dir``)."""
    log_dir: str | None = None
    """Where best.pt, checkpoints/ and tb/ go; None keeps everything in memory."""
    resume: bool = True
    """Continue from ``log_dir/checkpoints/last.pt`` if it exists; False starts over."""
    fit_normalization: Literal["auto", "always", "never"] = "auto"
    """Fit the model's normalisation statistics on the train data: "auto" only if it has none."""
    normalization_windows: int = 100_000
    """Evenly spaced train windows used to fit the statistics."""
    seed: int = 0
    """Seeds the batch sampler (its state is checkpointed, so resuming is exact)."""
    device: str = "cpu"
    """Torch device for the model and batches; the episode arrays stay where they are."""
    progress: bool = True
    """Show a rich progress bar (rate, ETA, loss, eval error)."""


@dataclass
class FitResult:
    """What a :func:`fit_dynamics` call did; the model passed in now holds the best weights."""

    best_eval_mae: float
    """Best eval error: mean abs error of the ``rollout_horizon``-step prediction, rad."""
    best_step: int
    """Step at which it was reached (0 = the weights the call started with)."""
    start_step: int
    """0, or the step this call resumed from."""
    final_step: int
    history: list[dict[str, float]] = field(default_factory=list)
    """One record per evaluation: step, train_loss, eval_mae, eval_hold_mae, lr."""
    best_path: Path | None = None
    """``log_dir/best.pt`` when a log dir was given."""


def _num_steps(cfg: FitConfig, num_train_windows: int) -> int:
    if cfg.epochs is not None:
        return max(1, math.ceil(cfg.epochs * num_train_windows / cfg.batch_size))
    if cfg.steps is None or cfg.steps < 1:
        raise ValueError("FitConfig needs steps >= 1 or epochs")
    return cfg.steps


def scheduled_lr(lr: float, schedule: str, min_lr_fraction: float, step: int, total: int) -> float:
    """Learning rate at ``step`` of ``total``: constant, or cosine from ``lr`` to ``lr * min_lr_fraction``.

    A pure function of the step, so resuming a run needs no scheduler state.
    """
    if schedule == "constant":
        return lr
    progress = min(step / max(total, 1), 1.0)
    return lr * (min_lr_fraction + (1.0 - min_lr_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def check_same_run(
    path: Path,
    saved: dict[str, Any],
    fit_config: dict[str, Any],
    keys: tuple[str, ...],
    data: Any,
    elsewhere: str,
) -> None:
    """Refuse to resume from the training state ``saved`` (read from ``path``) when any of the
    ``keys`` of its ``fit_config`` or its ``data`` signature differs from the run asked for now."""
    stored = saved["fit_config"]
    changed = {k: (stored.get(k), fit_config.get(k)) for k in keys if stored.get(k) != fit_config.get(k)}
    if saved["data"] != data:
        changed["data"] = (saved["data"], data)
    if changed:
        details = "; ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in changed.items())
        raise CheckpointMismatchError(
            f"cannot resume from {path}, the run differs: {details}. Use the original settings, "
            f"{elsewhere}, or resume=False (--no-resume) to start over."
        )


def _maybe_fit_normalization(model: DynamicsModel, train: EpisodeWindows, cfg: FitConfig) -> None:
    fitted = bool(model.normalization_fitted)
    if cfg.fit_normalization == "never" or (cfg.fit_normalization == "auto" and fitted):
        return
    data = train.with_horizon(1)
    batch = data.gather(data.evenly_spaced(cfg.normalization_windows))
    device = model.input_mean.device
    model.fit_normalization(batch.q_hist.to(device), batch.a_hist.to(device), batch.q_future[:, 0].to(device))


def rollout_loss(
    model: DynamicsModel, q_hist: torch.Tensor, a_seq: torch.Tensor, q_future: torch.Tensor
) -> torch.Tensor:
    """Mean squared k-step error, each joint scaled by its one-step change std (unitless).

    For k = 1 this is exactly the MSE of the standardised change the network outputs.
    """
    pred = model.rollout(q_hist, a_seq)
    return (((pred - q_future) / model.delta_std) ** 2).mean()


def anchor_penalty(model: torch.nn.Module, anchor: list[torch.Tensor]) -> torch.Tensor:
    """``sum((w - w_anchor) ** 2)`` over the model's parameters (see ``FitConfig.anchor_weight``)."""
    return sum(((p - a) ** 2).sum() for p, a in zip(model.parameters(), anchor, strict=True))  # type: ignore[return-value]


def _data_signature(train: EpisodeWindows, eval_data: EpisodeWindows) -> dict[str, int]:
    return {
        "train_episodes": train.num_episodes,
        "eval_episodes": eval_data.num_episodes,
        "steps_per_episode": int(train.joint_pos.shape[1]),
        "num_joints": train.num_joints,
    }


def progress_bar(enabled: bool) -> Progress:
    """A rich progress bar for a training loop: steps, samples/s, elapsed, ETA, loss and eval error.

    The task needs the fields ``rate`` (samples/s), ``loss`` and ``eval_mrad``.
    """
    return Progress(
        TextColumn("[bold]fit {task.description}"),
        BarColumn(bar_width=12),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.0f} samples/s"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("loss {task.fields[loss]:.4f} eval {task.fields[eval_mrad]:.3f} mrad"),
        disable=not enabled,
    )


class IntervalMeter:
    """What a training loop reports at each evaluation: the mean loss since the last one and the
    sample rate. The loss is summed on the device and read back only here: a ``.item()`` per step
    would stall a GPU every step."""

    def __init__(self, device: torch.device, batch_size: int, step: int) -> None:
        self.device, self.batch_size = device, batch_size
        self.loss_sum, self.count = torch.zeros((), device=device), 0
        self.restart_clock(step)

    def add(self, loss: torch.Tensor) -> None:
        self.loss_sum += loss.detach()
        self.count += 1

    def restart_clock(self, step: int) -> None:
        """Start the rate's interval at ``step`` (after an evaluation, so it does not count)."""
        self.tick, self.tick_step = time.perf_counter(), step

    def flush(self, step: int, lr: float, writer: Any) -> tuple[float, float]:
        """Mean loss and samples/s since the last flush, logged under train/ and perf/ when
        ``writer`` is given; the loss sum starts over."""
        mean_loss = self.loss_sum.item() / max(self.count, 1)
        rate = (step - self.tick_step) * self.batch_size / max(time.perf_counter() - self.tick, 1e-9)
        if writer is not None:
            writer.add_scalar("train/loss", mean_loss, step)
            writer.add_scalar("train/lr", lr, step)
            writer.add_scalar("perf/samples_per_s", rate, step)
        self.loss_sum, self.count = torch.zeros((), device=self.device), 0
        return mean_loss, rate


def gradient_step(
    loss: torch.Tensor, optimizer: torch.optim.Optimizer, lr: float, grad_clip_norm: float | None
) -> None:
    """One optimiser step on ``loss`` at learning rate ``lr``, gradients clipped to
    ``grad_clip_norm`` (over the optimiser's parameters) when given."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip_norm is not None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, grad_clip_norm)
    optimizer.step()


@dataclass(frozen=True)
class TrainStateFormat:
    """How one trainer's resumable state is labelled and when resuming from it is refused."""

    name: str
    version: int
    what: str
    """Named in errors, e.g. "dynamics training checkpoint"."""
    fresh_start: str
    """Where a run with other settings should go instead, e.g. "a new log_dir"."""
    must_match: tuple[str, ...]
    """Fit-config keys that may not change on resume."""
    older_states: tuple[tuple[str, Any], ...] = ()
    """``(key, value)`` of must-match settings added after states were first written: the value a
    state that lacks the key ran with, so that it still resumes when asked for that value."""


def pack_train_state(
    fmt: TrainStateFormat,
    optimizer: torch.optim.Optimizer,
    sampler: torch.Generator,
    fit_config: dict[str, Any],
    signature: Any,
    **loop_state: Any,
) -> dict[str, Any]:
    """A training state to checkpoint: the trainer's own ``loop_state`` (network payload, step,
    best-so-far) plus what every trainer resumes alike (optimiser, batch sampler, settings, data)."""
    return {
        "format": fmt.name,
        "format_version": fmt.version,
        **loop_state,
        "optimizer": optimizer.state_dict(),
        "sampler_rng": sampler.get_state(),
        "fit_config": fit_config,
        "data": signature,
    }


def unpack_train_state(
    path: Path,
    fmt: TrainStateFormat,
    optimizer: torch.optim.Optimizer,
    sampler: torch.Generator,
    fit_config: dict[str, Any],
    signature: Any,
    check_network: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """Read a state :func:`pack_train_state` wrote, refuse it if it is of another format, version,
    network (``check_network`` raises) or run, restore the optimiser and sampler, and return it
    for the trainer to restore its own loop state."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    check_format(
        saved, str(path), fmt.name, fmt.version, fmt.what, f"start {fmt.fresh_start} or pass resume=False"
    )
    check_network(saved)
    saved["fit_config"] = {**dict(fmt.older_states), **saved["fit_config"]}
    check_same_run(path, saved, fit_config, fmt.must_match, signature, fmt.fresh_start)
    optimizer.load_state_dict(saved["optimizer"])
    sampler.set_state(saved["sampler_rng"])
    return saved


_TRAIN_STATE = TrainStateFormat(
    TRAIN_STATE_FORMAT, FORMAT_VERSION, "dynamics training checkpoint", "a new log_dir", _RESUME_MUST_MATCH,
    older_states=(("anchor_weight", 0.0),),  # fits made before the anchor existed ran without one
)  # fmt: skip


class _Run:
    """The mutable state of one fit, checkpointable as a dict of builtins and tensors."""

    def __init__(self, model: DynamicsModel, optimizer: torch.optim.Optimizer, seed: int) -> None:
        self.model = model
        self.optimizer = optimizer
        self.sampler = torch.Generator().manual_seed(seed)
        self.step = 0
        self.best_mae = math.inf
        self.best_step = -1
        self.best_state: dict[str, torch.Tensor] = {}
        self.history: list[dict[str, float]] = []
        self.anchor: list[torch.Tensor] | None = None
        """The weights the anchor penalty pulls toward (``FitConfig.anchor_weight``), or None."""

    def state(self, cfg: FitConfig, data_signature: dict[str, int]) -> dict[str, Any]:
        return pack_train_state(
            _TRAIN_STATE, self.optimizer, self.sampler, asdict(cfg), data_signature,
            model=model_payload(self.model),
            step=self.step,
            best={"eval_mae": self.best_mae, "step": self.best_step, "model_state": self.best_state},
            history=self.history,
            **({} if self.anchor is None else {"anchor": self.anchor}),
        )  # fmt: skip

    def restore(self, path: Path, cfg: FitConfig, data_signature: dict[str, int]) -> None:
        def check_network(saved: dict[str, Any]) -> None:
            check_payload(saved["model"], str(path), expected_config=self.model.config)

        state = unpack_train_state(
            path, _TRAIN_STATE, self.optimizer, self.sampler, asdict(cfg), data_signature, check_network
        )
        self.model.load_state_dict(state["model"]["model_state"])
        self.step = int(state["step"])
        self.best_mae = float(state["best"]["eval_mae"])
        self.best_step = int(state["best"]["step"])
        self.best_state = state["best"]["model_state"]
        self.history = list(state["history"])
        if self.anchor is not None:  # the start weights of the run, not those handed to the resume
            params = self.model.parameters()
            self.anchor = [t.to(p.device) for t, p in zip(state["anchor"], params, strict=True)]


def fit_dynamics(
    model: DynamicsModel,
    train_data: EpisodeWindows,
    eval_data: EpisodeWindows,
    cfg: FitConfig = FitConfig(),  # noqa: B008 - frozen dataclass, safe as a default
    extra: dict[str, Any] | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> FitResult:
    """Train ``model`` in place on windows of ``train_data``; keep the best on ``eval_data``.

    Args:
        model: any :class:`DynamicsModel`; trained in place, and on return it holds the weights
            with the lowest eval error seen (including the weights it started with, step 0).
        train_data, eval_data: windows with the model's ``window`` (their ``horizon`` is ignored;
            ``cfg.rollout_horizon`` is used), usually from :func:`split_windows`.
        cfg: see :class:`FitConfig`.
        extra: provenance stored with ``best.pt`` (e.g. ``{"pretrained_from": "runs/x/best.pt"}``).
        on_step: called as ``on_step(step, loss)`` after every completed step (after any
            checkpoint of that step), e.g. for custom logging.

    Returns:
        :class:`FitResult`. The eval error is the mean abs error (rad, averaged over joints) of the
        ``rollout_horizon``-th open-loop prediction on (up to ``cfg.eval_windows``) eval windows.
    """
    if train_data.window != model.window or eval_data.window != model.window:
        raise ValueError(
            f"data windows ({train_data.window}, {eval_data.window}) must equal the model's {model.window}"
        )
    horizon = cfg.rollout_horizon
    train, evaluation = train_data.with_horizon(horizon), eval_data.with_horizon(horizon)
    if len(evaluation) == 0:
        raise ValueError(
            "eval_data has no episodes; best-eval selection needs held-out episodes "
            "(split_windows with eval_fraction > 0)"
        )
    total_steps = _num_steps(cfg, len(train))
    device = torch.device(cfg.device)
    model.to(device)
    _maybe_fit_normalization(model, train, cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    run = _Run(model, optimizer, cfg.seed)
    if cfg.anchor_weight > 0:
        run.anchor = [p.detach().clone() for p in model.parameters()]
    signature = _data_signature(train, evaluation)

    log_dir = Path(cfg.log_dir) if cfg.log_dir is not None else None
    last_path = log_dir / "checkpoints" / "last.pt" if log_dir else None
    best_path = log_dir / "best.pt" if log_dir else None
    if last_path is not None and cfg.resume and last_path.exists():
        run.restore(last_path, cfg, signature)
    start_step = run.step
    writer = summary_writer(log_dir, start_step)

    def evaluate(train_loss: float) -> float:
        err = open_loop_error(model, evaluation, horizon, cfg.eval_windows)
        record = {
            "step": run.step,
            "train_loss": train_loss,
            "eval_mae": err.final,
            "eval_hold_mae": err.hold_final,
            "lr": optimizer.param_groups[0]["lr"],
        }
        run.history.append(record)
        if writer is not None:
            writer.add_scalar("eval/mae_rad", err.final, run.step)
            writer.add_scalar("eval/mae_over_hold", err.final / max(err.hold_final, 1e-12), run.step)
        # The first evaluation always counts, so the model handed back is never empty-handed.
        if err.final < run.best_mae or not run.best_state:
            run.best_mae, run.best_step = err.final, run.step
            run.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            if best_path is not None:
                save_dynamics(best_path, model, _best_extra(run, cfg, signature, extra))
        return err.final

    eval_mrad = math.nan
    if run.step == 0:
        eval_mrad = 1e3 * evaluate(math.nan)
    model.train()
    meter = IntervalMeter(device, cfg.batch_size, run.step)
    progress = progress_bar(cfg.progress)
    try:
        with progress:
            task = progress.add_task(
                model.config.kind,
                total=total_steps,
                completed=run.step,
                rate=0.0,
                loss=math.nan,
                eval_mrad=eval_mrad,
            )
            while run.step < total_steps:
                lr = scheduled_lr(cfg.lr, cfg.lr_schedule, cfg.min_lr_fraction, run.step, total_steps)
                index = torch.randint(len(train), (cfg.batch_size,), generator=run.sampler)
                batch = train.gather(index).to(device)
                loss = rollout_loss(model, batch.q_hist, batch.a_seq, batch.q_future)
                if run.anchor is not None:  # the logged loss stays the prediction error alone
                    loss_to_step = loss + cfg.anchor_weight * anchor_penalty(model, run.anchor)
                else:
                    loss_to_step = loss
                gradient_step(loss_to_step, optimizer, lr, cfg.grad_clip_norm)
                run.step += 1
                meter.add(loss)

                is_last = run.step == total_steps
                if run.step % cfg.eval_every == 0 or is_last:
                    mean_loss, rate = meter.flush(run.step, lr, writer)
                    eval_mrad = 1e3 * evaluate(mean_loss)
                    model.train()
                    progress.update(task, rate=rate, loss=mean_loss, eval_mrad=eval_mrad)
                    meter.restart_clock(run.step)
                if last_path is not None and (run.step % cfg.checkpoint_every == 0 or is_last):
                    atomic_torch_save(run.state(cfg, signature), last_path)
                progress.update(task, completed=run.step)
                if on_step is not None:
                    on_step(run.step, loss.item())
    finally:
        if writer is not None:
            writer.close()

    model.load_state_dict(run.best_state)
    model.eval()
    return FitResult(
        best_eval_mae=run.best_mae,
        best_step=run.best_step,
        start_step=start_step,
        final_step=run.step,
        history=run.history,
        best_path=best_path,
    )


def _best_extra(
    run: _Run, cfg: FitConfig, signature: dict[str, int], extra: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "step": run.step,
        "eval_mae_rad": run.best_mae,
        "eval_horizon": cfg.rollout_horizon,
        "fit_config": asdict(cfg),
        "data": signature,
        **(extra or {}),
    }


def summary_writer(log_dir: Path | None, start_step: int):
    """A TensorBoard writer on ``log_dir/tb`` (None without a log dir), continuing at ``start_step``."""
    if log_dir is None:
        return None
    # Imported lazily: tensorboard's import is slow and only needed when logging to disk.
    from torch.utils.tensorboard import SummaryWriter

    # purge_step drops events a crashed run wrote after its last checkpoint.
    return SummaryWriter(str(log_dir / "tb"), purge_step=start_step if start_step > 0 else None)
