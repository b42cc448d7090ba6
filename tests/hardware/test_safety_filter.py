"""SafetyFilter and the RealHand contract (connect/disconnect/context manager), on a fake hand."""

from __future__ import annotations

import numpy as np
import pytest

from dexndm.hand.constants import DEFAULT_POSE, JOINT_LOWER, JOINT_NAMES, JOINT_UPPER
from dexndm.reality.base import HandState, RealHand, SafetyFilter


def test_clamps_to_joint_limits() -> None:
    safety = SafetyFilter(max_delta_per_tick=None)
    out = safety(np.concatenate([np.full(8, 10.0), np.full(8, -10.0)]))
    np.testing.assert_array_equal(out[:8], JOINT_UPPER[:8])
    np.testing.assert_array_equal(out[8:], JOINT_LOWER[8:])


def test_caps_change_per_tick() -> None:
    safety = SafetyFilter(max_delta_per_tick=0.1)
    safety.reset(DEFAULT_POSE)
    target = DEFAULT_POSE.copy()
    target[0] += 0.35
    target[5] -= 0.05
    steps = [safety(target) for _ in range(5)]
    np.testing.assert_allclose([s[0] - DEFAULT_POSE[0] for s in steps], [0.1, 0.2, 0.3, 0.35, 0.35])
    np.testing.assert_allclose(steps[0][5], DEFAULT_POSE[5] - 0.05)


def test_start_outside_limits_comes_in_without_jump() -> None:
    safety = SafetyFilter(max_delta_per_tick=0.1)
    start = DEFAULT_POSE.copy()
    start[2] = JOINT_UPPER[2] + 0.25  # e.g. a finger resting out of range at power-up
    safety.reset(start)
    first = safety(start)
    assert first[2] == pytest.approx(start[2] - 0.1)
    for _ in range(3):
        last = safety(start)
    assert last[2] == pytest.approx(JOINT_UPPER[2])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_rejected_and_state_unchanged(bad: float) -> None:
    safety = SafetyFilter()
    safety.reset(DEFAULT_POSE)
    target = DEFAULT_POSE.copy()
    target[[1, 14]] = bad
    with pytest.raises(ValueError, match=f"{JOINT_NAMES[1]}=.*{JOINT_NAMES[14]}=.*nothing was sent"):
        safety(target)
    np.testing.assert_array_equal(safety.last_targets, DEFAULT_POSE)


def test_wrong_shape_rejected() -> None:
    with pytest.raises(ValueError, match=r"shape \(16,\)"):
        SafetyFilter()(np.zeros(15))
    with pytest.raises(ValueError, match="max_delta_per_tick"):
        SafetyFilter(max_delta_per_tick=0.0)


class _FakeHand(RealHand):
    """An in-memory hand: targets become positions at once."""

    def __init__(self, fail_connect: bool = False) -> None:
        super().__init__(SafetyFilter(max_delta_per_tick=0.1))
        self.connected = False
        self.fail_connect = fail_connect
        self.pos = DEFAULT_POSE.copy()
        self.disconnects = 0

    @property
    def is_connected(self) -> bool:
        return self.connected

    def _connect(self) -> None:
        self.connected = True
        if self.fail_connect:
            raise OSError("no hand")

    def _disconnect(self) -> None:
        self.connected = False
        self.disconnects += 1

    def read_state(self) -> HandState:
        return HandState(self.pos.copy(), np.zeros(16), np.zeros(16), 0.0)

    def _write_joint_targets(self, joint_targets: np.ndarray) -> None:
        self.pos = joint_targets.copy()


def test_send_returns_filtered_targets_and_rate_limits_from_connect_pose() -> None:
    with _FakeHand() as hand:
        sent = hand.send_joint_targets(DEFAULT_POSE + 1.0)
        np.testing.assert_allclose(sent, np.minimum(DEFAULT_POSE + 0.1, JOINT_UPPER))
        np.testing.assert_array_equal(hand.pos, sent)
    assert hand.disconnects == 1


def test_exit_disconnects_on_error_and_send_requires_connection() -> None:
    hand = _FakeHand()
    with pytest.raises(RuntimeError, match="not connected"):
        hand.send_joint_targets(DEFAULT_POSE)
    with pytest.raises(KeyError), hand:
        raise KeyError("boom")
    assert not hand.is_connected and hand.disconnects == 1


def test_failed_connect_disconnects() -> None:
    hand = _FakeHand(fail_connect=True)
    with pytest.raises(OSError, match="no hand"):
        hand.connect()
    assert not hand.is_connected and hand.disconnects == 1
