"""The websocket protocol of the teleoperation page: one JSON object per message.

Page -> server (``type`` picks the command; every other key is listed, nothing else is allowed)::

    {"type": "set_axis", "axis": "+x"}            a name (+x ... -z, xyz, xz, xy, yz) or [x, y, z]
    {"type": "set_wrist", "wrist": "palm_down"}   a name (palm_up ... thumb_down) or [w, x, y, z]
    {"type": "set_object", "object": "cube"}      an object name or category shape
    {"type": "set_residual", "enabled": true}
    {"type": "start"} | {"type": "stop"} | {"type": "reset"}

Server -> page: ``hello`` (once, on connect: the mode, the scene geometry, the choices and the
session state), ``scene`` (new geometry after an object change), ``state`` (every control tick:
body poses and readouts), ``replay`` (``dexndm view``: the whole recorded trajectory) and
``error`` (a refused message: what was wrong, how to fix it; the connection stays open).

``COMMAND_SCHEMA`` is the JSON Schema of page -> server messages (served at ``/schema.json``);
:func:`parse_command` enforces it with messages a person can act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from dexndm.sim.wrists_axes import AXES, WRISTS, parse_axis, parse_wrist

MAX_MESSAGE_BYTES = 4096
"""Commands are tiny; anything longer is refused before it is parsed."""

_NAME_OR_VECTOR = {
    "axis": {"oneOf": [{"enum": list(AXES)}, {"type": "array", "items": {"type": "number"}, "minItems": 3,
                                               "maxItems": 3}]},
    "wrist": {"oneOf": [{"enum": list(WRISTS)}, {"type": "array", "items": {"type": "number"},
                                                 "minItems": 4, "maxItems": 4}]},
}  # fmt: skip

COMMANDS: dict[str, dict[str, dict[str, Any]]] = {
    "set_axis": {"axis": _NAME_OR_VECTOR["axis"]},
    "set_wrist": {"wrist": _NAME_OR_VECTOR["wrist"]},
    "set_object": {"object": {"type": "string", "minLength": 1, "maxLength": 200}},
    "set_residual": {"enabled": {"type": "boolean"}},
    "start": {},
    "stop": {},
    "reset": {},
}
"""Command type -> its required fields and their JSON Schema."""

COMMAND_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "dexndm teleop command",
    "oneOf": [
        {
            "type": "object",
            "properties": {"type": {"const": name}, **fields},
            "required": ["type", *fields],
            "additionalProperties": False,
        }
        for name, fields in COMMANDS.items()
    ],
}


class MessageError(ValueError):
    """A page -> server message the server refuses; the text says what was wrong and the fix."""


@dataclass(frozen=True)
class Command:
    """One parsed command: ``kind`` from ``COMMANDS``, ``value`` checked and converted.

    ``value``: the unit axis (3,) for ``set_axis``, the unit quaternion (4,) for ``set_wrist``,
    the object name (str) for ``set_object``, a bool for ``set_residual``, None otherwise.
    ``label``: how the page shows the value (``"+x"``, ``"palm_down"``, or the numbers).
    """

    kind: str
    value: Any = None
    label: str = ""


def parse_command(text: str | bytes) -> Command:
    """Parse and validate one page -> server message.

    Raises:
        MessageError: not JSON, not an object, an unknown type, a missing, extra or invalid field.
    """
    if len(text) > MAX_MESSAGE_BYTES:
        raise MessageError(f"message of {len(text)} bytes refused: commands are at most {MAX_MESSAGE_BYTES}")
    try:
        msg = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise MessageError(f"not JSON ({e.msg if hasattr(e, 'msg') else e}); send one JSON object") from None
    if not isinstance(msg, dict):
        raise MessageError(f"expected a JSON object with a 'type', got {type(msg).__name__}")
    kind = msg.get("type")
    if kind not in COMMANDS:
        raise MessageError(f"unknown message type {kind!r}: use one of {sorted(COMMANDS)}")
    fields = COMMANDS[kind]
    missing = [f for f in fields if f not in msg]
    if missing:
        raise MessageError(f"{kind}: missing field(s) {missing}")
    extra = sorted(set(msg) - set(fields) - {"type"})
    if extra:
        raise MessageError(f"{kind}: unexpected field(s) {extra}; it takes {sorted(fields) or 'none'}")
    if kind == "set_axis":
        return _vector_command(kind, msg["axis"], 3, parse_axis, AXES)
    if kind == "set_wrist":
        return _vector_command(kind, msg["wrist"], 4, parse_wrist, WRISTS)
    if kind == "set_object":
        name = msg["object"]
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise MessageError("set_object: 'object' must be a non-empty name such as 'cube'")
        return Command(kind, name.strip(), name.strip())
    if kind == "set_residual":
        if not isinstance(msg["enabled"], bool):
            raise MessageError("set_residual: 'enabled' must be true or false")
        return Command(kind, msg["enabled"], "on" if msg["enabled"] else "off")
    return Command(kind)


def _vector_command(kind: str, raw: Any, size: int, parse, names: dict) -> Command:
    field = "axis" if size == 3 else "wrist"
    if isinstance(raw, str):
        if raw not in names:
            raise MessageError(f"{kind}: unknown {field} {raw!r}: use one of {list(names)} or {size} numbers")
        return Command(kind, parse(raw), raw)
    ok = (
        isinstance(raw, list)
        and len(raw) == size
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw)
    )
    if not ok:
        raise MessageError(f"{kind}: '{field}' must be a name or a list of {size} numbers, got {raw!r}")
    try:
        value = parse(np.asarray(raw, dtype=np.float64))
    except ValueError as e:
        raise MessageError(f"{kind}: {e}") from None
    return Command(kind, value, ",".join(f"{v:.3g}" for v in value))


def encode(kind: str, **fields: Any) -> str:
    """A server -> page message as JSON text (numpy arrays and scalars become lists and numbers)."""
    # allow_nan=False: a NaN would reach the page as a bare NaN, which JSON.parse refuses
    return json.dumps({"type": kind, **fields}, default=_json_default, separators=(",", ":"), allow_nan=False)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
