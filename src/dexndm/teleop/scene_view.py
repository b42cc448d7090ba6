"""What the page draws: the scene's visible geoms once, then body poses every tick.

The page renders with three.js (WebGL, in the browser), so the server sends geometry once and
then only 7 numbers per moving body per tick (a few hundred bytes at 20 Hz) instead of images.
:class:`SceneMirror` keeps a MuJoCo model of the training scene (hand on its mocap wrist + the
object) and turns any driver's state (joint angles, wrist, object pose when known) into body
poses by forward kinematics, so the simulated and the physical hand are drawn the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from dexndm.objects import ObjectSpec
from dexndm.objects.mjcf import VISUAL_GROUP
from dexndm.sim.scene import OBJECT_BODY, WRIST_POS, SceneLayout, build_scene_spec

_GEOM_TYPES = {
    mujoco.mjtGeom.mjGEOM_PLANE: "plane",
    mujoco.mjtGeom.mjGEOM_SPHERE: "sphere",
    mujoco.mjtGeom.mjGEOM_CAPSULE: "capsule",
    mujoco.mjtGeom.mjGEOM_ELLIPSOID: "ellipsoid",
    mujoco.mjtGeom.mjGEOM_CYLINDER: "cylinder",
    mujoco.mjtGeom.mjGEOM_BOX: "box",
    mujoco.mjtGeom.mjGEOM_MESH: "mesh",
}
_DRAWN_GROUPS = (0, 1, VISUAL_GROUP)
"""Geom groups the page draws: the hand's geoms and the object's visual geom; not the object's
convex collision parts (group 3) nor sites."""
_HIDDEN_BODIES = ("goal",)
"""The training guiding-goal marker means nothing in teleoperation."""


def scene_geometry(model: mujoco.MjModel) -> dict[str, Any]:
    """The drawable part of ``model`` as JSON-ready data.

    Returns:
        ``{"bodies": [name, ...], "geoms": [{"body": index into bodies, "type": "box" | ...,
        "size": [3], "pos": [3], "quat": [4] (w, x, y, z, in the body frame), "rgba": [4],
        "vertices": [n*3] and "faces": [m*3] for meshes}], "object_body": index or -1,
        "lookat": [3]}``. Lengths in metres (MuJoCo's ``geom_size`` conventions).
    """
    hidden = {model.body(n).id for n in _HIDDEN_BODIES if _has_body(model, n)}
    body_ids: list[int] = []
    geoms = []
    for g in range(model.ngeom):
        gtype = int(model.geom_type[g])
        body = int(model.geom_bodyid[g])
        if (
            int(model.geom_group[g]) not in _DRAWN_GROUPS
            or gtype not in _GEOM_TYPES
            or body in hidden
            or model.geom_rgba[g, 3] == 0
        ):
            continue
        if body not in body_ids:
            body_ids.append(body)
        geom = {
            "body": body_ids.index(body),
            "type": _GEOM_TYPES[gtype],
            "size": np.round(model.geom_size[g], 6).tolist(),
            "pos": np.round(model.geom_pos[g], 6).tolist(),
            "quat": np.round(model.geom_quat[g], 6).tolist(),
            "rgba": np.round(model.geom_rgba[g], 3).tolist(),
        }
        if gtype == mujoco.mjtGeom.mjGEOM_MESH:
            m = int(model.geom_dataid[g])
            v0, nv = int(model.mesh_vertadr[m]), int(model.mesh_vertnum[m])
            f0, nf = int(model.mesh_faceadr[m]), int(model.mesh_facenum[m])
            geom["vertices"] = np.round(model.mesh_vert[v0 : v0 + nv], 5).ravel().tolist()
            geom["faces"] = model.mesh_face[f0 : f0 + nf].ravel().astype(int).tolist()
        geoms.append(geom)
    object_body = model.body(OBJECT_BODY).id if _has_body(model, OBJECT_BODY) else -1
    return {
        "bodies": [model.body(b).name for b in body_ids],
        "body_ids": body_ids,
        "geoms": geoms,
        "object_body": body_ids.index(object_body) if object_body in body_ids else -1,
        "lookat": WRIST_POS.tolist(),
    }


def _has_body(model: mujoco.MjModel, name: str) -> bool:
    return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name) >= 0


@dataclass
class HandPose:
    """What the page needs to draw the hand: all world frame, sim joint order, radians.

    ``object_pos`` / ``object_quat`` are None where the object's state is unknown (the physical
    hand): the page then hides the object.
    """

    joint_pos: np.ndarray
    wrist_quat: np.ndarray
    object_pos: np.ndarray | None = None
    object_quat: np.ndarray | None = None


class SceneMirror:
    """Forward kinematics of the training scene of ``obj``, for drawing any driver's state.

    Args:
        obj: the object shown in the hand.
    """

    def __init__(self, obj: ObjectSpec):
        self.obj = obj
        self.model = build_scene_spec(obj).compile()
        self.data = mujoco.MjData(self.model)
        self.layout = SceneLayout.of(self.model)
        self.geometry = scene_geometry(self.model)
        self._bodies = np.array(self.geometry["body_ids"], dtype=int)

    def body_poses(self, pose: HandPose) -> np.ndarray:
        """``(B, 7)`` float32 world poses (x, y, z, qw, qx, qy, qz) of ``geometry["bodies"]``."""
        lay, d = self.layout, self.data
        d.qpos[lay.hand_qpos] = pose.joint_pos
        d.mocap_pos[lay.wrist_mocap] = WRIST_POS
        d.mocap_quat[lay.wrist_mocap] = pose.wrist_quat
        if pose.object_pos is not None and pose.object_quat is not None:
            d.qpos[lay.object_qpos : lay.object_qpos + 3] = pose.object_pos
            d.qpos[lay.object_qpos + 3 : lay.object_qpos + 7] = pose.object_quat
        # positions only: no dynamics, contacts or sensors are needed to draw
        mujoco.mj_kinematics(self.model, d)
        return np.concatenate([d.xpos[self._bodies], d.xquat[self._bodies]], axis=1).astype(np.float32)
