"""The four primitive categories match the paper's table (module doc of primitives.py)."""

import numpy as np
import pytest

from dexndm.objects import object_set
from dexndm.objects.primitives import LONG_CUBOID_LENGTH, PRIMITIVE_CATEGORIES, demo_cube, primitive_objects

TOL = 1e-9

PAPER = {  # category: (count, smallest dimension range, aspect range)
    "normal_cylinder": (9, (0.04, 0.04), (1.6, 2.4)),
    "normal_cuboid": (9, (0.064, 0.064), (1.25, 1.5)),
    "small_cylinder": (9, (0.025, 0.025), (1.92, 2.56)),
}


@pytest.mark.parametrize("category", list(PAPER))
def test_extents_and_aspect_in_paper_ranges(category):
    count, (lo, hi), (alo, ahi) = PAPER[category]
    objs = object_set(category, "all")
    assert len(objs) == count
    aspects = []
    for o in objs:
        e = o.extents()
        assert lo - TOL <= e.min() <= hi + TOL, o.name
        assert alo - TOL <= o.aspect_ratio() <= ahi + TOL, o.name
        assert e.max() <= 0.16, f"{o.name} too large for the LEAP hand"
        aspects.append(o.aspect_ratio())
    # The whole range is used, in ascending order of the names.
    assert aspects[0] == pytest.approx(alo) and aspects[-1] == pytest.approx(ahi)
    assert np.all(np.diff(aspects) > 0)


def test_long_cuboids_read_min_extent_as_width():
    objs = object_set("long_cuboid", "all")
    assert len(objs) == 4
    for o in objs:
        length, width, thickness = np.sort(o.extents())[::-1]
        assert length == pytest.approx(LONG_CUBOID_LENGTH)
        assert 0.06 - TOL <= width <= 0.08 + TOL
        assert 2.5 - TOL <= o.aspect_ratio() <= 6.67 + TOL
    assert objs[0].aspect_ratio() == pytest.approx(2.5)
    assert objs[-1].aspect_ratio() == pytest.approx(6.67)


def test_cylinders_alternate_rods_and_discs():
    for category in ("normal_cylinder", "small_cylinder"):
        for i, o in enumerate(object_set(category, "all")):
            assert o.kind == "cylinder"
            radius, half_length = o.size
            assert (half_length > radius) == (i % 2 == 0), o.name  # even: rod (long axis = z)


def test_normal_cuboids_have_varied_cross_sections():
    objs = object_set("normal_cuboid", "all")
    for o in objs:
        x, y, z = o.extents()
        assert x >= y >= z  # lies flat: shortest along z
    non_square = [o for o in objs if min(np.diff(np.sort(o.extents()))) > 0.002]
    assert len(non_square) >= len(objs) // 2


def test_shapes_are_pinned():
    # Names are stable identifiers: a change here renames data and checkpoints. Update only on purpose.
    ext = {o.name: o.extents() for c in PRIMITIVE_CATEGORIES for o in primitive_objects(c)}
    np.testing.assert_allclose(ext["normal_cuboid/03"], [0.086, 0.07101, 0.064], atol=5e-5)
    np.testing.assert_allclose(ext["normal_cylinder/03"], [0.076, 0.076, 0.04], atol=1e-9)
    np.testing.assert_allclose(ext["long_cuboid/02"], [0.15, 0.07333, 0.02841], atol=5e-5)
    np.testing.assert_allclose(ext["small_cylinder/00"], [0.025, 0.025, 0.048], atol=1e-9)


def test_primitive_defaults():
    for c in PRIMITIVE_CATEGORIES:
        for o in primitive_objects(c):
            assert o.mass == 0.03 and o.category == c and o.convex_parts == ()
            np.testing.assert_allclose(o.bounds(), [-o.extents() / 2, o.extents() / 2])
    cube = demo_cube()
    np.testing.assert_allclose(cube.extents(), [0.06] * 3)
