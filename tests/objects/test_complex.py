"""The shipped complex shapes: sizes, closed non-convex meshes, convex parts that cover them."""

import numpy as np
import pytest

from dexndm.objects import category_objects
from dexndm.objects.assets import ASSET_DIR, MASS_RANGE, read_manifest
from dexndm.objects.complex_shapes import ASPECT_RANGE, MAX_EXTENT_RANGE, generate_shape, num_shapes
from dexndm.objects.meshing import convex_hull_properties, is_closed_manifold, mesh_volume


@pytest.fixture(scope="module")
def shapes():
    return category_objects("complex")


def test_count_and_assets_size(shapes):
    assert len(shapes) == num_shapes() >= 24
    total = sum(p.stat().st_size for p in ASSET_DIR.rglob("*") if p.is_file())
    assert total < 4e6, f"assets {total / 1e6:.2f} MB"
    assert [e["name"] for e in read_manifest()] == [s.name for s in shapes]


def test_sizes_in_paper_ranges(shapes):
    for s in shapes:
        e = s.extents()
        assert MAX_EXTENT_RANGE[0] - 5e-4 <= e.max() <= MAX_EXTENT_RANGE[1] + 5e-4, s.name
        assert ASPECT_RANGE[0] <= s.aspect_ratio() <= ASPECT_RANGE[1], s.name
        assert MASS_RANGE[0] <= s.mass <= MASS_RANGE[1], s.name
    extents = [s.extents().max() for s in shapes]
    assert min(extents) < 0.06 and max(extents) > 0.11  # the whole range is used


def test_meshes_are_closed_centred_solids(shapes):
    for s in shapes:
        v, f = s.visual_mesh
        assert is_closed_manifold(f, len(v)), s.name
        vol = mesh_volume(v, f)
        assert vol > 0, s.name
        # Origin = centre of mass.
        tri = v[f]
        w = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2]))
        com = (w[:, None] * tri.sum(1)).sum(0) / (4 * w.sum())
        assert np.abs(com).max() < 1e-5, s.name


def test_meshes_are_non_convex(shapes):
    for s in shapes:
        v, f = s.visual_mesh
        hull_volume = convex_hull_properties(v)[0]
        assert hull_volume > 1.05 * mesh_volume(v, f), s.name


def test_convex_parts_cover_the_shape(shapes):
    for s in shapes:
        v, _ = s.visual_mesh
        parts = np.concatenate(s.convex_parts)
        assert 1 <= len(s.convex_parts) <= 16
        np.testing.assert_allclose(parts.min(0), v.min(0), atol=1.5e-3, err_msg=s.name)
        np.testing.assert_allclose(parts.max(0), v.max(0), atol=1.5e-3, err_msg=s.name)
        # The parts' volume is close to the solid's (CoACD parts barely overlap; hull decimation
        # trims a little).
        part_volume = sum(convex_hull_properties(p)[0] for p in s.convex_parts)
        assert 0.85 < part_volume / mesh_volume(*s.visual_mesh) < 1.25, s.name


@pytest.mark.parametrize("index", [0, 12])  # a duck; a mug with cavity and handle hole
def test_generator_reproduces_shipped_assets(shapes, index):
    # Guards against editing complex_shapes.py without `python -m dexndm.objects.build_assets`.
    shape = generate_shape(index)
    v, f = shapes[index].visual_mesh
    np.testing.assert_array_equal(shape.faces, f)
    np.testing.assert_allclose(shape.vertices, v, atol=1e-6)
