"""The websocket protocol: every command parses; every malformed message is refused with a reason."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dexndm.teleop.messages import (
    COMMAND_SCHEMA,
    COMMANDS,
    MAX_MESSAGE_BYTES,
    MessageError,
    encode,
    parse_command,
)


def test_each_command_parses_to_checked_values():
    axis = parse_command('{"type": "set_axis", "axis": "xy"}')
    assert axis.kind == "set_axis" and axis.label == "xy"
    np.testing.assert_allclose(axis.value, np.array([1, 1, 0]) / np.sqrt(2))
    free = parse_command('{"type": "set_axis", "axis": [0, 0, -2]}')
    np.testing.assert_allclose(free.value, [0, 0, -1])
    wrist = parse_command('{"type": "set_wrist", "wrist": [2, 0, 0, 0]}')
    np.testing.assert_allclose(wrist.value, [1, 0, 0, 0])
    assert parse_command('{"type": "set_wrist", "wrist": "palm_down"}').label == "palm_down"
    assert parse_command('{"type": "set_object", "object": " cube "}').value == "cube"
    assert parse_command('{"type": "set_residual", "enabled": true}').value is True
    for kind in ("start", "stop", "reset"):
        assert parse_command(json.dumps({"type": kind})).kind == kind


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"axis": "+x"}', "unknown message type"),
        ('{"type": "fly"}', "unknown message type"),
        ('{"type": "set_axis"}', "missing field"),
        ('{"type": "start", "now": true}', "unexpected field"),
        ('{"type": "set_axis", "axis": "sideways"}', "unknown axis"),
        ('{"type": "set_axis", "axis": [0, 0, 0]}', "not all zero"),
        ('{"type": "set_axis", "axis": [1, 0]}', "list of 3 numbers"),
        ('{"type": "set_axis", "axis": [true, 0, 0]}', "list of 3 numbers"),
        ('{"type": "set_wrist", "wrist": [1, 0, 0]}', "list of 4 numbers"),
        ('{"type": "set_residual", "enabled": "yes"}', "true or false"),
        ('{"type": "set_object", "object": ""}', "non-empty"),
    ],
)
def test_malformed_messages_are_refused_with_the_reason(text, reason):
    with pytest.raises(MessageError, match=reason):
        parse_command(text)


def test_oversized_message_is_refused_before_parsing():
    with pytest.raises(MessageError, match="at most"):
        parse_command('{"type": "start", "pad": "' + "x" * MAX_MESSAGE_BYTES + '"}')


def test_schema_lists_every_command_and_forbids_extra_fields():
    variants = {v["properties"]["type"]["const"]: v for v in COMMAND_SCHEMA["oneOf"]}
    assert set(variants) == set(COMMANDS)
    assert all(v["additionalProperties"] is False for v in variants.values())
    assert variants["set_axis"]["required"] == ["type", "axis"]


def test_server_messages_are_strict_json():
    text = encode("state", poses=np.zeros(3, dtype=np.float32), tick=np.int64(4))
    assert json.loads(text) == {"type": "state", "poses": [0.0, 0.0, 0.0], "tick": 4}
    with pytest.raises(ValueError):  # a NaN would break the page's JSON.parse
        encode("state", omega=float("nan"))
