"""Reward terms as pure functions."""

from __future__ import annotations

import numpy as np

from dexndm.sim.config import RewardConfig
from dexndm.sim.rewards import rotation_about_axis, rotation_reward, rotp_weight
from dexndm.sim.rotations import quat_from_axis_angle, quat_mul, random_quat
from dexndm.sim.wrists_axes import fibonacci_axes, parse_axis, parse_wrist


def test_rotation_about_axis_recovers_known_turns():
    rng = np.random.default_rng(0)
    q0 = random_quat(rng, 5)
    axis = np.tile([0.0, 0.0, 1.0], (5, 1))
    angles = np.array([0.1, -0.2, 0.5, 1.0, -1.5])
    q1 = quat_mul(quat_from_axis_angle(axis, angles), q0)
    np.testing.assert_allclose(rotation_about_axis(q0, q1, axis), angles, atol=1e-9)
    # a turn about x contributes nothing about z
    qx = quat_mul(quat_from_axis_angle(np.tile([1.0, 0, 0], (5, 1)), angles), q0)
    np.testing.assert_allclose(rotation_about_axis(q0, qx, axis), 0.0, atol=1e-9)


def test_rot_reward_is_clipped_and_penalties_negative():
    cfg = RewardConfig()
    n = 3
    omega = np.array([[0, 0, 2.0], [0, 0, -2.0], [1.0, 0, 0.1]])
    axis = np.tile([0.0, 0.0, 1.0], (n, 1))
    z = np.zeros((n, 16))
    r, t = rotation_reward(omega, axis, np.zeros((n, 3)), z, z, z, z, np.zeros(n, bool), np.full(n, 0.1), cfg)
    np.testing.assert_allclose(t["rot"], [0.5, -0.5, 0.1])
    np.testing.assert_allclose(t["rotp"], [0.0, 0.0, -0.1 * 1.0])
    np.testing.assert_allclose(r, t["rot"] + t["rotp"])


def test_rotp_ramp():
    cfg = RewardConfig()
    w = rotp_weight(np.array([0, 10, 55, 100, 500]), cfg)
    np.testing.assert_allclose(w, [0.0, 0.0, 0.05, 0.1, 0.1])


def test_parse_wrists_and_axes():
    np.testing.assert_allclose(parse_axis("xyz"), np.ones(3) / np.sqrt(3))
    np.testing.assert_allclose(parse_axis("0,0,-2"), [0, 0, -1])
    np.testing.assert_allclose(parse_wrist("palm_down"), [0, 1, 0, 0])
    np.testing.assert_allclose(np.linalg.norm(parse_wrist("1,2,3,4")), 1.0)
    for bad in ("sideways", "1,2"):
        try:
            parse_wrist(bad)
        except ValueError as e:
            assert "palm_up" in str(e) or "quaternion" in str(e)
        else:
            raise AssertionError("expected ValueError")
    assert len(fibonacci_axes()) == 32


def test_work_penalty_is_squared_and_never_a_bonus():
    """The work term penalizes (tau . qdot)^2: a braking joint (negative power) costs too."""
    cfg = RewardConfig()
    n = 2
    axis = np.tile([0.0, 0.0, 1.0], (n, 1))
    z3, z16 = np.zeros((n, 3)), np.zeros((n, 16))
    torque = np.zeros((n, 16))
    torque[:, 0] = 0.5
    qdot = np.zeros((n, 16))
    qdot[:, 0] = [2.0, -2.0]  # driving, braking
    _, t = rotation_reward(z3, axis, z3, z16, z16, torque, qdot, np.zeros(n, bool), np.zeros(n), cfg)
    np.testing.assert_allclose(t["work"], [-cfg.work_weight * 1.0, -cfg.work_weight * 1.0])


def test_position_term_grows_with_the_distance_from_the_grasp_centre():
    cfg = RewardConfig()
    n = 3
    axis = np.tile([0.0, 0.0, 1.0], (n, 1))
    z3, z16 = np.zeros((n, 3)), np.zeros((n, 16))
    dist = np.array([0.0, 0.01, 0.05])
    _, t = rotation_reward(z3, axis, z3, z16, z16, z16, z16, np.zeros(n, bool), np.zeros(n), cfg, dist)
    np.testing.assert_allclose(t["pos"], -cfg.pos_weight * dist)
    _, t = rotation_reward(z3, axis, z3, z16, z16, z16, z16, np.zeros(n, bool), np.zeros(n), cfg)
    np.testing.assert_allclose(t["pos"], 0.0)  # no distance given: no position term
