"""User meshes: helpful errors for broken files, decomposition and caching for good ones."""

import time

import mujoco
import numpy as np
import pytest
import trimesh

from dexndm.objects import ObjectError, attach_object, load_mesh_object, mesh_import, resolve_object


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEXNDM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "objects"


def _box(size=0.05):
    return trimesh.creation.box(extents=[size, 0.8 * size, 0.6 * size])


def _l_prism(scale=1.0):
    """An L-shaped prism, 20 triangles, 0.06 x 0.06 x 0.03 m (times ``scale``): the smallest
    non-convex closed solid, so CoACD runs in well under a second."""
    outline = np.array([[0, 0], [6, 0], [6, 2], [2, 2], [2, 6], [0, 6]], float) * 0.01
    n = len(outline)
    verts = np.concatenate([np.c_[outline, np.zeros(n)], np.c_[outline, np.full(n, 0.03)]])
    bottom = [[0, 3, 1], [1, 3, 2], [0, 5, 3], [3, 5, 4]]  # seen from below: clockwise in xy
    top = [[a + n, c + n, b + n] for a, b, c in bottom]
    sides = []
    for i in range(n):
        j = (i + 1) % n
        sides += [[i, j, j + n], [i, j + n, i + n]]
    mesh = trimesh.Trimesh(verts * scale, np.array(bottom + top + sides), process=True)
    assert mesh.is_watertight and mesh.volume > 0
    return mesh


def _write(mesh, path):
    mesh.export(path)
    return path


def test_open_mesh_is_rejected(tmp_path):
    mesh = _box()
    mesh.update_faces(np.arange(len(mesh.faces)) != 0)  # drop one triangle
    path = _write(mesh, tmp_path / "open.stl")
    with pytest.raises(ObjectError, match="not watertight") as e:
        load_mesh_object(path)
    assert "hole" in str(e.value) and "Fill" in str(e.value)


def test_flat_mesh_is_rejected(tmp_path):
    square = trimesh.Trimesh([[0, 0, 0], [0.05, 0, 0], [0.05, 0.05, 0], [0, 0.05, 0]], [[0, 1, 2], [0, 2, 3]])
    two_sided = trimesh.Trimesh(square.vertices, np.concatenate([square.faces, square.faces[:, ::-1]]))
    for name, mesh in (("sheet.obj", square), ("flat.stl", two_sided)):
        with pytest.raises(ObjectError, match="zero volume"):
            load_mesh_object(_write(mesh, tmp_path / name))


def test_inside_out_mesh_is_rejected(tmp_path):
    mesh = _box()
    mesh = trimesh.Trimesh(mesh.vertices, mesh.faces[:, ::-1], process=False)
    with pytest.raises(ObjectError, match="inside out"):
        load_mesh_object(_write(mesh, tmp_path / "inverted.obj"))


def test_millimetre_and_centimetre_meshes_are_read_in_their_units(tmp_path, caplog):
    # STL/OBJ carry no unit; CAD tools mostly export millimetres: a 60 mm box is 60 units across
    for size, unit in ((60.0, "millimetres"), (6.0, "centimetres"), (0.06, None)):
        caplog.clear()
        obj = load_mesh_object(_write(_box(size=size), tmp_path / f"box_{size:g}.stl"), use_cache=False)
        assert obj.extents().max() == pytest.approx(0.06)
        assert obj.mass == pytest.approx(150 * 0.06 * 0.048 * 0.036, rel=1e-6)  # density x volume in m^3
        assert (unit in caplog.text) if unit else not caplog.text
    # an explicit scale is taken as given: 60 m is no hand-size object
    with pytest.raises(ObjectError, match="outside the"):
        load_mesh_object(tmp_path / "box_60.stl", scale=1.0)


def test_meshes_no_unit_makes_hand_size_are_rejected(tmp_path):
    # 5 mm in metres, 0.5 cm... and 0.5 m / 50 cm / 500 mm: none of the units gives 0.02-0.2 m
    for size, name in ((0.005, "tiny.stl"), (0.5, "big.stl"), (500.0, "huge_mm.stl")):
        with pytest.raises(ObjectError, match="outside the") as e:
            load_mesh_object(_write(_box(size=size), tmp_path / name))
        assert "modelling tool" in str(e.value)


def test_bad_arguments(tmp_path):
    with pytest.raises(ObjectError, match="not found"):
        load_mesh_object(tmp_path / "missing.stl")
    with pytest.raises(ObjectError, match=".obj or .stl"):
        load_mesh_object(tmp_path / "thing.ply")
    path = _write(_box(), tmp_path / "box.stl")
    with pytest.raises(ObjectError, match="scale"):
        load_mesh_object(path, scale=-1)
    with pytest.raises(ObjectError, match="mass"):
        load_mesh_object(path, mass=0)


def test_convex_mesh_is_one_part(tmp_path, cache):
    obj = load_mesh_object(_write(_box(), tmp_path / "box.stl"), mass=0.02)
    assert len(obj.convex_parts) == 1 and obj.mass == 0.02
    np.testing.assert_allclose(obj.extents(), [0.05, 0.04, 0.03], atol=1e-9)


def test_stl_decomposes_caches_and_simulates(tmp_path, cache, monkeypatch):
    path = _write(_l_prism(scale=1000.0), tmp_path / "bracket.stl")  # exported in millimetres
    t0 = time.perf_counter()
    obj = resolve_object(str(path), scale=0.001)
    assert time.perf_counter() - t0 < 30
    assert obj.kind == "mesh" and obj.category == "user" and obj.name == "bracket"
    assert len(obj.convex_parts) >= 2
    np.testing.assert_allclose(obj.extents(), [0.06, 0.06, 0.03], atol=1e-6)
    # Density-based default mass; origin at the centre of mass.
    volume = (0.06 * 0.02 + 0.02 * 0.04) * 0.03
    assert obj.mass == pytest.approx(mesh_import.DEFAULT_DENSITY * volume)
    assert np.abs(obj.visual_mesh[0].mean(0)).max() < 0.02
    assert len(list(cache.glob("bracket-*.npz"))) == 1

    # The second load must come from the cache: CoACD would fail the test.
    def no_coacd(*a, **k):
        raise AssertionError("decomposed again despite the cache")

    monkeypatch.setattr(mesh_import, "convex_decompose", no_coacd)
    again = load_mesh_object(path, scale=0.001)
    for a, b in zip(again.convex_parts, obj.convex_parts, strict=True):
        np.testing.assert_allclose(a, b)

    # It compiles in MuJoCo and comes to rest on its flat face.
    spec = mujoco.MjSpec()
    floor = spec.worldbody.add_geom()
    floor.type = mujoco.mjtGeom.mjGEOM_PLANE
    floor.size = [0.5, 0.5, 0.1]
    body = spec.worldbody.add_body()
    body.name = "bracket"
    body.pos = [0, 0, 0.05]
    body.add_freejoint()
    attach_object(spec, body, obj)
    model = spec.compile()
    data = mujoco.MjData(model)
    for _ in range(600):
        mujoco.mj_step(model, data)
    assert model.body_mass[1] == pytest.approx(obj.mass)
    assert data.xpos[1][2] == pytest.approx(-obj.bounds()[0, 2], abs=2e-3)
