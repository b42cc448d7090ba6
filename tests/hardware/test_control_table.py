"""The XC330 control table data against the e-manual's addresses."""

from __future__ import annotations

import pytest

from dexndm.hardware.control_table import (
    CONTROL_TABLE,
    STATE_BLOCK,
    decode_hardware_error,
    span,
    to_signed,
    to_unsigned,
)

EMANUAL = {
    "model_number": (0, 2),
    "return_delay_time": (9, 1),
    "operating_mode": (11, 1),
    "torque_enable": (64, 1),
    "hardware_error_status": (70, 1),
    "position_d_gain": (80, 2),
    "position_i_gain": (82, 2),
    "position_p_gain": (84, 2),
    "goal_current": (102, 2),
    "goal_position": (116, 4),
    "present_current": (126, 2),
    "present_velocity": (128, 4),
    "present_position": (132, 4),
}


@pytest.mark.parametrize("name", EMANUAL)
def test_addresses_match_emanual(name: str) -> None:
    assert CONTROL_TABLE[name] == EMANUAL[name]


def test_state_block_is_one_contiguous_read() -> None:
    assert span(STATE_BLOCK) == (126, 10)
    with pytest.raises(ValueError, match="not contiguous"):
        span(("present_current", "present_position"))


def test_hardware_error_bits_decode() -> None:
    assert decode_hardware_error(0) == []
    assert decode_hardware_error(0b0010_0101) == ["input voltage", "overheating", "overload"]
    assert decode_hardware_error(0b0001_1000) == ["motor encoder", "electrical shock"]
    assert decode_hardware_error(0b0000_0010) == ["unknown bits 0x02"]


def test_signed_round_trip() -> None:
    assert to_signed(to_unsigned(-3, 4), 4) == -3
    assert to_unsigned(-1, 2) == 0xFFFF
    assert to_signed(0x7FFF, 2) == 0x7FFF
    with pytest.raises(ValueError):
        to_unsigned(1 << 16, 2)
