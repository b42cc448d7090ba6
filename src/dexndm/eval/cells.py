"""Evaluation cells: every (object, wrist orientation, rotation axis) an evaluation reports on.

The user's lists are expanded here once, into labels that are both readable in a table and valid
``EnvConfig`` entries: a category becomes its shapes, ``"all"`` the six canonical wrists,
``"principal"`` the six principal axes.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from dexndm.sim.wrists_axes import (
    AXES,
    PRINCIPAL_AXES,
    WRISTS,
    UnknownNameError,
    fibonacci_axes,
    parse_axis,
    parse_wrist,
)

AXIS_SETS: dict[str, tuple[str, ...]] = {
    "principal": PRINCIPAL_AXES,
    "diagonals": ("xyz", "xz", "xy", "yz"),  # the paper's extra real-test axes
    "named": tuple(AXES),
}
"""Axis-list shorthands; ``"general"`` (the 32 sphere axes) is expanded separately."""


@dataclass(frozen=True)
class Cell:
    """One evaluation cell; each label is also a valid ``EnvConfig`` entry."""

    object: str
    """Object name (``normal_cuboid/03``, ``cube``) or the mesh path it was given as."""
    category: str
    wrist: str
    """A name of ``WRISTS`` or a unit quaternion ``"w,x,y,z"``."""
    axis: str
    """A name of ``AXES`` or a unit vector ``"x,y,z"`` (world frame)."""


def _fmt(v: np.ndarray) -> str:
    """A unit vector or quaternion as ``"a,b,c"`` with 4 significant digits (no ``-0``)."""
    return ",".join(f"{(x if abs(x) >= 5e-5 else 0.0):.4g}" for x in v)


def wrist_labels(wrists: tuple[str, ...] | list[str]) -> list[str]:
    """Wrist names or ``"w,x,y,z"`` quaternions (``"all"``: the six canonical ones), validated."""
    out: list[str] = []
    for w in wrists:
        key = w.strip().lower().replace("-", "_")
        if key == "all":
            out.extend(WRISTS)
        elif key in WRISTS:
            out.append(key)
        else:
            try:
                out.append(_fmt(parse_wrist(w)))
            except UnknownNameError as e:
                # parse_wrist knows single orientations; here the group word is valid too.
                raise ValueError(f"{e}, or 'all' for all six") from None
    return list(dict.fromkeys(out))


def axis_labels(axes: tuple[str, ...] | list[str]) -> list[str]:
    """Axis names or ``"x,y,z"`` vectors, validated; shorthands in ``AXIS_SETS`` and ``"general"``."""
    out: list[str] = []
    for a in axes:
        key = a.strip().lower()
        if key == "random":
            raise ValueError(
                "evaluation needs fixed rotation axes, not 'random': use names, 'x,y,z' vectors, "
                f"{list(AXIS_SETS)} or 'general' (the 32 axes spread on the sphere)"
            )
        if key in AXIS_SETS:
            out.extend(AXIS_SETS[key])
        elif key == "general":
            out.extend(_fmt(v) for v in fibonacci_axes())
        elif key in AXES or key in ("x", "y", "z"):
            out.append(key if key in AXES else "+" + key)
        else:
            try:
                out.append(_fmt(parse_axis(a)))
            except UnknownNameError as e:
                # parse_axis knows single axes; here the sets of axes are valid too.
                raise ValueError(
                    f"{e}, or a set: {list(AXIS_SETS)} or 'general' (32 axes spread on the sphere)"
                ) from None
    return list(dict.fromkeys(out))


def object_entries(objects: tuple[str, ...] | list[str], split: str) -> list[tuple[str, str]]:
    """Object names / categories / mesh paths -> ``[(label, category)]``, one per shape."""
    from dexndm.objects import CATEGORIES, object_set, resolve_object

    out: list[tuple[str, str]] = []
    for name in objects:
        if name in CATEGORIES:
            shapes = object_set(name, split)
            if not shapes:
                raise ValueError(f"category {name!r} has no {split!r} shapes: choose another split")
            out.extend((s.name, s.category) for s in shapes)
        else:
            out.append((name, resolve_object(name).category))
    return list(dict.fromkeys(out))


def make_cells(
    objects: tuple[str, ...] | list[str],
    wrists: tuple[str, ...] | list[str],
    axes: tuple[str, ...] | list[str],
    split: str = "train",
) -> list[Cell]:
    """All (object, wrist, axis) combinations, objects outermost (one env build per cell)."""
    entries = object_entries(objects, split)
    return [
        Cell(obj, cat, w, a) for (obj, cat), w, a in product(entries, wrist_labels(wrists), axis_labels(axes))
    ]
