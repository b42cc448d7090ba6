"""Training the residual policy through the frozen dynamics model: :func:`fit_residual`.

The objective and the training graph are in :mod:`dexndm.residual.rollout`. Evaluation (and
best-checkpoint selection) is the mean absolute error, over ``eval_horizon`` steps of the same
rollout (in the configured mode), of the model's positions against ``q^sim`` on held-out episodes,
reported beside the same error with no correction: how much of the modelled gap the residual closes.

Files under ``log_dir``: ``best.pt`` (+ ``.json``), ``checkpoints/last.pt`` (resume), ``tb/``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from dexndm.dynamics.checkpoint import atomic_torch_save
from dexndm.dynamics.drive import JointDriveModel
from dexndm.dynamics.models import DynamicsModel
from dexndm.dynamics.train import (
    IntervalMeter,
    TrainStateFormat,
    gradient_step,
    pack_train_state,
    progress_bar,
    scheduled_lr,
    summary_writer,
    unpack_train_state,
)
from dexndm.hand import constants as C
from dexndm.residual.checkpoint import check_residual_payload, residual_payload, save_residual
from dexndm.residual.model import ResidualPolicyNet
from dexndm.residual.rollout import (
    ResidualEpisodes,
    ResidualEvaluation,
    ResidualRollout,
    RolloutMode,
    drive_objective,
    evaluate_residual,
    scored_currents,
    split_residual_episodes,
)

__all__ = ["ResidualFitConfig", "ResidualFitResult", "fit_residual", "split_residual_episodes"]

TRAIN_STATE_FORMAT = "dexndm.residual.train_state"
TRAIN_STATE_VERSION = 1
_RESUME_MUST_MATCH = (
    "batch_size", "lr", "lr_schedule", "min_lr_fraction", "horizon", "mode", "correction_weight",
    "grad_clip_norm", "eval_horizon", "seed", "drive_weight",
)  # fmt: skip


@dataclass(frozen=True)
class ResidualFitConfig:
    """Settings of one :func:`fit_residual` call."""

    steps: int = 5000
    batch_size: int = 256
    """Windows per step (each costs W + K - 1 residual evaluations and a K-step rollout of f)."""
    lr: float = 3e-4
    lr_schedule: Literal["constant", "cosine"] = "cosine"
    min_lr_fraction: float = 0.05
    horizon: int = 10
    """K: steps of the rollout through the model in the loss (:mod:`dexndm.residual.rollout`)."""
    mode: RolloutMode = "closed_loop"
    """What the residual sees during the K steps: the sim's observations ("teacher_forced") or
    ones rebuilt from the model's positions and the sent targets ("closed_loop")."""
    correction_weight: float = 1e-3
    """Weight of the mean squared correction (in units of max_correction): keeps corrections at
    zero where the model sees no gap to close."""
    grad_clip_norm: float | None = 1.0
    max_target_step: float | None = C.MAX_TARGET_STEP_RAD
    """Cap on the sent target's change per step in the rollout, rad: the one the deployed base +
    residual runs under (:mod:`dexndm.residual.deploy`); None: uncapped (before session 28)."""
    drive_weight: float = 0.0
    """Weight of the drive term (ours; 0 = the paper's objective): the mean squared error, over
    the drive model's per-joint std, of the real hand's modelled motor current against the sim's
    at the same steps, so the residual restores the force behind the positions too. With a
    weight above 0 the best checkpoint is the one with the lowest objective (see
    :func:`dexndm.residual.rollout.drive_objective`), not the lowest position error."""
    eval_horizon: int = 10
    """Steps of the open-loop rollout scored at evaluation (the same for every K, so runs compare)."""
    eval_every: int = 250
    eval_windows: int | None = 4096
    checkpoint_every: int = 500
    log_dir: str | None = None
    resume: bool = True
    normalization_steps: int = 50_000
    """Evenly spaced training steps used to fit the residual's input statistics."""
    seed: int = 0
    device: str = "cpu"
    progress: bool = True

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.horizon < 1 or self.eval_horizon < 1:
            raise ValueError("ResidualFitConfig: steps, batch_size, horizon and eval_horizon must be >= 1")
        if self.drive_weight < 0:
            raise ValueError(f"ResidualFitConfig.drive_weight must be >= 0, got {self.drive_weight}")


@dataclass
class ResidualFitResult:
    """What :func:`fit_residual` did; the network passed in now holds the best weights."""

    best: ResidualEvaluation
    best_step: int
    start_step: int
    final_step: int
    history: list[dict[str, float]] = field(default_factory=list)
    best_path: Path | None = None


def _fit_normalization(net: ResidualPolicyNet, train: ResidualEpisodes, max_steps: int) -> None:
    eps = train.windows.episodes
    proprio = train.proprio[eps].reshape(-1, train.proprio.shape[-1])
    targets = train.windows.joint_targets[eps].reshape(-1, train.windows.num_joints)
    pick = torch.linspace(0, len(proprio) - 1, min(max_steps, len(proprio))).round().long()
    device = net.feature_mean.device
    net.fit_normalization(proprio[pick].to(device), targets[pick].to(device))


def _signature(
    train: ResidualEpisodes,
    evaluation: ResidualEpisodes,
    dynamics: DynamicsModel,
    reference: DynamicsModel | None,
    drive: JointDriveModel | None,
    max_target_step: float | None,
    reference_drive: JointDriveModel | None = None,
) -> dict[str, Any]:
    return {
        "max_target_step": max_target_step,
        **({} if reference_drive is None else {"reference_drive": reference_drive.config.to_dict()}),
        **({} if drive is None else {"drive_config": drive.config.to_dict()}),
        "train_episodes": train.windows.num_episodes,
        "eval_episodes": evaluation.windows.num_episodes,
        "steps_per_episode": int(train.windows.joint_pos.shape[1]),
        "observation_target_lag": train.obs_lag,
        "reference": None if reference is None else reference.config.to_dict(),
        "dynamics_config": dynamics.config.to_dict(),
    }


def fit_residual(
    residual: ResidualPolicyNet,
    dynamics: DynamicsModel,
    train_data: ResidualEpisodes,
    eval_data: ResidualEpisodes,
    cfg: ResidualFitConfig = ResidualFitConfig(),  # noqa: B008 - frozen dataclass
    extra: dict[str, Any] | None = None,
    reference: DynamicsModel | None = None,
    drive: JointDriveModel | None = None,
    reference_drive: JointDriveModel | None = None,
) -> ResidualFitResult:
    """Train ``residual`` in place through the frozen ``dynamics``; keep the best on ``eval_data``.

    Args:
        residual: trained in place; its input statistics are fitted on ``train_data`` unless it
            has some. On return it holds the weights with the lowest eval error (step 0 included:
            the zero correction).
        dynamics: the real hand's model; frozen here (``requires_grad_(False)``, eval mode).
        train_data, eval_data: from :func:`split_residual_episodes` with the model's window.
        cfg: see :class:`ResidualFitConfig`.
        extra: provenance stored with ``best.pt`` (base policy spec, dynamics checkpoint, data).
        reference: the sim-trained dynamics model; when given, predictions are scored against its
            rollout under the base targets instead of ``q^sim`` (:mod:`dexndm.residual.rollout`).
        drive: the real hand's drive model (:mod:`dexndm.dynamics.drive`), frozen; needed when
            ``cfg.drive_weight > 0``, with the sim's motor currents in the episodes.
        reference_drive: the sim-trained drive model; when given (with ``reference``), currents are
            scored against its currents along the reference rollout instead of the episodes'
            recorded ones: for episodes that are not the sim's (the real hand's own closed-loop
            states), whose recorded currents are the real hand's.
    Raises:
        CheckpointMismatchError: resuming a run made with other settings, data or model.
    """
    if train_data.windows.window < dynamics.window:
        raise ValueError(
            f"the data is windowed with a history of {train_data.windows.window} steps but the dynamics "
            f"model needs W={dynamics.window}; split the episodes with the model's window"
        )
    if train_data.proprio.shape[-1] != residual.config.obs_dim:
        raise ValueError(
            f"the episodes' observations have {train_data.proprio.shape[-1]} numbers, the residual expects "
            f"{residual.config.obs_dim} (history {residual.config.history}); set ResidualConfig.history to "
            "the env's observation history"
        )
    has_currents = train_data.motor_current is not None or reference_drive is not None
    if cfg.drive_weight > 0 and (drive is None or not has_currents):
        raise ValueError(
            "drive_weight > 0 needs a drive model (dexndm train drive) and currents to score it against: "
            "the sim episodes' motor_current, or a sim-trained reference drive model"
        )
    if cfg.drive_weight == 0:
        drive = reference_drive = None  # a model that no loss term reads would only slow the rollout
    device = torch.device(cfg.device)
    graph = ResidualRollout(
        residual, dynamics, train_data.obs_lag, cfg.mode, reference, drive, cfg.max_target_step,
        reference_drive,
    ).to(device)  # fmt: skip
    train = train_data.with_horizon(cfg.horizon)
    if len(eval_data.with_horizon(cfg.eval_horizon)) == 0:
        raise ValueError(
            f"eval episodes are too short for window {dynamics.window} + eval horizon {cfg.eval_horizon}"
        )
    if not bool(residual.normalization_fitted):
        _fit_normalization(residual, train, cfg.normalization_steps)
    optimizer = torch.optim.Adam(residual.parameters(), lr=cfg.lr)
    sampler = torch.Generator().manual_seed(cfg.seed)
    signature = _signature(train, eval_data, dynamics, reference, drive, cfg.max_target_step, reference_drive)
    state: dict[str, Any] = {
        "step": 0,
        "best_mae": math.inf,
        "best_step": -1,
        "best_state": {},
        "history": [],
    }
    run = _Run(residual, optimizer, sampler, state)

    log_dir = Path(cfg.log_dir) if cfg.log_dir is not None else None
    last_path = log_dir / "checkpoints" / "last.pt" if log_dir else None
    best_path = log_dir / "best.pt" if log_dir else None
    if last_path is not None and cfg.resume and last_path.exists():
        run.restore(last_path, cfg, signature)
    start_step = state["step"]
    writer = summary_writer(log_dir, start_step)

    def evaluate(train_loss: float) -> ResidualEvaluation:
        ev = evaluate_residual(
            graph, eval_data, cfg.eval_horizon, cfg.eval_windows, drive_weight=cfg.drive_weight
        )
        state["history"].append({
            "step": state["step"], "train_loss": train_loss, "eval_mae": ev.corrected_mae,
            "eval_uncorrected_mae": ev.uncorrected_mae, "mean_abs_correction": ev.mean_abs_correction,
        })  # fmt: skip
        if writer is not None:
            writer.add_scalar("eval/mae_rad", ev.corrected_mae, state["step"])
            writer.add_scalar("eval/closed_fraction", ev.closed_fraction, state["step"])
            writer.add_scalar("eval/mean_abs_correction_rad", ev.mean_abs_correction, state["step"])
        if writer is not None and drive is not None:
            writer.add_scalar("eval/drive_mae_ma", ev.drive_corrected_mae, state["step"])
            writer.add_scalar("eval/objective", ev.objective, state["step"])
        # with the drive term, "best" is the objective's; the position error alone would pick step 0
        score = ev.corrected_mae if drive is None else ev.objective
        if score < state["best_mae"] or not state["best_state"]:
            state.update(best_mae=score, best_step=state["step"], best_eval=asdict(ev))
            state["best_state"] = {k: v.detach().cpu().clone() for k, v in residual.state_dict().items()}
            if best_path is not None:
                save_residual(
                    best_path, residual, {**(extra or {}), "step": state["step"], "eval": asdict(ev)}
                )
        return ev

    eval_mrad = math.nan
    if state["step"] == 0:
        eval_mrad = 1e3 * evaluate(math.nan).corrected_mae
    residual.train()
    meter = IntervalMeter(device, cfg.batch_size, state["step"])
    progress = progress_bar(cfg.progress)
    max_corr = residual.config.max_correction
    try:
        with progress:
            task = progress.add_task(
                "residual",
                total=cfg.steps,
                completed=state["step"],
                rate=0.0,
                loss=math.nan,
                eval_mrad=eval_mrad,
            )
            while state["step"] < cfg.steps:
                lr = scheduled_lr(cfg.lr, cfg.lr_schedule, cfg.min_lr_fraction, state["step"], cfg.steps)
                index = torch.randint(len(train), (cfg.batch_size,), generator=sampler)
                batch, obs = train.gather(index)
                batch, obs = batch.to(device), obs.to(device)
                pred, corr, currents = graph.run(batch, obs)
                target, reference_current = graph.references(batch)
                if currents is None:
                    tracking = (((pred - target) / dynamics.delta_std) ** 2).mean()
                else:
                    sim_current = scored_currents(train, index, reference_current, device)
                    tracking = drive_objective(
                        graph, pred, target, currents, sim_current, cfg.drive_weight
                    ).mean()
                loss = tracking + cfg.correction_weight * ((corr / max_corr) ** 2).mean()
                gradient_step(loss, optimizer, lr, cfg.grad_clip_norm)
                state["step"] += 1
                meter.add(loss)
                step, is_last = state["step"], state["step"] == cfg.steps
                if step % cfg.eval_every == 0 or is_last:
                    mean_loss, rate = meter.flush(step, lr, writer)
                    eval_mrad = 1e3 * evaluate(mean_loss).corrected_mae
                    residual.train()
                    progress.update(task, rate=rate, loss=mean_loss, eval_mrad=eval_mrad)
                    meter.restart_clock(step)
                if last_path is not None and (step % cfg.checkpoint_every == 0 or is_last):
                    atomic_torch_save(run.checkpoint(cfg, signature), last_path)
                progress.update(task, completed=step)
    finally:
        if writer is not None:
            writer.close()

    residual.load_state_dict(state["best_state"])
    residual.eval()
    return ResidualFitResult(
        best=ResidualEvaluation(**state["best_eval"]),
        best_step=state["best_step"],
        start_step=start_step,
        final_step=state["step"],
        history=state["history"],
        best_path=best_path,
    )


_TRAIN_STATE = TrainStateFormat(
    TRAIN_STATE_FORMAT, TRAIN_STATE_VERSION, "residual training checkpoint", "a new output directory",
    _RESUME_MUST_MATCH,
)  # fmt: skip


@dataclass
class _Run:
    """What a resumable fit carries: the network, optimiser, batch sampler and loop state."""

    residual: ResidualPolicyNet
    optimizer: torch.optim.Optimizer
    sampler: torch.Generator
    state: dict[str, Any]

    def checkpoint(self, cfg: ResidualFitConfig, signature: dict[str, Any]) -> dict[str, Any]:
        return pack_train_state(
            _TRAIN_STATE, self.optimizer, self.sampler, asdict(cfg), signature,
            residual=residual_payload(self.residual), state=self.state,
        )  # fmt: skip

    def restore(self, path: Path, cfg: ResidualFitConfig, signature: dict[str, Any]) -> None:
        def check_network(saved: dict[str, Any]) -> None:
            check_residual_payload(saved["residual"], str(path), expected_config=self.residual.config)

        saved = unpack_train_state(
            path, _TRAIN_STATE, self.optimizer, self.sampler, asdict(cfg), signature, check_network
        )
        self.residual.load_state_dict(saved["residual"]["residual_state"])
        self.state.update(saved["state"])
