"""The batched in-hand rotation environment (numpy core).

Description:
    N LEAP hands each hold an object and try to turn it about a commanded axis (world frame) for
    400 control steps (20 s at 20 Hz), at a wrist orientation drawn per episode. Physics runs in
    ``mujoco.batch.Batch`` (C threads, no GIL): one batch per object shape, since a batch shares
    one model. Per-env masses, frictions, PD gains and wrist poses are per-simulation fields.

Action Space:
    (N, 16) in [-1, 1]: relative joint targets, ``target += clip(a, -1, 1) / 24``, clamped to the
    joint limits. The PD (torque limited) runs at every 1/120 s physics substep.

Observation Space:
    ``proprio`` (N, 327): T=10 pairs (q, previous target) + wrist quaternion + axis
    (:mod:`dexndm.sim.observations`). ``privileged`` (N, 327 + 76): the same plus object pose and
    velocity, fingertip positions and contacts, joint velocities and torques, the guiding goal,
    gravity and the axis in the hand frame, and the randomized physical parameters.

Rewards:
    :mod:`dexndm.sim.rewards`.

Starting State:
    A grasp drawn from the grasp cache of the env's object at its wrist orientation.

Episode End:
    ``terminated`` when the object is ``fall_distance`` from the grasp centre; ``truncated``
    (a time-out) after ``episode_steps``. Autoreset is *same-step*: ``step`` returns the first
    observation of the new episode for envs that ended, and ``info["final_metrics"]`` holds the
    finished episodes' metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
from mujoco import batch as mjbatch

from dexndm.hand import constants as C
from dexndm.objects import ObjectSpec, resolve_object
from dexndm.sim.config import EnvConfig
from dexndm.sim.grasp import GraspSet, cached_grasps
from dexndm.sim.observations import proprio_dim, proprio_obs, push_history
from dexndm.sim.rewards import rotation_about_axis, rotation_reward, rotp_weight
from dexndm.sim.rotations import (
    quat_angle,
    quat_conj,
    quat_from_axis_angle,
    quat_mul,
    quat_rotate,
    quat_rotate_inv,
    random_unit_vectors,
)
from dexndm.sim.scene import WRIST_POS, SceneLayout, build_scene_spec
from dexndm.sim.wrists_axes import PRINCIPAL_AXES, WRISTS, parse_axis, parse_wrist

PRIVILEGED_EXTRA = 3 + 4 + 3 + 3 + 12 + 4 + 4 + 16 + 16 + 4 + 3 + 3 + 1
"""obj pos, quat, linvel, angvel, fingertips, touch flags, touch forces, qdot, torque, goal quat,
axis (hand), gravity (hand), c_rotp... and the 5 physical parameters below."""
PHYS_PARAMS = 5  # mass, friction, kp scale, kd scale, latency


def expand_objects(names: tuple[str, ...], split: str) -> list[ObjectSpec]:
    """Object names / categories / mesh paths -> object specs (a category gives all its shapes)."""
    from dexndm.objects import CATEGORIES, object_set

    out: list[ObjectSpec] = []
    for name in names:
        out.extend(object_set(name, split) if name in CATEGORIES else [resolve_object(name)])
    return out


def expand_wrists(names: tuple[str, ...]) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for name in names:
        out.extend([np.array(q) for q in WRISTS.values()] if name == "all" else [parse_wrist(name)])
    return out


@dataclass
class _Group:
    """The envs that share one object shape (one compiled model, one Batch)."""

    obj: ObjectSpec
    env_ids: np.ndarray
    model: mujoco.MjModel
    layout: SceneLayout
    sim: mjbatch.Batch
    grasps: list[GraspSet]  # one per wrist orientation of the config
    nominal_inertia: np.ndarray


class RotationEnv:
    """Batched in-hand rotation with numpy arrays in and out (see module docstring)."""

    def __init__(self, cfg: EnvConfig):
        self.cfg = cfg
        self.autoreset = True
        """Same-step autoreset; the Gymnasium face turns it off and resets on request."""
        self.num_envs = n = cfg.num_envs
        self.num_actions = C.NUM_JOINTS
        self.rng = np.random.default_rng(cfg.seed)
        self.objects = expand_objects(cfg.objects, cfg.split)
        self.wrist_choices = expand_wrists(cfg.wrists)
        self.random_axes = cfg.axes == ("random",)
        if not self.random_axes:
            names = [a for name in cfg.axes for a in (PRINCIPAL_AXES if name == "principal" else [name])]
            self.axis_choices = np.stack([parse_axis(a) for a in names])
        self.groups = self._build_groups()
        self.group_of = np.zeros(n, dtype=int)
        self.slot_of = np.zeros(n, dtype=int)
        for g, grp in enumerate(self.groups):
            self.group_of[grp.env_ids] = g
            self.slot_of[grp.env_ids] = np.arange(len(grp.env_ids))

        T = cfg.history
        self.obs_dim = proprio_dim(T)
        self.privileged_dim = self.obs_dim + PRIVILEGED_EXTRA + PHYS_PARAMS
        self.targets = np.zeros((n, 16))
        self.q_init = np.zeros((n, 16))
        self.q_hist = np.zeros((n, T, 16))
        self.a_hist = np.zeros((n, T, 16))
        self.wrist_quat = np.tile([1.0, 0, 0, 0], (n, 1))
        self.axis = np.tile([0.0, 0, 1], (n, 1))
        self.goal_quat = np.tile([1.0, 0, 0, 0], (n, 1))
        self.obj_quat_prev = np.tile([1.0, 0, 0, 0], (n, 1))
        self.step_count = np.zeros(n, dtype=int)
        self.resets = np.zeros(n, dtype=int)
        self.latency = np.zeros(n, dtype=int)
        self.phys = np.zeros((n, PHYS_PARAMS))
        self.disturbance = np.zeros((n, 3))
        self.mass = np.full(n, 0.03)
        self.ep = {k: np.zeros(n) for k in ("rot_r", "rot_p", "rot", "reward", "goals")}
        # latest per-env state, hand frame where it says so
        self.q = np.zeros((n, 16))
        self.qdot = np.zeros((n, 16))
        self.torque = np.zeros((n, 16))
        self.obj_pos = np.zeros((n, 3))  # world
        self.obj_quat = np.tile([1.0, 0, 0, 0], (n, 1))  # world
        self.obj_vel = np.zeros((n, 3))  # world
        self.omega = np.zeros((n, 3))  # world
        self.tips = np.zeros((n, 12))  # world
        self.touch = np.zeros((n, 4))
        self.reset()

    # ---- construction -----------------------------------------------------------------------
    def _build_groups(self) -> list[_Group]:
        cfg = self.cfg
        order = self.rng.permutation(cfg.num_envs)
        k = min(len(self.objects), cfg.num_envs)
        groups = []
        cache = None if cfg.grasp_cache_dir is None else __import__("pathlib").Path(cfg.grasp_cache_dir)
        for i in range(k):
            obj = self.objects[i]
            lo, hi = cfg.randomization.object_scale
            if hi > lo or lo != 1.0:
                obj = resolve_object(obj.name, scale=float(self.rng.uniform(lo, hi)))
            model = build_scene_spec(obj, cfg.physics).compile()
            layout = SceneLayout.of(model)
            env_ids = np.sort(order[i::k])
            grasps = [
                cached_grasps(obj, w, cfg.grasp, cfg.physics, cache_dir=cache, seed=cfg.seed)
                for w in self.wrist_choices
            ]
            for w, gs in zip(self.wrist_choices, grasps, strict=True):
                if len(gs) == 0:
                    raise RuntimeError(
                        f"no stable grasp of {obj.name} at wrist {np.round(w, 3).tolist()} out of {gs.tried} "
                        "candidates: the object may be too large, small or heavy for the hand; try more "
                        "candidates (GraspConfig.candidates) or another object"
                    )
            sim = mjbatch.Batch(model, len(env_ids), nthread=cfg.nthread, persistent=True)
            sim.expand("body_mass")
            sim.expand("body_inertia")
            sim.expand("body_ipos")
            sim.expand("geom_friction")
            sim.expand("actuator_gainprm")
            sim.expand("actuator_biasprm")
            groups.append(
                _Group(
                    obj, env_ids, model, layout, sim, grasps, model.body_inertia[layout.object_body].copy()
                )
            )
        return groups

    # ---- reset ------------------------------------------------------------------------------
    def reset(self) -> dict[str, np.ndarray]:
        self._reset_envs(np.arange(self.num_envs))
        return self.observations()

    def _reset_envs(self, env_ids: np.ndarray) -> None:
        if len(env_ids) == 0:
            return
        cfg, rng, dr = self.cfg, self.rng, self.cfg.randomization
        m = len(env_ids)
        wi = rng.integers(len(self.wrist_choices), size=m)
        self.wrist_quat[env_ids] = np.stack([self.wrist_choices[i] for i in wi])
        if self.random_axes:
            self.axis[env_ids] = random_unit_vectors(rng, m)
        else:
            self.axis[env_ids] = self.axis_choices[rng.integers(len(self.axis_choices), size=m)]
        mass = rng.uniform(*dr.object_mass, size=m)
        friction = rng.uniform(*dr.friction, size=m)
        kp_s = rng.uniform(*dr.kp_scale, size=m)
        kd_s = rng.uniform(*dr.kd_scale, size=m)
        latency = rng.integers(dr.latency_substeps[0], dr.latency_substeps[1] + 1, size=m)
        com = rng.uniform(-dr.com_offset, dr.com_offset, size=(m, 3))
        self.latency[env_ids] = latency
        self.mass[env_ids] = mass
        self.phys[env_ids] = np.stack([mass, friction, kp_s, kd_s, latency], axis=1)
        hc = cfg.physics.hand
        for g, grp in enumerate(self.groups):
            sel = self.group_of[env_ids] == g
            if not sel.any():
                continue
            ids, slots, w_idx = env_ids[sel], self.slot_of[env_ids[sel]], wi[sel]
            sim, lay = grp.sim, grp.layout
            sim.reset(slots, stage=mujoco.mjtStage.mjSTAGE_NONE)
            qpos, qvel = sim.bind("qpos"), sim.bind("qvel")
            grasp_q = np.zeros((len(ids), 16))
            grasp_t = np.zeros((len(ids), 16))
            opos = np.zeros((len(ids), 3))
            oquat = np.zeros((len(ids), 4))
            for j, w in enumerate(w_idx):
                gs = grp.grasps[w]
                k = rng.integers(len(gs))
                grasp_q[j], grasp_t[j] = gs.joint_pos[k], gs.joint_targets[k]
                opos[j], oquat[j] = gs.object_pos[k], gs.object_quat[k]
            wq = self.wrist_quat[ids]
            qpos[np.ix_(slots, lay.hand_qpos)] = grasp_q
            qpos[slots, lay.object_qpos : lay.object_qpos + 3] = WRIST_POS + quat_rotate(wq, opos)
            qpos[slots, lay.object_qpos + 3 : lay.object_qpos + 7] = quat_mul(wq, oquat)
            qvel[slots] = 0.0
            sim.bind("ctrl")[slots] = grasp_t
            sim.bind("mocap_quat")[slots, lay.wrist_mocap] = wq
            sim.bind("xfrc_applied")[slots] = 0.0
            body_mass = sim.expand("body_mass")
            body_mass[slots, lay.object_body] = mass[sel]
            sim.expand("body_inertia")[slots, lay.object_body] = (
                grp.nominal_inertia * (mass[sel] / grp.obj.mass)[:, None]
            )
            sim.expand("body_ipos")[slots, lay.object_body] = grp.model.body_ipos[lay.object_body] + com[sel]
            fr = sim.expand("geom_friction")
            fr[np.ix_(slots, lay.object_geoms, [0])] = friction[sel][:, None, None]
            gain, bias = sim.expand("actuator_gainprm"), sim.expand("actuator_biasprm")
            gain[slots, :, 0] = hc.kp * kp_s[sel][:, None]
            bias[slots, :, 1] = -hc.kp * kp_s[sel][:, None]
            bias[slots, :, 2] = -hc.kd * kd_s[sel][:, None]
            sim.forward(slots, stage=mujoco.mjtStage.mjSTAGE_VEL)
            self.targets[ids] = grasp_t
            self.q_init[ids] = grasp_q
        self.disturbance[env_ids] = 0.0
        self._read_state(env_ids)
        q_obs = self._noisy_q(env_ids)
        self.q_hist[env_ids] = q_obs[:, None, :]
        self.a_hist[env_ids] = self.targets[env_ids][:, None, :]
        self.obj_quat_prev[env_ids] = self.obj_quat[env_ids]
        self.goal_quat[env_ids] = self._goal_ahead(self.obj_quat[env_ids], self.axis[env_ids])
        self.step_count[env_ids] = 0
        self.resets[env_ids] += 1
        for v in self.ep.values():
            v[env_ids] = 0.0

    def _goal_ahead(self, quat: np.ndarray, axis: np.ndarray) -> np.ndarray:
        step = np.deg2rad(self.cfg.reward.goal_step_deg)
        return quat_mul(quat_from_axis_angle(axis, np.full(len(axis), step)), quat)

    # ---- state ------------------------------------------------------------------------------
    def _read_state(self, env_ids: np.ndarray | None = None) -> None:
        """Copy the physics state of ``env_ids`` (all when None) into the per-env arrays."""
        for g, grp in enumerate(self.groups):
            if env_ids is None:
                ids, slots = grp.env_ids, slice(None)
            else:
                sel = self.group_of[env_ids] == g
                if not sel.any():
                    continue
                ids = env_ids[sel]
                slots = self.slot_of[ids]
            lay, sim = grp.layout, grp.sim
            qpos, qvel, sens = sim.bind("qpos")[slots], sim.bind("qvel")[slots], sim.bind("sensordata")[slots]
            self.q[ids] = qpos[:, lay.hand_qpos]
            self.qdot[ids] = qvel[:, lay.hand_dof]
            self.obj_pos[ids] = qpos[:, lay.object_qpos : lay.object_qpos + 3]
            self.obj_quat[ids] = qpos[:, lay.object_qpos + 3 : lay.object_qpos + 7]
            self.obj_vel[ids] = qvel[:, lay.object_dof : lay.object_dof + 3]
            # free-joint angular velocity is in the body frame: rotate it to the world
            self.omega[ids] = quat_rotate(
                self.obj_quat[ids], qvel[:, lay.object_dof + 3 : lay.object_dof + 6]
            )
            self.tips[ids] = sens[:, lay.tip_pos]
            self.touch[ids] = sens[:, lay.tip_touch]
            self.torque[ids] = sens[:, lay.torque]

    def _noisy_q(self, env_ids: np.ndarray) -> np.ndarray:
        noise = self.rng.uniform(0.0, self.cfg.randomization.joint_noise, size=(len(env_ids), 16))
        return self.q[env_ids] + noise

    # ---- step -------------------------------------------------------------------------------
    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict]:
        """Advance every env one control step.

        Args:
            actions: (N, 16) relative actions in [-1, 1].
        Returns:
            obs (dict of (N, D) float32 arrays: ``proprio``, ``privileged``), reward (N,),
            terminated (N,) bool, truncated (N,) bool, info (dict: reward terms, and
            ``final_metrics`` for the envs that ended).
        """
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, 16) or not np.all(np.isfinite(actions)):
            raise ValueError(
                f"actions must be a finite ({self.num_envs}, 16) array, got shape {actions.shape}"
            )
        prev_targets = self.targets.copy()
        self.targets = C.clamp_to_limits(self.targets + np.clip(actions, -1.0, 1.0) * C.ACTION_SCALE)
        self._apply_disturbance()
        self._advance_physics(prev_targets)
        self._read_state()
        return self._after_physics(prev_targets)

    def _apply_disturbance(self) -> None:
        dr = self.cfg.randomization
        if dr.disturbance_scale <= 0:
            return
        resample = self.rng.random(self.num_envs) < dr.disturbance_prob
        k = int(resample.sum())
        if k:
            self.disturbance[resample] = (
                random_unit_vectors(self.rng, k) * (dr.disturbance_scale * self.mass[resample])[:, None]
            )
        for grp in self.groups:
            grp.sim.bind("xfrc_applied")[:, grp.layout.object_body, :3] = self.disturbance[grp.env_ids]

    def _advance_physics(self, prev_targets: np.ndarray) -> None:
        """Run the substeps; envs with latency L keep the previous targets for their first L."""
        n_sub = self.cfg.physics.substeps
        for grp in self.groups:
            ctrl = grp.sim.bind("ctrl")
            lat = np.minimum(self.latency[grp.env_ids], n_sub)
            done = 0
            for boundary in np.unique(np.concatenate([lat, [n_sub]])):
                # envs whose latency has elapsed by this boundary get the new targets
                ctrl[:] = np.where(
                    (lat <= done)[:, None], self.targets[grp.env_ids], prev_targets[grp.env_ids]
                )
                if boundary > done:
                    last = boundary == n_sub
                    stage = mujoco.mjtStage.mjSTAGE_VEL if last else mujoco.mjtStage.mjSTAGE_NONE
                    grp.sim.step(nstep=int(boundary - done), stage=stage)
                    done = int(boundary)

    def _after_physics(self, prev_targets: np.ndarray):
        cfg = self.cfg
        n = self.num_envs
        all_ids = np.arange(n)
        self.step_count += 1
        # guiding goal: reached when within goal_reach_deg; then it moves goal_step_deg further
        goal_reached = quat_angle(self.obj_quat, self.goal_quat) < np.deg2rad(cfg.reward.goal_reach_deg)
        if goal_reached.any():
            self.goal_quat[goal_reached] = self._goal_ahead(
                self.goal_quat[goal_reached], self.axis[goal_reached]
            )
        reward, terms = rotation_reward(
            self.omega, self.axis, self.obj_vel, self.q, self.q_init, self.torque, self.qdot,
            goal_reached, rotp_weight(self.resets, cfg.reward), cfg.reward,
        )  # fmt: skip
        w_k = np.sum(self.omega * self.axis, -1)
        self.ep["rot_r"] += w_k
        self.ep["rot_p"] += np.linalg.norm(np.cross(self.omega, self.axis), axis=-1)
        self.ep["rot"] += rotation_about_axis(self.obj_quat_prev, self.obj_quat, self.axis)
        self.ep["reward"] += reward
        self.ep["goals"] += goal_reached
        self.obj_quat_prev[:] = self.obj_quat
        push_history(self.q_hist, self._noisy_q(all_ids))
        push_history(self.a_hist, prev_targets)
        # a_hist pairs q_t with the target that was in force while q_t was reached

        dist = np.linalg.norm(self.obj_pos - WRIST_POS, axis=-1)
        terminated = (dist > cfg.fall_distance) | ~np.all(np.isfinite(self.obj_pos), axis=-1)
        truncated = (self.step_count >= cfg.episode_steps) & ~terminated
        ended = np.flatnonzero(terminated | truncated)
        info: dict = {"reward_terms": terms}
        if len(ended):
            info["final_metrics"] = self._episode_metrics(ended)
            info["final_env_ids"] = ended
            if self.autoreset:
                self._reset_envs(ended)
        return self.observations(), reward, terminated, truncated, info

    def _episode_metrics(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        steps = np.maximum(self.step_count[ids], 1)
        # GO Succ (ours, for the rotation task): the object ends within 0.1 pi of the last goal
        # it was guided to, i.e. the guiding goal one step behind the current one
        back = quat_from_axis_angle(
            self.axis[ids], -np.full(len(ids), np.deg2rad(self.cfg.reward.goal_step_deg))
        )
        final_goal_err = quat_angle(self.obj_quat[ids], quat_mul(back, self.goal_quat[ids]))
        return {
            "rot_r": self.ep["rot_r"][ids].copy(),
            "rot_p": self.ep["rot_p"][ids] / steps,
            "ttf": self.step_count[ids] / self.cfg.episode_steps,
            "rot": self.ep["rot"][ids].copy(),
            "omega_k": self.ep["rot"][ids] / (steps * C.CONTROL_DT),
            "goals": self.ep["goals"][ids].copy(),
            # a goal counts only if one was reached: holding still is not goal success
            "go_succ": ((final_goal_err < 0.1 * np.pi) & (self.ep["goals"][ids] >= 1)).astype(np.float64),
            "reward": self.ep["reward"][ids].copy(),
            "steps": self.step_count[ids].astype(np.float64),
        }

    # ---- observations -------------------------------------------------------------------------
    def observations(self) -> dict[str, np.ndarray]:
        proprio = proprio_obs(self.q_hist, self.a_hist, self.wrist_quat, self.axis)
        wq = self.wrist_quat
        n = self.num_envs
        tips_hand = quat_rotate_inv(
            np.repeat(wq, 4, axis=0), self.tips.reshape(n * 4, 3) - WRIST_POS
        ).reshape(n, 12)
        extra = np.concatenate(
            [
                quat_rotate_inv(wq, self.obj_pos - WRIST_POS),
                quat_mul(quat_conj(wq), self.obj_quat),
                quat_rotate_inv(wq, self.obj_vel),
                quat_rotate_inv(wq, self.omega),
                tips_hand,
                (self.touch > 1e-3).astype(np.float64),
                np.minimum(self.touch, 5.0),
                self.qdot,
                self.torque,
                quat_mul(quat_conj(wq), self.goal_quat),
                quat_rotate_inv(wq, self.axis),
                quat_rotate_inv(wq, np.tile([0.0, 0.0, -1.0], (n, 1))),
                rotp_weight(self.resets, self.cfg.reward)[:, None],
                self.phys,
            ],
            axis=-1,
        ).astype(np.float32)
        return {"proprio": proprio, "privileged": np.concatenate([proprio, extra], axis=-1)}

    # ---- rendering support --------------------------------------------------------------------
    def mj_model_data(self, env_id: int) -> tuple[mujoco.MjModel, mujoco.MjData]:
        """A model and data of one env, with its per-env parameters and state, for rendering."""
        grp = self.groups[self.group_of[env_id]]
        slot = int(self.slot_of[env_id])
        model = grp.sim.get_model(slot)
        data = grp.sim.get_data(slot)
        data.mocap_quat[grp.layout.goal_mocap] = self.goal_quat[env_id]
        mujoco.mj_forward(model, data)
        return model, data

    def close(self) -> None:
        self.groups.clear()
