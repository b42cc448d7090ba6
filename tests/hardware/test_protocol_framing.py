"""Protocol 2.0 framing: CRC, byte stuffing and packet splitting, against the e-manual and the SDK."""

from __future__ import annotations

import numpy as np
import pytest
from dynamixel_sdk import PacketHandler

from dexndm.hardware import protocol as p2

# Example packets from the ROBOTIS e-manual, Protocol 2.0 (instruction and status).
EMANUAL_PACKETS = {
    "ping id 1": "FF FF FD 00 01 03 00 01 19 4E",
    "ping status (model 1030, fw 38)": "FF FF FD 00 01 07 00 55 00 06 04 26 65 5D",
    "read present position id 1": "FF FF FD 00 01 07 00 02 84 00 04 00 1D 15",
    "read status (166)": "FF FF FD 00 01 08 00 55 00 A6 00 00 00 8C C0",
    "write goal position 512 id 1": "FF FF FD 00 01 09 00 03 74 00 00 02 00 00 CA 89",
    "write status": "FF FF FD 00 01 04 00 55 00 A1 0C",
    "sync read ids 1 2": "FF FF FD 00 FE 09 00 82 84 00 04 00 01 02 CE FA",
    "sync write ids 1 2": "FF FF FD 00 FE 11 00 83 74 00 04 00 01 96 00 00 00 02 AA 00 00 00 82 87",
}


@pytest.mark.parametrize("name", EMANUAL_PACKETS)
def test_crc_matches_emanual_examples(name: str) -> None:
    packet = bytes.fromhex(EMANUAL_PACKETS[name])
    assert p2.crc16(packet[:-2]) == packet[-2] | (packet[-1] << 8)


def test_encode_reproduces_emanual_packets() -> None:
    assert p2.encode_packet(1, p2.INST_PING) == bytes.fromhex(EMANUAL_PACKETS["ping id 1"])
    assert p2.encode_status(1, 0, bytes([0x06, 0x04, 0x26])) == bytes.fromhex(
        EMANUAL_PACKETS["ping status (model 1030, fw 38)"]
    )
    params = bytes.fromhex("74 00 04 00 01 96 00 00 00 02 AA 00 00 00")
    assert p2.encode_packet(p2.BROADCAST_ID, p2.INST_SYNC_WRITE, params) == bytes.fromhex(
        EMANUAL_PACKETS["sync write ids 1 2"]
    )


def test_crc_agrees_with_sdk_on_random_data() -> None:
    sdk = PacketHandler(2.0)
    rng = np.random.default_rng(0)
    for size in (1, 7, 64, 300):
        data = bytes(rng.integers(0, 256, size, dtype=np.uint8))
        assert p2.crc16(data) == sdk.updateCRC(0, data, len(data))


def test_stuffing_inserts_fd_after_header_pattern() -> None:
    body = bytes.fromhex("55 00 FF FF FD 01")
    assert p2.stuff(body) == bytes.fromhex("55 00 FF FF FD FD 01")
    assert p2.unstuff(p2.stuff(body)) == body


def test_stuffing_round_trip_on_header_rich_bytes() -> None:
    rng = np.random.default_rng(1)
    alphabet = np.array([0xFF, 0xFD, 0x00, 0x55], dtype=np.uint8)  # makes FF FF FD frequent
    for _ in range(200):
        body = bytes(rng.choice(alphabet, size=int(rng.integers(1, 40))))
        stuffed = p2.stuff(body)
        # Every FF FF FD is followed by the stuffed FD, so none can be taken for a header.
        at = stuffed.find(b"\xff\xff\xfd")
        while at >= 0:
            assert stuffed[at + 3 : at + 4] == b"\xfd"
            at = stuffed.find(b"\xff\xff\xfd", at + 1)
        assert p2.unstuff(stuffed) == body


def test_encoded_packet_with_stuffing_equals_sdk_packet() -> None:
    sdk = PacketHandler(2.0)
    params = bytes.fromhex("74 00 FF FF FD 00")  # write 0x00FDFFFF at 116: needs stuffing
    ours = p2.encode_packet(3, p2.INST_WRITE, params)
    body = [p2.INST_WRITE, *params]
    packet = [0xFF, 0xFF, 0xFD, 0x00, 3, (len(body) + 2) & 0xFF, (len(body) + 2) >> 8, *body, 0, 0]
    packet = sdk.addStuffing(packet)
    crc = sdk.updateCRC(0, packet, len(packet) - 2)
    packet[-2:] = [crc & 0xFF, crc >> 8]
    assert ours == bytes(packet)
    decoded = p2.split_packets(bytearray(ours))
    assert decoded == [p2.Packet(3, p2.INST_WRITE, params, crc_ok=True)]


def test_split_packets_skips_noise_keeps_partial_and_flags_bad_crc() -> None:
    first = p2.encode_packet(1, p2.INST_PING)
    second = bytearray(p2.encode_packet(2, p2.INST_READ, bytes([132, 0, 4, 0])))
    second[-3] ^= 0x10  # corrupt a param: CRC mismatch
    third = p2.encode_packet(3, p2.INST_PING)
    buffer = bytearray(b"\x00\xff\x12" + first + bytes(second) + third[:6])
    packets = p2.split_packets(buffer)
    assert [(p.motor_id, p.crc_ok) for p in packets] == [(1, True), (2, False)]
    assert bytes(buffer) == third[:6]  # the partial packet waits for its tail
    buffer += third[6:]
    assert [p.motor_id for p in p2.split_packets(buffer)] == [3]
    assert buffer == b""
