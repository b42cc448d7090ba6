"""Reward and metric terms of the rotation task: pure functions of per-env arrays.

``r = r_rot + r_goal + r_penalty`` (method.md):

* ``r_rot = clip(omega . k, -0.5, 0.5)``
* ``r_penalty = -c_rotp |omega x k|_1 - 0.3 |v|^2 - 0.3 |q - q_init|^2 - 2.0 (tau . qdot)^2 - 0.1 |tau|^2``

The work term is squared, as in the HORA family's code that the paper's reward comes from (the
paper's text writes ``tau . qdot``). Linear, it is sign-indefinite (a braking joint earns
reward) and, measured on the normal cylinders palm up with uniform random actions, it cost
-0.19 per step, as much as the pose term and a third of the largest rotation reward: a policy
that holds still beat every exploring one. Squared it costs -0.05 there
(``python benchmarks/specialist_probe.py --policy random``).
* ``r_goal = goal_bonus`` on the steps where the guiding goal is reached.
* ``r_pos = -pos_weight * |p_obj - p_hand|`` (ours): the distance of the object's centre from the
  grasp centre, the quantity whose 6 cm limit ends the episode.
"""

from __future__ import annotations

import numpy as np

from dexndm.sim.config import RewardConfig
from dexndm.sim.rotations import quat_conj, quat_mul


def rotp_weight(resets: np.ndarray, cfg: RewardConfig) -> np.ndarray:
    """c_rotp per env from its number of resets: 0, then a linear ramp to ``rotp_max``."""
    lo, hi = cfg.rotp_ramp
    return cfg.rotp_max * np.clip((resets - lo) / max(hi - lo, 1), 0.0, 1.0)


def rotation_reward(
    omega: np.ndarray,
    axis: np.ndarray,
    obj_vel: np.ndarray,
    q: np.ndarray,
    q_init: np.ndarray,
    torque: np.ndarray,
    qdot: np.ndarray,
    goal_reached: np.ndarray,
    c_rotp: np.ndarray,
    cfg: RewardConfig,
    obj_dist: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-env reward (N,) and its terms. Shapes: omega/axis/obj_vel (N, 3), q/q_init/torque/qdot
    (N, 16), obj_dist (N,) m from the grasp centre (None: no position term)."""
    w_k = np.sum(omega * axis, axis=-1)
    terms = {
        "rot": cfg.rot_weight * np.clip(w_k, -cfg.rot_clip, cfg.rot_clip),
        "rotp": -c_rotp * np.abs(np.cross(omega, axis)).sum(-1),
        "obj_vel": -cfg.obj_vel_weight * np.sum(obj_vel**2, -1),
        "pose": -cfg.pose_weight * np.sum((q - q_init) ** 2, -1),
        "work": -cfg.work_weight * np.sum(torque * qdot, -1) ** 2,
        "torque": -cfg.torque_weight * np.sum(torque**2, -1),
        "goal": cfg.goal_bonus * goal_reached.astype(np.float64),
        "pos": -cfg.pos_weight * (np.zeros(len(omega)) if obj_dist is None else obj_dist),
    }
    return sum(terms.values()), terms


def rotation_about_axis(q_prev: np.ndarray, q_now: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Signed angle (rad) the object turned about ``axis`` (world) between two orientations (N, 4)."""
    dq = quat_mul(q_now, quat_conj(q_prev))
    dq = dq * np.where(dq[:, :1] < 0, -1.0, 1.0)
    s = np.linalg.norm(dq[:, 1:], axis=-1)
    angle = 2.0 * np.arctan2(s, dq[:, 0])
    rotvec = dq[:, 1:] * (angle / np.maximum(s, 1e-12))[:, None]
    return np.sum(rotvec * axis, axis=-1)
