"""Dynamixel Protocol 2.0 packet framing, written from the ROBOTIS e-manual.

The driver (``bus.py``) frames its packets with dynamixel-sdk; this independent implementation
is what the device emulator speaks, so the two check each other byte for byte.

Packet: ``FF FF FD 00 | id | length (2, LE) | instruction | params... | crc (2, LE)`` where
``length`` counts instruction + params + crc *after* byte stuffing, and the CRC covers every
byte before it as sent (stuffed). Status packets use instruction ``0x55`` and put an error byte
before their params.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = b"\xff\xff\xfd\x00"
BROADCAST_ID = 0xFE

INST_PING = 0x01
INST_READ = 0x02
INST_WRITE = 0x03
INST_REBOOT = 0x08
INST_STATUS = 0x55
INST_SYNC_READ = 0x82
INST_SYNC_WRITE = 0x83

# Status-packet error byte: a number in the low 7 bits, and the alert bit set while the motor
# has a hardware error (read ``hardware_error_status`` to know which).
ERROR_ALERT = 0x80
ERROR_RESULT_FAIL = 0x01
ERROR_INSTRUCTION = 0x02
ERROR_CRC = 0x03
ERROR_DATA_RANGE = 0x04
ERROR_DATA_LENGTH = 0x05
ERROR_DATA_LIMIT = 0x06
ERROR_ACCESS = 0x07

_CRC_POLYNOMIAL = 0x8005  # CRC-16/BUYPASS: no reflection, initial value 0


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _CRC_POLYNOMIAL) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16(data: bytes | bytearray) -> int:
    """The Protocol 2.0 CRC-16 (polynomial 0x8005, table-driven) of ``data``."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]) & 0xFFFF
    return crc


def stuff(body: bytes) -> bytes:
    """Byte stuffing: insert ``FD`` after every ``FF FF FD`` so a body never looks like a header.

    ``body`` is the instruction (or status) byte and the params: the part stuffing applies to.
    """
    out = bytearray()
    for byte in body:
        out.append(byte)
        if byte == 0xFD and out[-3:-1] == b"\xff\xff":
            out.append(0xFD)
    return bytes(out)


def unstuff(body: bytes) -> bytes:
    """Inverse of :func:`stuff`: ``FF FF FD FD`` -> ``FF FF FD``."""
    out = bytearray()
    i = 0
    while i < len(body):
        out.append(body[i])
        if body[i] == 0xFD and out[-3:-1] == b"\xff\xff" and i + 1 < len(body) and body[i + 1] == 0xFD:
            i += 1  # skip the stuffed FD
        i += 1
    return bytes(out)


def encode_packet(motor_id: int, instruction: int, params: bytes = b"") -> bytes:
    """A complete packet on the wire (stuffed, with CRC)."""
    body = stuff(bytes([instruction]) + params)
    length = len(body) + 2
    head = HEADER + bytes([motor_id, length & 0xFF, length >> 8])
    frame = head + body
    crc = crc16(frame)
    return frame + bytes([crc & 0xFF, crc >> 8])


def encode_status(motor_id: int, error: int, params: bytes = b"") -> bytes:
    """A status packet: instruction 0x55, the error byte, then ``params``."""
    return encode_packet(motor_id, INST_STATUS, bytes([error]) + params)


@dataclass(frozen=True)
class Packet:
    """One decoded packet. ``params`` is unstuffed; for a status packet it starts with the error."""

    motor_id: int
    instruction: int
    params: bytes
    crc_ok: bool


MAX_PACKET_LENGTH = 1024  # the SDK's buffer; a longer length field means a corrupt header


def split_packets(buffer: bytearray) -> list[Packet]:
    """Take every complete packet out of ``buffer`` (in place); leave a partial one there.

    Bytes before a header are discarded (line noise, a torn packet). A packet whose CRC does
    not match is still returned, with ``crc_ok=False``, so a device can report a CRC error.
    """
    packets = []
    while True:
        start = buffer.find(HEADER)
        if start < 0:
            # Keep a possible partial header at the end.
            del buffer[: max(0, len(buffer) - 3)]
            return packets
        del buffer[:start]
        if len(buffer) < 7:
            return packets
        length = buffer[5] | (buffer[6] << 8)
        if length < 3 or length > MAX_PACKET_LENGTH:
            del buffer[:1]  # not a real header; resynchronise on the next one
            continue
        total = 7 + length
        if len(buffer) < total:
            return packets
        frame = bytes(buffer[:total])
        del buffer[:total]
        crc_ok = crc16(frame[:-2]) == (frame[-2] | (frame[-1] << 8))
        body = unstuff(frame[7:-2])
        packets.append(Packet(motor_id=frame[4], instruction=body[0], params=body[1:], crc_ok=crc_ok))
