"""A Dynamixel Protocol 2.0 *device* emulator: 16 XC330 motors behind a pseudo-terminal.

The driver opens :attr:`DynamixelEmulator.port` exactly as it would open ``/dev/ttyUSB0``, so
dynamixel-sdk, the bus and :class:`~dexndm.hardware.leap.LeapHand` run unchanged. The emulator
parses real packets (header, byte stuffing, CRC), keeps a control table per motor, answers
PING, READ, WRITE, SYNC_READ, SYNC_WRITE and REBOOT with status packets, and moves the joints
with a pluggable :class:`~dexndm.hardware.motor_backend.MotorBackend`.

It maps motor ids to joints and ticks to radians with its own table (:data:`MOTOR_WIRING`),
written from the hand's wiring and the XC330 datasheet, not from ``dexndm.hand.constants``:
a mistake in either map shows up as a disagreement in the tests.

Faults for tests: :meth:`~DynamixelEmulator.drop_status`, :meth:`~DynamixelEmulator.corrupt_status`,
:meth:`~DynamixelEmulator.set_hardware_error`, missing motors and wrong model numbers.

Example::

    with DynamixelEmulator(FirstOrderServoBackend()) as emulator:
        with LeapHand(LeapHandConfig(port=emulator.port)) as hand:
            print(hand.read_state().joint_pos)
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import select
import threading
import time
import tty
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from dexndm.hand.constants import JOINT_NAMES
from dexndm.hardware import protocol as p2
from dexndm.hardware.control_table import (
    CONTROL_TABLE,
    EEPROM_END,
    READ_ONLY_REGISTERS,
    SIGNED_REGISTERS,
    to_signed,
    to_unsigned,
)
from dexndm.hardware.motor_backend import FirstOrderServoBackend, MotorBackend

log = logging.getLogger(__name__)

# ---- The emulator's own view of the hand (deliberately independent of hand.constants) -------
MOTOR_WIRING: tuple[str, ...] = (
    "if_rot", "if_mcp", "if_pip", "if_dip",  # ids 0-3: per finger side-to-side first
    "mf_rot", "mf_mcp", "mf_pip", "mf_dip",  # ids 4-7
    "rf_rot", "rf_mcp", "rf_pip", "rf_dip",  # ids 8-11
    "th_cmc", "th_axl", "th_mcp", "th_ipl",  # ids 12-15
)  # fmt: skip
"""Joint driven by each motor id, from the LEAP hand's wiring."""

_TICK_AT_SIM_ZERO = 2048  # the motor reads half a turn (pi) where the sim reads 0
_TICKS_PER_RAD = 4096 / (2 * np.pi)  # XC330: 4096 ticks per revolution
_VELOCITY_UNITS_PER_RAD_S = 60 / (2 * np.pi) / 0.229  # XC330 velocity unit: 0.229 rpm
_CURRENT_UNITS_PER_A = 1000.0  # XC330-M288 current unit: 1 mA

_MEMORY_SIZE = 256
_FIRMWARE_VERSION = 52
_READ_ONLY_BYTES = frozenset(
    addr for name in READ_ONLY_REGISTERS for addr in range(CONTROL_TABLE[name][0], sum(CONTROL_TABLE[name]))
)
# Factory values the driver is expected to overwrite (a test sees that it did).
_FACTORY: dict[str, int] = {
    "baud_rate": 6,  # the LEAP hand's motors are set to 4 Mbit/s once, with Dynamixel Wizard
    "return_delay_time": 250,
    "operating_mode": 3,
    "current_limit": 1750,
    "max_position_limit": 4095,
    "status_return_level": 2,
    "position_p_gain": 400,
    "goal_current": 1750,
}


class _Motor:
    """One motor's control table memory."""

    def __init__(self, motor_id: int, model_number: int) -> None:
        self.memory = bytearray(_MEMORY_SIZE)
        self.set("model_number", model_number)
        self.set("firmware_version", _FIRMWARE_VERSION)
        self.set("id", motor_id)
        for name, value in _FACTORY.items():
            self.set(name, value)

    def get(self, name: str) -> int:
        address, size = CONTROL_TABLE[name]
        value = int.from_bytes(self.memory[address : address + size], "little")
        return to_signed(value, size) if name in SIGNED_REGISTERS else value

    def set(self, name: str, value: int) -> None:
        address, size = CONTROL_TABLE[name]
        self.memory[address : address + size] = to_unsigned(int(value), size).to_bytes(size, "little")

    def write_error(self, address: int, length: int) -> int:
        """Error code a write of ``length`` bytes at ``address`` gets (0: allowed)."""
        if address + length > _MEMORY_SIZE:
            return p2.ERROR_DATA_LENGTH
        if any(a in _READ_ONLY_BYTES for a in range(address, address + length)):
            return p2.ERROR_ACCESS
        if address < EEPROM_END and self.get("torque_enable"):
            return p2.ERROR_ACCESS  # EEPROM is locked while torque is on
        return 0


class DynamixelEmulator:
    """16 emulated XC330 motors on a pseudo-terminal, served by a background thread.

    Args:
        backend: joint physics; default a :class:`FirstOrderServoBackend` at the default pose.
        motor_ids: ids present on the bus (leave some out to emulate missing motors).
        model_numbers: per-id model number overrides (default 1200, the XC330-M288).
        clock: emulated time, s, passed to ``backend.advance_to``; default real time since
            start multiplied by ``time_scale``.
        time_scale: speed-up of the default clock (2.0: joints move twice as fast).
    """

    def __init__(
        self,
        backend: MotorBackend | None = None,
        *,
        motor_ids: Iterable[int] = range(16),
        model_numbers: Mapping[int, int] | None = None,
        clock: Callable[[], float] | None = None,
        time_scale: float = 1.0,
    ) -> None:
        self.backend = backend if backend is not None else FirstOrderServoBackend()
        models = dict(model_numbers or {})
        self.motors = {i: _Motor(i, models.get(i, 1200)) for i in sorted(motor_ids)}
        self._sim_index = {i: JOINT_NAMES.index(MOTOR_WIRING[i]) for i in range(len(MOTOR_WIRING))}
        if clock is None:
            origin = time.perf_counter()
            clock = lambda: (time.perf_counter() - origin) * time_scale  # noqa: E731
        self._clock = clock

        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no newline translation: a byte-clean line
        os.set_blocking(self._master, False)
        # The emulator keeps its own slave fd open: without one, the master reads EIO whenever
        # the driver closes the port between sessions.
        self.port: str = os.ttyname(self._slave)

        self._lock = threading.Lock()
        self._handled = threading.Condition(self._lock)
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None

        self.instructions: collections.Counter[int] = collections.Counter()
        """Instruction code -> number handled (e.g. ``instructions[protocol.INST_SYNC_READ]``)."""
        self.instructions_handled = 0
        self.status_sent = 0
        self.status_dropped = 0
        self.status_corrupted = 0
        self.crc_errors = 0
        """Instruction packets received with a bad CRC (the driver should never send one)."""
        self._drop: dict[int | None, int] = {}
        self._corrupt: dict[int | None, int] = {}

        self._refresh_present()
        for motor in self.motors.values():
            motor.set("goal_position", motor.get("present_position"))

    # ---- Lifecycle ---------------------------------------------------------------------------
    def start(self) -> DynamixelEmulator:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="dynamixel-emulator", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join(timeout=5.0)
            self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> DynamixelEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- Inspection --------------------------------------------------------------------------
    def register(self, name: str, motor_id: int) -> int:
        """Value of register ``name`` of motor ``motor_id`` (signed where the register is)."""
        with self._lock:
            return self.motors[motor_id].get(name)

    def registers(self, name: str) -> np.ndarray:
        """``(n_motors,)`` values of ``name``, in motor id order of the motors present."""
        with self._lock:
            return np.array([m.get(name) for m in self.motors.values()], dtype=np.int64)

    def wait_handled(self, count: int, timeout: float = 2.0) -> None:
        """Block until ``count`` instructions have been handled in total.

        A sync write has no answer, so a test waits here before it looks at the result.
        """
        with self._handled:
            if not self._handled.wait_for(lambda: self.instructions_handled >= count, timeout):
                raise TimeoutError(
                    f"emulator handled {self.instructions_handled} instructions, waited for {count}"
                )

    # ---- Faults ------------------------------------------------------------------------------
    def drop_status(self, count: int = 1, motor_id: int | None = None) -> None:
        """Do not send the next ``count`` status packets (of ``motor_id``, or of any motor).

        The instruction itself is still executed, as when an answer is lost on the wire.
        """
        with self._lock:
            self._drop[motor_id] = self._drop.get(motor_id, 0) + count

    def corrupt_status(self, count: int = 1, motor_id: int | None = None) -> None:
        """Flip a payload bit in the next ``count`` status packets, so their CRC no longer matches."""
        with self._lock:
            self._corrupt[motor_id] = self._corrupt.get(motor_id, 0) + count

    def set_hardware_error(self, motor_id: int, bits: int) -> None:
        """Raise ``hardware_error_status`` bits on a motor: its torque goes off and its answers
        carry the alert bit, as on a real XC330 (bit 5 overload, 2 overheating, 0 voltage...)."""
        with self._lock:
            motor = self.motors[motor_id]
            motor.set("hardware_error_status", bits)
            if bits:
                motor.set("torque_enable", 0)

    # ---- Serving -----------------------------------------------------------------------------
    def _serve(self) -> None:
        buffer = bytearray()
        while True:
            ready, _, _ = select.select([self._master, self._wake_r], [], [], 1.0)
            if self._wake_r in ready:
                return
            if self._master not in ready:
                continue
            try:
                buffer += os.read(self._master, 4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return  # the pty was closed under us
            with self._handled:
                replies = b"".join(self._handle(packet) for packet in p2.split_packets(buffer))
                self._handled.notify_all()
            if replies:
                self._send(replies)

    def _send(self, data: bytes) -> None:
        # All answers to one instruction go out in one write, as they would follow each other
        # on the bus with no gap (return delay 0).
        try:
            while data:
                data = data[os.write(self._master, data) :]
        except (BlockingIOError, OSError):
            log.debug("emulator: nobody reading the port, %d reply bytes lost", len(data))

    def _handle(self, packet: p2.Packet) -> bytes:
        if not packet.crc_ok:
            self.crc_errors += 1
            if packet.motor_id in self.motors:
                return self._status(packet.motor_id, p2.ERROR_CRC)
            return b""
        self._refresh_present()
        handler = {
            p2.INST_PING: self._ping,
            p2.INST_READ: self._read,
            p2.INST_WRITE: self._write,
            p2.INST_SYNC_READ: self._sync_read,
            p2.INST_SYNC_WRITE: self._sync_write,
            p2.INST_REBOOT: self._reboot,
        }.get(packet.instruction)
        targets = self._targets(packet.motor_id)
        if handler is None:
            reply = self._error_replies(packet, targets, p2.ERROR_INSTRUCTION)
        else:
            reply = handler(packet, targets)
        self._push_goals()
        self.instructions[packet.instruction] += 1
        self.instructions_handled += 1
        return reply

    def _targets(self, motor_id: int) -> list[int]:
        if motor_id == p2.BROADCAST_ID:
            return list(self.motors)
        return [motor_id] if motor_id in self.motors else []

    # ---- Instructions ------------------------------------------------------------------------
    def _ping(self, packet: p2.Packet, targets: list[int]) -> bytes:
        replies = []
        for i in targets:
            model = self.motors[i].get("model_number")
            replies.append(self._status(i, 0, bytes([model & 0xFF, model >> 8, _FIRMWARE_VERSION])))
        return b"".join(replies)

    def _read(self, packet: p2.Packet, targets: list[int]) -> bytes:
        if _is_broadcast(packet) or len(packet.params) != 4:
            return self._error_replies(packet, targets, p2.ERROR_DATA_LENGTH)
        address, length = _u16(packet.params, 0), _u16(packet.params, 2)
        return b"".join(self._read_reply(i, address, length) for i in targets)

    def _read_reply(self, motor_id: int, address: int, length: int) -> bytes:
        if address + length > _MEMORY_SIZE:
            return self._status(motor_id, p2.ERROR_DATA_LENGTH)
        return self._status(motor_id, 0, bytes(self.motors[motor_id].memory[address : address + length]))

    def _write(self, packet: p2.Packet, targets: list[int]) -> bytes:
        if len(packet.params) < 3:
            return self._error_replies(packet, targets, p2.ERROR_DATA_LENGTH)
        address, data = _u16(packet.params, 0), packet.params[2:]
        replies = []
        for i in targets:
            error = self._store(i, address, data)
            if not _is_broadcast(packet):
                replies.append(self._status(i, error))
        return b"".join(replies)

    def _sync_read(self, packet: p2.Packet, targets: list[int]) -> bytes:
        if not _is_broadcast(packet) or len(packet.params) < 5:
            return b""
        address, length = _u16(packet.params, 0), _u16(packet.params, 2)
        # Motors answer in the order the instruction lists them; absent ones stay silent.
        return b"".join(self._read_reply(i, address, length) for i in packet.params[4:] if i in self.motors)

    def _sync_write(self, packet: p2.Packet, targets: list[int]) -> bytes:
        if not _is_broadcast(packet) or len(packet.params) < 4:
            return b""
        address, length = _u16(packet.params, 0), _u16(packet.params, 2)
        entries = packet.params[4:]
        for offset in range(0, len(entries) - length, length + 1):
            motor_id = entries[offset]
            if motor_id in self.motors:
                self._store(motor_id, address, entries[offset + 1 : offset + 1 + length])
        return b""

    def _reboot(self, packet: p2.Packet, targets: list[int]) -> bytes:
        replies = []
        for i in targets:
            motor = self.motors[i]
            motor.set("hardware_error_status", 0)
            motor.set("torque_enable", 0)
            if not _is_broadcast(packet):
                replies.append(self._status(i, 0))
        return b"".join(replies)

    def _store(self, motor_id: int, address: int, data: bytes) -> int:
        motor = self.motors[motor_id]
        error = motor.write_error(address, len(data))
        if not error:
            motor.memory[address : address + len(data)] = data
        return error

    # ---- Status packets and faults -----------------------------------------------------------
    def _error_replies(self, packet: p2.Packet, targets: list[int], error: int) -> bytes:
        """An error status from each addressed motor; a broadcast instruction gets no answer."""
        if _is_broadcast(packet):
            return b""
        return b"".join(self._status(i, error) for i in targets)

    def _status(self, motor_id: int, error: int, params: bytes = b"") -> bytes:
        if self.motors[motor_id].get("hardware_error_status"):
            error |= p2.ERROR_ALERT
        packet = p2.encode_status(motor_id, error, params)
        if self._take_fault(self._drop, motor_id):
            self.status_dropped += 1
            return b""
        if self._take_fault(self._corrupt, motor_id):
            self.status_corrupted += 1
            corrupted = bytearray(packet)
            corrupted[-3] ^= 0x01  # last payload byte: the CRC no longer matches
            packet = bytes(corrupted)
        self.status_sent += 1
        return packet

    @staticmethod
    def _take_fault(faults: dict[int | None, int], motor_id: int) -> bool:
        for key in (motor_id, None):
            if faults.get(key, 0) > 0:
                faults[key] -= 1
                return True
        return False

    # ---- Physics <-> registers, in the emulator's own units ----------------------------------
    def _refresh_present(self) -> None:
        self.backend.advance_to(self._clock())
        pos, vel, current = self.backend.joint_state()
        for motor_id, motor in self.motors.items():
            j = self._sim_index[motor_id]
            motor.set("present_position", round(_TICK_AT_SIM_ZERO + pos[j] * _TICKS_PER_RAD))
            motor.set("present_velocity", round(vel[j] * _VELOCITY_UNITS_PER_RAD_S))
            motor.set("present_current", round(current[j] * _CURRENT_UNITS_PER_A))

    def _push_goals(self) -> None:
        # A motor without torque (or absent) holds where it is: no gravity in this emulator.
        goals = self.backend.joint_state()[0]
        for motor_id, motor in self.motors.items():
            if motor.get("torque_enable"):
                ticks = motor.get("goal_position") - _TICK_AT_SIM_ZERO
                goals[self._sim_index[motor_id]] = ticks / _TICKS_PER_RAD
        self.backend.set_goal_positions(goals)


def _is_broadcast(packet: p2.Packet) -> bool:
    return packet.motor_id == p2.BROADCAST_ID


def _u16(data: bytes, offset: int) -> int:
    return data[offset] | (data[offset + 1] << 8)
