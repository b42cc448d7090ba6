"""The paper's four primitive categories, generated at its extents and aspect ratios.

The paper's table gives, per category, a number of shapes, a "min extent" and an aspect-ratio
range. We read *min extent* as the smallest bounding-box dimension and *aspect ratio* as largest /
smallest dimension, and spread the aspect ratios evenly over the range (shape ``/00`` has the
lowest). Where that literal reading is absurd for the LEAP hand (about twice human size: palm
~0.10 m wide, fingers ~0.10 m long, comfortable objects up to ~0.15 m), we choose as follows:

normal_cylinder (9): smallest dimension 0.04 m, aspect 1.6-2.4, so the other dimension is
    0.064-0.096 m. A cylinder's aspect ratio is ambiguous between *rods* (diameter 0.04, length
    0.064-0.096) and *discs* (length 0.04, diameter 0.064-0.096); both are everyday objects (a
    marker, a jar lid) and both fit the hand, so the set alternates: even indices are rods, odd
    indices discs.
normal_cuboid (9): smallest dimension 0.064 m, aspect 1.25-1.5, so the longest is 0.080-0.096 m.
    The middle dimension is drawn (seed ``CUBOID_SEED``) uniformly between the two, so most
    cross-sections are not square. Axes: x longest, y middle, z shortest (lies flat at rest).
long_cuboid (4): the literal reading (smallest 0.06-0.08, aspect up to 6.67) makes bars up to
    0.53 m long, five palm widths. We read 0.06-0.08 m as the bar's *width* (middle dimension),
    fix its length at ``LONG_CUBOID_LENGTH`` = 0.15 m (1.5 palm widths, the longest bar a
    fingertip grasp can turn) and set the thickness so that length / thickness spans the
    paper's 2.5-6.67: thickness 0.060, 0.039, 0.028, 0.0225 m. So aspect (largest / smallest) is
    exactly the paper's, and no dimension is absurd: bars from a square 0.06 x 0.06 stick to a
    0.08 x 0.0225 slab (like a TV remote for this hand).
small_cylinder (9): smallest dimension 0.025 m, aspect 1.92-2.56, so the other dimension is
    0.048-0.064 m; rods and discs alternate as for normal cylinders.

Every primitive weighs ``DEFAULT_PRIMITIVE_MASS`` (0.03 kg); the simulator randomizes mass.
Frames: the object frame is the centre of the solid; a cylinder's axis is object z (MuJoCo's
convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from .spec import DEFAULT_PRIMITIVE_MASS, ObjectSpec


@dataclass(frozen=True)
class PrimitiveCategory:
    """The paper's numbers for one primitive category (metres)."""

    name: str
    kind: str  # "box" | "cylinder"
    count: int
    min_extent: tuple[float, float]  # range of the smallest dimension (a single value: lo == hi)
    aspect: tuple[float, float]  # largest / smallest dimension


PRIMITIVE_CATEGORIES: dict[str, PrimitiveCategory] = {
    "normal_cylinder": PrimitiveCategory("normal_cylinder", "cylinder", 9, (0.04, 0.04), (1.6, 2.4)),
    "normal_cuboid": PrimitiveCategory("normal_cuboid", "box", 9, (0.064, 0.064), (1.25, 1.5)),
    "long_cuboid": PrimitiveCategory("long_cuboid", "box", 4, (0.06, 0.08), (2.5, 6.67)),
    "small_cylinder": PrimitiveCategory("small_cylinder", "cylinder", 9, (0.025, 0.025), (1.92, 2.56)),
}
"""The paper's table. For long cuboids ``min_extent`` is read as the bar width (see module doc)."""

CUBOID_SEED = 64
"""Seed of the normal cuboids' middle dimensions; changing it renames nothing but changes shapes."""
LONG_CUBOID_LENGTH = 0.15
"""m, length of every long cuboid."""


def _cylinders(cat: PrimitiveCategory) -> list[ObjectSpec]:
    small = cat.min_extent[0]
    out = []
    for i, a in enumerate(np.linspace(*cat.aspect, cat.count)):
        large = small * a
        rod = i % 2 == 0
        diameter, length = (small, large) if rod else (large, small)
        out.append(
            ObjectSpec(
                name=f"{cat.name}/{i:02d}",
                category=cat.name,
                kind="cylinder",
                size=(diameter / 2, length / 2),
                mass=DEFAULT_PRIMITIVE_MASS,
                description=f"{'rod' if rod else 'disc'}: diameter {diameter * 1000:.1f} mm, "
                f"length {length * 1000:.1f} mm, aspect {a:.2f}",
            )
        )
    return out


def _normal_cuboids(cat: PrimitiveCategory) -> list[ObjectSpec]:
    small = cat.min_extent[0]
    u = np.random.default_rng(CUBOID_SEED).random(cat.count)
    out = []
    for i, (a, ui) in enumerate(zip(np.linspace(*cat.aspect, cat.count), u, strict=True)):
        large = small * a
        middle = small + ui * (large - small)
        ext = (large, middle, small)
        out.append(_box(cat.name, i, ext, a))
    return out


def _long_cuboids(cat: PrimitiveCategory) -> list[ObjectSpec]:
    widths = np.linspace(*cat.min_extent, cat.count)
    out = []
    for i, (a, w) in enumerate(zip(np.linspace(*cat.aspect, cat.count), widths, strict=True)):
        thickness = LONG_CUBOID_LENGTH / a
        # Width never below thickness: then thickness is the smallest and aspect is exact.
        out.append(_box(cat.name, i, (LONG_CUBOID_LENGTH, max(w, thickness), thickness), a))
    return out


def _box(category: str, i: int, ext: tuple[float, float, float], aspect: float) -> ObjectSpec:
    mm = " x ".join(f"{e * 1000:.1f}" for e in ext)
    return ObjectSpec(
        name=f"{category}/{i:02d}",
        category=category,
        kind="box",
        size=tuple(e / 2 for e in ext),
        mass=DEFAULT_PRIMITIVE_MASS,
        description=f"box {mm} mm, aspect {aspect:.2f}",
    )


@cache
def primitive_objects(category: str) -> tuple[ObjectSpec, ...]:
    """All shapes of a primitive category, ``/00`` first (ascending aspect ratio).

    Cached: specs are immutable, and returning the same objects lets callers compare by identity.
    """
    cat = PRIMITIVE_CATEGORIES[category]
    if cat.kind == "cylinder":
        return tuple(_cylinders(cat))
    if category == "long_cuboid":
        return tuple(_long_cuboids(cat))
    return tuple(_normal_cuboids(cat))


def demo_cube(size: float = 0.06) -> ObjectSpec:
    """The ``cube`` alias: a cube of edge ``size`` m (not part of any training set)."""
    return ObjectSpec(
        name="cube",
        category="demo",
        kind="box",
        size=(size / 2,) * 3,
        mass=DEFAULT_PRIMITIVE_MASS,
        description=f"demo cube, edge {size * 1000:.0f} mm",
    )
