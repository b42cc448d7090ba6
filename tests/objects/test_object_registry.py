"""Categories, the fixed train/test split, and name resolution."""

import re

import numpy as np
import pytest

from dexndm.objects import (
    CATEGORIES,
    ObjectError,
    category_objects,
    held_out_indices,
    object_names,
    object_set,
    rescaled,
    resolve_object,
)


def test_categories_are_the_papers_five():
    assert CATEGORIES == ("normal_cylinder", "normal_cuboid", "long_cuboid", "small_cylinder", "complex")


@pytest.mark.parametrize("category", CATEGORIES)
def test_split_is_deterministic_disjoint_and_complete(category):
    train = [o.name for o in object_set(category, "train")]
    test = [o.name for o in object_set(category, "test")]
    assert train == [o.name for o in object_set(category, "train")]
    assert test == [o.name for o in object_set(category, "test")]
    assert not set(train) & set(test)
    assert sorted(train + test) == [o.name for o in category_objects(category)]
    assert len(test) >= 1
    assert 0.2 <= len(test) / (len(train) + len(test)) <= 0.35
    assert all(re.fullmatch(rf"{category}/\d\d", n) for n in train + test)


def test_split_is_pinned():
    # The split is part of the experiment: changing it invalidates every reported test number.
    assert held_out_indices("normal_cylinder") == (2, 5)
    assert held_out_indices("normal_cuboid") == (2, 5)
    assert held_out_indices("small_cylinder") == (2, 5)
    assert held_out_indices("long_cuboid") == (1,)
    families = {o.description.split(",")[0] for o in object_set("complex", "test")}
    assert families == {"elephant", "penguin", "teapot", "mushroom", "t_block"}


def test_primitive_test_shapes_are_bracketed_by_training_shapes():
    for category in CATEGORIES[:4]:
        train = [o.aspect_ratio() for o in object_set(category, "train")]
        for o in object_set(category, "test"):
            assert min(train) < o.aspect_ratio() < max(train)


def test_names_are_unique():
    names = object_names()
    assert len(names) == len(set(names)) == 9 + 9 + 4 + 9 + len(category_objects("complex"))


def test_resolve_names_categories_and_alias():
    obj = resolve_object("normal_cuboid/03")
    assert obj.name == "normal_cuboid/03" and obj.kind == "box"
    assert resolve_object("normal_cuboid/3").name == "normal_cuboid/03"
    for c in CATEGORIES:
        assert resolve_object(c).name == object_set(c, "train")[0].name
    cube = resolve_object("cube")
    assert cube.category == "demo" and cube.kind == "box"
    np.testing.assert_allclose(cube.extents(), [0.06, 0.06, 0.06])
    assert "cube" not in object_names()
    assert resolve_object("cube", mass=0.05).mass == 0.05


def test_resolve_unknown_names_explain_themselves():
    with pytest.raises(ObjectError) as e:
        resolve_object("banana")
    msg = str(e.value)
    assert all(c in msg for c in CATEGORIES) and ".stl" in msg and "cube" in msg
    with pytest.raises(ObjectError, match=r"normal_cuboid/00 \.\. normal_cuboid/08"):
        resolve_object("normal_cuboid/99")
    with pytest.raises(ObjectError, match="not found"):
        resolve_object("no/such/file.stl")
    with pytest.raises(ObjectError, match="split"):
        object_set("complex", "validation")
    with pytest.raises(ObjectError, match="categories"):
        object_set("spheres", "train")
    assert issubclass(ObjectError, ValueError)


def test_rescaled_keeps_kind_defaults():
    box = resolve_object("normal_cuboid/00")
    big = rescaled(box, 1.5)
    np.testing.assert_allclose(big.extents(), box.extents() * 1.5)
    assert big.mass == box.mass  # primitives keep their nominal mass
    mesh = object_set("complex", "train")[0]
    small = rescaled(mesh, 0.5)
    assert small.mass == pytest.approx(mesh.mass / 8)  # meshes keep their density
    np.testing.assert_allclose(small.extents(), mesh.extents() * 0.5, rtol=1e-9)
    with pytest.raises(ObjectError):
        rescaled(box, 0.0)
