"""LeapHand through the byte-level emulator: setup registers, reads, writes, trajectories, exits."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import numpy as np
import pytest

from dexndm.hand.constants import DEFAULT_POSE, JOINT_UPPER, RAD_PER_TICK
from dexndm.hardware import protocol as p2
from dexndm.hardware.bus import BusError, HardwareError, MotorCheckError
from dexndm.hardware.emulator import DynamixelEmulator
from dexndm.hardware.leap import (
    RAD_S_PER_VELOCITY_UNIT,
    LeapHand,
    LeapHandConfig,
    joint_targets_to_goal_ticks,
)
from dexndm.hardware.motor_backend import FirstOrderServoBackend
from dexndm.reality.control_loop import FakeClock

TIME_CONSTANT_S = 0.1


def test_connect_configures_every_motor(emulator: DynamixelEmulator, make_config) -> None:
    present = emulator.registers("present_position")
    with LeapHand(make_config(emulator.port, current_limit_ma=400)) as hand:
        assert hand.is_connected
        side = [0, 4, 8]  # if_rot, mf_rot, rf_rot: gains scaled by 0.75
        expected_p = np.full(16, 800)
        expected_p[side] = 600
        expected_d = np.full(16, 200)
        expected_d[side] = 150
        np.testing.assert_array_equal(emulator.registers("position_p_gain"), expected_p)
        np.testing.assert_array_equal(emulator.registers("position_d_gain"), expected_d)
        np.testing.assert_array_equal(emulator.registers("position_i_gain"), 0)
        np.testing.assert_array_equal(emulator.registers("operating_mode"), 5)
        np.testing.assert_array_equal(emulator.registers("return_delay_time"), 0)
        np.testing.assert_array_equal(emulator.registers("goal_current"), 400)
        np.testing.assert_array_equal(emulator.registers("torque_enable"), 1)
        # The hand holds where it was: goal = present, so nothing jumps when torque comes on.
        np.testing.assert_array_equal(emulator.registers("goal_position"), present)
    assert not hand.is_connected
    np.testing.assert_array_equal(emulator.registers("torque_enable"), 0)


def test_read_state_is_one_sync_read_in_sim_order(
    emulator: DynamixelEmulator, backend: FirstOrderServoBackend, make_config
) -> None:
    with LeapHand(make_config(emulator.port)) as hand:
        before = emulator.instructions[p2.INST_SYNC_READ]
        state = hand.read_state()
        assert emulator.instructions[p2.INST_SYNC_READ] == before + 1
    assert state.joint_pos.shape == state.joint_vel.shape == state.motor_current.shape == (16,)
    np.testing.assert_allclose(state.joint_pos, backend.pos, atol=RAD_PER_TICK / 2 + 1e-12)
    np.testing.assert_allclose(state.joint_pos, DEFAULT_POSE, atol=RAD_PER_TICK / 2 + 1e-12)


def test_send_is_one_sync_write_of_filtered_targets(emulator: DynamixelEmulator, make_config) -> None:
    with LeapHand(make_config(emulator.port, max_delta_per_tick=0.05)) as hand:
        start = hand.read_state().joint_pos
        before = emulator.instructions[p2.INST_SYNC_WRITE]
        handled = emulator.instructions_handled
        sent = hand.send_joint_targets(start + 1.0)
        emulator.wait_handled(handled + 1)
        assert emulator.instructions[p2.INST_SYNC_WRITE] == before + 1
        np.testing.assert_allclose(sent, np.minimum(start + 0.05, JOINT_UPPER))
        # (Which register each joint lands in is test_joint_map's business.)
        np.testing.assert_array_equal(emulator.registers("goal_position"), joint_targets_to_goal_ticks(sent))


def test_trajectory_equals_backend_driven_directly(make_config) -> None:
    """Same targets through driver + bytes + emulator, or straight into the backend: same motion."""
    clock = FakeClock(read_cost_s=0.0)
    backend = FirstOrderServoBackend(DEFAULT_POSE, time_constant_s=TIME_CONSTANT_S)
    reference = FirstOrderServoBackend(DEFAULT_POSE, time_constant_s=TIME_CONSTANT_S)
    phases = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    dt = 0.05
    with (
        DynamixelEmulator(backend, clock=clock) as emulator,
        LeapHand(make_config(emulator.port, max_delta_per_tick=None), clock=clock) as hand,
    ):
        reference.advance_to(clock.now)
        for k in range(40):
            targets = DEFAULT_POSE + 0.4 * np.sin(2 * np.pi * k / 20 + phases)
            handled = emulator.instructions_handled
            sent = hand.send_joint_targets(targets)
            emulator.wait_handled(handled + 1)  # a sync write has no answer to wait for
            reference.set_goal_positions(sent)
            clock.advance(dt)
            state = hand.read_state()
            reference.advance_to(clock.now)
            pos, vel, current = reference.joint_state()
            # Goals and reads are each quantized to half a tick.
            assert np.abs(state.joint_pos - pos).max() <= RAD_PER_TICK + 1e-12
            vel_tolerance = RAD_PER_TICK / TIME_CONSTANT_S + RAD_S_PER_VELOCITY_UNIT / 2 + 1e-12
            assert np.abs(state.joint_vel - vel).max() <= vel_tolerance
            assert np.abs(state.motor_current - current).max() <= RAD_PER_TICK * 1.0 + 0.5e-3 + 1e-12
            assert state.timestamp == pytest.approx(clock.now)
        assert np.abs(pos - DEFAULT_POSE).max() > 0.1  # the hand really moved


def test_torque_off_when_body_raises(emulator: DynamixelEmulator, make_config) -> None:
    with pytest.raises(ZeroDivisionError), LeapHand(make_config(emulator.port)) as hand:
        hand.read_state()
        1 / 0  # noqa: B018
    np.testing.assert_array_equal(emulator.registers("torque_enable"), 0)
    assert not hand.is_connected
    hand.disconnect()  # idempotent


def test_non_finite_targets_send_nothing(emulator: DynamixelEmulator, make_config) -> None:
    with LeapHand(make_config(emulator.port)) as hand:
        goals = emulator.registers("goal_position")
        writes = emulator.instructions[p2.INST_SYNC_WRITE]
        targets = hand.read_state().joint_pos
        targets[13] = np.nan
        with pytest.raises(ValueError, match="th_axl=nan"):
            hand.send_joint_targets(targets)
        assert emulator.instructions[p2.INST_SYNC_WRITE] == writes
        np.testing.assert_array_equal(emulator.registers("goal_position"), goals)


def test_current_limit_above_600_ma_refused() -> None:
    with pytest.raises(ValueError, match="current_limit_ma=700 is above 600 mA"):
        LeapHandConfig(current_limit_ma=700)
    LeapHandConfig(current_limit_ma=600)


def test_missing_and_wrong_model_ids_are_named(make_config) -> None:
    present = [i for i in range(16) if i != 9]
    with DynamixelEmulator(motor_ids=present, model_numbers={5: 1020}) as emulator:
        hand = LeapHand(make_config(emulator.port, retries=0))
        with pytest.raises(MotorCheckError) as info:
            hand.connect()
    assert info.value.missing_ids == (9,)
    assert info.value.wrong_model == {5: 1020}
    message = str(info.value)
    assert "no answer from motor 9 (rf_mcp)" in message
    assert "motor 5 (mf_mcp) is model 1020, expected 1200" in message
    assert "4000000" in message and "latency_timer" in message
    assert not hand.is_connected


def test_unopenable_port_explains_what_to_check(tmp_path, make_config) -> None:
    hand = LeapHand(make_config(str(tmp_path / "ttyUSB9")))
    with pytest.raises(BusError, match=r"cannot open serial port(.|\n)*power supply"):
        hand.connect()
    assert not hand.is_connected


def test_hardware_error_at_connect_names_joint(emulator: DynamixelEmulator, make_config) -> None:
    emulator.set_hardware_error(15, 1 << 2)
    with pytest.raises(HardwareError, match="th_ipl: overheating"):
        LeapHand(make_config(emulator.port)).connect()


@pytest.mark.parametrize(
    ("signum", "raised"), [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, SystemExit)]
)
def test_signal_disables_torque_then_acts(emulator: DynamixelEmulator, make_config, signum, raised) -> None:
    # a shell's background job (nohup, `&`) starts with SIGINT ignored, which LeapHand respects
    # (next test); give the signal Python's usual handler so this test means the same everywhere
    usual = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
    with _signal_handled_by(signum, usual):
        previous = signal.getsignal(signum)
        config = make_config(emulator.port, install_signal_handlers=True)
        with pytest.raises(raised), LeapHand(config) as hand:
            assert signal.getsignal(signum) == hand._on_signal
            hand.read_state()
            os.kill(os.getpid(), signum)
            time.sleep(1.0)  # interrupted by the handler's exception
            pytest.fail("signal handler did not raise")
        np.testing.assert_array_equal(emulator.registers("torque_enable"), 0)
        assert signal.getsignal(signum) is previous


def test_ignored_signal_stays_ignored(emulator: DynamixelEmulator, make_config) -> None:
    """Under nohup SIGINT is ignored on purpose: the hand must not take it over."""
    with _signal_handled_by(signal.SIGINT, signal.SIG_IGN):
        with LeapHand(make_config(emulator.port, install_signal_handlers=True)):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


@contextlib.contextmanager
def _signal_handled_by(signum: int, handler):
    """``handler`` for ``signum`` inside the block; the test runner's own handler after it."""
    saved = signal.signal(signum, handler)
    try:
        yield
    finally:
        signal.signal(signum, saved)
