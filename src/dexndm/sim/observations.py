"""Observation terms: pure functions shared by the sim, SimulatedReality and the real hand.

The proprioceptive observation (the generalist's, and the only one a real hand can build) is::

    [ q_{t-T+1}, a_{t-T}, ..., q_t, a_{t-1} ]  (T x 32, oldest first)  + wrist_quat (4) + axis (3)

with ``q`` the measured joint positions and ``a`` the joint targets in force while they were
measured, both in sim order and radians. ``T`` = 10 by default: 327 numbers.
"""

from __future__ import annotations

import numpy as np

from dexndm.hand import constants as C


def proprio_dim(history: int) -> int:
    return history * 2 * C.NUM_JOINTS + 7


def proprio_obs(
    q_hist: np.ndarray,
    a_hist: np.ndarray,
    wrist_quat: np.ndarray,
    axis: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Proprioceptive observation.

    Args:
        q_hist: (N, T, 16) measured joint positions, oldest first, rad.
        a_hist: (N, T, 16) the joint targets paired with them (previous targets), rad.
        wrist_quat: (N, 4) wrist orientation in the world (w, x, y, z).
        axis: (N, 3) target rotation axis, unit, world frame.
        out: optional (N, T*32 + 7) float32 array to write into, e.g. the leading columns of a
            larger observation (a view whose rows are contiguous), which saves a copy.
    Returns:
        (N, T*32 + 7) float32: ``out`` when given.
    """
    n, history, _ = q_hist.shape
    dim = proprio_dim(history)
    if out is None:
        out = np.empty((n, dim), dtype=np.float32)
    elif out.shape != (n, dim) or out.dtype != np.float32:
        raise ValueError(
            f"proprio_obs: out must be a ({n}, {dim}) float32 array, got {out.shape} {out.dtype}"
        )
    # (N, T*32) -> (N, T, 2, 16) splits only the contiguous last axis: a view, never a copy
    pairs = out[:, : history * 2 * C.NUM_JOINTS].reshape(n, history, 2, C.NUM_JOINTS)
    pairs[:, :, 0] = q_hist
    pairs[:, :, 1] = a_hist
    out[:, dim - 7 : dim - 3] = wrist_quat
    out[:, dim - 3 :] = axis
    return out


def split_proprio(obs: np.ndarray, history: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`proprio_obs`: (q_hist, a_hist, wrist_quat, axis)."""
    n = obs.shape[0]
    pairs = obs[:, : history * 32].reshape(n, history, 32)
    return (
        pairs[..., :16],
        pairs[..., 16:],
        obs[:, history * 32 : history * 32 + 4],
        obs[:, history * 32 + 4 :],
    )


def push_history(hist: np.ndarray, new: np.ndarray) -> None:
    """Shift a (N, T, D) history one step and append ``new`` (N, D) as the newest, in place."""
    hist[:, :-1] = hist[:, 1:]
    hist[:, -1] = new


class ProprioHistory:
    """One hand's proprioceptive history, kept the way :class:`RotationEnv` keeps it.

    For the loops that drive a single real (or simulated-real) hand: ``start`` fills the whole
    history with the first reading and the targets in force; every later ``push`` pairs a new
    reading with the target that was in force while it was reached.
    """

    def __init__(self, history: int):
        self.q = np.zeros((1, history, C.NUM_JOINTS))
        self.a = np.zeros((1, history, C.NUM_JOINTS))

    def start(self, joint_pos: np.ndarray, targets: np.ndarray) -> None:
        self.q[:] = joint_pos
        self.a[:] = targets

    def push(self, joint_pos: np.ndarray, targets: np.ndarray) -> None:
        push_history(self.q, np.asarray(joint_pos)[None])
        push_history(self.a, np.asarray(targets)[None])

    def obs(self, wrist_quat: np.ndarray, axis: np.ndarray) -> np.ndarray:
        """``(1, T*32 + 7)`` float32 observation."""
        return proprio_obs(self.q, self.a, np.asarray(wrist_quat)[None], np.asarray(axis)[None])
