"""The batched in-hand rotation environment (numpy core).

Description:
    N LEAP hands each hold an object and try to turn it about a commanded axis (world frame) for
    400 control steps (20 s at 20 Hz), at a wrist orientation drawn per episode. Physics runs in
    ``mujoco.batch.Batch`` (C threads, no GIL): one batch per object shape, since a batch shares
    one model. Per-env masses, frictions, PD gains and wrist poses are per-simulation fields.

Action Space:
    (N, 16) in [-1, 1]: relative joint targets, ``target += clip(a, -1, 1) / 24``, clamped to the
    joint limits. The PD (torque limited) runs at every 1/120 s physics substep. Action latency
    (randomized per env at reset, in substeps) is MuJoCo's own per-actuator control delay, so a
    control step is one ``Batch.step(nstep=substeps)`` call per object group.

Observation Space:
    ``proprio`` (N, 327): T=10 pairs (q, previous target) + wrist quaternion + axis
    (:mod:`dexndm.sim.observations`). ``privileged`` (N, 327 + 76): the same plus object pose and
    velocity, fingertip positions and contacts, joint velocities and torques, the guiding goal,
    gravity and the axis in the hand frame, and the randomized physical parameters.

Rewards:
    :mod:`dexndm.sim.rewards`.

Starting State:
    A grasp drawn from the grasp cache of the env's object at its wrist orientation; or, with
    probability ``HandoverConfig.prob``, the open hand, the object held at that grasp's object
    pose by the operator (a weld) for ``hold_steps`` steps (``handover_actions`` is the scripted
    closing teacher).

Episode End:
    ``terminated`` when the object is ``fall_distance`` from the grasp centre; ``truncated``
    (a time-out) after ``episode_steps``. Autoreset is *same-step*: ``step`` returns the first
    observation of the new episode for envs that ended, and ``info["final_metrics"]`` holds the
    finished episodes' metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
from mujoco import batch as mjbatch

from dexndm.hand import constants as C
from dexndm.objects import ObjectSpec, rescaled, resolve_object
from dexndm.sim.config import EnvConfig
from dexndm.sim.grasp import GraspSet, cached_grasps
from dexndm.sim.observations import proprio_dim, proprio_obs, push_history
from dexndm.sim.rewards import rotation_about_axis, rotation_reward, rotp_weight
from dexndm.sim.rotations import (
    cross3,
    quat_angle,
    quat_conj,
    quat_from_axis_angle,
    quat_mul,
    quat_rotate,
    quat_to_matrix,
    random_unit_vectors,
)
from dexndm.sim.scene import (
    WRIST_POS,
    SceneLayout,
    action_delay_seconds,
    add_action_delay,
    build_scene_spec,
)
from dexndm.sim.wrists_axes import PRINCIPAL_AXES, WRISTS, parse_axis, parse_wrist

PRIVILEGED_EXTRA = 3 + 4 + 3 + 3 + 12 + 4 + 4 + 16 + 16 + 4 + 3 + 3 + 1
"""obj pos, quat, linvel, angvel, fingertips, touch flags, touch forces, qdot, torque, goal quat,
axis (hand), gravity (hand), c_rotp... and the 5 physical parameters below."""
PHYS_PARAMS = 5  # mass, friction, kp scale, kd scale, latency
RANDOMIZED_FIELDS = (
    "body_mass", "body_inertia", "body_ipos", "geom_friction", "actuator_gainprm", "actuator_biasprm",
)  # fmt: skip
"""Model fields with per-simulation values: the domain randomization drawn at every reset."""
DELAY_FIELD = "actuator_delay"
"""Per-simulation too when the config has action latency (then the actuators keep a history)."""


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


def _as_index(idx: np.ndarray) -> slice | np.ndarray:
    """A slice for a run of consecutive indices (basic indexing: views, no gather), else ``idx``."""
    idx = np.asarray(idx)
    if len(idx) and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx))):
        return slice(int(idx[0]), int(idx[0]) + len(idx))
    return idx


@dataclass
class _Group:
    """The envs that share one object shape (one compiled model, one Batch)."""

    obj: ObjectSpec
    env_ids: np.ndarray
    envs: slice | np.ndarray  # env_ids as an index: a slice when they are consecutive
    model: mujoco.MjModel
    layout: SceneLayout
    sim: mjbatch.Batch
    grasps: list[GraspSet]  # one per wrist orientation of the config
    nominal_inertia: np.ndarray
    # the grasps of all wrists stacked, so that a reset draws them without a loop over envs;
    # wrist w's rows start at grasp_start[w], grasp_count[w] of them
    grasp_q: np.ndarray
    grasp_t: np.ndarray
    grasp_pos: np.ndarray
    grasp_quat: np.ndarray
    grasp_start: np.ndarray
    grasp_count: np.ndarray
    history_values: np.ndarray | None  # (16, nsample) ``history`` columns of past controls, if any
    # the hand's qpos / dof addresses as indices (slices: the hand's joints come first)
    hand_q: slice | np.ndarray
    hand_v: slice | np.ndarray


def _control_history_columns(model: mujoco.MjModel) -> np.ndarray:
    """(nu, nsample) columns of a ``history`` row that hold each actuator's past controls.

    MuJoCo lays an actuator's buffer out as ``[user, cursor, times(nsample), values(nsample)]``
    from ``actuator_historyadr``; the times of a freshly reset simulation are already the
    ``nsample`` substeps before t = 0, so filling the values primes the delay line.
    """
    nsample = model.actuator_history[:, 0]
    if not np.all(nsample == nsample[0]):
        raise RuntimeError("every actuator must keep the same number of control samples")
    k = int(nsample[0])
    return model.actuator_historyadr[:, None] + 2 + k + np.arange(k)[None, :]


class RotationEnv:
    """Batched in-hand rotation with numpy arrays in and out (see module docstring)."""

    def __init__(self, cfg: EnvConfig):
        self.cfg = cfg
        self.autoreset = True
        """Same-step autoreset; the Gymnasium face turns it off and resets on request."""
        self.action_limit = 1.0
        """Actions are clipped to +-this (1: the training interface). An evaluator raises it for a
        policy that declares more (base + residual; :func:`dexndm.eval.policies.action_limit`)."""
        self.num_envs = n = cfg.num_envs
        self.num_actions = C.NUM_JOINTS
        self.rng = np.random.default_rng(cfg.seed)
        lat_lo, lat_hi = cfg.randomization.latency_substeps
        if not 0 <= lat_lo <= lat_hi:
            raise ValueError(
                f"RandomizationConfig.latency_substeps must be (low, high) with 0 <= low <= high, "
                f"got {cfg.randomization.latency_substeps}"
            )
        self._delta_action = None
        if cfg.delta_action is not None:
            from dexndm.residual.delta_action import DeltaActionActuation

            self._delta_action = DeltaActionActuation(cfg.delta_action)
        self.objects = expand_objects(cfg.objects, cfg.split)
        self.wrist_choices = expand_wrists(cfg.wrists)
        self._wrist_table = np.stack(self.wrist_choices)
        self.random_axes = cfg.axes == ("random",)
        if not self.random_axes:
            names = [a for name in cfg.axes for a in (PRINCIPAL_AXES if name == "principal" else [name])]
            self.axis_choices = np.stack([parse_axis(a) for a in names])
        self.active_wrists = np.arange(len(self.wrist_choices))
        self.active_axes: np.ndarray | None = None if self.random_axes else self.axis_choices
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
        self.wrist_rot = np.tile(np.eye(3), (n, 1, 1))  # rotation matrices of wrist_quat
        self.axis = np.tile([0.0, 0, 1], (n, 1))
        self.goal_quat = np.tile([1.0, 0, 0, 0], (n, 1))
        self.obj_quat_prev = np.tile([1.0, 0, 0, 0], (n, 1))
        self.step_count = np.zeros(n, dtype=int)
        self.resets = np.zeros(n, dtype=int)
        self.latency = np.zeros(n, dtype=int)
        self.phys = np.zeros((n, PHYS_PARAMS))
        self.disturbance = np.zeros((n, 3))
        self.mass = np.full(n, 0.03)
        # open-hand starts (HandoverConfig): control steps until the operator lets go (0: not
        # held), and the grasp targets the scripted closing teacher heads for
        self.handover_left = np.zeros(n, dtype=int)
        # the operator holds on past the handover's own count, until let_go (teleoperation)
        self.operator_holds = np.zeros(n, dtype=bool)
        self.grasp_targets = np.zeros((n, 16))
        self.open_pose = cfg.handover.open_joint_pos
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
        max_latency = cfg.randomization.latency_substeps[1]
        groups = []
        cache = None if cfg.grasp_cache_dir is None else Path(cfg.grasp_cache_dir)
        for i in range(k):
            obj = self.objects[i]
            lo, hi = cfg.randomization.object_scale
            if hi > lo or lo != 1.0:
                # the spec itself, not its name: a user mesh's name is its file stem, not a path
                obj = rescaled(obj, float(self.rng.uniform(lo, hi)))
            spec = build_scene_spec(obj, cfg.physics)
            if max_latency > 0:
                add_action_delay(spec, max_latency)
            model = spec.compile()
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
            for name in RANDOMIZED_FIELDS + ((DELAY_FIELD,) if max_latency > 0 else ()):
                sim.expand(name)
            counts = np.array([len(gs) for gs in grasps])
            groups.append(
                _Group(
                    obj=obj,
                    env_ids=env_ids,
                    envs=_as_index(env_ids),
                    model=model,
                    layout=layout,
                    sim=sim,
                    grasps=grasps,
                    nominal_inertia=model.body_inertia[layout.object_body].copy(),
                    grasp_q=np.concatenate([gs.joint_pos for gs in grasps]),
                    grasp_t=np.concatenate([gs.joint_targets for gs in grasps]),
                    grasp_pos=np.concatenate([gs.object_pos for gs in grasps]),
                    grasp_quat=np.concatenate([gs.object_quat for gs in grasps]),
                    grasp_start=np.concatenate([[0], np.cumsum(counts)[:-1]]),
                    grasp_count=counts,
                    history_values=_control_history_columns(model) if max_latency > 0 else None,
                    hand_q=_as_index(layout.hand_qpos),
                    hand_v=_as_index(layout.hand_dof),
                )
            )
        return groups

    # ---- reset ------------------------------------------------------------------------------
    def reset(self) -> dict[str, np.ndarray]:
        self._reset_envs(np.arange(self.num_envs))
        return self.observations()

    def reseed(self, seed: int) -> None:
        """Restart the random stream from ``seed`` for the resets and steps that follow.

        The built task (object groups, scales, grasps: ``cfg.seed``) stays. The reset count,
        which drives the c_rotp ramp, restarts too, so that a seed fixes what follows it.
        """
        self.rng = np.random.default_rng(seed)
        self.resets[:] = 0

    def set_task_distribution(self, wrists: tuple[str, ...], axes: tuple[str, ...]) -> None:
        """Restrict what resets draw (a curriculum stage); episodes running now are not touched.

        ``wrists`` must be among the env's configured wrist orientations (their grasps are built
        with the env); ``axes`` are any axis names/vectors, ``"principal"`` or ``"random"``.
        A wrist listed k times is drawn k times as often: a stage that adds new wrists can keep
        a large share of resets on the one whose gait is already learned, so PPO does not trade
        that gait away while the new wrists are hard (session 8's all-wrist run did).
        """
        wanted = expand_wrists(wrists)
        idx = []
        for w in wanted:
            hits = [i for i, c in enumerate(self.wrist_choices) if np.allclose(c, w, atol=1e-6)]
            if not hits:
                raise ValueError(
                    f"wrist {np.round(w, 4).tolist()} is not among the env's wrists {list(self.cfg.wrists)}; "
                    "add it to EnvConfig.wrists so its grasps are built"
                )
            idx.append(hits[0])
        self.active_wrists = np.array(idx)
        if tuple(axes) == ("random",):
            self.active_axes = None
        else:
            names = [a for name in axes for a in (PRINCIPAL_AXES if name == "principal" else [name])]
            self.active_axes = np.stack([parse_axis(a) for a in names])

    def _reset_envs(self, env_ids: np.ndarray) -> None:
        if len(env_ids) == 0:
            return
        cfg, rng, dr = self.cfg, self.rng, self.cfg.randomization
        m = len(env_ids)
        wi = self.active_wrists[rng.integers(len(self.active_wrists), size=m)]
        self.wrist_quat[env_ids] = self._wrist_table[wi]
        self.wrist_rot[env_ids] = quat_to_matrix(self.wrist_quat[env_ids])
        if self.active_axes is None:
            self.axis[env_ids] = random_unit_vectors(rng, m)
        else:
            self.axis[env_ids] = self.active_axes[rng.integers(len(self.active_axes), size=m)]
        mass = rng.uniform(*dr.object_mass, size=m)
        friction = rng.uniform(*dr.friction, size=m)
        kp_s = rng.uniform(*dr.kp_scale, size=m)
        kd_s = rng.uniform(*dr.kd_scale, size=m)
        latency = rng.integers(dr.latency_substeps[0], dr.latency_substeps[1] + 1, size=m)
        com = rng.uniform(-dr.com_offset, dr.com_offset, size=(m, 3))
        self.latency[env_ids] = latency
        self.mass[env_ids] = mass
        self.phys[env_ids] = np.stack([mass, friction, kp_s, kd_s, latency], axis=1)
        # drawn only when enabled, so that the random stream of grasped starts is unchanged
        ho = cfg.handover
        from_open = rng.random(m) < ho.prob if ho.prob > 0 else np.zeros(m, dtype=bool)
        self.handover_left[env_ids] = np.where(from_open, ho.hold_steps, 0)
        self.operator_holds[env_ids] = False
        hc = cfg.physics.hand
        one_group = len(self.groups) == 1
        for g, grp in enumerate(self.groups):
            sel = slice(None) if one_group else self.group_of[env_ids] == g
            ids = env_ids[sel]
            if len(ids) == 0:
                continue
            slots, lay, ob, sim = self.slot_of[ids], grp.layout, grp.layout.object_body, grp.sim
            sim.reset(slots, stage=mujoco.mjtStage.mjSTAGE_NONE)
            # one grasp per env from its wrist's grasps (all wrists' grasps are stacked)
            w_idx = wi[sel]
            k = grp.grasp_start[w_idx] + (rng.random(len(ids)) * grp.grasp_count[w_idx]).astype(np.int64)
            grasp_q, grasp_t = grp.grasp_q[k], grp.grasp_t[k]
            self.grasp_targets[ids] = grasp_t
            wq = self.wrist_quat[ids]
            obj_pos = WRIST_POS + quat_rotate(wq, grp.grasp_pos[k])
            obj_quat = quat_mul(wq, grp.grasp_quat[k])
            # an open-hand start: the hand open, the operator holding the object at the grasp's pose
            opened = from_open[sel]
            start_q = np.where(opened[:, None], self.open_pose, grasp_q)
            start_t = np.where(opened[:, None], self.open_pose, grasp_t)
            qpos = sim.bind("qpos")
            qpos[slots, grp.hand_q] = start_q
            qpos[slots, lay.object_qpos : lay.object_qpos + 3] = obj_pos
            qpos[slots, lay.object_qpos + 3 : lay.object_qpos + 7] = obj_quat
            sim.bind("qvel")[slots] = 0.0
            sim.bind("ctrl")[slots] = start_t
            sim.bind("mocap_pos")[slots, lay.operator_mocap] = obj_pos
            sim.bind("mocap_quat")[slots, lay.operator_mocap] = obj_quat
            sim.bind("eq_active")[slots, lay.handover_eq] = opened
            sim.bind("mocap_quat")[slots, lay.wrist_mocap] = wq
            sim.bind("xfrc_applied")[slots] = 0.0
            if grp.history_values is not None:
                # the delay line holds the grasp targets, as if they had been commanded forever:
                # no startup transient (a reset history holds zeros, which would open the hand)
                sim.bind("history")[slots[:, None, None], grp.history_values] = start_t[:, :, None]
                delay = action_delay_seconds(latency[sel], grp.model.opt.timestep)
                sim.expand(DELAY_FIELD)[slots] = delay[:, None]
            sim.expand("body_mass")[slots, ob] = mass[sel]
            sim.expand("body_inertia")[slots, ob] = grp.nominal_inertia * (mass[sel] / grp.obj.mass)[:, None]
            sim.expand("body_ipos")[slots, ob] = grp.model.body_ipos[ob] + com[sel]
            # mass and inertia feed constants mj_setConst derives (body/dof invweight0, which set
            # the contact softness): left at the compiled mass, a lighter or heavier object gets
            # contacts far too stiff for the timestep and is thrown out of the hand at 100+ rad/s
            sim.set_const(slots)
            geom_friction = sim.expand("geom_friction")
            geom_friction[slots[:, None], lay.object_geoms, 0] = friction[sel][:, None]
            # MuJoCo gives a contact the larger of its two geoms' coefficients, so with the hand's
            # fixed ones (fingertips 0.7) a draw below them would not act: the hand's geoms come
            # down to the draw. Draws above them leave the hand as built (nominal physics too).
            hand_nominal = grp.model.geom_friction[lay.hand_geoms, 0]
            hand_friction = np.minimum(hand_nominal, friction[sel][:, None])
            geom_friction[slots[:, None], lay.hand_geoms, 0] = hand_friction
            gain, bias = sim.expand("actuator_gainprm"), sim.expand("actuator_biasprm")
            gain[slots, :, 0] = hc.kp * kp_s[sel][:, None]
            bias[slots, :, 1] = -hc.kp * kp_s[sel][:, None]
            bias[slots, :, 2] = -hc.kd * kd_s[sel][:, None]
            sim.forward(slots, stage=mujoco.mjtStage.mjSTAGE_VEL)
            self.targets[ids] = start_t
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
        one_group = len(self.groups) == 1
        for g, grp in enumerate(self.groups):
            if env_ids is None:
                ids, slots = grp.envs, slice(None)
            else:
                ids = env_ids if one_group else env_ids[self.group_of[env_ids] == g]
                if len(ids) == 0:
                    continue
                slots = self.slot_of[ids]
            lay = grp.layout
            sim = grp.sim
            qpos, qvel, sens = sim.bind("qpos")[slots], sim.bind("qvel")[slots], sim.bind("sensordata")[slots]
            self.q[ids] = qpos[:, grp.hand_q]
            self.qdot[ids] = qvel[:, grp.hand_v]
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
        prev_targets = self.targets
        lim = self.action_limit
        self.targets = C.clamp_to_limits(prev_targets + np.clip(actions, -lim, lim) * C.ACTION_SCALE)
        self._apply_disturbance()
        self._advance_physics()
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
            grp.sim.bind("xfrc_applied")[:, grp.layout.object_body, :3] = self.disturbance[grp.envs]

    def _advance_physics(self) -> None:
        """Run one control step's substeps: one ``Batch.step`` per group.

        The new targets go to ``ctrl`` now; MuJoCo's per-simulation actuator delay (set at reset
        from ``latency``) keeps each env's PD on its previous targets for its first L substeps.
        """
        n_sub = self.cfg.physics.substeps
        sent = self.targets
        if self._delta_action is not None:
            # q_hist / a_hist still hold o_t here: the observation the targets were chosen on
            sent = self._delta_action.sent_targets(self.q_hist, self.a_hist, self.wrist_quat, self.targets)
        for grp in self.groups:
            grp.sim.bind("ctrl")[:] = sent[grp.envs]
            grp.sim.step(nstep=n_sub, stage=mujoco.mjtStage.mjSTAGE_VEL)

    def _after_physics(self, prev_targets: np.ndarray):
        cfg = self.cfg
        n = self.num_envs
        all_ids = np.arange(n)
        self.step_count += 1
        self._advance_handover()
        # guiding goal: reached when within goal_reach_deg; then it moves goal_step_deg further
        goal_reached = quat_angle(self.obj_quat, self.goal_quat) < np.deg2rad(cfg.reward.goal_reach_deg)
        if goal_reached.any():
            self.goal_quat[goal_reached] = self._goal_ahead(
                self.goal_quat[goal_reached], self.axis[goal_reached]
            )
        dist = np.linalg.norm(self.obj_pos - WRIST_POS, axis=-1)
        reward, terms = rotation_reward(
            self.omega, self.axis, self.obj_vel, self.q, self.q_init, self.torque, self.qdot,
            goal_reached, rotp_weight(self.resets, cfg.reward), cfg.reward,
            # capped at the limit: a thrown object must not cost more than the fall penalty says
            np.minimum(np.nan_to_num(dist, nan=cfg.fall_distance), cfg.fall_distance),
        )  # fmt: skip
        w_k = np.sum(self.omega * self.axis, -1)
        self.ep["rot_r"] += w_k
        self.ep["rot_p"] += np.linalg.norm(cross3(self.omega, self.axis), axis=-1)
        self.ep["rot"] += rotation_about_axis(self.obj_quat_prev, self.obj_quat, self.axis)
        self.ep["reward"] += reward
        self.ep["goals"] += goal_reached
        self.obj_quat_prev[:] = self.obj_quat
        push_history(self.q_hist, self._noisy_q(all_ids))
        # each q is paired with the target in force while it was reached: the one just set
        # (method.md's (q_k, a_{k-1})); pairing it with the target before that would hide the
        # policy's latest command from it
        push_history(self.a_hist, self.targets)

        terminated = (dist > cfg.fall_distance) | ~np.all(np.isfinite(self.obj_pos), axis=-1)
        truncated = (self.step_count >= cfg.episode_steps) & ~terminated
        # dropping the object must cost more than holding on: without it, the per-step
        # penalties make an early drop the best return (measured: TTF fell 0.18 -> 0.05 in 50
        # PPO iterations while the policy flicked the object out of the hand)
        fall = cfg.reward.fall_penalty * terminated
        reward = reward - fall
        self.ep["reward"] -= fall
        terms = {**terms, "fall": -fall}
        ended = np.flatnonzero(terminated | truncated)
        info: dict = {"reward_terms": terms}
        if len(ended):
            info["final_metrics"] = self._episode_metrics(ended)
            info["final_env_ids"] = ended
            if self.autoreset:
                self._reset_envs(ended)
        return self.observations(), reward, terminated, truncated, info

    # ---- open-hand starts ---------------------------------------------------------------------
    @property
    def in_handover(self) -> np.ndarray:
        """(N,) bool: the operator still holds the object (an open-hand start's first steps)."""
        return self.handover_left > 0

    @property
    def _handover_steps_done(self) -> np.ndarray:
        """(N,) control steps of the handover already taken (meaningful while ``in_handover``)."""
        return self.cfg.handover.hold_steps - self.handover_left

    @property
    def closing(self) -> np.ndarray:
        """(N, bool): in the closing phase of a handover, the scripted teacher's
        (``close_steps`` steps; the operator holds on ``hold_steps - close_steps`` steps more while
        the policy already acts, so that a student never sees the teacher hold still)."""
        return self.in_handover & (self._handover_steps_done < self.cfg.handover.close_steps)

    def with_scripted_closing(self, actions: np.ndarray) -> np.ndarray:
        """``actions`` (N, 16), except the scripted teacher's for envs in the closing phase: how a
        policy that never learned to grasp (a specialist) is run, or labelled, from an open hand."""
        return np.where(self.closing[:, None], self.handover_actions(), actions)

    def handover_actions(self) -> np.ndarray:
        """The scripted closing teacher: (N, 16) actions that move each held env's targets from
        the open pose to its grasp's targets in ``close_steps`` steps, then keep them (zeros for
        envs not in a handover).

        It knows the grasp (privileged); a proprioceptive student learns the closing motion from
        it, and where the fingers stop from what they feel.
        """
        frac = np.clip((self._handover_steps_done + 1) / self.cfg.handover.close_steps, 0.0, 1.0)[:, None]
        wanted = self.open_pose + (self.grasp_targets - self.open_pose) * frac
        actions = np.clip((wanted - self.targets) / C.ACTION_SCALE, -1.0, 1.0)
        return np.where(self.in_handover[:, None], actions, 0.0)

    def let_go(self, env_ids: np.ndarray) -> None:
        """The operator lets go of the object in ``env_ids`` now (teleoperation decides when)."""
        mask = np.zeros(self.num_envs, dtype=bool)
        mask[np.asarray(env_ids, dtype=int)] = True
        self.handover_left[mask] = 0
        self.operator_holds[mask] = False
        self._release(mask)

    def keep_holding(self, env_ids: np.ndarray) -> None:
        """The operator of ``env_ids`` (in an open-hand start) holds on until :meth:`let_go`.

        The handover's clock runs as usual (the scripted closing still takes ``close_steps``);
        it only stops one step short of the let-go.
        """
        ids = np.asarray(env_ids, dtype=int)
        self.operator_holds[ids[self.handover_left[ids] > 0]] = True

    def _advance_handover(self) -> None:
        """Count a control step of every handover; the operator lets go of those that are done."""
        held = self.handover_left > 0
        if not held.any():
            return
        self.handover_left[held] -= 1
        self.handover_left[held & self.operator_holds] = np.maximum(
            self.handover_left[held & self.operator_holds], 1
        )
        self._release(held & (self.handover_left == 0))

    def _release(self, mask: np.ndarray) -> None:
        for grp in self.groups:
            sub = mask[grp.envs]
            if sub.any():
                grp.sim.bind("eq_active")[np.flatnonzero(sub), grp.layout.handover_eq] = 0

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
        """``proprio`` (N, obs_dim) and ``privileged`` (N, privileged_dim) float32, fresh arrays
        (callers may keep them: torch tensors made with ``as_tensor`` share their memory)."""
        n, p = self.num_envs, self.obs_dim
        out = np.empty((n, self.privileged_dim), dtype=np.float32)
        proprio_obs(self.q_hist, self.a_hist, self.wrist_quat, self.axis, out=out[:, :p])
        # world vectors into the hand frame in one matmul: row vectors times R apply R^-1
        vec = np.empty((n, 9, 3))
        vec[:, 0] = self.obj_pos - WRIST_POS
        vec[:, 1] = self.obj_vel
        vec[:, 2] = self.omega
        vec[:, 3:7] = self.tips.reshape(n, 4, 3) - WRIST_POS
        vec[:, 7] = self.axis
        vec[:, 8] = (0.0, 0.0, -1.0)  # gravity's direction
        hand = vec @ self.wrist_rot
        wrist_inv = quat_conj(self.wrist_quat)
        terms = (
            hand[:, 0],  # object position
            quat_mul(wrist_inv, self.obj_quat),  # object orientation
            hand[:, 1],  # object linear velocity
            hand[:, 2],  # object angular velocity
            hand[:, 3:7].reshape(n, 12),  # fingertips
            self.touch > 1e-3,
            np.minimum(self.touch, 5.0),
            self.qdot,
            self.torque,
            quat_mul(wrist_inv, self.goal_quat),  # guiding goal
            hand[:, 7],  # axis
            hand[:, 8],  # gravity
            rotp_weight(self.resets, self.cfg.reward)[:, None],
            self.phys,
        )
        col = p
        for term in terms:
            out[:, col : col + term.shape[1]] = term
            col += term.shape[1]
        return {"proprio": out[:, :p].copy(), "privileged": out}

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
