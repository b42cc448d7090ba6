"""ASAP-style delta-action model (a baseline): the real hand's gap as a learned action offset in sim.

ASAP (He et al., 2025) learns ``delta(s_t, a_t)`` such that the simulator driven by
``a_t + delta`` reproduces what the real robot did under ``a_t``, then fine-tunes the policy in
the simulator *with* that offset in the loop and deploys the fine-tuned policy without it. The
paper's baseline trained it on free-hand replay trajectories.

Ours: ``delta`` has the residual policy's network and input (the proprioceptive observation and
the commanded target, :class:`~dexndm.residual.model.ResidualPolicyNet`; the rotation axis is
zeroed, as the real data has none). Instead of RL against the simulator, it is trained by
gradient through the *sim-trained* dynamics model (a differentiable stand-in for the simulator's
joint response), on recorded real episodes, scored against the recorded real positions:

    min  E || q^real_{t+1..t+K} - f_sim({q_j, a_j + delta(o_j, a_j)}) ||

with the same K-step closed-loop rollout as the residual (:mod:`dexndm.residual.rollout`). It is
the residual's objective mirrored: the residual makes the real model follow the sim, this makes
the sim model follow the real hand. In the training sim, :class:`DeltaActionActuation` adds the
offset to the targets the PD receives (``EnvConfig.delta_action``); the policy keeps seeing the
targets it commanded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dexndm.hand import constants as C


def recorded_observations(
    joint_pos: np.ndarray, joint_targets: np.ndarray, wrist_quat: np.ndarray, history: int
) -> np.ndarray:
    """Proprioceptive observations ``(E, T, D)`` for recorded hand episodes, as the env forms them.

    A collected episode stores the position read at tick ``t`` and the target sent at tick ``t``;
    the env pairs each position with the target in force while it was reached (the previous
    tick's), which is lag 1. The rotation axis is zero: a collection has no task axis.
    """
    from dexndm.residual.rollout import proprio_sequence

    axis = np.zeros((joint_pos.shape[0], 3))
    return proprio_sequence(joint_pos, joint_targets, wrist_quat, axis, history, lag=1)


class DeltaActionActuation:
    """The training sim's actuation with a learned delta-action model in the loop."""

    def __init__(self, path: str | Path) -> None:
        import torch

        from dexndm.residual.checkpoint import load_residual

        self.net, self.meta = load_residual(path)  # in eval mode
        if self.meta.get("kind") != "delta_action":
            raise ValueError(
                f"{path} is not a delta-action model (kind {self.meta.get('kind')!r}); train one with "
                "`dexndm train delta-action`"
            )
        self._torch = torch

    def sent_targets(
        self, q_hist: np.ndarray, a_hist: np.ndarray, wrist_quat: np.ndarray, targets: np.ndarray
    ) -> np.ndarray:
        """``targets + delta(o_t, targets)`` within the joint limits; ``o_t`` from the histories."""
        from dexndm.sim.observations import proprio_obs

        obs = proprio_obs(q_hist, a_hist, wrist_quat, np.zeros((len(targets), 3)))
        with self._torch.no_grad():
            delta = self.net(
                self._torch.as_tensor(obs), self._torch.as_tensor(targets, dtype=self._torch.float32)
            ).numpy()
        return C.clamp_to_limits(targets + delta.astype(np.float64))


def delta_action_sources(sim_dynamics: Path, real_data: Path, episodes: int) -> dict[str, Any]:
    """Provenance stored with a delta-action model."""
    from dexndm.data.artifacts import sha256_path

    return {
        "kind": "delta_action",
        "sim_dynamics": {"path": str(sim_dynamics.resolve()), "sha256": sha256_path(sim_dynamics)},
        "real_data": {
            "path": str(real_data.resolve()),
            "sha256": sha256_path(real_data),
            "episodes": episodes,
        },
    }
