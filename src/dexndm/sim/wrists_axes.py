"""Wrist orientations and rotation axes: the named ones and any user value.

A wrist orientation is the world orientation of the hand frame (``dexndm.hand.model``: +z palm
normal, +x fingers, thumb on -y). A rotation axis is a unit vector in the world frame: the
operator's "turn about this direction", whatever the wrist does.
"""

from __future__ import annotations

import numpy as np

from dexndm.sim.rotations import quat_normalize

_S = float(np.sqrt(0.5))

WRISTS: dict[str, tuple[float, float, float, float]] = {
    "palm_up": (1.0, 0.0, 0.0, 0.0),  # palm normal = world +z
    "palm_down": (0.0, 1.0, 0.0, 0.0),  # palm normal = world -z
    "base_up": (_S, 0.0, _S, 0.0),  # fingers point down (the wrist is above them)
    "base_down": (_S, 0.0, -_S, 0.0),  # fingers point up
    "thumb_up": (_S, -_S, 0.0, 0.0),  # thumb side (hand -y) = world +z
    "thumb_down": (_S, _S, 0.0, 0.0),
}
"""The six canonical wrist orientations of the paper, as quaternions (w, x, y, z)."""

AXES: dict[str, tuple[float, float, float]] = {
    "+x": (1, 0, 0), "-x": (-1, 0, 0), "+y": (0, 1, 0), "-y": (0, -1, 0), "+z": (0, 0, 1), "-z": (0, 0, -1),
    "xyz": (1, 1, 1), "xz": (1, 0, 1), "xy": (1, 1, 0), "yz": (0, 1, 1),
}  # fmt: skip
"""Named rotation axes (world frame): the principal ones and the paper's real-test diagonals."""

PRINCIPAL_AXES = ("+x", "-x", "+y", "-y", "+z", "-z")


class UnknownNameError(ValueError):
    """A wrist or axis given as a word that is neither a known name nor numbers; callers that
    accept more words (group words such as ``all``) catch this one to list theirs too."""


def parse_wrist(value: str | np.ndarray | tuple) -> np.ndarray:
    """A wrist name (``palm_up``) or a quaternion ``"w,x,y,z"`` -> unit quaternion (4,)."""
    given = value  # the user's spelling, for the error message
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_")
        if key in WRISTS:
            return np.array(WRISTS[key])
        try:
            value = np.array([float(x) for x in value.split(",")])
        except ValueError:
            raise UnknownNameError(
                f"unknown wrist orientation {value!r}: use one of {sorted(WRISTS)} or a quaternion 'w,x,y,z'"
            ) from None
    q = np.asarray(value, dtype=np.float64)
    if q.shape != (4,) or not np.all(np.isfinite(q)) or np.linalg.norm(q) < 1e-6:
        raise ValueError(f"wrist quaternion must be 4 finite numbers 'w,x,y,z' not all zero, got {given!r}")
    return quat_normalize(q)


def parse_axis(value: str | np.ndarray | tuple) -> np.ndarray:
    """An axis name (``+z``, ``xyz``) or a vector ``"x,y,z"`` -> unit vector (3,)."""
    given = value
    if isinstance(value, str):
        key = value.strip().lower()
        if key in ("x", "y", "z"):
            key = "+" + key
        if key in AXES:
            v = np.array(AXES[key], dtype=np.float64)
            return v / np.linalg.norm(v)
        try:
            value = np.array([float(x) for x in value.split(",")])
        except ValueError:
            raise UnknownNameError(
                f"unknown rotation axis {value!r}: use one of {list(AXES)} or a vector 'x,y,z'"
            ) from None
    v = np.asarray(value, dtype=np.float64)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) < 1e-6:
        raise ValueError(f"rotation axis must be 3 finite numbers 'x,y,z' not all zero, got {given!r}")
    return v / np.linalg.norm(v)


def fibonacci_axes(count: int = 32) -> np.ndarray:
    """``count`` general axes spread evenly on the sphere (the paper's 32 'general axes').

    ``count + 6`` Fibonacci-lattice points are made and, for each principal axis, the point
    nearest to it is dropped, so the principal axes themselves stay a separate set. Returns (count, 3).
    """
    n = count + 6
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5**0.5) * i
    v = np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], axis=-1)
    keep = np.ones(n, dtype=bool)
    for name in PRINCIPAL_AXES:
        dots = np.where(keep, v @ np.array(AXES[name], dtype=np.float64), -np.inf)
        keep[np.argmax(dots)] = False
    return v[keep]
