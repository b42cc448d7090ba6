"""SimulatedReality: a LEAP hand with a reality gap, driven exactly like the physical one.

A separately built MuJoCo world (the training scene's hand and object from
:func:`dexndm.sim.scene.build_scene_spec`, rebuilt with the profile's timestep, contacts, frictions
and masses) whose 16 joints are driven by torque motors. Every physics step a model of the
Dynamixel XC330 in current-based position mode computes those torques from the profile
(:mod:`dexndm.reality.profile`):

1. commands reach the motors after the command latency (+ jitter), in order, as integer goal ticks;
2. the motor's own loop: ``I = P/128 * e + D/16 * de/dt`` (mA; ``e`` goal - encoder in ticks,
   ``de/dt`` per ms), clipped to the current limit, times the torque constant;
3. the torque-speed line: driving torque falls from the stall torque at rest to zero at the no-load
   speed;
4. backlash: after the torque reverses, the rotor crosses the gear play (accelerated by the motor
   torque through the rotor inertia) before it pushes the link again; meanwhile the link gets none
   (the link keeps the rotor inertia throughout, and its own motion during the crossing is
   neglected);
5. Coulomb and viscous friction and the rotor inertia act through MuJoCo's joint ``frictionloss``
   (a constraint), ``damping`` (integrated implicitly) and ``armature``, so they stay stable at
   any timestep.

Readings are what the motors report: positions quantized to encoder ticks with noise, velocities in
0.229 rpm units, currents in mA with noise, all as old as the sensing latency (+ jitter). Random
draws are made per physics step, so a reading depends only on *when* it is taken, not on how many
readings were taken (the emulator reads far more often than a direct caller).

Nothing of the profile reaches the policy: a policy sees :meth:`read_state` like on the real hand.
:meth:`object_pose`, :meth:`object_angvel` and :meth:`joint_state_truth` are for evaluators only.

Example (simulated time: :meth:`advance` steps the physics by one control period, no sleeping)::

    from dexndm.reality.simulated import SimulatedReality
    from dexndm.sim.grasp import cached_grasps

    with SimulatedReality("default", wrist="palm_up", obj="cube", seed=0) as hand:
        g = cached_grasps(hand.obj, hand.wrist_quat)
        hand.reset_to_grasp(g.joint_pos[0], g.joint_targets[0], g.object_pos[0], g.object_quat[0])
        targets = g.joint_targets[0]
        for _ in range(40):
            state = hand.read_state()                     # HandState: quantized, noisy, delayed
            sent = hand.send_joint_targets(targets)       # after the SafetyFilter
            hand.advance()                                # + 0.05 s of physics
        pos, quat = hand.object_pose()

A Chaos Box or any extra geometry goes in through ``extra_scene(spec)``, called on the MjSpec
before it is compiled (bodies it adds are left alone: only the hand's and the object's contacts
and masses follow the profile).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import mujoco
import numpy as np

from dexndm.hand import constants as C
from dexndm.hand.model import ALL_LINKS, HandConfig
from dexndm.objects import ObjectSpec, resolve_object
from dexndm.reality.base import HandState, RealHand, SafetyFilter
from dexndm.reality.profile import (
    D_GAIN_DIVISOR,
    P_GAIN_DIVISOR,
    RealityProfile,
    load_profile,
)
from dexndm.sim.rotations import quat_mul, quat_normalize, quat_rotate
from dexndm.sim.scene import HANDOVER_WELD, OBJECT_BODY, WRIST_POS, PhysicsConfig, build_scene_spec
from dexndm.sim.wrists_axes import parse_wrist

RAD_S_PER_VELOCITY_UNIT = C.RPM_PER_VELOCITY_UNIT * 2.0 * math.pi / 60.0
HAND_BODIES: frozenset[str] = frozenset({"palm", *(link.name for link in ALL_LINKS)})
_NOISE_BLOCK = 1024  # physics steps of random draws made at once
_PLACEHOLDER_OBJECT = "cube"  # built then deleted when the world has no object

# MuJoCo's checks for a state that is no longer finite: each resets mjData to the model's defaults
# (hand at qpos0, object and wrist where the model first put them) and counts itself; the counters
# survive that reset and are cleared only by our own mj_resetData.
_BADQPOS, _BADQVEL, _BADQACC = (
    int(w)
    for w in (
        mujoco.mjtWarning.mjWARN_BADQPOS,
        mujoco.mjtWarning.mjWARN_BADQVEL,
        mujoco.mjtWarning.mjWARN_BADQACC,
    )
)


@dataclass
class _MotorState:
    """Per-joint state of the 16 motor models, ``(16,)`` each."""

    goal_ticks: np.ndarray  # goal position the motors act on, ticks (sim zero = 0)
    prev_error_ticks: np.ndarray  # last loop's error, for the D term
    gear_side: np.ndarray  # +1 / -1: gear in contact pushing that way; 0: crossing the play
    gear_gap: np.ndarray  # rotor position within the play, rad, in [-b/2, b/2]
    gear_gap_vel: np.ndarray  # rad/s
    motor_torque: np.ndarray  # torque the motor produces (after limits), Nm
    torque_on: bool = True


class SimulatedReality(RealHand):
    """The LEAP hand in a reality-gap simulation; see the module docstring.

    Args:
        profile: a shipped profile name (``"mild"``, ``"default"``, ``"harsh"``), a TOML path, or a
            :class:`~dexndm.reality.profile.RealityProfile`.
        wrist: wrist orientation: a name (``"palm_up"``...) or a unit quaternion ``(w, x, y, z)``.
        obj: the object (name, mesh path or :class:`~dexndm.objects.ObjectSpec`), or ``None``
            for a free hand.
        extra_scene: ``fn(spec)`` adding geometry (e.g. a Chaos Box) before compilation.
        seed: seeds every random draw (noise, jitter).
        safety: the :class:`~dexndm.reality.base.SafetyFilter` (default: the hand's default).
    """

    def __init__(
        self,
        profile: str | Path | RealityProfile = "default",
        *,
        wrist: str | np.ndarray | tuple[float, ...] = "palm_up",
        obj: str | ObjectSpec | None = None,
        extra_scene: Callable[[mujoco.MjSpec], None] | None = None,
        seed: int = 0,
        safety: SafetyFilter | None = None,
    ) -> None:
        super().__init__(safety)
        self.profile = load_profile(profile)
        self.wrist_quat = parse_wrist(wrist)
        self.wrist_pos = WRIST_POS.copy()
        self.obj: ObjectSpec | None = resolve_object(obj) if isinstance(obj, str) else obj
        self.seed = seed
        self.timestep = self.profile.physics.timestep_s
        self.steps_per_control = int(round(C.CONTROL_DT / self.timestep))

        spec = self._build_spec()
        if extra_scene is not None:
            extra_scene(spec)
        self.spec = spec
        self.model = spec.compile()
        self._apply_mass_offsets()
        self.data = mujoco.MjData(self.model)
        m = self.model
        joint_ids = [m.joint(n).id for n in C.JOINT_NAMES]
        self._qpos = np.array([m.jnt_qposadr[j] for j in joint_ids])
        self._dof = np.array([m.jnt_dofadr[j] for j in joint_ids])
        self._act = np.array([m.actuator(n).id for n in C.JOINT_NAMES])
        self._wrist_mocap = int(m.body_mocapid[m.body("wrist").id])
        self._operator_mocap = int(m.body_mocapid[m.body("operator").id])
        self._handover_eq = -1  # a free hand has no object, so no weld to hold it by
        self._obj_qpos = self._obj_dof = -1
        if self.obj is not None:
            j = m.joint("object_free").id
            self._obj_qpos, self._obj_dof = int(m.jnt_qposadr[j]), int(m.jnt_dofadr[j])
            self._handover_eq = int(m.equality(HANDOVER_WELD).id)

        mp = self.profile.motor
        scale = np.ones(C.NUM_JOINTS)
        scale[[C.JOINT_NAMES.index(n) for n in C.SIDE_TO_SIDE_JOINTS]] = mp.side_to_side_gain_scale
        self._kpp_ma_per_tick = mp.p_gain / P_GAIN_DIVISOR * scale
        self._kpd_ma_per_tick_ms = mp.d_gain / D_GAIN_DIVISOR * scale
        self._rad_per_tick = 2.0 * math.pi / self.profile.encoder.ticks_per_rev
        self._current_limit_a = mp.current_limit_ma * 1e-3

        lat = self.profile.latency
        self._history = (
            int(math.ceil((lat.sensing_latency_ms + lat.sensing_jitter_ms) * 1e-3 / self.timestep)) + 2
        )
        self._rng = np.random.default_rng(seed)
        self._draws = np.zeros((0, 2 * C.NUM_JOINTS + 2))
        self._draws_start = 0
        self._step = 0
        self._connected = False
        self._commands: list[tuple[int, np.ndarray]] = []  # (physics step it takes effect, goal ticks)
        self._last_goal_ticks: np.ndarray | None = None
        self._last_arrival = 0
        self._motor = self._fresh_motor(C.DEFAULT_POSE)
        self.physics_divergences = 0
        """Times the physics blew up (MuJoCo found a non-finite state and reset the world). A real
        hand has no such thing: whoever runs episodes on this one drops or flags the episode it
        happened in (dexndm.eval.reality_eval, dexndm.collect)."""
        self._divergence_count = 0
        self._joint_ceiling = C.JOINT_UPPER + C.JOINT_STOP_OVERRUN_RAD
        self._joint_floor = C.JOINT_LOWER - C.JOINT_STOP_OVERRUN_RAD
        # a view of MuJoCo's warning counters: read every physics step, so no per-step wrappers
        self._warning_counts = self.data.warning.number
        self.reset_to_grasp(C.DEFAULT_POSE, C.DEFAULT_POSE)

    # ---- building ---------------------------------------------------------------------------
    def _build_spec(self) -> mujoco.MjSpec:
        p = self.profile
        hand = replace(
            HandConfig(),
            armature=p.motor.armature_kg_m2,
            joint_damping=p.motor.viscous_friction_nm_s_per_rad,
            frictionloss=p.motor.coulomb_friction_nm,
            fingertip_friction=(p.contact.fingertip_friction, p.contact.torsional_friction,
                                p.contact.rolling_friction),
            link_friction=p.contact.link_friction,
        )  # fmt: skip
        physics = PhysicsConfig(
            timestep=p.physics.timestep_s,
            substeps=int(round(C.CONTROL_DT / p.physics.timestep_s)),
            cone=p.physics.cone,
            impratio=p.physics.impratio,
            iterations=p.physics.iterations,
            ls_iterations=p.physics.ls_iterations,
            object_friction=p.contact.object_friction,
            hand=hand,
        )
        spec = build_scene_spec(self.obj or resolve_object(_PLACEHOLDER_OBJECT), physics)
        spec.modelname = "dexndm_simulated_reality"
        spec.option.integrator = {
            "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
            "implicit": mujoco.mjtIntegrator.mjINT_IMPLICIT,
            "euler": mujoco.mjtIntegrator.mjINT_EULER,
            "rk4": mujoco.mjtIntegrator.mjINT_RK4,
        }[p.physics.integrator]
        if self.obj is None:
            spec.delete(spec.body(OBJECT_BODY))
        # The training hand's PD position actuators become plain torque motors: the Dynamixel
        # model computes their torque every physics step.
        for name in C.JOINT_NAMES:
            act = spec.actuator(name)
            act.gaintype = mujoco.mjtGain.mjGAIN_FIXED
            act.biastype = mujoco.mjtBias.mjBIAS_NONE
            gain = np.zeros(10)
            gain[0] = 1.0
            act.gainprm = gain
            act.biasprm = np.zeros(10)
            act.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
            act.forcerange = (-p.motor.stall_torque_nm, p.motor.stall_torque_nm)
        c = p.contact
        # MuJoCo applies torsional and rolling friction only to contacts of condim 4 / 6 (a pair
        # takes the larger condim of its geoms); the training sim's condim 3 has neither, so
        # giving the object the profile's condim makes them part of the gap
        condim = 6 if c.rolling_friction > 0 else 4 if c.torsional_friction > 0 else 3
        for geom in spec.geoms:
            body = geom.parent.name
            if body in HAND_BODIES or body == OBJECT_BODY:
                geom.solref = (c.solref_timeconst_s, c.solref_dampratio)
                geom.solimp = c.solimp
            if body == OBJECT_BODY and geom.contype:
                geom.friction = (c.object_friction, c.torsional_friction, c.rolling_friction)
                geom.condim = condim
        return spec

    def _apply_mass_offsets(self) -> None:
        ms, m = self.profile.mass, self.model
        for name in HAND_BODIES:
            b = m.body(name).id
            m.body_mass[b] *= ms.link_mass_scale
            m.body_inertia[b] *= ms.link_mass_scale * ms.link_inertia_scale
        if self.obj is not None:
            b = m.body(OBJECT_BODY).id
            m.body_mass[b] *= ms.object_mass_scale
            m.body_inertia[b] *= ms.object_mass_scale * ms.object_inertia_scale

    # ---- RealHand ---------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return self._connected

    def _connect(self) -> None:
        # As the LEAP driver does: goal = present position, then torque on, so nothing jumps.
        self._connected = True
        self._motor.torque_on = True
        self.set_goal_positions(self.sensed_state().joint_pos)

    def _disconnect(self) -> None:
        self._connected = False
        self._motor.torque_on = False

    def read_state(self) -> HandState:
        """The motors' latest report (quantized, noisy, delayed); see :meth:`sensed_state`."""
        if not self._connected:
            raise RuntimeError("SimulatedReality is not connected; call connect() or use it as a context")
        return self.sensed_state()

    def _write_joint_targets(self, joint_targets: np.ndarray) -> None:
        self.set_goal_positions(joint_targets)

    # ---- the motors' side ---------------------------------------------------------------------
    def set_goal_positions(self, joint_targets: np.ndarray) -> None:
        """Goal positions as the motors receive them: ``(16,)`` rad, rounded to encoder ticks,
        acting after the command latency. No safety filter (the motors have none): use
        :meth:`send_joint_targets` to drive the hand. A goal equal to the last one is not resent."""
        goal = np.round(np.asarray(joint_targets, dtype=np.float64) / self._rad_per_tick).astype(np.int64)
        if self._last_goal_ticks is not None and np.array_equal(goal, self._last_goal_ticks):
            return
        self._last_goal_ticks = goal
        lat = self.profile.latency
        jitter = lat.command_jitter_ms * (2.0 * self._draw(self._step)[-1] - 1.0)
        delay_steps = max(0, int(round((lat.command_latency_ms + jitter) * 1e-3 / self.timestep)))
        # A serial bus delivers in order: a command never overtakes the one before it.
        arrival = max(self._step + delay_steps, self._last_arrival)
        self._last_arrival = arrival
        self._commands.append((arrival, goal))

    def sensed_state(self) -> HandState:
        """What the motors report now: the state ``sensing_latency`` (+ jitter) ago, quantized.

        Positions in whole encoder ticks (noise added before rounding), velocities in whole 0.229
        rpm units, currents in whole mA (noise added); ``timestamp`` is the time of the reading.
        """
        lat = self.profile.latency
        jitter = lat.sensing_jitter_ms * (2.0 * self._draw(self._step)[-2] - 1.0)
        delay = max(0, int(round((lat.sensing_latency_ms + jitter) * 1e-3 / self.timestep)))
        step = max(self._step - delay, self._oldest, self._step - self._history + 1)
        slot = step % self._history
        return HandState(
            joint_pos=self._hist_ticks[slot] * self._rad_per_tick,
            joint_vel=np.round(self._hist_vel[slot] / RAD_S_PER_VELOCITY_UNIT) * RAD_S_PER_VELOCITY_UNIT,
            motor_current=np.round(self._hist_current_ma[slot]) * 1e-3,
            timestamp=float(self.time),
        )

    # ---- time -------------------------------------------------------------------------------
    @property
    def time(self) -> float:
        """Simulated time, s."""
        return self._step * self.timestep

    def advance(self, dt: float = C.CONTROL_DT) -> None:
        """Run the physics for ``dt`` s (a whole number of physics steps), as fast as it goes."""
        steps = dt / self.timestep
        if dt < 0 or abs(steps - round(steps)) > 1e-6:
            raise ValueError(
                f"advance(dt={dt}): dt must be a non-negative multiple of the profile's physics step "
                f"{self.timestep:.6g} s (e.g. the control period {C.CONTROL_DT} s)"
            )
        self.advance_steps(int(round(steps)))

    def advance_steps(self, steps: int) -> None:
        """Run ``steps`` physics steps of ``timestep`` s."""
        m, d = self.model, self.data
        for _ in range(steps):
            while self._commands and self._commands[0][0] <= self._step:
                self._motor.goal_ticks = self._commands.pop(0)[1]
            d.ctrl[self._act] = self._motor_torques()
            mujoco.mj_step(m, d)
            self._step += 1
            self._check_divergence()
            self._record()
        # Once per call, not per physics step (checked every step, a physics step took 100 us
        # instead of 79-87): a finger forced through its stop is a broken world whichever substep
        # it happened in, and the episode is dropped or ends either way.
        if self._joint_through_stop():
            self._reset_broken_world()
            self._record()

    def _check_divergence(self) -> None:
        n = self._warning_counts
        count = int(n[_BADQPOS] + n[_BADQVEL] + n[_BADQACC])
        if count == self._divergence_count:
            return
        self.physics_divergences += max(count - self._divergence_count, 0)
        self._divergence_count = count
        self._remount_wrist()

    def _reset_broken_world(self) -> None:
        """The solver can drive a joint far through its stop with every value still finite, so
        MuJoCo does not reset (Chaos Box, session 30: if_mcp at 47 rad, its range ends at 2.23, and
        the finger stayed broken for the next 14 episodes). A LEAP hand's stops do not give way like
        that: reset and count it as MuJoCo does a blow-up (the clock keeps running)."""
        time = self.data.time
        mujoco.mj_resetData(self.model, self.data)
        self._divergence_count = 0  # mj_resetData cleared MuJoCo's counters
        self.data.time = time
        self.physics_divergences += 1
        self._remount_wrist()

    def _remount_wrist(self) -> None:
        # MuJoCo put the wrist back where the model was built; the hand stays where it was mounted
        self.data.mocap_pos[self._wrist_mocap] = self.wrist_pos
        self.data.mocap_quat[self._wrist_mocap] = self.wrist_quat

    def _joint_through_stop(self) -> bool:
        """Whether a hand joint is more than ``C.JOINT_STOP_OVERRUN_RAD`` past its range."""
        q = self.data.qpos[self._qpos]
        return bool(np.any(q > self._joint_ceiling) or np.any(q < self._joint_floor))

    # ---- the Dynamixel model --------------------------------------------------------------------
    def _motor_torques(self) -> np.ndarray:
        """Torque on each link this physics step, Nm; updates the motor state."""
        mot, mp = self._motor, self.profile.motor
        if not mot.torque_on:
            mot.motor_torque = np.zeros(C.NUM_JOINTS)
            return mot.motor_torque
        slot = self._step % self._history
        error = mot.goal_ticks - self._hist_ticks[slot]  # the motor sees its own (quantized) encoder
        rate = (error - mot.prev_error_ticks) / (self.timestep * 1e3)  # ticks per ms
        mot.prev_error_ticks = error
        current = (self._kpp_ma_per_tick * error + self._kpd_ma_per_tick_ms * rate) * 1e-3
        torque = np.clip(current, -self._current_limit_a, self._current_limit_a) * mp.torque_constant_nm_per_a
        # Torque-speed line: driving torque falls to zero at the no-load speed; braking is not limited.
        qdot = self.data.qvel[self._dof]
        available = mp.stall_torque_nm * np.clip(1.0 - np.sign(torque) * qdot / mp.no_load_speed_rad_s, 0, 1)
        torque = np.clip(torque, -available, available)
        mot.motor_torque = torque
        return self._through_backlash(torque)

    def _through_backlash(self, torque: np.ndarray) -> np.ndarray:
        """The part of the motor torque that reaches the links (0 while crossing the gear play).

        The rotor leans on one side of the play while its torque pushes that way. When the torque
        reverses it crosses the play, accelerated by the torque through the rotor inertia (the
        link's motion during that time is neglected), and engages the other side.
        """
        mot, mp = self._motor, self.profile.motor
        half = 0.5 * mp.backlash_rad
        if half <= 0.0:
            return torque
        direction = np.sign(torque)
        engaged = (mot.gear_side != 0) & ((direction == mot.gear_side) | (direction == 0))
        releasing = (mot.gear_side != 0) & ~engaged
        mot.gear_gap_vel[releasing] = 0.0
        mot.gear_side[releasing] = 0
        crossing = mot.gear_side == 0
        if crossing.any():
            inertia = max(mp.armature_kg_m2, 1e-6)
            mot.gear_gap_vel[crossing] += torque[crossing] / inertia * self.timestep
            mot.gear_gap[crossing] += mot.gear_gap_vel[crossing] * self.timestep
            hit_hi = crossing & (mot.gear_gap >= half) & (direction > 0)
            hit_lo = crossing & (mot.gear_gap <= -half) & (direction < 0)
            for hit, side in ((hit_hi, 1), (hit_lo, -1)):
                mot.gear_side[hit] = side
                mot.gear_gap[hit] = side * half
                mot.gear_gap_vel[hit] = 0.0
            # a rotor stopped at a side by the link without pushing it has no speed into it
            at_side = crossing & (((mot.gear_gap >= half) & (mot.gear_gap_vel > 0))
                                  | ((mot.gear_gap <= -half) & (mot.gear_gap_vel < 0)))  # fmt: skip
            mot.gear_gap_vel[at_side] = 0.0
            np.clip(mot.gear_gap, -half, half, out=mot.gear_gap)
        return np.where(mot.gear_side != 0, torque, 0.0)

    def _fresh_motor(self, goal: np.ndarray) -> _MotorState:
        n = C.NUM_JOINTS
        return _MotorState(
            goal_ticks=np.round(np.asarray(goal) / self._rad_per_tick).astype(np.int64),
            prev_error_ticks=np.zeros(n),
            gear_side=np.zeros(n),
            gear_gap=np.zeros(n),
            gear_gap_vel=np.zeros(n),
            motor_torque=np.zeros(n),
        )

    # ---- sensing ------------------------------------------------------------------------------
    def _draw(self, step: int) -> np.ndarray:
        """The random draws of physics step ``step``: 16 position noises, 16 current noises (std
        normal), then sensing and command jitter (uniform [0, 1))."""
        while step >= self._draws_start + len(self._draws):
            self._draws_start += len(self._draws)
            n = C.NUM_JOINTS
            self._draws = np.concatenate(
                [self._rng.standard_normal((_NOISE_BLOCK, 2 * n)), self._rng.random((_NOISE_BLOCK, 2))],
                axis=1,
            )
        return self._draws[step - self._draws_start]

    def _record(self) -> None:
        """Store what the sensors see at this physics step (the motor loop reads it too)."""
        d, enc, n = self.data, self.profile.encoder, C.NUM_JOINTS
        draw = self._draw(self._step)
        slot = self._step % self._history
        q = d.qpos[self._qpos]
        self._hist_ticks[slot] = np.round(q / self._rad_per_tick + enc.noise_ticks * draw[:n])
        self._hist_vel[slot] = d.qvel[self._dof]
        current_ma = self._motor.motor_torque / self.profile.motor.torque_constant_nm_per_a * 1e3
        self._hist_current_ma[slot] = current_ma + enc.current_noise_ma * draw[n : 2 * n]

    def _reset_sensing(self) -> None:
        n = C.NUM_JOINTS
        self._hist_ticks = np.zeros((self._history, n))
        self._hist_vel = np.zeros((self._history, n))
        self._hist_current_ma = np.zeros((self._history, n))
        self._oldest = self._step
        self._record()

    # ---- resets and poses -----------------------------------------------------------------------
    def reset_to_grasp(
        self,
        joint_pos: np.ndarray,
        joint_targets: np.ndarray,
        object_pos_hand: np.ndarray | None = None,
        object_quat_hand: np.ndarray | None = None,
        *,
        held: bool = False,
    ) -> None:
        """Place the hand (and the object) as in a grasp-cache entry; the motors hold ``joint_targets``.

        Args:
            joint_pos: ``(16,)`` joint angles, rad, sim order.
            joint_targets: ``(16,)`` goals the motors start with, rad (the grasp's squeeze).
            object_pos_hand: ``(3,)`` object centre in the hand frame, m (from the grasp centre).
            object_quat_hand: ``(4,)`` object orientation in the hand frame (w, x, y, z).
            held: someone holds the object where it is placed (a weld to the ``operator`` mocap
                body) until :meth:`let_go`: the open-hand start, where the policy closes the hand
                around an object handed to it.

        The whole world restarts from the model's initial state (bodies added by ``extra_scene``,
        e.g. Chaos Box balls, return to where they were built); velocities, pending commands and
        the sensor history are cleared; the safety filter restarts from ``joint_targets``. Time
        keeps running. Call it after :meth:`connect`
        (connecting sets the goals to the measured pose, as the LEAP driver does).
        """
        joint_pos = _joint_array(joint_pos, "joint_pos")
        joint_targets = _joint_array(joint_targets, "joint_targets")
        if self.obj is None and (object_pos_hand is not None or object_quat_hand is not None):
            raise ValueError("reset_to_grasp: this SimulatedReality has no object; pass obj= to place one")
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        self._divergence_count = 0  # mj_resetData cleared MuJoCo's counters
        d.mocap_pos[self._wrist_mocap] = self.wrist_pos
        d.mocap_quat[self._wrist_mocap] = self.wrist_quat
        d.qpos[self._qpos] = joint_pos
        if self.obj is not None:
            pos = np.zeros(3) if object_pos_hand is None else np.asarray(object_pos_hand, dtype=np.float64)
            quat = np.array([1.0, 0, 0, 0]) if object_quat_hand is None else np.asarray(object_quat_hand)
            d.qpos[self._obj_qpos : self._obj_qpos + 3] = self.wrist_pos + quat_rotate(self.wrist_quat, pos)
            d.qpos[self._obj_qpos + 3 : self._obj_qpos + 7] = quat_normalize(quat_mul(self.wrist_quat, quat))
            d.mocap_pos[self._operator_mocap] = d.qpos[self._obj_qpos : self._obj_qpos + 3]
            d.mocap_quat[self._operator_mocap] = d.qpos[self._obj_qpos + 3 : self._obj_qpos + 7]
            d.eq_active[self._handover_eq] = held
        elif held:
            raise ValueError("reset_to_grasp: held=True needs an object; pass obj= to place one")
        d.time = self.time
        mujoco.mj_forward(m, d)
        torque_on = self._motor.torque_on
        self._motor = self._fresh_motor(joint_targets)
        self._motor.torque_on = torque_on
        self._commands.clear()
        self._last_goal_ticks = self._motor.goal_ticks.copy()
        self._last_arrival = self._step
        self._reset_sensing()
        # Start the loop without a D kick, and with the gears leaning the way the motors push.
        mot = self._motor
        mot.prev_error_ticks = (mot.goal_ticks - self._hist_ticks[self._step % self._history]).astype(float)
        mot.gear_side = np.sign(mot.prev_error_ticks)
        mot.gear_gap = mot.gear_side * 0.5 * self.profile.motor.backlash_rad
        self.safety.reset(C.clamp_to_limits(joint_targets))

    @property
    def object_held(self) -> bool:
        """Whether someone still holds the object (see ``reset_to_grasp(held=True)``)."""
        return self._handover_eq >= 0 and bool(self.data.eq_active[self._handover_eq])

    def let_go(self) -> None:
        """Whoever held the object lets go: from the next physics step only the hand holds it."""
        if self._handover_eq >= 0:
            self.data.eq_active[self._handover_eq] = False

    def set_wrist(self, quat: np.ndarray | str | None = None, pos: np.ndarray | None = None) -> None:
        """Move the wrist (hand frame) to ``pos`` (world, m) and/or orientation ``quat``; takes effect
        at the next physics step (the hand follows as a mocap body)."""
        if quat is not None:
            self.wrist_quat = parse_wrist(quat)
            self.data.mocap_quat[self._wrist_mocap] = self.wrist_quat
        if pos is not None:
            self.wrist_pos = np.asarray(pos, dtype=np.float64).reshape(3).copy()
            self.data.mocap_pos[self._wrist_mocap] = self.wrist_pos

    # ---- for evaluators and renderers (never for the policy) ------------------------------------
    def object_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Object centre (3,) m and orientation (4,) (w, x, y, z), world frame."""
        self._require_object()
        q = self.data.qpos[self._obj_qpos : self._obj_qpos + 7]
        return q[:3].copy(), q[3:].copy()

    def object_angvel(self) -> np.ndarray:
        """Object angular velocity (3,), rad/s, world frame."""
        self._require_object()
        _, quat = self.object_pose()
        local = self.data.qvel[self._obj_dof + 3 : self._obj_dof + 6]
        return quat_rotate(quat, local)

    def object_linvel(self) -> np.ndarray:
        """Object linear velocity (3,), m/s, world frame."""
        self._require_object()
        return self.data.qvel[self._obj_dof : self._obj_dof + 3].copy()

    def joint_state_truth(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(joint_pos rad, joint_vel rad/s, motor_torque Nm)`` now, exact (no sensing)."""
        d = self.data
        return d.qpos[self._qpos].copy(), d.qvel[self._dof].copy(), self._motor.motor_torque.copy()

    def mj_model_data(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        """The live model and data, for rendering (do not step them)."""
        return self.model, self.data

    def _require_object(self) -> None:
        if self.obj is None:
            raise RuntimeError("this SimulatedReality has no object (it was built with obj=None)")


def _joint_array(values: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (C.NUM_JOINTS,) or not np.all(np.isfinite(array)):
        raise ValueError(
            f"{what} must be a finite ({C.NUM_JOINTS},) array in sim order, got shape {array.shape}"
        )
    return array
