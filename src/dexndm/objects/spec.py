"""The object description handed to the simulator, and the physical defaults behind it.

Units: metres, kilograms, kg m^2. Every object lives in its own *object frame* whose origin is the
object's centre of mass (uniform density), so a free joint on the body spins the object about its
centre of mass and the simulator needs no ``ipos`` offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS: tuple[str, ...] = ("box", "cylinder", "mesh")

DEFAULT_PRIMITIVE_MASS: float = 0.03
"""kg. The paper randomizes object mass over 0.01-0.05 kg; 0.03 is the middle of that range."""

DEFAULT_DENSITY: float = 150.0
"""kg/m^3, for mesh objects without an explicit mass. Light on purpose: the paper's objects weigh
0.01-0.05 kg (3D prints and foam for a hand about twice human size); at 150 kg/m^3 a 0.064 m cube
weighs 0.039 kg and the median complex shape (~100 cm^3) 0.015 kg. (The built-in complex shapes
are then clipped to 0.01-0.05 kg, see ``assets.MASS_RANGE``.)"""


class ObjectError(ValueError):
    """An object name, mesh file or parameter that dexndm cannot turn into a simulated object.

    The message always says what is wrong and how to fix it.
    """


def _frozen(a: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """A read-only contiguous copy, so a frozen ObjectSpec cannot be changed through its arrays."""
    out = np.ascontiguousarray(a, dtype=dtype).copy()
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class ObjectSpec:
    """One rigid object, in the object frame (origin = centre of mass), metres and kilograms.

    Attributes:
        name: stable identifier, e.g. ``"normal_cuboid/03"``, ``"cube"`` or a mesh file stem.
        category: one of ``CATEGORIES``, ``"demo"`` for the ``cube`` alias or ``"user"`` for a mesh.
        kind: ``"box"``, ``"cylinder"`` or ``"mesh"``.
        size: box: half extents (3,); cylinder: (radius, half_length), axis along object z;
            mesh: half of the bounding-box extents (3,). Metres.
        mass: kg.
        convex_parts: mesh only: vertex arrays (V, 3) of the convex collision hulls, metres.
        visual_mesh: mesh only: ``(vertices (V, 3) float, faces (F, 3) int)`` of the closed
            surface, used for rendering and for the inertia tensor.
        description: human-readable note (e.g. ``"duck, variant 2"``); not used by the simulator.

    Equality is identity (``eq=False``): specs carry numpy arrays, which have no single truth
    value under ``==``.
    """

    name: str
    category: str
    kind: str
    size: tuple[float, ...]
    mass: float
    # Arrays stay out of the repr: a mesh spec would print thousands of numbers.
    convex_parts: tuple[np.ndarray, ...] = field(default=(), repr=False)
    visual_mesh: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ObjectError(f"object kind {self.kind!r} is not one of {KINDS}")
        want = 2 if self.kind == "cylinder" else 3
        if len(self.size) != want or min(self.size) <= 0:
            raise ObjectError(f"{self.kind} size must be {want} positive numbers (m), got {self.size}")
        if not self.mass > 0:
            raise ObjectError(f"object mass must be positive (kg), got {self.mass}")
        if self.kind == "mesh" and not self.convex_parts:
            raise ObjectError(f"mesh object {self.name!r} has no convex collision parts")
        # Normalise the containers so that callers may pass lists; freeze the arrays.
        object.__setattr__(self, "size", tuple(float(s) for s in self.size))
        object.__setattr__(self, "mass", float(self.mass))
        object.__setattr__(self, "convex_parts", tuple(_frozen(p) for p in self.convex_parts))
        if self.visual_mesh is not None:
            v, f = self.visual_mesh
            object.__setattr__(self, "visual_mesh", (_frozen(v), _frozen(f, np.int64)))

    def extents(self) -> np.ndarray:
        """Full bounding-box extents (3,), metres, along the object-frame axes."""
        if self.kind == "cylinder":
            r, h = self.size
            return np.array([2 * r, 2 * r, 2 * h])
        return 2.0 * np.asarray(self.size)

    def bounds(self) -> np.ndarray:
        """Bounding box ``[[xmin, ymin, zmin], [xmax, ymax, zmax]]`` in the object frame, metres.

        Primitives are symmetric about their centre of mass; a mesh's box (that of its collision
        parts) is not, which matters when placing it: resting on a surface in this orientation,
        the centre of mass sits ``-bounds()[0, 2]`` above it.
        """
        if self.kind != "mesh":
            half = self.extents() / 2
            return np.stack([-half, half])
        pts = np.concatenate(self.convex_parts)
        return np.stack([pts.min(0), pts.max(0)])

    def aspect_ratio(self) -> float:
        """Largest over smallest bounding-box extent."""
        e = self.extents()
        return float(e.max() / e.min())

    def unit_inertia(self) -> np.ndarray:
        """Inertia tensor (3, 3) per kilogram of mass about the centre of mass, m^2, object axes.

        Box and cylinder: the closed forms for a uniform solid. Mesh: the uniform solid bounded by
        ``visual_mesh`` (exact for a closed surface), or by the convex hull of all parts if there
        is no visual mesh.
        """
        if self.kind == "box":
            a, b, c = self.extents()
            return np.diag([b * b + c * c, a * a + c * c, a * a + b * b]) / 12.0
        if self.kind == "cylinder":
            r, h = self.size
            length = 2 * h
            i_side = (3 * r * r + length * length) / 12.0
            return np.diag([i_side, i_side, r * r / 2.0])
        if self.visual_mesh is not None:
            import trimesh  # local: only mesh objects need it

            props = trimesh.Trimesh(*self.visual_mesh, process=False).mass_properties
            return np.asarray(props.inertia) / float(props.mass)  # unit density: mass == volume
        from .meshing import convex_hull_properties

        vol, _, inertia = convex_hull_properties(np.concatenate(self.convex_parts))
        return inertia / vol

    def volume(self) -> float:
        """Solid volume, m^3 (the visual mesh's for meshes)."""
        if self.kind == "box":
            return float(np.prod(self.extents()))
        if self.kind == "cylinder":
            r, h = self.size
            return float(np.pi * r * r * 2 * h)
        from .meshing import convex_hull_properties, mesh_volume

        if self.visual_mesh is not None:
            return mesh_volume(*self.visual_mesh)
        return convex_hull_properties(np.concatenate(self.convex_parts))[0]
