"""The emulator as a device: raw packets in, status packets out, and the bus talking to it."""

from __future__ import annotations

import time

import pytest
import serial

from dexndm.hardware import protocol as p2
from dexndm.hardware.bus import BusError, DynamixelBus
from dexndm.hardware.emulator import DynamixelEmulator
from dexndm.hardware.leap import RAD_S_PER_VELOCITY_UNIT


def _exchange(port: serial.Serial, packet: bytes, timeout: float = 1.0) -> list[p2.Packet]:
    """Send raw bytes, collect whatever status packets come back within ``timeout``."""
    port.reset_input_buffer()
    port.write(packet)
    buffer, packets, deadline = bytearray(), [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        buffer += port.read(256)
        packets += p2.split_packets(buffer)
        if packets and not buffer:
            time.sleep(0.02)  # let any further answers arrive
            buffer += port.read(4096)
            packets += p2.split_packets(buffer)
            break
    return packets


@pytest.fixture
def raw_port(emulator: DynamixelEmulator):
    with serial.Serial(emulator.port, baudrate=4_000_000, timeout=0.01) as port:
        yield port


def test_ping_emanual_packet_gets_xc330_answer(raw_port: serial.Serial) -> None:
    (status,) = _exchange(raw_port, bytes.fromhex("FF FF FD 00 01 03 00 01 19 4E"))
    assert status.crc_ok and status.motor_id == 1 and status.instruction == p2.INST_STATUS
    error, model, firmware = status.params[0], status.params[1] | (status.params[2] << 8), status.params[3]
    assert (error, model) == (0, 1200) and firmware > 0


def test_sync_read_answers_in_listed_order_skipping_absent_ids() -> None:
    with (
        DynamixelEmulator(motor_ids=[0, 1, 3]) as emulator,
        serial.Serial(emulator.port, baudrate=4_000_000, timeout=0.01) as port,
    ):
        request = p2.encode_packet(p2.BROADCAST_ID, p2.INST_SYNC_READ, bytes([132, 0, 4, 0, 3, 2, 1, 0]))
        answers = _exchange(port, request)
    assert [a.motor_id for a in answers] == [3, 1, 0]
    assert all(a.crc_ok and len(a.params) == 1 + 4 for a in answers)


def test_bad_crc_instruction_gets_crc_error(raw_port: serial.Serial, emulator: DynamixelEmulator) -> None:
    packet = bytearray(bytes.fromhex("FF FF FD 00 01 03 00 01 19 4E"))
    packet[-1] ^= 0xFF
    (status,) = _exchange(raw_port, bytes(packet))
    assert status.params[0] == p2.ERROR_CRC
    assert emulator.crc_errors == 1


def test_eeprom_locked_while_torque_on(emulator: DynamixelEmulator) -> None:
    bus = DynamixelBus(emulator.port, retries=0, answer_timeout_ms=200)
    bus.open()
    try:
        bus.write("operating_mode", 2, 5)  # torque off: allowed
        bus.write("torque_enable", 2, 1)
        with pytest.raises(BusError, match=r"motor 2 refused writing operating_mode=3.*not available"):
            bus.write("operating_mode", 2, 3)
        with pytest.raises(BusError, match="refused"):
            bus.write("present_position", 2, 0)  # read-only
    finally:
        bus.close()
    assert emulator.register("operating_mode", 2) == 5


def test_byte_stuffing_both_directions_through_the_sdk(emulator: DynamixelEmulator) -> None:
    # 0x00FDFFFF is FF FF FD 00 on the wire: stuffed by the SDK on the way in, by the emulator
    # on the way back.
    bus = DynamixelBus(emulator.port, retries=0, answer_timeout_ms=200)
    bus.open()
    try:
        bus.write("goal_position", 4, 0x00FDFFFF)
        assert emulator.register("goal_position", 4) == 0x00FDFFFF
        assert bus.read("goal_position", 4) == 0x00FDFFFF
        bus.write("goal_position", 4, -3)  # FD FF FF FF
        assert bus.read("goal_position", 4) == -3
    finally:
        bus.close()
    assert emulator.crc_errors == 0


def test_sync_read_values_decode_signed(emulator: DynamixelEmulator) -> None:
    # Current -1 mA and velocity -3 units make the status payload FF FF FD FF FF FF: stuffed.
    # (The emulator refreshes its registers from the backend before it handles the sync read.)
    emulator.backend.goal = emulator.backend.pos - 1e-3  # -1 mA at 1 A/rad
    emulator.backend.time_constant_s = 1e-3 / (3 * RAD_S_PER_VELOCITY_UNIT)  # -> -3 units
    bus = DynamixelBus(emulator.port, retries=0, answer_timeout_ms=200)
    bus.open()
    try:
        values = bus.sync_read(("present_current", "present_velocity", "present_position"))
    finally:
        bus.close()
    assert set(values["present_current"]) == {-1}
    assert set(values["present_velocity"]) == {-3}
