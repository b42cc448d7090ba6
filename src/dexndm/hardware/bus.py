"""A Dynamixel Protocol 2.0 bus over dynamixel-sdk: acked writes, sync reads, sync writes.

The bus speaks motor ids and raw register values only; joint names are passed in just to
make error messages say which finger is at fault. It is not thread-safe: one bus, one thread.

Failure handling:

- every transaction is retried ``retries`` times on a communication error (no answer, bad CRC);
- ``sync_read`` counts consecutive failed reads and raises :class:`BusTimeoutError` after
  ``watchdog_reads`` of them (a failed read below that raises :class:`BusReadError`, which a
  caller may ride through);
- a status packet with the alert bit raises :class:`HardwareError` naming the joint and the
  decoded ``hardware_error_status`` bits, e.g. ``"th_ipl: overload"``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import serial
from dynamixel_sdk import (
    COMM_SUCCESS,
    GroupSyncRead,
    GroupSyncWrite,
    PacketHandler,
    PortHandler,
)

from dexndm.hardware.control_table import (
    BAUD_RATE_VALUES,
    CONTROL_TABLE,
    SIGNED_REGISTERS,
    decode_hardware_error,
    span,
    to_signed,
    to_unsigned,
)
from dexndm.hardware.protocol import ERROR_ALERT

log = logging.getLogger(__name__)

_PKT_ID = 4  # index of the id byte in an SDK status packet
_PKT_ERROR = 8
_PKT_PARAMS = 9

CONNECTION_HINTS = """\
Check:
  - the hand's power supply is on (the motors answer nothing without it);
  - the port path (ls /dev/serial/by-id/; the U2D2 is usually /dev/ttyUSB0) and that you may
    open it (sudo usermod -aG dialout $USER, then log in again);
  - the motors' baud rate is 4000000 (set it once with Dynamixel Wizard);
  - the USB latency timer is 1 ms:
      cat /sys/bus/usb-serial/devices/ttyUSB0/latency_timer
      echo 1 | sudo tee /sys/bus/usb-serial/devices/ttyUSB0/latency_timer
  - the cables between fingers are seated."""


class BusError(RuntimeError):
    """Any failure talking to the motors."""


class BusReadError(BusError):
    """A read failed after all retries, but the watchdog has not fired yet."""


class BusTimeoutError(BusError):
    """The watchdog fired: ``watchdog_reads`` consecutive reads failed.

    ``silent_ids`` are the motors that did not answer (or answered with a bad CRC).
    """

    def __init__(self, message: str, silent_ids: Sequence[int]) -> None:
        super().__init__(message)
        self.silent_ids = tuple(silent_ids)


class MotorCheckError(BusError):
    """At connect, motors were missing or of the wrong model."""

    def __init__(self, message: str, missing_ids: Sequence[int], wrong_model: Mapping[int, int]) -> None:
        super().__init__(message)
        self.missing_ids = tuple(missing_ids)
        self.wrong_model = dict(wrong_model)


class HardwareError(BusError):
    """Motors report a hardware error (their torque is off until a reboot or power cycle).

    ``errors[motor_id]`` lists the decoded ``hardware_error_status`` bits.
    """

    def __init__(self, message: str, errors: Mapping[int, list[str]]) -> None:
        super().__init__(message)
        self.errors = dict(errors)


class _PortHandler(PortHandler):
    """The SDK's port, with a settable answer timeout.

    The SDK waits ``2 * 16 + 2`` ms (plus transmission time) for an answer, assuming the FTDI
    default 16 ms USB latency timer. With the timer at 1 ms a few ms suffice, so a retry fits
    inside one control tick; a loaded test machine may need more.
    """

    def __init__(self, port_name: str, answer_timeout_ms: float | None) -> None:
        super().__init__(port_name)
        self.answer_timeout_ms = answer_timeout_ms

    def setPacketTimeout(self, packet_length: int) -> None:  # noqa: N802 (SDK name)
        super().setPacketTimeout(packet_length)
        if self.answer_timeout_ms is not None:
            self.packet_timeout = self.tx_time_per_byte * packet_length + self.answer_timeout_ms


@dataclass
class _Attempt:
    """Outcome of one sync-read attempt."""

    raw: dict[int, bytes]
    silent: list[int]
    corrupt: list[int]
    alerts: list[int]
    errors: dict[int, int]


class DynamixelBus:
    """Motors ``motor_ids`` on one serial port.

    Args:
        port: serial device, e.g. ``/dev/ttyUSB0``.
        baudrate: bit/s; must be one the SDK and the motors support.
        motor_ids: ids on the bus; sync reads and writes use this order.
        motor_names: optional id -> name (e.g. a joint name) used in error messages.
        retries: extra attempts for a transaction that got no valid answer.
        watchdog_reads: consecutive failed ``sync_read`` calls before :class:`BusTimeoutError`.
        answer_timeout_ms: how long to wait for an answer beyond its transmission time, ms;
            ``None``: the SDK's 34 ms (right for a 16 ms USB latency timer).
    """

    def __init__(
        self,
        port: str,
        baudrate: int = 4_000_000,
        motor_ids: Sequence[int] = tuple(range(16)),
        *,
        motor_names: Mapping[int, str] | None = None,
        retries: int = 3,
        watchdog_reads: int = 3,
        answer_timeout_ms: float | None = None,
    ) -> None:
        if baudrate not in BAUD_RATE_VALUES:
            raise ValueError(f"baudrate {baudrate} is not one of {sorted(BAUD_RATE_VALUES)}")
        if retries < 0 or watchdog_reads < 1:
            raise ValueError("retries must be >= 0 and watchdog_reads >= 1")
        self.port = port
        self.baudrate = baudrate
        self.motor_ids = tuple(int(i) for i in motor_ids)
        self.motor_names = dict(motor_names or {})
        self.retries = retries
        self.watchdog_reads = watchdog_reads
        self.answer_timeout_ms = answer_timeout_ms
        self.failed_attempts = 0
        """Transactions that had to be retried, since open (telemetry)."""
        self._consecutive_failed_reads = 0
        self._port: PortHandler | None = None
        self._packets = PacketHandler(2.0)
        self._sync_reads: dict[tuple[int, int], GroupSyncRead] = {}

    # ---- Port ---------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._port is not None and self._port.is_open

    def open(self) -> None:
        """Open the serial port at ``baudrate``; raises :class:`BusError` with hints on failure."""
        port = _PortHandler(self.port, self.answer_timeout_ms)
        try:
            # setBaudRate opens the port at that rate (openPort would open at 1 Mbit/s first).
            ok = port.setBaudRate(self.baudrate)
        except (serial.SerialException, OSError) as exc:
            raise BusError(f"cannot open serial port {self.port!r}: {exc}\n{CONNECTION_HINTS}") from exc
        if not ok:
            raise BusError(f"cannot set baud rate {self.baudrate} on {self.port!r}\n{CONNECTION_HINTS}")
        self._port = port
        self._sync_reads.clear()
        self._consecutive_failed_reads = 0
        self.failed_attempts = 0
        _warn_if_slow_latency_timer(self.port)

    def close(self) -> None:
        if self._port is not None and self._port.is_open:
            self._port.closePort()
        self._port = None

    def _require_port(self) -> PortHandler:
        if self._port is None or not self._port.is_open:
            raise BusError("the bus is not open; call open() first")
        return self._port

    def name(self, motor_id: int) -> str:
        """``"motor 7 (mf_dip)"``: how messages name a motor."""
        joint = self.motor_names.get(motor_id)
        return f"motor {motor_id} ({joint})" if joint else f"motor {motor_id}"

    # ---- Connect-time checks -----------------------------------------------------------------
    def check_motors(self, model_number: int) -> None:
        """Ping every motor; raise :class:`MotorCheckError` naming missing or wrong-model ids.

        A motor whose ping answer carries the alert bit raises :class:`HardwareError` instead.
        """
        port = self._require_port()
        missing, wrong, alerts = [], {}, []
        for motor_id in self.motor_ids:
            for attempt in range(self.retries + 1):
                model, result, error = self._packets.ping(port, motor_id)
                if result == COMM_SUCCESS:
                    break
                self._count_retry(attempt)
            if result != COMM_SUCCESS:
                missing.append(motor_id)
            elif model != model_number:
                wrong[motor_id] = model
            elif error & ERROR_ALERT:
                alerts.append(motor_id)
        if missing or wrong:
            lines = [f"motor check failed on {self.port} at {self.baudrate} bit/s:"]
            if missing:
                lines.append("  no answer from " + ", ".join(self.name(i) for i in missing))
            for motor_id, model in wrong.items():
                lines.append(f"  {self.name(motor_id)} is model {model}, expected {model_number}")
            raise MotorCheckError("\n".join(lines) + "\n" + CONNECTION_HINTS, missing, wrong)
        if alerts:
            raise self._hardware_error(alerts)

    # ---- Single-motor transactions -----------------------------------------------------------
    def write(self, register: str, motor_id: int, value: int) -> None:
        """Write one register of one motor and wait for its acknowledgement (retried)."""
        port = self._require_port()
        address, size = CONTROL_TABLE[register]
        data = list(to_unsigned(int(value), size).to_bytes(size, "little"))
        for attempt in range(self.retries + 1):
            result, error = self._packets.writeTxRx(port, motor_id, address, size, data)
            if result == COMM_SUCCESS:
                self._check_error(motor_id, error, f"writing {register}={value}")
                return
            self._count_retry(attempt)
        raise BusError(
            f"no acknowledgement from {self.name(motor_id)} writing {register}={value}: "
            f"{self._packets.getTxRxResult(result)}"
        )

    def read(self, register: str, motor_id: int) -> int:
        """Read one register of one motor (retried); signed registers come back signed."""
        value, error = self._read_unchecked(register, motor_id)
        self._check_error(motor_id, error, f"reading {register}")
        return value

    def _read_unchecked(self, register: str, motor_id: int) -> tuple[int, int]:
        """``(value, status error byte)`` of one register, retried on communication errors."""
        port = self._require_port()
        address, size = CONTROL_TABLE[register]
        for attempt in range(self.retries + 1):
            data, result, error = self._packets.readTxRx(port, motor_id, address, size)
            if result == COMM_SUCCESS:
                return _decode(register, bytes(data[:size])), error
            self._count_retry(attempt)
        raise BusError(
            f"no answer from {self.name(motor_id)} reading {register}: {self._packets.getTxRxResult(result)}"
        )

    def write_each(self, register: str, values: Sequence[int] | int) -> None:
        """Acked write of ``register`` on every motor (``values`` in ``motor_ids`` order, or one value).

        Used at connect, where an acknowledgement per motor is worth the round trips.
        """
        values = _per_motor(values, len(self.motor_ids))
        for motor_id, value in zip(self.motor_ids, values, strict=True):
            self.write(register, motor_id, value)

    # ---- Group transactions ------------------------------------------------------------------
    def sync_write(self, register: str, values: Sequence[int] | int) -> None:
        """One broadcast packet writing ``register`` on every motor (no acknowledgement exists)."""
        port = self._require_port()
        address, size = CONTROL_TABLE[register]
        group = GroupSyncWrite(port, self._packets, address, size)
        for motor_id, value in zip(self.motor_ids, _per_motor(values, len(self.motor_ids)), strict=True):
            group.addParam(motor_id, list(to_unsigned(int(value), size).to_bytes(size, "little")))
        result = group.txPacket()
        if result != COMM_SUCCESS:
            raise BusError(f"sync write of {register} failed: {self._packets.getTxRxResult(result)}")

    def sync_read(self, registers: Sequence[str], *, raise_on_alert: bool = True) -> dict[str, np.ndarray]:
        """One sync-read packet for the contiguous ``registers`` of every motor.

        Returns ``{register: (n_motors,) int64}`` in ``motor_ids`` order (signed where the
        register is). Retried ``retries`` times; see the module docstring for the watchdog.
        """
        port = self._require_port()
        start, length = span(tuple(registers))
        group = self._sync_read_group(port, start, length)
        silent: set[int] = set()
        for attempt in range(self.retries + 1):
            outcome = self._sync_read_once(port, group, length)
            if not outcome.silent and not outcome.corrupt:
                self._consecutive_failed_reads = 0
                if outcome.alerts and raise_on_alert:
                    raise self._hardware_error(outcome.alerts)
                for motor_id, error in outcome.errors.items():
                    self._check_error(motor_id, error & ~ERROR_ALERT, f"sync reading {list(registers)}")
                return {
                    name: np.array(
                        [_decode(name, _field(outcome.raw[i], start, name)) for i in self.motor_ids],
                        dtype=np.int64,
                    )
                    for name in registers
                }
            silent.update(outcome.silent + outcome.corrupt)
            self._count_retry(attempt)
        self._consecutive_failed_reads += 1
        names = ", ".join(self.name(i) for i in sorted(silent))
        if self._consecutive_failed_reads >= self.watchdog_reads:
            raise BusTimeoutError(
                f"bus watchdog: {self._consecutive_failed_reads} consecutive sync reads of "
                f"{list(registers)} failed; no valid answer from {names}\n{CONNECTION_HINTS}",
                sorted(silent),
            )
        raise BusReadError(
            f"sync read of {list(registers)} failed after {self.retries + 1} attempts: {names}"
        )

    def _sync_read_group(self, port: PortHandler, start: int, length: int) -> GroupSyncRead:
        key = (start, length)
        if key not in self._sync_reads:
            group = GroupSyncRead(port, self._packets, start, length)
            for motor_id in self.motor_ids:
                group.addParam(motor_id)
            self._sync_reads[key] = group
        return self._sync_reads[key]

    def _sync_read_once(self, port: PortHandler, group: GroupSyncRead, length: int) -> _Attempt:
        # The SDK's GroupSyncRead builds and sends the one instruction packet, but its receive
        # loop drops each answer's error byte (the hardware-alert bit lives there) and stops at
        # the first missing motor. So receive the status packets here, one per motor, and
        # know exactly which motors were silent or corrupt.
        outcome = _Attempt(raw={}, silent=[], corrupt=[], alerts=[], errors={})
        result = group.txPacket()
        if result != COMM_SUCCESS:
            outcome.silent = list(self.motor_ids)
            return outcome
        pending = set(self.motor_ids)
        while pending:
            packet, result = self._packets.rxPacket(port, False)
            if result == COMM_SUCCESS:
                motor_id = packet[_PKT_ID]
                if motor_id in pending:
                    pending.discard(motor_id)
                    error = packet[_PKT_ERROR]
                    outcome.raw[motor_id] = bytes(packet[_PKT_PARAMS : _PKT_PARAMS + length])
                    if error & ERROR_ALERT:
                        outcome.alerts.append(motor_id)
                    if error:
                        outcome.errors[motor_id] = error
            elif len(packet) > _PKT_ID and packet[_PKT_ID] in pending:
                # A packet whose CRC does not match: never use its bytes.
                pending.discard(packet[_PKT_ID])
                outcome.corrupt.append(packet[_PKT_ID])
            else:
                break  # timeout: nobody else will answer this instruction
        outcome.silent = sorted(pending)
        return outcome

    # ---- Errors --------------------------------------------------------------------------------
    def _count_retry(self, attempt: int) -> None:
        self.failed_attempts += 1
        if attempt < self.retries:
            log.debug("bus %s: retry %d/%d", self.port, attempt + 1, self.retries)

    def _check_error(self, motor_id: int, error: int, doing: str) -> None:
        if error & ERROR_ALERT:
            raise self._hardware_error([motor_id])
        if error:
            raise BusError(f"{self.name(motor_id)} refused {doing}: {self._packets.getRxPacketError(error)}")

    def _hardware_error(self, motor_ids: Sequence[int]) -> HardwareError:
        errors: dict[int, list[str]] = {}
        for motor_id in motor_ids:
            try:
                # Unchecked: this answer carries the alert bit too.
                status, _ = self._read_unchecked("hardware_error_status", motor_id)
                errors[motor_id] = decode_hardware_error(status) or ["alert without error bits"]
            except BusError as exc:
                errors[motor_id] = [f"unknown (could not read hardware_error_status: {exc})"]
        described = "; ".join(
            f"{self.motor_names.get(i, f'motor {i}')}: {', '.join(bits)}" for i, bits in errors.items()
        )
        return HardwareError(
            f"hardware error: {described}. The motor's torque is off; find the cause (a jammed "
            "or overloaded joint, the supply voltage, heat), then power-cycle the hand.",
            errors,
        )

    def release_port(self) -> None:
        """Forget a transaction that an exception or a signal cut short.

        The SDK marks the port busy during a transaction; if it was interrupted the flag stays
        set and every later packet would fail with "port busy", the torque-off one included.
        """
        if self._port is not None:
            self._port.is_using = False


def _per_motor(values: Sequence[int] | int, n: int) -> list[int]:
    if isinstance(values, int | np.integer):
        return [int(values)] * n
    values = [int(v) for v in values]
    if len(values) != n:
        raise ValueError(f"expected {n} values (one per motor), got {len(values)}")
    return values


def _field(raw: bytes, start: int, register: str) -> bytes:
    address, size = CONTROL_TABLE[register]
    return raw[address - start : address - start + size]


def _decode(register: str, data: bytes) -> int:
    size = CONTROL_TABLE[register][1]
    if len(data) != size:
        raise BusError(f"{register}: expected {size} bytes, got {len(data)}")
    value = int.from_bytes(data, "little")
    return to_signed(value, size) if register in SIGNED_REGISTERS else value


def _warn_if_slow_latency_timer(port: str) -> None:
    """FTDI adapters buffer for 16 ms by default, which caps reads near 30 Hz: warn if so."""
    device = os.path.basename(os.path.realpath(port))
    timer = Path("/sys/bus/usb-serial/devices") / device / "latency_timer"
    try:
        value = int(timer.read_text().strip())
    except (OSError, ValueError):
        return  # not a USB serial adapter (or not Linux)
    if value > 1:
        log.warning(
            "USB latency timer of %s is %d ms; reads will be slow. Fix: echo 1 | sudo tee %s",
            device,
            value,
            timer,
        )
