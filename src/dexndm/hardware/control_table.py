"""The XC330 (XC330-M288-T) control table, Protocol 2.0, as plain data.

``CONTROL_TABLE[name] = (address, size_in_bytes)``. Values are little-endian. Addresses below
``EEPROM_END`` are EEPROM: the motor refuses writes there while torque is enabled.
Source: the ROBOTIS e-manual, XC330-M288-T control table.
"""

from __future__ import annotations

CONTROL_TABLE: dict[str, tuple[int, int]] = {
    # EEPROM
    "model_number": (0, 2),
    "model_information": (2, 4),
    "firmware_version": (6, 1),
    "id": (7, 1),
    "baud_rate": (8, 1),
    "return_delay_time": (9, 1),
    "drive_mode": (10, 1),
    "operating_mode": (11, 1),
    "secondary_id": (12, 1),
    "protocol_type": (13, 1),
    "homing_offset": (20, 4),
    "moving_threshold": (24, 4),
    "temperature_limit": (31, 1),
    "max_voltage_limit": (32, 2),
    "min_voltage_limit": (34, 2),
    "pwm_limit": (36, 2),
    "current_limit": (38, 2),
    "velocity_limit": (44, 4),
    "max_position_limit": (48, 4),
    "min_position_limit": (52, 4),
    "startup_configuration": (60, 1),
    "pwm_slope": (62, 1),
    "shutdown": (63, 1),
    # RAM
    "torque_enable": (64, 1),
    "led": (65, 1),
    "status_return_level": (68, 1),
    "registered_instruction": (69, 1),
    "hardware_error_status": (70, 1),
    "velocity_i_gain": (76, 2),
    "velocity_p_gain": (78, 2),
    "position_d_gain": (80, 2),
    "position_i_gain": (82, 2),
    "position_p_gain": (84, 2),
    "feedforward_2nd_gain": (88, 2),
    "feedforward_1st_gain": (90, 2),
    "bus_watchdog": (98, 1),
    "goal_pwm": (100, 2),
    "goal_current": (102, 2),
    "goal_velocity": (104, 4),
    "profile_acceleration": (108, 4),
    "profile_velocity": (112, 4),
    "goal_position": (116, 4),
    "realtime_tick": (120, 2),
    "moving": (122, 1),
    "moving_status": (123, 1),
    "present_pwm": (124, 2),
    "present_current": (126, 2),
    "present_velocity": (128, 4),
    "present_position": (132, 4),
    "velocity_trajectory": (136, 4),
    "position_trajectory": (140, 4),
    "present_input_voltage": (144, 2),
    "present_temperature": (146, 1),
}

EEPROM_END = 64
"""First RAM address; EEPROM (addresses below) is write-protected while torque is on."""

SIGNED_REGISTERS: frozenset[str] = frozenset(
    {
        "homing_offset",
        "goal_pwm",
        "goal_current",
        "goal_velocity",
        "goal_position",
        "present_pwm",
        "present_current",
        "present_velocity",
        "present_position",
        "velocity_trajectory",
        "position_trajectory",
    }
)
"""Registers holding two's-complement values."""

READ_ONLY_REGISTERS: frozenset[str] = frozenset(
    {
        "model_number",
        "model_information",
        "firmware_version",
        "registered_instruction",
        "hardware_error_status",
        "realtime_tick",
        "moving",
        "moving_status",
        "present_pwm",
        "present_current",
        "present_velocity",
        "present_position",
        "velocity_trajectory",
        "position_trajectory",
        "present_input_voltage",
        "present_temperature",
    }
)

STATE_BLOCK: tuple[str, ...] = ("present_current", "present_velocity", "present_position")
"""Contiguous registers 126..135 (10 bytes) read each control tick in one sync read."""

OPERATING_MODES: dict[str, int] = {
    "current": 0,
    "velocity": 1,
    "position": 3,
    "extended_position": 4,
    "current_based_position": 5,
    "pwm": 16,
}

BAUD_RATE_VALUES: dict[int, int] = {
    9_600: 0,
    57_600: 1,
    115_200: 2,
    1_000_000: 3,
    2_000_000: 4,
    3_000_000: 5,
    4_000_000: 6,
}
"""Bus baud rate (bit/s) -> value of the ``baud_rate`` register."""

HARDWARE_ERROR_BITS: dict[int, str] = {
    0: "input voltage",
    2: "overheating",
    3: "motor encoder",
    4: "electrical shock",
    5: "overload",
}
"""Bit -> meaning of the ``hardware_error_status`` register (other bits are unused)."""

RETURN_DELAY_US_PER_UNIT = 2.0
"""``return_delay_time`` unit: 2 us (the default 250 adds 0.5 ms to every answer)."""


def decode_hardware_error(status: int) -> list[str]:
    """Names of the bits set in a ``hardware_error_status`` value (empty when none)."""
    names = [name for bit, name in HARDWARE_ERROR_BITS.items() if status & (1 << bit)]
    unknown = status & ~sum(1 << bit for bit in HARDWARE_ERROR_BITS)
    if unknown:
        names.append(f"unknown bits 0x{unknown:02x}")
    return names


def span(registers: tuple[str, ...] | list[str]) -> tuple[int, int]:
    """``(start_address, length)`` of contiguous ``registers``; raises if they leave a gap."""
    entries = sorted(CONTROL_TABLE[name] for name in registers)
    for (addr, size), (next_addr, _) in zip(entries, entries[1:], strict=False):
        if addr + size != next_addr:
            raise ValueError(f"registers {list(registers)} are not contiguous")
    start = entries[0][0]
    return start, entries[-1][0] + entries[-1][1] - start


def to_signed(value: int, size: int) -> int:
    """Interpret an unsigned ``size``-byte value as two's complement."""
    bits = 8 * size
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def to_unsigned(value: int, size: int) -> int:
    """Two's-complement encoding of ``value`` in ``size`` bytes; raises if it does not fit."""
    bits = 8 * size
    if not -(1 << (bits - 1)) <= value < (1 << bits):
        raise ValueError(f"{value} does not fit in {size} byte(s)")
    return value & ((1 << bits) - 1)
