"""dexndm.objects: the objects the hand rotates, and how they enter the simulator.

- Five training categories (``CATEGORIES``): four primitive ones procedurally generated at the
  paper's extents and aspect ratios (``primitives``) and a "complex" one of non-convex everyday
  and animal-like shapes (``complex_shapes``), shipped as meshes with precomputed convex parts.
- A fixed train/test split: ``object_set(category, split)``.
- User meshes: ``load_mesh_object(path, scale, mass)`` validates, centres and convex-decomposes
  an .obj/.stl (cached); a file in centimetres or millimetres is read as such when that, and
  only that, makes it hand size.
- ``resolve_object(name_or_path)`` for command lines; ``attach_object(spec, body, obj)`` builds
  the MuJoCo geoms and inertia.

Units: metres, kilograms. Object frame origin = centre of mass.
"""

from .mesh_import import load_mesh_object
from .mjcf import attach_object
from .registry import (
    CATEGORIES,
    SPLITS,
    category_objects,
    held_out_indices,
    object_names,
    object_set,
    rescaled,
    resolve_object,
)
from .spec import DEFAULT_DENSITY, DEFAULT_PRIMITIVE_MASS, ObjectError, ObjectSpec

__all__ = [
    "CATEGORIES",
    "DEFAULT_DENSITY",
    "DEFAULT_PRIMITIVE_MASS",
    "SPLITS",
    "ObjectError",
    "ObjectSpec",
    "attach_object",
    "category_objects",
    "load_mesh_object",
    "object_names",
    "object_set",
    "rescaled",
    "resolve_object",
    "held_out_indices",
]
