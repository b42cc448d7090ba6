"""Open-loop prediction error of a dynamics model on held-out episodes.

The k-step error starts each window from measured positions ``q_{t-W+1..t}``, rolls the model out
open loop for k steps under the recorded targets (feeding predictions back) and compares the
k-th prediction with the measured ``q_{t+k}``. It is reported beside the "hold" baseline
``q_{t+k} = q_t`` (the error of a model that predicts no motion), which sets the scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dexndm.dynamics.models import DynamicsModel
from dexndm.dynamics.windows import EpisodeWindows
from dexndm.hand.constants import JOINT_NAMES


@dataclass(frozen=True)
class OpenLoopError:
    """Mean absolute prediction error in rad, by rollout step and joint."""

    mae_by_step_joint: np.ndarray
    """``(K, J)``: row ``k - 1`` is the error of the k-step prediction."""
    hold_by_step_joint: np.ndarray
    """``(K, J)``: the same for the baseline ``q_{t+k} = q_t``."""
    num_windows: int

    @property
    def horizon(self) -> int:
        return int(self.mae_by_step_joint.shape[0])

    @property
    def one_step_per_joint(self) -> np.ndarray:
        """``(J,)`` one-step error, rad."""
        return self.mae_by_step_joint[0]

    @property
    def one_step(self) -> float:
        return float(self.mae_by_step_joint[0].mean())

    @property
    def final_per_joint(self) -> np.ndarray:
        """``(J,)`` error after ``horizon`` open-loop steps, rad."""
        return self.mae_by_step_joint[-1]

    @property
    def final(self) -> float:
        """Error after ``horizon`` open-loop steps, averaged over joints, rad."""
        return float(self.mae_by_step_joint[-1].mean())

    @property
    def hold_one_step(self) -> float:
        return float(self.hold_by_step_joint[0].mean())

    @property
    def hold_final(self) -> float:
        return float(self.hold_by_step_joint[-1].mean())

    def to_markdown(self) -> str:
        """Per-joint table of one-step and k-step error (mrad) with the hold baseline."""
        k = self.horizon
        names = JOINT_NAMES if len(self.one_step_per_joint) == len(JOINT_NAMES) else None
        lines = [
            f"| joint | 1-step (mrad) | hold 1-step | {k}-step (mrad) | hold {k}-step |",
            "|---|---|---|---|---|",
        ]
        mrad = 1e3 * np.stack(
            [
                self.mae_by_step_joint[0],
                self.hold_by_step_joint[0],
                self.mae_by_step_joint[-1],
                self.hold_by_step_joint[-1],
            ],
            axis=1,
        )  # (J, 4)
        for j, row in enumerate(mrad):
            name = names[j] if names else str(j)
            lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
        lines.append(
            f"| **mean** | {1e3 * self.one_step:.2f} | {1e3 * self.hold_one_step:.2f}"
            f" | {1e3 * self.final:.2f} | {1e3 * self.hold_final:.2f} |"
        )
        return "\n".join(lines)


@torch.no_grad()
def open_loop_error(
    model: DynamicsModel,
    data: EpisodeWindows,
    horizon: int = 10,
    max_windows: int | None = None,
    batch_size: int = 1024,
) -> OpenLoopError:
    """Error of ``horizon``-step open-loop rollouts over (up to ``max_windows``, evenly spaced)
    windows of ``data``; deterministic, and leaves the model's train/eval mode as it was.

    ``batch_size`` 1024: on CPU the joint-wise model's activations (J x batch x hidden) stop
    fitting in cache above that, and throughput halves at 4096 (measured).
    """
    data = data.with_horizon(horizon)
    index = data.evenly_spaced(max_windows)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    abs_sum = torch.zeros(horizon, data.num_joints, dtype=torch.float64)
    hold_sum = torch.zeros_like(abs_sum)
    try:
        for chunk in index.split(batch_size):
            batch = data.gather(chunk).to(device)
            pred = model.rollout(batch.q_hist, batch.a_seq)
            abs_sum += (pred - batch.q_future).abs().sum(0).double().cpu()
            hold_sum += (batch.q_hist[:, -1:, :] - batch.q_future).abs().sum(0).double().cpu()
    finally:
        model.train(was_training)
    n = len(index)
    return OpenLoopError((abs_sum / n).numpy(), (hold_sum / n).numpy(), n)
