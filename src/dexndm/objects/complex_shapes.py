"""The "complex" category: procedural, non-convex everyday and animal-like solids.

The paper trains on 120 everyday and animal meshes (max extent 0.056-0.115 m, aspect ratio
1.05-2.0) and tests on unseen ones. No mesh data set is shipped with dexndm, so we build the
category ourselves: 19 *families* of shapes (duck, bunny, cat, elephant, penguin, turtle, mug with
a cavity and a handle you can put a finger through, bottle, teapot, chess pawn, mushroom, armchair,
dumbbell, donut, gourd, L/T/S blocks, jack), each a smooth union of ellipsoids, capsules, rounded
boxes, cylinders and tori written as a signed distance field, in two variants (variant 0 nominal,
variant 1 with every dimension perturbed by a seeded +-12%). That gives 38 shapes, ``complex/00``
.. ``complex/37``, numbered family by family in the order of ``FAMILIES``.

Sizes and proportions:
- Max extent: the 38 targets are evenly spaced over 0.056-0.115 m (the paper's range, read as the
  *largest* extent: read as the smallest with aspect up to 2 it would reach 0.23 m, more than
  twice the LEAP palm) and dealt to the shapes by a seeded shuffle, so each family gets two
  different sizes.
- Aspect ratio (largest / smallest bounding-box extent): each family is designed near 1.1-2.0;
  after meshing, a shape outside 1.08-1.95 (a margin inside the paper's 1.05-2.0) is scaled
  non-uniformly: axes too long are compressed (or, if too round, the longest axis is stretched),
  so every shape lies in the paper's range (9 of 38 sit at the 1.95 cap).

Train/test split by family, not by shape, because the paper's test set is *unseen* shapes: the
families in ``TEST_FAMILIES`` (two animals, two everyday objects, one block: 10 of 38 shapes, 26%)
are never trained on.

This module generates the meshes. The shipped assets (mesh and convex parts per shape) are made
from it by ``python -m dexndm.objects.build_assets``; loading a shape never re-runs the generator
or CoACD.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .meshing import (
    SDF,
    capsule,
    cylinder,
    ellipsoid,
    half_space,
    intersect,
    mesh_sdf,
    round_box,
    sdf_bounds,
    smooth_subtract,
    smooth_union,
    sphere,
    torus,
)

MAX_EXTENT_RANGE: tuple[float, float] = (0.056, 0.115)
"""m, largest bounding-box extent of a complex shape (paper)."""
ASPECT_RANGE: tuple[float, float] = (1.05, 2.0)
"""largest / smallest bounding-box extent (paper)."""
VARIANTS_PER_FAMILY = 2
SEED = 20251009  # the paper's arXiv month; any fixed number would do
MESH_RESOLUTION = 30
"""Grid cells along the longest side when meshing: about 3,000-8,000 triangles per shape (assets
stay small), and features (ears, handles) must be at least two cells thick, 7.7 mm at the
largest size."""

# Design aspect-ratio margin: shapes are pulled inside [1.05, 2.0] with a little slack so the
# bounding box of the final mesh stays inside after centring and rounding.
_ASPECT_LO, _ASPECT_HI = 1.08, 1.95


Family = Callable[[Callable[[float], float]], SDF]
"""A family builds an SDF (z up, x forward, about 2 units long) from ``j(x)``: ``x`` jittered by
the variant's seeded +-12%."""


def _duck(j: Callable[[float], float]) -> SDF:
    body = ellipsoid([0, 0, 0], [j(0.9), j(0.62), 0.5])
    head = sphere([j(0.55), 0, j(0.62)], j(0.36))
    beak = ellipsoid([0.55 + j(0.38), 0, 0.58], [j(0.24), 0.16, 0.08])
    tail = ellipsoid([-0.82, 0, 0.25], [0.25, 0.2, 0.13], axis=[-0.6, 0, 0.8])
    return intersect(smooth_union(body, head, beak, tail, k=0.12), half_space([0, 0, -1], 0.38))


def _bunny(j: Callable[[float], float]) -> SDF:
    body = ellipsoid([0, 0, 0], [j(0.72), 0.55, j(0.6)])
    head = sphere([0.55, 0, 0.55], j(0.4))
    top = j(1.4)
    ears = [capsule([0.5, s * 0.16, 0.8], [0.4, s * j(0.26), top], 0.12, 0.09) for s in (-1, 1)]
    tail = sphere([-0.72, 0, -0.05], 0.2)
    return intersect(smooth_union(body, head, *ears, tail, k=0.1), half_space([0, 0, -1], 0.5))


def _cat(j: Callable[[float], float]) -> SDF:
    body = ellipsoid([0, 0, 0], [j(0.55), 0.5, j(0.7)])
    head = sphere([0.12, 0, 0.85], j(0.4))
    ears = [capsule([0.15, s * 0.2, 1.1], [0.12, s * j(0.28), 1.38], 0.12, 0.05) for s in (-1, 1)]
    tail = capsule([-0.45, 0.0, -0.5], [-0.3, j(0.55), -0.55], 0.11)
    paws = [ellipsoid([0.45, s * 0.2, -0.55], [0.2, 0.12, 0.1]) for s in (-1, 1)]
    return intersect(smooth_union(body, head, *ears, tail, *paws, k=0.1), half_space([0, 0, -1], 0.6))


def _elephant(j: Callable[[float], float]) -> SDF:
    body = ellipsoid([0, 0, 0.1], [j(0.75), 0.5, j(0.48)])
    legs = [
        cylinder([sx * 0.45, sy * 0.28, -0.45], j(0.17), 0.35, rounding=0.05)
        for sx in (-1, 1)
        for sy in (-1, 1)
    ]
    head = sphere([0.75, 0, 0.35], j(0.36))
    trunk = capsule([1.0, 0, 0.3], [j(1.12), 0, -0.4], 0.14, 0.1)
    ears = [ellipsoid([0.6, s * 0.42, 0.38], [0.12, j(0.22), 0.3]) for s in (-1, 1)]
    return intersect(smooth_union(body, *legs, head, trunk, *ears, k=0.08), half_space([0, 0, -1], 0.78))


def _penguin(j: Callable[[float], float]) -> SDF:
    body = ellipsoid([0, 0, 0], [j(0.5), j(0.48), 0.75])
    head = sphere([0.05, 0, 0.75], j(0.34))
    beak = capsule([0.3, 0, 0.78], [j(0.55), 0, 0.72], 0.09, 0.04)
    flippers = [ellipsoid([0, s * 0.5, 0.05], [0.2, 0.09, j(0.42)], axis=[0, s * 0.3, 1]) for s in (-1, 1)]
    feet = [ellipsoid([0.25, s * 0.2, -0.7], [0.22, 0.13, 0.07]) for s in (-1, 1)]
    return intersect(smooth_union(body, head, beak, *flippers, *feet, k=0.08), half_space([0, 0, -1], 0.74))


def _turtle(j: Callable[[float], float]) -> SDF:
    shell = intersect(ellipsoid([0, 0, -0.1], [j(0.85), j(0.68), 0.68]), half_space([0, 0, -1], 0.15))
    legs = [
        ellipsoid([sx * 0.5, sy * 0.52, -0.25], [0.22, 0.17, 0.14], axis=[sx * 0.3, sy * 0.5, 1])
        for sx in (-1, 1)
        for sy in (-1, 1)
    ]
    head = ellipsoid([j(0.95), 0, 0.0], [0.28, 0.2, 0.19])
    tail = capsule([-0.8, 0, -0.15], [-1.0, 0, -0.2], 0.1, 0.08)
    # A wide blend under the shell: a narrow slot between its rim and a leg would be thinner than
    # the mesh grid.
    body = smooth_union(shell, *legs, k=0.16)
    return intersect(smooth_union(body, head, tail, k=0.08), half_space([0, 0, -1], 0.36))


def _mug(j: Callable[[float], float]) -> SDF:
    r, h = j(0.55), j(0.62)
    body = cylinder([0, 0, 0], r, h, rounding=0.06)
    handle = torus([r + 0.12, 0, 0], j(0.3), 0.085, axis=[0, 1, 0])
    solid = smooth_union(body, handle, k=0.05)
    # A cavity from the top (walls 0.1 = 5-8 mm at final size): the mouth is a deep concavity.
    cavity = cylinder([0, 0, h * 0.35 + 0.5], r - 0.1, h * 0.65 + 0.5, rounding=0.05)
    return smooth_subtract(solid, cavity, k=0.03)


def _bottle(j: Callable[[float], float]) -> SDF:
    body = cylinder([0, 0, -0.35], j(0.45), j(0.55), rounding=0.14)
    shoulder = sphere([0, 0, 0.15], 0.4)
    neck = cylinder([0, 0, 0.6], j(0.19), 0.3, rounding=0.04)
    cap = cylinder([0, 0, 0.88], 0.23, j(0.1), rounding=0.04)
    return smooth_union(body, shoulder, neck, cap, k=0.12)


def _teapot(j: Callable[[float], float]) -> SDF:
    body = ellipsoid([0, 0, 0], [j(0.7), 0.7, j(0.55)])
    spout = capsule([0.5, 0, -0.1], [j(0.95), 0, 0.42], 0.15, 0.08)
    handle = torus([-0.72, 0, 0.05], j(0.27), 0.08, axis=[0, 1, 0])
    knob = sphere([0, 0, 0.6], j(0.14))
    base = cylinder([0, 0, -0.5], 0.42, 0.06)
    return smooth_union(body, spout, handle, knob, base, k=0.06)


def _pawn(j: Callable[[float], float]) -> SDF:
    base = cylinder([0, 0, -0.9], j(0.55), 0.12, rounding=0.05)
    body = capsule([0, 0, -0.8], [0, 0, 0.3], j(0.42), 0.18)
    collar = cylinder([0, 0, 0.32], j(0.32), 0.05, rounding=0.03)
    head = sphere([0, 0, 0.62], j(0.3))
    # Cut flat at the base's underside: the body capsule's round end would poke out below it.
    return intersect(smooth_union(base, body, collar, head, k=0.08), half_space([0, 0, -1], 1.02))


def _mushroom(j: Callable[[float], float]) -> SDF:
    cap = intersect(ellipsoid([0, 0, 0.25], [j(0.85), j(0.85), 0.55]), half_space([0, 0, -1], -0.1))
    stem = capsule([0, 0, -0.75], [0, 0, 0.2], j(0.3), 0.24)
    return intersect(smooth_union(cap, stem, k=0.08), half_space([0, 0, -1], 0.8))


def _armchair(j: Callable[[float], float]) -> SDF:
    w, d = j(0.8), j(0.7)
    seat = round_box([0, 0, -0.25], [d, w, 0.25], 0.08)
    back = round_box([-d + 0.15, 0, 0.35], [0.15, w, j(0.5)], 0.08)
    arms = [round_box([0, s * (w - 0.14), 0.15], [d, 0.14, 0.2], 0.07) for s in (-1, 1)]
    legs = [
        round_box([sx * (d - 0.1), sy * (w - 0.1), -0.6], [0.1, 0.1, 0.15], 0.04)
        for sx in (-1, 1)
        for sy in (-1, 1)
    ]
    return smooth_union(seat, back, *arms, *legs, k=0.04)


def _dumbbell(j: Callable[[float], float]) -> SDF:
    half = j(0.45)
    bar = capsule([-half, 0, 0], [half, 0, 0], j(0.2))
    ends = [sphere([s * half, 0, 0], j(0.5)) for s in (-1, 1)]
    return smooth_union(bar, *ends, k=0.1)


def _donut(j: Callable[[float], float]) -> SDF:
    return torus([0, 0, 0], j(0.58), j(0.38))


def _gourd(j: Callable[[float], float]) -> SDF:
    bottom = sphere([0, 0, -0.35], j(0.6))
    top = sphere([0, 0, j(0.5)], j(0.34))
    stem = capsule([0, 0, 0.75], [0.1, 0, 1.05], 0.07)
    return smooth_union(bottom, top, stem, k=0.15)


def _l_block(j: Callable[[float], float]) -> SDF:
    t = j(0.5)
    a = round_box([0, -0.65, 0], [0.9, 0.25, t], 0.06)
    b = round_box([0.65, 0, 0], [0.25, 0.9, t], 0.06)
    return smooth_union(a, b, k=0.05)


def _t_block(j: Callable[[float], float]) -> SDF:
    t = j(0.5)
    top = round_box([0, 0.65, 0], [0.9, 0.25, t], 0.06)
    stem = round_box([0, -0.1, 0], [j(0.27), 0.8, t], 0.06)
    return smooth_union(top, stem, k=0.05)


def _s_block(j: Callable[[float], float]) -> SDF:
    t, dx, w = j(0.45), j(0.3), j(0.3)
    upper = round_box([dx, w, 0], [0.6, w, t], 0.06)
    lower = round_box([-dx, -w, 0], [0.6, w, t], 0.06)
    return smooth_union(upper, lower, k=0.05)


def _jack(j: Callable[[float], float]) -> SDF:
    r = j(0.22)
    arms = [capsule(-np.eye(3)[i] * j(0.8), np.eye(3)[i] * j(0.8), r) for i in range(3)]
    knobs = [sphere(s * np.eye(3)[i] * 0.8, r * 1.35) for i in range(3) for s in (-1, 1)]
    return smooth_union(*arms, *knobs, k=0.08)


FAMILIES: dict[str, Family] = {
    "duck": _duck,
    "bunny": _bunny,
    "cat": _cat,
    "elephant": _elephant,
    "penguin": _penguin,
    "turtle": _turtle,
    "mug": _mug,
    "bottle": _bottle,
    "teapot": _teapot,
    "pawn": _pawn,
    "mushroom": _mushroom,
    "armchair": _armchair,
    "dumbbell": _dumbbell,
    "donut": _donut,
    "gourd": _gourd,
    "l_block": _l_block,
    "t_block": _t_block,
    "s_block": _s_block,
    "jack": _jack,
}
"""Shape families, in numbering order."""

TEST_FAMILIES: frozenset[str] = frozenset({"elephant", "penguin", "teapot", "mushroom", "t_block"})
"""Held out: two animals, an everyday object with a handle, one with an overhang, a block."""


@dataclass(frozen=True)
class ComplexShape:
    """One generated complex shape: a closed mesh in metres, centred at its centre of mass."""

    index: int
    family: str
    variant: int
    vertices: np.ndarray  # (V, 3) m
    faces: np.ndarray  # (F, 3)

    @property
    def name(self) -> str:
        return f"complex/{self.index:02d}"


def shape_plan() -> list[tuple[int, str, int, float]]:
    """``(index, family, variant, target max extent m)`` for every complex shape, deterministic."""
    n = len(FAMILIES) * VARIANTS_PER_FAMILY
    sizes = np.linspace(*MAX_EXTENT_RANGE, n)
    sizes = sizes[np.random.default_rng(SEED).permutation(n)]
    plan = []
    for fi, family in enumerate(FAMILIES):
        for v in range(VARIANTS_PER_FAMILY):
            i = fi * VARIANTS_PER_FAMILY + v
            plan.append((i, family, v, float(sizes[i])))
    return plan


def _fit_aspect(verts: np.ndarray) -> np.ndarray:
    """Scale axes so that largest / smallest extent lies in [_ASPECT_LO, _ASPECT_HI]."""
    ext = verts.max(0) - verts.min(0)
    scale = np.minimum(1.0, _ASPECT_HI * ext.min() / ext)  # compress axes that are too long
    ext2 = ext * scale
    if ext2.max() / ext2.min() < _ASPECT_LO:  # too round: stretch the longest axis
        scale[np.argmax(ext2)] *= _ASPECT_LO * ext2.min() / ext2.max()
    return verts * scale


def generate_shape(index: int) -> ComplexShape:
    """Mesh complex shape ``index`` (0-based): deterministic, about 0.1-0.3 s."""
    plan = shape_plan()
    if not 0 <= index < len(plan):
        raise IndexError(f"complex shape index {index} out of range 0..{len(plan) - 1}")
    _, family, variant, target = plan[index]
    rng = np.random.default_rng([SEED, index])
    jitter = 1.0 + 0.12 * (2.0 * rng.random(64) - 1.0)  # +-12%, one factor per call of j
    calls = iter(range(64))

    def j(x: float) -> float:
        # Variant 0 is the family's nominal design; later variants perturb each dimension.
        return float(x) if variant == 0 else float(x) * float(jitter[next(calls)])

    sdf = FAMILIES[family](j)
    verts, faces = mesh_sdf(sdf, sdf_bounds(sdf), resolution=MESH_RESOLUTION)
    verts = _fit_aspect(verts)
    ext = verts.max(0) - verts.min(0)
    verts = verts * (target / ext.max())
    verts = verts - _centre_of_mass(verts, faces)
    return ComplexShape(index, family, variant, verts, faces)


def _centre_of_mass(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Centre of mass of the uniform solid bounded by a closed mesh (signed tetrahedra)."""
    tri = verts[faces]
    vol = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6.0
    return (vol[:, None] * tri.sum(1) / 4.0).sum(0) / vol.sum()


def num_shapes() -> int:
    return len(FAMILIES) * VARIANTS_PER_FAMILY


__all__ = [
    "ASPECT_RANGE",
    "FAMILIES",
    "MAX_EXTENT_RANGE",
    "TEST_FAMILIES",
    "ComplexShape",
    "generate_shape",
    "num_shapes",
    "shape_plan",
]
