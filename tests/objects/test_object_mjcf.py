"""attach_object: objects of every category compile, weigh what they should and rest as shaped."""

import mujoco
import numpy as np
import pytest

from dexndm.objects import CATEGORIES, attach_object, object_set, resolve_object
from dexndm.objects.mjcf import COLLISION_GROUP_MESH, VISUAL_GROUP


def _scene(objs, spacing=0.2, drop=0.01):
    spec = mujoco.MjSpec()
    spec.option.timestep = 0.002
    floor = spec.worldbody.add_geom()
    floor.type = mujoco.mjtGeom.mjGEOM_PLANE
    floor.size = [5, 5, 0.1]
    for k, obj in enumerate(objs):
        body = spec.worldbody.add_body()
        body.name = f"obj{k}"
        # Start just above the floor (lowest point `drop` up), in a row far enough apart.
        body.pos = [spacing * (k % 10), spacing * (k // 10), -obj.bounds()[0, 2] + drop]
        body.add_freejoint()
        attach_object(spec, body, obj)
    return spec


@pytest.fixture(scope="module")
def settled():
    objs = [o for c in CATEGORIES for o in object_set(c, "all")] + [resolve_object("cube")]
    spec = _scene(objs)
    model = spec.compile()
    data = mujoco.MjData(model)
    for _ in range(750):  # 1.5 s: a 1 cm drop settles, rocking shapes included
        mujoco.mj_step(model, data)
    return objs, model, data


def test_total_mass_and_inertia(settled):
    objs, model, _ = settled
    for k, obj in enumerate(objs):
        b = model.body(f"obj{k}").id
        assert model.body_mass[b] == pytest.approx(obj.mass, rel=1e-9), obj.name
        np.testing.assert_allclose(model.body_ipos[b], 0, atol=1e-12)
        want = np.sort(np.linalg.eigvalsh(obj.unit_inertia() * obj.mass))
        np.testing.assert_allclose(np.sort(model.body_inertia[b]), want, rtol=1e-6, err_msg=obj.name)


def test_objects_rest_at_their_geometric_height(settled):
    objs, model, data = settled
    for k, obj in enumerate(objs):
        b = model.body(f"obj{k}").id
        assert np.abs(data.cvel[b][3:]).max() < 0.05, f"{obj.name} still moving"
        if obj.kind in ("box", "cylinder"):
            # Primitives stay upright: centre at the half extent of the resting face's normal.
            assert data.xpos[b][2] == pytest.approx(obj.extents()[2] / 2, abs=2e-3), obj.name
            assert abs(data.xmat[b].reshape(3, 3)[2, 2]) > 0.999, obj.name
        else:
            # Meshes may tip onto another face: their lowest point touches the floor.
            rot = data.xmat[b].reshape(3, 3)
            lowest = min((p @ rot.T)[:, 2].min() for p in obj.convex_parts) + data.xpos[b][2]
            assert lowest == pytest.approx(0.0, abs=2e-3), obj.name


def test_geom_roles_and_unique_names():
    obj = object_set("complex", "train")[0]
    spec = mujoco.MjSpec()
    bodies = [spec.worldbody.add_body() for _ in range(2)]
    geoms = []
    for body in bodies:  # the same object twice, in unnamed bodies: names must not clash
        body.add_freejoint()
        geoms.append(attach_object(spec, body, obj, friction=0.7, rgba=(0, 1, 0, 1)))
    model = spec.compile()
    assert len(geoms[0]) == len(obj.convex_parts)
    names = [model.geom(i).name for i in range(model.ngeom)]
    assert len(set(names)) == len(names)
    for i in range(model.ngeom):
        g = model.geom(i)
        if g.name.endswith("_visual"):
            assert g.contype == 0 and g.conaffinity == 0 and g.group == VISUAL_GROUP
        else:
            assert g.group == COLLISION_GROUP_MESH and g.friction[0] == pytest.approx(0.7)
    # inertiafromgeom="true" ignores the explicit inertia; the geoms' masses still add up.
    spec.compiler.inertiafromgeom = mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_TRUE
    assert spec.compile().body_mass[1] == pytest.approx(obj.mass)
