"""The joint-wise drive model: the motor current a joint draws, from its own (position, target) history.

``I^i_{t+1} = g_i(q^i_{t-W+1..t}, a^i_{t-W+1..t})``, one small MLP per joint, all joints in one
batched operation, with the input encoding of the joint-wise dynamics model
(:func:`dexndm.dynamics.models.history_features`). It is the dynamics model's companion for a
residual objective that sees force (ours; the paper matches positions only): where a finger
presses on the object, the sim's and the real hand's positions can agree while the drive behind
them does not. On a position-controlled Dynamixel the current is the motor's own law of the
position error and speed, clipped at the current limit, so it is a per-joint quantity.

Units. Currents are mA, the unit of ``motor_current`` in every episode store: the real hand's
reading, and in the training sim the actuator torque converted with the XC330's datasheet
torque constant (:data:`dexndm.dynamics.sim_episodes.CURRENT_MA_PER_NM`). The current read with
the state of step ``t + 1`` is the one the targets up to ``a_t`` produced, which is what the model
predicts from the window ending at ``t``.

Like the dynamics model it is pre-trained on simulated episodes and fine-tuned on the real
hand's (:func:`train_drive_model`; ``dexndm train drive``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from dexndm.dynamics.checkpoint import check_format, save_with_sidecar
from dexndm.dynamics.layers import GroupedMLP
from dexndm.dynamics.models import (
    check_config_fields,
    fit_normalization_buffers,
    history_features,
    register_normalization,
)
from dexndm.dynamics.train import gradient_step, progress_bar, scheduled_lr
from dexndm.dynamics.windows import EpisodeWindows, split_windows
from dexndm.hand.constants import NUM_JOINTS

FORMAT_NAME = "dexndm.drive"
FORMAT_VERSION = 1
_MIN_CURRENT_STD_MA = 1.0


@dataclass(frozen=True)
class DriveConfig:
    """Everything needed to rebuild a drive model; stored in every checkpoint."""

    window: int = 10
    """History W, control steps: the dynamics model's, so one window feeds both."""
    hidden: tuple[int, ...] = (64, 64)
    """Per-joint hidden widths (ours): the motor law is a smooth function of a few inputs."""
    num_joints: int = NUM_JOINTS
    activation: str = "silu"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hidden": list(self.hidden)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriveConfig:
        check_config_fields(cls, data)
        return cls(**{**data, "hidden": tuple(int(h) for h in data.get("hidden", cls.hidden))})


class JointDriveModel(nn.Module):
    """``(q_hist (B, W, J), a_hist (B, W, J)) -> current (B, J)`` mA; see the module docstring."""

    input_mean: Tensor
    input_std: Tensor
    current_mean: Tensor
    current_std: Tensor
    normalization_fitted: Tensor

    def __init__(self, config: DriveConfig = DriveConfig()) -> None:  # noqa: B008 - frozen
        super().__init__()
        if config.window < 1 or any(h < 1 for h in config.hidden):
            raise ValueError(f"DriveConfig needs window >= 1 and positive widths, got {config}")
        self.config = config
        register_normalization(self, config.num_joints, config.window, "current")
        self.net = GroupedMLP(config.num_joints, 2 * config.window, config.hidden, 1, config.activation)

    @property
    def window(self) -> int:
        return self.config.window

    @torch.no_grad()
    def fit_normalization(self, q_hist: Tensor, a_hist: Tensor, current: Tensor) -> None:
        """Input and output statistics from a sample of windows and their next currents ``(N, J)``."""
        features = history_features(q_hist, a_hist, relative=True)
        fit_normalization_buffers(self, features, current, "current", _MIN_CURRENT_STD_MA)

    def normalized(self, q_hist: Tensor, a_hist: Tensor) -> Tensor:
        """The standardised prediction ``(B, J)`` (what the loss compares)."""
        x = (history_features(q_hist, a_hist, relative=True) - self.input_mean) / self.input_std
        return self.net(x.transpose(0, 1)).squeeze(-1).transpose(0, 1)

    def forward(self, q_hist: Tensor, a_hist: Tensor) -> Tensor:
        return self.current_mean + self.current_std * self.normalized(q_hist, a_hist)


# ---- data -------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DriveWindows:
    """One-step windows of episodes with the current of each window's next step."""

    windows: EpisodeWindows
    motor_current: Tensor
    """``(E, T, J)`` mA, beside ``windows``' positions and targets."""

    def gather(self, index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``q_hist (B, W, J)``, ``a_hist (B, W, J)`` and the next currents ``(B, J)``."""
        episode, time_ = self.windows.locate(index)
        batch = self.windows.gather(index)
        return batch.q_hist, batch.a_hist, self.motor_current[episode, time_[:, self.windows.window]]

    def __len__(self) -> int:
        return len(self.windows)


def split_drive_windows(
    arrays: dict[str, np.ndarray], window: int, eval_fraction: float = 0.1, seed: int = 0
) -> tuple[DriveWindows, DriveWindows]:
    """Episode split (9:1) of ``{"joint_pos", "joint_targets", "motor_current"}`` ``(E, T, J)``."""
    missing = {"joint_pos", "joint_targets", "motor_current"} - set(arrays)
    if missing:
        raise ValueError(f"drive model data lacks {sorted(missing)}; every episode store records them")
    train, evaluation = split_windows(
        arrays["joint_pos"], arrays["joint_targets"], window, 1, eval_fraction, seed
    )
    current = torch.as_tensor(arrays["motor_current"], dtype=torch.float32)
    return DriveWindows(train, current), DriveWindows(evaluation, current)


# ---- training ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DriveFitConfig:
    steps: int = 3000
    batch_size: int = 512
    lr: float = 1e-3
    eval_every: int = 250
    eval_windows: int = 8192
    normalization_windows: int = 50_000
    seed: int = 0
    progress: bool = True


@torch.no_grad()
def drive_error_ma(model: JointDriveModel, data: DriveWindows, max_windows: int | None = None) -> float:
    """Mean absolute error of the predicted next current, mA, over (evenly spaced) windows."""
    total, count = 0.0, 0
    for chunk in data.windows.evenly_spaced(max_windows).split(4096):
        q, a, current = data.gather(chunk)
        total += float((model(q, a) - current).abs().sum())
        count += current.numel()
    return total / max(count, 1)


def fit_drive(
    model: JointDriveModel, train: DriveWindows, evaluation: DriveWindows, cfg: DriveFitConfig
) -> dict:
    """Fit ``model`` in place (MSE of the standardised current); keeps the best eval weights.

    Input statistics are fitted on ``train`` unless the model has some (a fine-tune keeps the
    pre-trained model's, as the dynamics fine-tune does). Returns the eval history.
    """
    if not bool(model.normalization_fitted):
        q, a, current = train.gather(train.windows.evenly_spaced(cfg.normalization_windows))
        model.fit_normalization(q, a, current)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sampler = torch.Generator().manual_seed(cfg.seed)
    best = {"mae_ma": drive_error_ma(model, evaluation, cfg.eval_windows), "step": 0}
    best_state = {k: v.clone() for k, v in model.state_dict().items()}
    history = [dict(best)]
    with progress_bar(cfg.progress) as progress:
        task = progress.add_task("drive", total=cfg.steps, rate=0.0, loss=math.nan, eval_mrad=math.nan)
        for step in range(1, cfg.steps + 1):
            q, a, current = train.gather(torch.randint(len(train), (cfg.batch_size,), generator=sampler))
            target = (current - model.current_mean) / model.current_std
            loss = ((model.normalized(q, a) - target) ** 2).mean()
            gradient_step(loss, optimizer, scheduled_lr(cfg.lr, "cosine", 0.05, step, cfg.steps), 1.0)
            if step % cfg.eval_every == 0 or step == cfg.steps:
                mae = drive_error_ma(model, evaluation, cfg.eval_windows)
                history.append({"step": step, "mae_ma": mae, "train_loss": loss.item()})
                if mae < best["mae_ma"]:
                    best = {"mae_ma": mae, "step": step}
                    best_state = {k: v.clone() for k, v in model.state_dict().items()}
                progress.update(task, loss=loss.item())
            progress.update(task, completed=step)
    model.load_state_dict(best_state)
    return {"best": best, "history": history}


# ---- files ------------------------------------------------------------------------------------
def save_drive(path: str | Path, model: JointDriveModel, extra: dict[str, Any] | None = None) -> Path:
    """Save weights, statistics and config (``weights_only``-loadable) and a JSON sidecar."""
    payload = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": model.config.to_dict(),
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": dict(extra or {}),
    }
    return save_with_sidecar(path, payload)


def load_drive(path: str | Path) -> JointDriveModel:
    """A saved drive model in eval mode; a clear error if the file is something else."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    check_format(
        payload, str(path), FORMAT_NAME, FORMAT_VERSION, "drive model", "retrain it (dexndm train drive)"
    )
    model = JointDriveModel(DriveConfig.from_dict(payload["model_config"]))
    model.load_state_dict(payload["model_state"])
    return model.eval()


def train_drive_model(
    sim_arrays: dict[str, np.ndarray],
    real_arrays: dict[str, np.ndarray],
    out: Path,
    config: DriveConfig = DriveConfig(),  # noqa: B008 - frozen
    pretrain: DriveFitConfig = DriveFitConfig(),  # noqa: B008
    finetune: DriveFitConfig = DriveFitConfig(steps=1500),  # noqa: B008
) -> tuple[JointDriveModel, dict[str, Any]]:
    """Pre-train on the sim's episodes, fine-tune on the real hand's; ``OUT/pretrain.pt``, ``OUT/drive.pt``.

    A stage whose file exists is loaded instead of refitted, so an interrupted run resumes there.
    Returns the fine-tuned model and a summary (held-out real error before and after fine-tuning).
    """
    out.mkdir(parents=True, exist_ok=True)
    sim_train, sim_eval = split_drive_windows(sim_arrays, config.window, seed=pretrain.seed)
    real_train, real_eval = split_drive_windows(real_arrays, config.window, seed=finetune.seed)
    pre_path, final_path = out / "pretrain.pt", out / "drive.pt"
    if pre_path.exists():
        model = load_drive(pre_path)
    else:
        model = JointDriveModel(config)
        fit = fit_drive(model, sim_train, sim_eval, pretrain)
        save_drive(pre_path, model, {"stage": "pretrain", "sim_eval_mae_ma": fit["best"]["mae_ma"]})
    summary: dict[str, Any] = {"real_eval_mae_ma_sim_only": drive_error_ma(model.eval(), real_eval)}
    if final_path.exists():
        model = load_drive(final_path)
    else:
        fit = fit_drive(model.train(), real_train, real_eval, finetune)
        save_drive(final_path, model, {"stage": "finetune", "real_eval_mae_ma": fit["best"]["mae_ma"]})
    summary["real_eval_mae_ma"] = drive_error_ma(model.eval(), real_eval)
    return model, summary
