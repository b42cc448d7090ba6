"""Object sets by category and split, and name resolution for the command line.

Names: ``<category>/<NN>`` (e.g. ``normal_cuboid/03``), stable across releases: primitives are
numbered by ascending aspect ratio, complex shapes family by family (see ``complex_shapes``).

Split (fixed, ~75/25, every category has a test shape):
- primitives: ``n_test = max(1, round(n / 4))`` shapes at evenly spaced *interior* indices
  (``floor((k + 1) (n - 1) / (n_test + 1))``), so the training shapes bracket the test shapes'
  sizes and aspect ratios (the test measures interpolation across shapes, not extrapolation), and
  the cylinder test sets hold both a rod and a disc: normal/small cylinders and normal cuboids
  test ``/02`` and ``/05`` (7 train, 2 test); long cuboids test ``/01`` (3 train, 1 test).
- complex: whole families held out (``complex_shapes.TEST_FAMILIES``): 28 train, 10 test.
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np

from .assets import load_complex_object
from .complex_shapes import FAMILIES, TEST_FAMILIES, VARIANTS_PER_FAMILY, num_shapes
from .mesh_import import MESH_SUFFIXES, load_mesh_object
from .primitives import PRIMITIVE_CATEGORIES, demo_cube, primitive_objects
from .spec import ObjectError, ObjectSpec

CATEGORIES: tuple[str, ...] = ("normal_cylinder", "normal_cuboid", "long_cuboid", "small_cylinder", "complex")
"""The paper's five training categories, in the paper's order."""
SPLITS: tuple[str, ...] = ("train", "test", "all")
ALIASES: tuple[str, ...] = ("cube",)
"""Built-in names outside every set (demos)."""


def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ObjectError(f"unknown object category {category!r}; categories: {', '.join(CATEGORIES)}")


def category_objects(category: str) -> list[ObjectSpec]:
    """Every shape of ``category`` in name order, train and test together."""
    _check_category(category)
    if category == "complex":
        return [load_complex_object(i) for i in range(num_shapes())]
    return list(primitive_objects(category))


def held_out_indices(category: str) -> tuple[int, ...]:
    """Indices (the ``NN`` of names) of the held-out shapes of ``category``."""
    _check_category(category)
    if category == "complex":
        fams = list(FAMILIES)
        return tuple(
            i for i in range(num_shapes()) if fams[i // VARIANTS_PER_FAMILY] in TEST_FAMILIES
        )  # fmt: skip
    n = PRIMITIVE_CATEGORIES[category].count
    n_test = max(1, round(n / 4))
    return tuple((k + 1) * (n - 1) // (n_test + 1) for k in range(n_test))


def object_set(category: str, split: str) -> list[ObjectSpec]:
    """The shapes of ``category`` in ``split`` ("train", "test" or "all"), in name order."""
    if split not in SPLITS:
        raise ObjectError(f"unknown split {split!r}; splits: {', '.join(SPLITS)}")
    objs = category_objects(category)
    if split == "all":
        return objs
    test = set(held_out_indices(category))
    return [o for i, o in enumerate(objs) if (i in test) == (split == "test")]


def object_names(split: str = "all") -> list[str]:
    """Names of every shape of every category in ``split``."""
    return [o.name for c in CATEGORIES for o in object_set(c, split)]


def rescaled(obj: ObjectSpec, scale: float, mass: float | None = None) -> ObjectSpec:
    """``obj`` uniformly scaled about its centre of mass; mass ``mass`` if given, else the
    default of its kind (primitives keep their mass, meshes keep their density)."""
    if not (np.isfinite(scale) and scale > 0):
        raise ObjectError(f"object scale must be a positive number, got {scale}")
    if scale == 1.0:
        return obj if mass is None else replace(obj, mass=mass)
    new_mass = mass
    if new_mass is None:
        new_mass = obj.mass * scale**3 if obj.kind == "mesh" else obj.mass
    visual = None
    if obj.visual_mesh is not None:
        visual = (obj.visual_mesh[0] * scale, obj.visual_mesh[1])
    return replace(
        obj,
        size=tuple(s * scale for s in obj.size),
        mass=new_mass,
        convex_parts=tuple(p * scale for p in obj.convex_parts),
        visual_mesh=visual,
        description=f"{obj.description} (x{scale:g})",
    )


def resolve_object(name_or_path: str, scale: float | None = None, mass: float | None = None) -> ObjectSpec:
    """An object from a command-line style name.

    Accepts a shape name (``normal_cuboid/03``), a category alone (its first training shape),
    the alias ``cube`` (a 0.06 m demo cube, 0.03 kg) or a path to an .obj/.stl mesh.

    Args:
        name_or_path: as above.
        scale: uniform scale; None: 1, and for a mesh file the unit (metres, centimetres or
            millimetres) that makes it hand size (``load_mesh_object``).
        mass: kg; default: primitives 0.03, built-in complex shapes 150 kg/m^3 times volume
            clipped to 0.01-0.05, mesh files 150 kg/m^3 times volume.

    Raises:
        ObjectError: unknown name (the message lists the categories and how to pass a mesh), or
            an invalid mesh.
    """
    name = name_or_path.strip()
    if name.lower().endswith(MESH_SUFFIXES):
        return load_mesh_object(name, scale=scale, mass=mass)
    scale = 1.0 if scale is None else scale
    if name == "cube":
        return rescaled(demo_cube(), scale, mass)
    if name in CATEGORIES:
        return rescaled(object_set(name, "train")[0], scale, mass)
    category, _, index = name.partition("/")
    if category in CATEGORIES:
        objs = category_objects(category)
        by_name = {o.name: o for o in objs}
        key = f"{category}/{int(index):02d}" if index.isdigit() else name
        if key in by_name:
            return rescaled(by_name[key], scale, mass)
        raise ObjectError(f"no object {name!r}: {category} has shapes {objs[0].name} .. {objs[-1].name}")
    if os.sep in name or "/" in name:
        raise ObjectError(
            f"no mesh file {name!r} (and no object of that name). Mesh paths must end in "
            f"{' or '.join(MESH_SUFFIXES)}; object categories are {', '.join(CATEGORIES)}."
        )
    raise ObjectError(
        f"unknown object {name!r}. Use a category ({', '.join(CATEGORIES)}), a shape such as "
        f"normal_cuboid/03 or complex/12, the demo alias 'cube', or a path to an .obj/.stl mesh "
        f"of a closed solid (e.g. ./my_object.stl, in metres, centimetres or millimetres)."
    )


__all__ = [
    "ALIASES",
    "CATEGORIES",
    "SPLITS",
    "category_objects",
    "object_names",
    "object_set",
    "rescaled",
    "resolve_object",
    "held_out_indices",
]
