"""Putting an ObjectSpec into a MuJoCo model (``mujoco.MjSpec``, MuJoCo 4).

``attach_object`` fills a body that the scene builder created (normally with a free joint):

- box / cylinder: one geom, group 0, that both collides and renders;
- mesh: one geom per convex part (each its own ``spec.add_mesh``, group 3, hidden in the default
  viewer) that collides, plus one visual mesh geom (group 2, ``contype = conaffinity = 0``,
  ``density = 0``) that only renders.

Mass and inertia are set *explicitly* on the body (``explicitinertial``): the exact inertia of the
uniform solid, about the object-frame origin (= centre of mass, so ``ipos = 0``). Summing MuJoCo's
per-geom inertias instead would double count where convex parts overlap and miss what
decimated hulls leave out. Each collision geom's ``mass`` is still set (split by part bounding-box
volume, summing to the object's mass), so a model compiled with ``inertiafromgeom="true"`` also
gets the right total mass.
"""

from __future__ import annotations

from collections.abc import Sequence

import mujoco
import numpy as np

from .spec import ObjectSpec

COLLISION_GROUP_MESH = 3
VISUAL_GROUP = 2
TORSIONAL_FRICTION = 0.005
ROLLING_FRICTION = 0.0001
"""MuJoCo's defaults for the 2nd and 3rd friction coefficients; ``friction`` sets the first."""


def _unique_prefix(spec: mujoco.MjSpec, base: str) -> str:
    """``base`` or ``base_2``, ``base_3``, ...: the first not yet used by a mesh or geom name, so
    several objects (or the same object twice) can live in one spec."""
    base = base.replace("/", "_") or "object"
    prefix, n = base, 1
    while any(
        getattr(spec, kind)(f"{prefix}_{suffix}") is not None
        for kind in ("mesh", "geom")
        for suffix in ("part0", "visual", "collision")
    ):
        n += 1
        prefix = f"{base}_{n}"
    return prefix


def full_inertia(obj: ObjectSpec) -> np.ndarray:
    """MuJoCo ``fullinertia`` (Ixx, Iyy, Izz, Ixy, Ixz, Iyz), kg m^2, about the centre of mass."""
    i = obj.unit_inertia() * obj.mass
    return np.array([i[0, 0], i[1, 1], i[2, 2], i[0, 1], i[0, 2], i[1, 2]])


def attach_object(
    spec: mujoco.MjSpec,
    body: mujoco.MjsBody,
    obj: ObjectSpec,
    *,
    friction: float = 1.0,
    rgba: Sequence[float] = (0.9, 0.5, 0.2, 1.0),
    name_prefix: str | None = None,
) -> list[mujoco.MjsGeom]:
    """Add ``obj``'s geoms (and meshes) to ``body`` and set the body's mass and inertia.

    Args:
        spec: the model being built; meshes are registered in it.
        body: the object's body (its frame becomes the object frame: origin at centre of mass).
        obj: the object.
        friction: sliding friction coefficient of the collision geoms.
        rgba: colour of the visible geom.
        name_prefix: prefix of the geom and mesh names; default the body's name (or the object's
            name), made unique within ``spec``.

    Returns:
        The collision geoms (one for primitives, one per convex part for meshes).
    """
    prefix = _unique_prefix(spec, name_prefix or body.name or obj.name)
    fric = [friction, TORSIONAL_FRICTION, ROLLING_FRICTION]
    geoms: list[mujoco.MjsGeom] = []
    if obj.kind in ("box", "cylinder"):
        g = body.add_geom()
        g.name = f"{prefix}_collision"
        if obj.kind == "box":
            g.type = mujoco.mjtGeom.mjGEOM_BOX
            g.size = list(obj.size)
        else:
            g.type = mujoco.mjtGeom.mjGEOM_CYLINDER
            g.size = [obj.size[0], obj.size[1], 0.0]
        g.friction = fric
        g.rgba = list(rgba)
        g.mass = obj.mass
        geoms.append(g)
    else:
        weights = np.array([np.prod(p.max(0) - p.min(0)) for p in obj.convex_parts])
        weights = weights / weights.sum()
        for i, (part, w) in enumerate(zip(obj.convex_parts, weights, strict=True)):
            m = spec.add_mesh()
            m.name = f"{prefix}_part{i}"
            m.uservert = part.ravel().tolist()
            # Each part is convex, so MuJoCo's hull inertia is exact and never fails on slivers.
            m.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_CONVEX
            g = body.add_geom()
            g.name = f"{prefix}_part{i}"
            g.type = mujoco.mjtGeom.mjGEOM_MESH
            g.meshname = m.name
            g.friction = fric
            g.group = COLLISION_GROUP_MESH
            g.rgba = list(rgba)
            g.mass = float(obj.mass * w)
            geoms.append(g)
        if obj.visual_mesh is not None:
            verts, faces = obj.visual_mesh
            m = spec.add_mesh()
            m.name = f"{prefix}_visual"
            m.uservert = verts.ravel().tolist()
            m.userface = faces.ravel().astype(int).tolist()
            g = body.add_geom()
            g.name = f"{prefix}_visual"
            g.type = mujoco.mjtGeom.mjGEOM_MESH
            g.meshname = m.name
            g.group = VISUAL_GROUP
            g.contype = 0
            g.conaffinity = 0
            g.density = 0.0
            g.mass = 0.0
            g.rgba = list(rgba)
    body.explicitinertial = True
    body.mass = obj.mass
    body.ipos = [0.0, 0.0, 0.0]
    body.fullinertia = full_inertia(obj).tolist()
    return geoms
