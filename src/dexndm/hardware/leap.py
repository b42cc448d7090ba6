"""The physical LEAP hand: 16 XC330 motors on one Dynamixel bus, driven as a :class:`RealHand`.

This module is the only place that turns sim-order radians into motor-order register values
and back, using ``dexndm.hand.constants`` (``SIM_TO_MOTOR``, ``ZERO_OFFSET_RAD``,
``RAD_PER_TICK``...). A wrong joint map bends fingers backwards, so the conversions are small
pure functions, tested against an emulator that maps with its own table.

Example::

    from dexndm.hardware.leap import LeapHand, LeapHandConfig
    from dexndm.reality.control_loop import RateLoop

    with LeapHand(LeapHandConfig(port="/dev/ttyUSB0", current_limit_ma=350)) as hand:
        loop = RateLoop(hz=20)
        for _ in loop.ticks(100):
            state = hand.read_state()
            hand.send_joint_targets(policy(state))
        print(loop.stats())
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dexndm.hand.constants import (
    JOINT_NAMES,
    MA_PER_CURRENT_UNIT,
    MAX_CURRENT_LIMIT_MA,
    MAX_TARGET_STEP_RAD,
    MOTOR_IDS,
    NUM_JOINTS,
    RAD_PER_TICK,
    RPM_PER_VELOCITY_UNIT,
    SIDE_TO_SIDE_JOINTS,
    SIM_TO_MOTOR,
    XC330_MODEL_NUMBER,
    ZERO_OFFSET_RAD,
    motor_to_sim_order,
    sim_to_motor_order,
)
from dexndm.hardware.bus import BusError, BusReadError, DynamixelBus
from dexndm.hardware.control_table import BAUD_RATE_VALUES, OPERATING_MODES, STATE_BLOCK
from dexndm.reality.base import HandState, RealHand, SafetyFilter

log = logging.getLogger(__name__)

RAD_S_PER_VELOCITY_UNIT = RPM_PER_VELOCITY_UNIT * 2.0 * np.pi / 60.0
MOTOR_JOINT_NAMES: dict[int, str] = {int(SIM_TO_MOTOR[i]): name for i, name in enumerate(JOINT_NAMES)}
"""Motor id -> sim joint name, for messages ("th_ipl: overload")."""
SIDE_TO_SIDE_MOTOR_IDS: tuple[int, ...] = tuple(
    int(SIM_TO_MOTOR[JOINT_NAMES.index(n)]) for n in SIDE_TO_SIDE_JOINTS
)
MAX_GAIN = 16383  # XC330 position P/I/D gain range is 0..16383


# ---- Unit and order conversions (pure) ------------------------------------------------------
def joint_targets_to_goal_ticks(joint_targets: np.ndarray) -> np.ndarray:
    """``(16,)`` sim-order targets, rad -> ``(16,)`` motor-order ``goal_position`` ticks (int64)."""
    motor_rad = sim_to_motor_order(np.asarray(joint_targets, dtype=np.float64)) + ZERO_OFFSET_RAD
    return np.round(motor_rad / RAD_PER_TICK).astype(np.int64)


def registers_to_state(
    position_ticks: np.ndarray, velocity_units: np.ndarray, current_units: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Motor-order present position/velocity/current registers (signed, ``(16,)``) ->
    sim-order ``(joint_pos rad, joint_vel rad/s, motor_current A)``."""
    joint_pos = motor_to_sim_order(np.asarray(position_ticks) * RAD_PER_TICK) - ZERO_OFFSET_RAD
    joint_vel = motor_to_sim_order(np.asarray(velocity_units) * RAD_S_PER_VELOCITY_UNIT)
    motor_current = motor_to_sim_order(np.asarray(current_units) * MA_PER_CURRENT_UNIT * 1e-3)
    return joint_pos, joint_vel, motor_current


# ---- Configuration --------------------------------------------------------------------------
@dataclass
class LeapHandConfig:
    """How to reach and tune the LEAP hand's motors."""

    port: str = "/dev/ttyUSB0"
    """Serial device of the U2D2 (a stable path: /dev/serial/by-id/usb-FTDI_...)."""
    baudrate: int = 4_000_000
    """Bus rate, bit/s; the motors must have been set to it."""
    p_gain: int = 800
    """Position P gain (register units); side-to-side joints get ``side_to_side_gain_scale`` of it."""
    i_gain: int = 0
    """Position I gain (register units)."""
    d_gain: int = 200
    """Position D gain (register units); side-to-side joints get ``side_to_side_gain_scale`` of it."""
    side_to_side_gain_scale: float = 0.75
    """P and D scale for the index/middle/ring ``rot`` joints, which are lightly loaded."""
    current_limit_ma: int = 350
    """Goal current in current-based position mode, mA: caps the grip force. At most 600."""
    max_delta_per_tick: float | None = MAX_TARGET_STEP_RAD
    """Safety cap on the target change per ``send_joint_targets`` call, rad; ``None``: no cap."""
    retries: int = 3
    """Extra attempts for a transaction that got no valid answer."""
    watchdog_reads: int = 3
    """Consecutive failed state reads before ``BusTimeoutError`` (earlier ones reuse the last state)."""
    answer_timeout_ms: float | None = None
    """Wait for a motor's answer, ms; ``None``: the SDK's 34 ms. With the USB latency timer at
    1 ms, 5 lets a retry fit inside one 50 ms tick."""
    install_signal_handlers: bool = True
    """Disable torque on SIGINT/SIGTERM (main thread only), then let the signal act as before."""

    def __post_init__(self) -> None:
        if self.current_limit_ma > MAX_CURRENT_LIMIT_MA:
            raise ValueError(
                f"current_limit_ma={self.current_limit_ma} is above {MAX_CURRENT_LIMIT_MA} mA, which "
                "overheats the LEAP hand's XC330 motors in a sustained grasp; use 300-550 mA"
            )
        if self.current_limit_ma <= 0:
            raise ValueError(f"current_limit_ma must be positive, got {self.current_limit_ma}")
        if self.baudrate not in BAUD_RATE_VALUES:
            raise ValueError(f"baudrate {self.baudrate} is not one of {sorted(BAUD_RATE_VALUES)}")
        for name in ("p_gain", "i_gain", "d_gain"):
            if not 0 <= getattr(self, name) <= MAX_GAIN:
                raise ValueError(f"{name}={getattr(self, name)} outside 0..{MAX_GAIN}")
        if not 0 < self.side_to_side_gain_scale <= 1:
            raise ValueError(f"side_to_side_gain_scale must be in (0, 1], got {self.side_to_side_gain_scale}")

    def gains(self, gain: int) -> np.ndarray:
        """``(16,)`` motor-order register values of ``gain``, scaled on the side-to-side joints."""
        values = np.full(NUM_JOINTS, gain, dtype=np.int64)
        values[list(SIDE_TO_SIDE_MOTOR_IDS)] = round(gain * self.side_to_side_gain_scale)
        return values


# ---- The hand -------------------------------------------------------------------------------
class LeapHand(RealHand):
    """The LEAP hand over Dynamixel Protocol 2.0.

    On connect: ping all 16 motors (model 1200), torque off, return delay 0, current-based
    position mode, gains, goal current, goal = present pose, torque on. Torque is disabled on
    :meth:`disconnect`, on an exception inside ``with``, and on SIGINT/SIGTERM.

    Args:
        config: port and tuning.
        clock: time source for :attr:`HandState.timestamp`, s.
    """

    def __init__(
        self, config: LeapHandConfig | None = None, *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.config = config if config is not None else LeapHandConfig()
        super().__init__(SafetyFilter(max_delta_per_tick=self.config.max_delta_per_tick))
        self.bus = DynamixelBus(
            self.config.port,
            self.config.baudrate,
            MOTOR_IDS,
            motor_names=MOTOR_JOINT_NAMES,
            retries=self.config.retries,
            watchdog_reads=self.config.watchdog_reads,
            answer_timeout_ms=self.config.answer_timeout_ms,
        )
        self._clock = clock
        self._last_state: HandState | None = None
        self._previous_handlers: dict[int, object] = {}

    @property
    def is_connected(self) -> bool:
        return self.bus.is_open

    def _connect(self) -> None:
        self.bus.open()
        self._install_signal_handlers()  # from here on, a Ctrl-C leaves the torque off
        self.bus.check_motors(XC330_MODEL_NUMBER)
        self._configure_motors()
        log.info("LEAP hand connected on %s", self.config.port)

    def _configure_motors(self) -> None:
        cfg, bus = self.config, self.bus
        bus.write_each("torque_enable", 0)  # EEPROM (mode, return delay) is locked while torque is on
        bus.write_each("return_delay_time", 0)  # first, so every later answer comes 0.5 ms sooner
        bus.write_each("operating_mode", OPERATING_MODES["current_based_position"])
        bus.write_each("position_p_gain", cfg.gains(cfg.p_gain))
        bus.write_each("position_i_gain", cfg.i_gain)
        bus.write_each("position_d_gain", cfg.gains(cfg.d_gain))
        bus.write_each("goal_current", round(cfg.current_limit_ma / MA_PER_CURRENT_UNIT))
        # A stale goal from an earlier session would make the hand jump when torque comes on.
        present = bus.sync_read(("present_position",))["present_position"]
        bus.write_each("goal_position", present)
        bus.write_each("torque_enable", 1)

    def read_state(self) -> HandState:
        """One sync read of current, velocity and position of all 16 motors.

        A read that fails after the bus's retries returns the previous state (its timestamp
        unchanged) with a warning; ``watchdog_reads`` failures in a row raise
        ``BusTimeoutError``. A motor reporting a hardware error raises ``HardwareError``.
        """
        start = self._clock()
        try:
            registers = self.bus.sync_read(STATE_BLOCK)
        except BusReadError as exc:
            if self._last_state is None:
                raise
            log.warning("%s; reusing the state read at t=%.3f s", exc, self._last_state.timestamp)
            return self._last_state
        joint_pos, joint_vel, motor_current = registers_to_state(
            registers["present_position"], registers["present_velocity"], registers["present_current"]
        )
        # The motors sample somewhere inside the round trip: stamp its middle.
        timestamp = 0.5 * (start + self._clock())
        self._last_state = HandState(joint_pos, joint_vel, motor_current, timestamp)
        return self._last_state

    def _write_joint_targets(self, joint_targets: np.ndarray) -> None:
        self.bus.sync_write("goal_position", joint_targets_to_goal_ticks(joint_targets))

    def _disconnect(self) -> None:
        try:
            if self.bus.is_open:
                self._torque_off()
                self._confirm_torque_off()
        finally:
            self._restore_signal_handlers()
            self.bus.close()
            self._last_state = None

    # ---- Making the hand safe --------------------------------------------------------------
    def _torque_off(self) -> None:
        # One broadcast packet reaches every motor even if some stopped answering.
        self.bus.release_port()
        self.bus.sync_write("torque_enable", 0)

    def _confirm_torque_off(self) -> None:
        try:
            torque = self.bus.sync_read(("torque_enable",), raise_on_alert=False)["torque_enable"]
        except BusError as exc:
            log.warning("torque-off sent, but could not be confirmed: %s", exc)
            return
        still_on = [MOTOR_JOINT_NAMES[i] for i in np.flatnonzero(torque)]
        if still_on:
            log.error("torque still enabled on %s after disconnect; power the hand off", still_on)

    def _install_signal_handlers(self) -> None:
        if not (self.config.install_signal_handlers and _on_main_thread()):
            return  # Python only lets the main thread set handlers
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN or previous is None:
                continue  # ignored on purpose (or set outside Python): leave it so
            self._previous_handlers[signum] = previous
            signal.signal(signum, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        if not _on_main_thread():
            return
        for signum, previous in self._previous_handlers.items():
            if signal.getsignal(signum) == self._on_signal:
                signal.signal(signum, previous)
        self._previous_handlers.clear()

    def _on_signal(self, signum: int, frame: object) -> None:
        log.warning("%s received: disabling torque", signal.Signals(signum).name)
        try:
            self._torque_off()
        except Exception:
            log.exception("could not disable torque on %s", signal.Signals(signum).name)
        previous = self._previous_handlers.get(signum, signal.SIG_DFL)
        self._restore_signal_handlers()
        if callable(previous):
            previous(signum, frame)  # e.g. Python's default SIGINT handler raises KeyboardInterrupt
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt
        else:
            # The default action would kill the process without unwinding; exit instead so
            # `with` blocks close the port and files.
            raise SystemExit(128 + signum)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
