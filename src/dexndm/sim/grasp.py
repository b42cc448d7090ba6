"""The grasp cache: stable initial grasps per object and wrist orientation.

Episodes start from a grasp that is known to hold, as in HORA and DexNDM. A candidate is made by
inverse kinematics: the fingertips are placed just outside the object on the finger side (+x of
the hand frame) and the thumb on the opposite side, the joint targets are set to the pose that
would push the fingertips ``squeeze`` metres *into* the object (the torque-limited PD then presses
it), the fingers close with gravity off, and then gravity is switched on at the wrist
orientation. A candidate survives if, after ``hold_s`` seconds, the object is still near the grasp
centre, at rest, and touched by the thumb and at least two fingers.

Survivors are stored in the hand frame (joint positions, joint targets, object pose), so one entry
serves any wrist yaw about gravity that leaves gravity in the hand frame unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import mujoco
import numpy as np
from mujoco import batch as mjbatch

from dexndm.data.atomic import atomic_write_bytes
from dexndm.hand import constants as C
from dexndm.objects import ObjectSpec
from dexndm.sim.rotations import quat_conj, quat_mul, quat_rotate, quat_rotate_inv, random_quat
from dexndm.sim.scene import WRIST_POS, PhysicsConfig, SceneLayout, build_scene_spec

CACHE_VERSION = 1


@dataclass(frozen=True)
class GraspConfig:
    """How grasp candidates are made and judged."""

    candidates: int = 256
    """Candidates tried per object and wrist orientation."""
    squeeze: float = 0.012
    """How far (m) inside the object the fingertip targets lie: the PD presses with ~kp x this / lever."""
    open_gap: float = 0.006
    """Initial fingertip clearance (m) outside the object."""
    target_noise: float = 0.008
    """Uniform noise (m) on the fingertip contact points across the object's face."""
    object_pos_noise: float = 0.004
    close_s: float = 0.4
    """Time (s) the fingers close with gravity off."""
    hold_s: float = 1.0
    """Time (s) the grasp must hold under gravity at the wrist orientation."""
    max_drift: float = 0.025
    """Largest distance (m) of the object from the grasp centre for a grasp to count."""
    max_speed: float = 0.05
    min_fingers: int = 2
    """Fingers (besides the thumb) that must touch the object."""
    finger_spread: float = 0.03
    """Lateral (hand y) offset (m) of the index and ring contact points from the middle finger's."""


@dataclass
class GraspSet:
    """Stable grasps of one object at one wrist orientation; all arrays in the hand frame."""

    joint_pos: np.ndarray  # (K, 16) rad, sim order
    joint_targets: np.ndarray  # (K, 16) rad: the PD targets that hold the grasp
    object_pos: np.ndarray  # (K, 3) m, relative to the grasp centre (hand frame)
    object_quat: np.ndarray  # (K, 4) object orientation in the hand frame
    wrist_quat: np.ndarray  # (4,) the wrist orientation they were tested at
    tried: int = 0

    def __len__(self) -> int:
        return len(self.joint_pos)

    @property
    def gravity_in_hand(self) -> np.ndarray:
        return quat_rotate_inv(self.wrist_quat, np.array([0.0, 0.0, -1.0]))


def object_support_points(obj: ObjectSpec) -> np.ndarray:
    """Points on the object's collision surface hull (object frame), for support distances."""
    if obj.kind == "box":
        h = np.asarray(obj.size)
        return np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * h
    if obj.kind == "cylinder":
        r, hl = obj.size[:2]
        a = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        ring = np.stack([r * np.cos(a), r * np.sin(a)], axis=-1)
        return np.concatenate([np.c_[ring, np.full(48, -hl)], np.c_[ring, np.full(48, hl)]])
    return np.concatenate([np.asarray(p) for p in obj.convex_parts])


_TIP_HALF_THICKNESS = 0.0105  # fingertip box half thickness: site centre to pad surface (m)
_NORMAL_WEIGHT = 0.03  # 1 rad of pad-normal error costs as much as 3 cm of position error


class _HandIK:
    """Damped least-squares IK placing each fingertip pad at a point with a given pad normal.

    The pad of every fingertip is its link's -x face (flexion moves the tip toward -x). Matching
    the normal as well as the position keeps the fingers wrapped *around* the object instead of
    reaching the contact point through it.
    """

    def __init__(self, model: mujoco.MjModel, layout: SceneLayout):
        self.m = model
        self.d = mujoco.MjData(model)
        self.layout = layout
        self.sites = [model.site(t).id for t in C.FINGERTIP_SITES]
        self.d.mocap_pos[layout.wrist_mocap] = 0.0
        self.d.mocap_quat[layout.wrist_mocap] = (1, 0, 0, 0)
        # park the object out of the way: IK only needs the hand's kinematics
        self.d.qpos[layout.object_qpos : layout.object_qpos + 3] = (0, 0, 5)

    def solve(self, pads: np.ndarray, normals: np.ndarray, q0: np.ndarray, iters: int = 120) -> np.ndarray:
        """Joint positions (16,) putting the pads at ``pads`` (4, 3) with outward ``normals`` (4, 3).

        Both are in the hand frame; a pad normal points from the pad into the object.
        """
        m, d, lay = self.m, self.d, self.layout
        q = q0.copy()
        jacp, jacr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        for _ in range(iters):
            d.qpos[lay.hand_qpos] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            dq = np.zeros(16)
            for f, sid in enumerate(self.sites):
                mujoco.mj_jacSite(m, d, jacp, jacr, sid)
                cols = lay.hand_dof[4 * f : 4 * f + 4]
                x_axis = d.site_xmat[sid].reshape(3, 3)[:, 0]
                normal = -x_axis
                pad = d.site_xpos[sid] + normal * _TIP_HALF_THICKNESS
                skew = np.array(
                    [[0, -x_axis[2], x_axis[1]], [x_axis[2], 0, -x_axis[0]], [-x_axis[1], x_axis[0], 0]]
                )
                J = np.vstack([jacp[:, cols], _NORMAL_WEIGHT * (skew @ jacr[:, cols])])
                err = np.concatenate([pads[f] - pad, _NORMAL_WEIGHT * (normals[f] - normal)])
                dq[4 * f : 4 * f + 4] = J.T @ np.linalg.solve(J @ J.T + 1e-5 * np.eye(6), err)
            q = np.clip(q + 0.7 * dq, C.JOINT_LOWER, C.JOINT_UPPER)
        return q


def _contact_pads(obj: ObjectSpec, obj_quat: np.ndarray, cfg: GraspConfig, rng: np.random.Generator,
                  offset: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Pad points (4, 3) ``offset`` m outside the object's support along hand x, and pad normals.

    The fingers press from +x toward -x, the thumb from -x toward +x.
    """
    support = object_support_points(obj)
    pts = quat_rotate(np.broadcast_to(obj_quat, (len(support), 4)), support)
    s_pos, s_neg = pts[:, 0].max(), -pts[:, 0].min()
    half_y = 0.5 * (pts[:, 1].max() - pts[:, 1].min())
    half_z = 0.5 * (pts[:, 2].max() - pts[:, 2].min())
    spread = min(cfg.finger_spread, 0.9 * half_y + 0.012)
    noise = rng.uniform(-1.0, 1.0, size=(4, 2)) * np.array([cfg.target_noise, min(cfg.target_noise, half_z)])
    pads = np.zeros((4, 3))
    for f, y in enumerate((-spread, 0.0, spread)):
        pads[f] = (s_pos + offset, y + noise[f, 0], noise[f, 1])
    pads[3] = (-(s_neg + offset), noise[3, 0], noise[3, 1])
    normals = np.array([[-1.0, 0, 0]] * 3 + [[1.0, 0, 0]])
    return pads, normals


def generate_grasps(
    obj: ObjectSpec,
    wrist_quat: np.ndarray,
    cfg: GraspConfig = GraspConfig(),
    physics: PhysicsConfig = PhysicsConfig(),
    seed: int = 0,
    nthread: int = 0,
) -> GraspSet:
    """Try ``cfg.candidates`` grasps of ``obj`` at ``wrist_quat``; return the survivors."""
    rng = np.random.default_rng(seed)
    model = build_scene_spec(obj, physics).compile()
    lay = SceneLayout.of(model)
    ik = _HandIK(model, lay)
    n = cfg.candidates
    obj_quat = random_quat(rng, n)
    q_open = np.zeros((n, 16))
    q_close = np.zeros((n, 16))
    for i in range(n):
        q_close[i] = ik.solve(*_contact_pads(obj, obj_quat[i], cfg, rng, -cfg.squeeze), C.DEFAULT_POSE)
        q_open[i] = ik.solve(*_contact_pads(obj, obj_quat[i], cfg, rng, cfg.open_gap), q_close[i], iters=60)

    sim = mjbatch.Batch(model, n, nthread=nthread, persistent=True)
    sim.reset()
    qpos = sim.bind("qpos")
    qpos[:, lay.hand_qpos] = q_open
    obj_pos = rng.uniform(-cfg.object_pos_noise, cfg.object_pos_noise, (n, 3))
    wq = np.broadcast_to(np.asarray(wrist_quat, dtype=np.float64), (n, 4))
    qpos[:, lay.object_qpos : lay.object_qpos + 3] = WRIST_POS + quat_rotate(wq, obj_pos)
    qpos[:, lay.object_qpos + 3 : lay.object_qpos + 7] = quat_mul(wq, obj_quat)
    sim.bind("mocap_quat")[:, lay.wrist_mocap] = wq
    sim.bind("ctrl")[:] = q_close
    gravity = sim.expand("opt.gravity")
    gravity[:] = 0.0
    sim.forward()
    sim.step(nstep=int(round(cfg.close_s / physics.timestep)))
    gravity[:] = (0.0, 0.0, -9.81)
    sim.step(nstep=int(round(cfg.hold_s / physics.timestep)), stage=mujoco.mjtStage.mjSTAGE_ACC)

    qpos = sim.bind("qpos")
    qvel = sim.bind("qvel")
    rel_pos = quat_rotate_inv(wq, qpos[:, lay.object_qpos : lay.object_qpos + 3] - WRIST_POS)
    rel_quat = quat_mul(quat_conj(wq), qpos[:, lay.object_qpos + 3 : lay.object_qpos + 7])
    speed = np.linalg.norm(qvel[:, lay.object_dof : lay.object_dof + 3], axis=1)
    touching = tip_object_contacts(sim, lay, n)
    ok = (
        (np.linalg.norm(rel_pos, axis=1) < cfg.max_drift)
        & (speed < cfg.max_speed)
        & touching[:, 3]
        & (touching[:, :3].sum(1) >= cfg.min_fingers)
    )
    return GraspSet(
        joint_pos=qpos[ok][:, lay.hand_qpos].copy(),
        joint_targets=q_close[ok].copy(),
        object_pos=rel_pos[ok].copy(),
        object_quat=rel_quat[ok].copy(),
        wrist_quat=np.asarray(wrist_quat, dtype=np.float64),
        tried=n,
    )


def tip_object_contacts(sim: mjbatch.Batch, lay: SceneLayout, n: int) -> np.ndarray:
    """(n, 4) bool: whether each fingertip touches the object, from each simulation's contacts."""
    out = np.zeros((n, 4), dtype=bool)
    tip_index = {int(g): f for f, g in enumerate(lay.fingertip_geoms)}
    obj_geoms = {int(g) for g in lay.object_geoms}
    for i in range(n):
        d = sim.get_data(i)
        for c in range(d.ncon):
            g1, g2 = int(d.contact.geom1[c]), int(d.contact.geom2[c])
            if g1 in obj_geoms and g2 in tip_index:
                out[i, tip_index[g2]] = True
            elif g2 in obj_geoms and g1 in tip_index:
                out[i, tip_index[g1]] = True
    return out


# ---- The on-disk cache ------------------------------------------------------------------------
def default_cache_dir() -> Path:
    return Path(os.environ.get("DEXNDM_CACHE", Path.home() / ".cache" / "dexndm")) / "grasps"


def cache_key(
    obj: ObjectSpec, wrist_quat: np.ndarray, cfg: GraspConfig, physics: PhysicsConfig, seed: int = 0
) -> str:
    """A name that changes whenever anything that shapes the grasps changes."""
    h = hashlib.sha256()
    h.update(json.dumps([obj.name, obj.kind, list(obj.size), obj.mass, CACHE_VERSION, seed]).encode())
    for part in obj.convex_parts:
        h.update(np.ascontiguousarray(part, dtype=np.float64).tobytes())
    h.update(np.round(np.asarray(wrist_quat, dtype=np.float64), 6).tobytes())
    h.update(json.dumps(asdict(cfg), sort_keys=True).encode())
    h.update(json.dumps(asdict(physics), sort_keys=True, default=str).encode())
    return f"{obj.name.replace('/', '_')}-{h.hexdigest()[:16]}"


def save_grasps(path: Path, grasps: GraspSet) -> None:
    import io

    buf = io.BytesIO()
    arrays = {k: v for k, v in vars(grasps).items() if isinstance(v, np.ndarray)}
    np.savez(buf, version=CACHE_VERSION, tried=grasps.tried, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def load_grasps(path: Path) -> GraspSet:
    with np.load(path) as z:
        if int(z["version"]) != CACHE_VERSION:
            raise ValueError(
                f"grasp cache {path} has version {int(z['version'])}, expected {CACHE_VERSION}: delete it"
            )
        return GraspSet(
            joint_pos=z["joint_pos"], joint_targets=z["joint_targets"], object_pos=z["object_pos"],
            object_quat=z["object_quat"], wrist_quat=z["wrist_quat"], tried=int(z["tried"]),
        )  # fmt: skip


def cached_grasps(
    obj: ObjectSpec,
    wrist_quat: np.ndarray,
    cfg: GraspConfig = GraspConfig(),
    physics: PhysicsConfig = PhysicsConfig(),
    cache_dir: Path | None = None,
    seed: int = 0,
) -> GraspSet:
    """Load the grasps for (object, wrist) from the cache, generating and saving them if absent."""
    path = (cache_dir or default_cache_dir()) / f"{cache_key(obj, wrist_quat, cfg, physics, seed)}.npz"
    if path.exists():
        return load_grasps(path)
    grasps = generate_grasps(obj, wrist_quat, cfg, physics, seed=seed)
    save_grasps(path, grasps)
    return grasps
