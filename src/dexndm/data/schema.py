"""The per-step field schema of an episode store.

A schema maps each field name to its *per-step* shape and dtype; an episode of ``T`` steps holds
one array of shape ``(T, *shape)`` per field, and every field has the same ``T``. The schema is
declared when a store is created, written to its ``meta.json`` and checked on every append, so
a dataset cannot quietly mix, say, float32 and float64 joint positions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dexndm.hand.constants import NUM_JOINTS

STORE_FORMAT = "dexndm-episode-store"
SCHEMA_VERSION = 1
"""Version of the on-disk layout (meta.json, manifest lines, npz files). Bump on any change that
an older reader would misread."""

_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SchemaError(ValueError):
    """Arrays (or a store) do not match the schema; the message names the field."""


@dataclass(frozen=True)
class FieldSpec:
    """One field's per-step layout.

    Attributes:
        shape: per-step shape; ``()`` for a scalar per step (e.g. ``time``), ``(16,)`` for joints.
        dtype: numpy dtype name in native byte order, e.g. ``"float32"``.
    """

    shape: tuple[int, ...]
    dtype: str

    def __post_init__(self) -> None:
        dt = np.dtype(self.dtype)
        if dt.hasobject:
            raise SchemaError(f"dtype {self.dtype!r} holds Python objects; episodes store plain numbers")
        if not dt.isnative:
            raise SchemaError(f"dtype {self.dtype!r} is not in native byte order; use {dt.name!r}")
        object.__setattr__(self, "dtype", dt.name)
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if any(s < 0 for s in self.shape):
            raise SchemaError(f"negative dimension in shape {self.shape}")

    def describe(self) -> str:
        """E.g. ``"(16,) float32"``."""
        return f"{self.shape} {self.dtype}"


class Schema(Mapping[str, FieldSpec]):
    """Ordered mapping ``field name -> FieldSpec``.

    Build it from ``FieldSpec``s or ``(shape, dtype)`` pairs::

        Schema({"joint_pos": ((16,), "float32"), "time": ((), "float64")})
    """

    def __init__(self, fields: Mapping[str, FieldSpec | tuple[tuple[int, ...], Any]]):
        if not fields:
            raise SchemaError("a schema needs at least one field")
        self._fields: dict[str, FieldSpec] = {}
        for name, spec in fields.items():
            if not _FIELD_NAME.match(name):
                raise SchemaError(
                    f"field name {name!r} must be a Python identifier (it names a file in the npz)"
                )
            self._fields[name] = spec if isinstance(spec, FieldSpec) else FieldSpec(tuple(spec[0]), spec[1])

    def __getitem__(self, name: str) -> FieldSpec:
        return self._fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        # Field order does not matter: npz files are keyed by name.
        return isinstance(other, Schema) and dict(self._fields) == dict(other._fields)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}: {s.describe()}" for n, s in self._fields.items())
        return f"Schema({inner})"

    def to_json(self) -> dict[str, dict[str, Any]]:
        """JSON form stored in ``meta.json``: ``{name: {"shape": [...], "dtype": "float32"}}``."""
        return {n: {"shape": list(s.shape), "dtype": s.dtype} for n, s in self._fields.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Mapping[str, Any]]) -> Schema:
        """Inverse of ``to_json``."""
        return cls({n: FieldSpec(tuple(d["shape"]), d["dtype"]) for n, d in data.items()})

    def differences(self, other: Schema) -> list[str]:
        """Human-readable differences, each naming a field; empty when the schemas are equal.

        ``self`` is the store's schema, ``other`` the requested one.
        """
        out = []
        for name in self._fields.keys() | other._fields.keys():
            mine, theirs = self._fields.get(name), other._fields.get(name)
            if mine is None:
                out.append(
                    f"field {name!r} is requested ({theirs.describe()}) but the store has no such field"
                )
            elif theirs is None:
                out.append(f"field {name!r} is in the store ({mine.describe()}) but not requested")
            elif mine != theirs:
                out.append(f"field {name!r}: store has {mine.describe()}, requested {theirs.describe()}")
        return sorted(out)

    def validate(self, arrays: Mapping[str, np.ndarray]) -> int:
        """Check one episode's arrays against the schema and return its number of steps ``T``.

        Args:
            arrays: ``{field: array of shape (T, *spec.shape) and dtype spec.dtype}``, exactly
                the schema's fields.

        Raises:
            SchemaError: naming the first offending field and what to do about it.
        """
        missing = [n for n in self._fields if n not in arrays]
        if missing:
            raise SchemaError(f"missing field(s) {missing}; the store's schema is {self!r}")
        extra = [n for n in arrays if n not in self._fields]
        if extra:
            raise SchemaError(
                f"unexpected field(s) {extra}; the store's schema is {self!r} "
                "(declare new fields when creating a new store)"
            )
        steps: int | None = None
        first = ""
        for name, spec in self._fields.items():
            arr = arrays[name]
            if not isinstance(arr, np.ndarray):
                raise SchemaError(f"field {name!r}: expected a numpy array, got {type(arr).__name__}")
            if arr.ndim != 1 + len(spec.shape) or arr.shape[1:] != spec.shape:
                raise SchemaError(
                    f"field {name!r}: shape {arr.shape} does not match (T, *{spec.shape}) "
                    f"(per-step shape {spec.shape})"
                )
            if arr.dtype != np.dtype(spec.dtype):
                raise SchemaError(
                    f"field {name!r}: dtype {arr.dtype} but the schema says {spec.dtype}; "
                    f"convert with .astype(np.{spec.dtype})"
                )
            if steps is None:
                steps, first = arr.shape[0], name
            elif arr.shape[0] != steps:
                raise SchemaError(
                    f"field {name!r} has {arr.shape[0]} steps but {first!r} has {steps}; "
                    "all fields of an episode need the same length"
                )
        assert steps is not None
        if steps == 0:
            raise SchemaError("episode has 0 steps")
        return steps


def real_episode_schema(num_joints: int = NUM_JOINTS, *, commanded_targets: bool = False) -> Schema:
    """Schema of a collected episode on the LEAP hand (or its simulated stand-in).

    Per step: ``joint_pos`` (rad), ``joint_vel`` (rad/s), ``motor_current`` (mA) and
    ``joint_targets`` (rad, the position targets in force during the step: what the motors were
    sent), each ``(16,) float32`` in sim joint order; ``time`` (s since episode start, ``() float64``).

    Args:
        commanded_targets: also store ``commanded_targets`` ``(16,) float32`` (rad): what the
            collector asked for before the hand's safety filter (clamp to the joint limits, cap on
            the change per tick), so the two differ where the filter acted. ``dexndm collect``
            writes it; stores without it stay readable, as readers address fields by name.
    """
    joints = ((num_joints,), "float32")
    fields = {
        "joint_pos": joints,
        "joint_vel": joints,
        "motor_current": joints,
        "joint_targets": joints,
        "time": ((), "float64"),
    }
    if commanded_targets:
        fields["commanded_targets"] = joints
    return Schema(fields)
