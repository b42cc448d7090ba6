"""The numpy mesher: closed manifold output, accurate surfaces, and the asset file round trip."""

import numpy as np
import pytest

from dexndm.objects.assets import load_complex_object, write_complex_asset
from dexndm.objects.meshing import (
    capsule,
    is_closed_manifold,
    marching_tetrahedra,
    mesh_sdf,
    mesh_volume,
    smooth_union,
    sphere,
    surface_nets,
    torus,
)


def test_sphere_is_accurate():
    v, f = mesh_sdf(sphere([0, 0, 0], 0.5), np.array([[-0.5] * 3, [0.5] * 3]), resolution=24)
    assert is_closed_manifold(f, len(v))
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 0.5, atol=1e-9)  # projected onto it
    assert mesh_volume(v, f) == pytest.approx(4 / 3 * np.pi * 0.125, rel=0.01)


def test_handle_hole_keeps_its_topology():
    mug = smooth_union(
        capsule([0, 0, -0.3], [0, 0, 0.3], 0.35), torus([0.4, 0, 0], 0.25, 0.08, axis=[0, 1, 0]), k=0.04
    )
    v, f = mesh_sdf(mug, np.array([[-0.4, -0.4, -0.7], [0.8, 0.4, 0.7]]), resolution=32)
    assert is_closed_manifold(f, len(v))
    assert len(v) - 3 * len(f) // 2 + len(f) == 0  # Euler characteristic 0: genus 1


@pytest.mark.parametrize("second", [(3, 3, 2), (3, 3, 3)])  # face-diagonal, body-diagonal
def test_ambiguous_cells_are_detected_and_marching_tetrahedra_is_manifold(second):
    values = np.ones((6, 6, 6))
    values[2, 2, 2] = values[second] = -1.0
    v, f = surface_nets(values, np.zeros(3), 1.0)
    assert not is_closed_manifold(f, len(v))
    v, f = marching_tetrahedra(values, np.zeros(3), 1.0)
    assert is_closed_manifold(f, len(v)) and mesh_volume(v, f) > 0


def test_asset_round_trip(tmp_path):
    v, f = mesh_sdf(sphere([0, 0, 0], 0.03), np.array([[-0.03] * 3, [0.03] * 3]), resolution=12)
    parts = [v[v[:, 0] >= 0], v[v[:, 0] <= 0]]
    write_complex_asset(tmp_path / "05.npz", v, f, parts, "ball", 1)
    obj = load_complex_object(5, tmp_path)
    assert obj.name == "complex/05" and obj.description == "ball, variant 1"
    np.testing.assert_allclose(obj.visual_mesh[0], v, atol=1e-7)
    assert [len(p) for p in obj.convex_parts] == [len(p) for p in parts]
    np.testing.assert_allclose(obj.extents(), 0.06, atol=1e-3)
