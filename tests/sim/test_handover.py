"""Open-hand starts: the operator holds the object, the hand closes, the operator lets go."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dexndm.sim.config import HandoverConfig, RandomizationConfig
from dexndm.sim.env import RotationEnv
from dexndm.sim.scene import WRIST_POS


@pytest.fixture
def open_cfg(cfg):
    """Palm up, nominal physics, every episode from an open hand."""
    return dataclasses.replace(
        cfg, num_envs=8, wrists=("palm_up",), axes=("+z",), randomization=RandomizationConfig.none(),
        handover=HandoverConfig(prob=1.0),
    )  # fmt: skip


def _distance(env: RotationEnv) -> np.ndarray:
    return np.linalg.norm(env.obj_pos - WRIST_POS, axis=-1)


def test_the_operator_holds_the_object_still_until_letting_go(open_cfg):
    env = RotationEnv(open_cfg)
    env.autoreset = False
    ho = open_cfg.handover
    assert np.allclose(env.q, env.open_pose, atol=1e-9) and np.all(env.in_handover)
    start = env.obj_pos.copy()
    # the hand stays open (zero actions): only the operator holds the object
    for _ in range(ho.hold_steps):
        _, _, terminated, _, _ = env.step(np.zeros((8, 16)))
        assert not terminated.any()
        assert np.max(np.linalg.norm(env.obj_pos - start, axis=-1)) < 0.003
    assert not env.in_handover.any()
    # let go of an object above an open hand: within half a second it has dropped onto the palm
    # (palm up: ~5-10 cm below the grasp centre) or out of the hand
    low = np.zeros(8, dtype=bool)
    for _ in range(10):
        _, _, terminated, _, _ = env.step(np.zeros((8, 16)))
        low |= terminated | (start[:, 2] - env.obj_pos[:, 2] > 0.03)
    assert low.all()


def test_the_scripted_teacher_closes_the_hand_into_a_grasp_that_holds(open_cfg):
    env = RotationEnv(open_cfg)
    env.autoreset = False
    ho = open_cfg.handover
    closing_steps = 0
    for _ in range(ho.hold_steps):
        closing_steps += int(env.closing.all())
        # after the closing phase the teacher asks for nothing more (the policy's turn)
        a = env.handover_actions()
        assert np.all(np.abs(a[~env.closing]) < 1e-9) or env.closing.all()
        env.step(a)
    assert closing_steps == ho.close_steps
    # the hand reached the grasps the cache found (joint angles within a few hundredths of a rad)
    assert np.mean(np.abs(env.q - env.q_init)) < 0.05
    fell = np.zeros(8, dtype=bool)
    for _ in range(40):  # 2 s with the targets held
        _, _, terminated, _, _ = env.step(np.zeros((8, 16)))
        fell |= terminated
    assert fell.sum() <= 2, f"{fell.sum()} of 8 scripted grasps dropped within 2 s of letting go"
    assert np.median(_distance(env)[~fell]) < 0.03


def test_handover_probability_and_unchanged_grasped_starts(cfg):
    half = dataclasses.replace(cfg, num_envs=64, handover=HandoverConfig(prob=0.5))
    env = RotationEnv(half)
    opened = np.all(np.abs(env.q - env.open_pose) < 1e-9, axis=1)
    assert np.array_equal(opened, env.in_handover)
    assert 16 <= opened.sum() <= 48
    # prob 0 draws nothing extra: the grasped starts are those of a config without a handover
    a = RotationEnv(dataclasses.replace(cfg, handover=HandoverConfig(prob=0.0)))
    b = RotationEnv(cfg)
    assert np.array_equal(a.q, b.q) and not a.in_handover.any()


def test_a_bad_handover_config_is_refused():
    with pytest.raises(ValueError, match="prob"):
        HandoverConfig(prob=1.5)
    with pytest.raises(ValueError, match="close_steps"):
        HandoverConfig(close_steps=50, hold_steps=40)
    with pytest.raises(ValueError, match="16 joint"):
        HandoverConfig(open_pose=(0.0,) * 15)


def test_keep_holding_holds_past_the_count_and_the_script_still_closes(open_cfg):
    """Teleoperation's operator holds on until let_go: the object stays held long past
    hold_steps, the scripted closing still ends after close_steps, and let_go releases."""
    cfg = dataclasses.replace(open_cfg, num_envs=2)
    env = RotationEnv(cfg)
    env.autoreset = False
    ho = cfg.handover
    env.keep_holding(np.arange(1))
    start = env.obj_pos.copy()
    for step in range(ho.hold_steps + 20):
        assert env.closing[0] == (step < ho.close_steps)
        env.step(np.zeros((2, 16)))
    assert env.in_handover.tolist() == [True, False]
    assert np.linalg.norm(env.obj_pos[0] - start[0]) < 0.003
    env.let_go(np.arange(1))
    assert not env.in_handover.any() and not env.operator_holds.any()
    env.reset()
    assert env.in_handover.all() and not env.operator_holds.any()
