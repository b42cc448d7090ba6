"""The hand model: joint ranges and directions, kinematics, the torque-limited PD."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from dexndm.hand import constants as C
from dexndm.hand.model import ALL_LINKS, HandConfig, add_hand, palm_pose_in_hand


def _hand_model(cfg: HandConfig = HandConfig()) -> mujoco.MjModel:
    spec = mujoco.MjSpec()
    spec.compiler.degree = False
    wrist = spec.worldbody.add_body(name="wrist", mocap=True)
    add_hand(spec, wrist, cfg)
    return spec.compile()


def _quat_to_mat(q):
    m = np.zeros(9)
    mujoco.mju_quat2Mat(m, np.asarray(q, dtype=np.float64))
    return m.reshape(3, 3)


def _axis_angle_mat(axis, angle):
    q = np.zeros(4)
    mujoco.mju_axisAngle2Quat(q, np.asarray(axis, dtype=np.float64), angle)
    return _quat_to_mat(q)


def test_joint_order_and_ranges_match_constants():
    m = _hand_model()
    assert [m.joint(i).name for i in range(m.njnt)] == list(C.JOINT_NAMES)
    np.testing.assert_allclose(m.jnt_range[:, 0], C.JOINT_LOWER)
    np.testing.assert_allclose(m.jnt_range[:, 1], C.JOINT_UPPER)
    assert [m.actuator(i).name for i in range(m.nu)] == list(C.JOINT_NAMES)


def test_sim_motor_maps_are_inverse():
    x = np.arange(16) * 1.0
    np.testing.assert_array_equal(C.motor_to_sim_order(C.sim_to_motor_order(x)), x)
    # index finger: sim [mcp, rot, pip, dip] -> motors [1, 0, 2, 3]
    assert C.SIM_TO_MOTOR[C.JOINT_NAMES.index("if_mcp")] == 1
    assert C.SIM_TO_MOTOR[C.JOINT_NAMES.index("if_rot")] == 0
    assert C.SIM_TO_MOTOR[C.JOINT_NAMES.index("th_cmc")] == 12


def test_fingertips_follow_the_kinematic_tree():
    """An independent forward-kinematics pass over the table reproduces MuJoCo's fingertips."""
    m = _hand_model()
    d = mujoco.MjData(m)
    rng = np.random.default_rng(0)
    for q in (C.DEFAULT_POSE, rng.uniform(C.JOINT_LOWER, C.JOINT_UPPER)):
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        pos, quat = palm_pose_in_hand()
        frames = {"palm": (_quat_to_mat(quat), pos)}
        for link in ALL_LINKS:
            R_p, p_p = frames[link.parent]
            R = R_p @ _quat_to_mat(link.quat)
            if link.joint is not None:
                R = R @ _axis_angle_mat((0, 0, -1), q[C.JOINT_NAMES.index(link.joint)])
            frames[link.name] = (R, p_p + R_p @ np.array(link.pos))
        for finger in C.FINGERS:
            R, p = frames[f"{finger}_ds"]
            site = m.site(f"{finger}_tip")
            np.testing.assert_allclose(d.site_xpos[site.id], p + R @ m.site_pos[site.id], atol=1e-6)


@pytest.mark.parametrize("finger", ["if", "mf", "rf"])
def test_positive_flexion_curls_toward_the_palm(finger):
    """Palm normal is hand +z: flexing mcp, pip or dip moves the fingertip toward +z (curl)."""
    m = _hand_model()
    d = mujoco.MjData(m)
    tip = m.site(f"{finger}_tip").id
    for joint in ("mcp", "pip", "dip"):
        j = C.JOINT_NAMES.index(f"{finger}_{joint}")
        d.qpos[:] = 0.0
        mujoco.mj_kinematics(m, d)
        before = d.site_xpos[tip].copy()
        d.qpos[j] = 0.4
        mujoco.mj_kinematics(m, d)
        moved = d.site_xpos[tip] - before
        assert moved[2] > 0.005, f"{finger}_{joint}: fingertip moved {moved}, expected toward +z (palm side)"


def test_every_joint_moves_within_its_range_under_pd():
    """Each joint alone, commanded past either limit, stops at the limit and tracks a target inside it."""
    m = _hand_model()
    d = mujoco.MjData(m)
    m.opt.gravity[:] = 0
    for j in range(16):
        for limit in (C.JOINT_LOWER[j], C.JOINT_UPPER[j]):
            mujoco.mj_resetData(m, d)
            d.ctrl[:] = 0.0
            d.ctrl[j] = limit  # ctrlrange clamps any larger command to the range
            for _ in range(240):
                mujoco.mj_step(m, d)
            assert C.JOINT_LOWER[j] - 0.02 <= d.qpos[j] <= C.JOINT_UPPER[j] + 0.02
            # the torque-limited PD gets within 0.1 rad of the target (gravity off, no load) unless
            # the finger ran into a neighbour or the palm (side-to-side joints of straight fingers
            # do); a finger never blocks itself
            bodies = {
                (m.geom_bodyid[d.contact.geom1[i]], m.geom_bodyid[d.contact.geom2[i]]) for i in range(d.ncon)
            }
            names = {(m.body(a).name[:2], m.body(b).name[:2]) for a, b in bodies}
            assert all(a != b for a, b in names), (
                f"{C.JOINT_NAMES[j]}: a finger collides with itself: {names}"
            )
            reached = abs(d.qpos[j] - limit) < 0.1
            assert reached or names, f"{C.JOINT_NAMES[j]} reached {d.qpos[j]:.3f}, target {limit}"


def test_pd_saturates_at_torque_limit():
    cfg = HandConfig(torque_limit=0.3)
    m = _hand_model(cfg)
    d = mujoco.MjData(m)
    d.ctrl[:] = C.JOINT_UPPER  # a large error everywhere
    mujoco.mj_forward(m, d)
    assert np.allclose(np.abs(d.actuator_force), 0.3)
    # and a small error is proportional: tau = kp (q_tar - q) - kd qdot
    d.ctrl[:] = 0.01
    mujoco.mj_forward(m, d)
    np.testing.assert_allclose(d.actuator_force, cfg.kp * 0.01, rtol=1e-6)
