"""The training scene: the LEAP hand on a mocap wrist, one free object, and the sensors the
observations read.

A scene is compiled once per object (and object scale); the batched env runs many simulations
of it through ``mujoco.batch.Batch`` and gives each simulation its own wrist pose (mocap),
masses, frictions and gains (``Batch.expand``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

from dexndm.hand import constants as C
from dexndm.hand.model import HandConfig, add_hand
from dexndm.objects import ObjectSpec, attach_object

WRIST_POS = np.array([0.0, 0.0, 0.5])
"""World position of the hand frame's origin (the grasp centre); nothing else is in the world."""

OBJECT_BODY = "object"


@dataclass(frozen=True)
class PhysicsConfig:
    """MuJoCo settings of the training sim."""

    timestep: float = 1.0 / 120.0
    """Physics step, s (the paper and HORA: 1/120 s)."""
    substeps: int = 6
    """Physics steps per 20 Hz control step (6 x 1/120 s = 0.05 s)."""
    cone: str = "elliptic"
    """Friction cone: elliptic cones hold light objects without creep at large timesteps."""
    impratio: float = 10.0
    iterations: int = 50
    """Newton solver iterations. 20 (with 10 line-search steps) does not converge on some
    squeezed grasps at this timestep and throws the object out at 100+ rad/s (measured: 130 of
    6,400 env-steps ended under random actions with full randomization; 50/25: 4)."""
    ls_iterations: int = 25
    object_friction: float = 1.0
    hand: HandConfig = field(default_factory=HandConfig)

    def __post_init__(self) -> None:
        if self.timestep <= 0 or self.substeps < 1:
            raise ValueError("PhysicsConfig: timestep must be > 0 and substeps >= 1")
        if abs(self.timestep * self.substeps - C.CONTROL_DT) > 1e-9:
            raise ValueError(
                f"PhysicsConfig: timestep x substeps = {self.timestep * self.substeps:.4f} s, but the "
                f"policy runs at {C.CONTROL_HZ:g} Hz ({C.CONTROL_DT} s); change substeps to "
                f"{round(C.CONTROL_DT / self.timestep)}"
            )


def apply_physics_options(spec: mujoco.MjSpec, physics: PhysicsConfig) -> None:
    """The training sim's solver settings (timestep, integrator, cone, iterations) on ``spec``."""
    spec.compiler.degree = False  # every angle in dexndm is in radians
    opt = spec.option
    opt.timestep = physics.timestep
    opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    opt.cone = (
        mujoco.mjtCone.mjCONE_ELLIPTIC if physics.cone == "elliptic" else mujoco.mjtCone.mjCONE_PYRAMIDAL
    )
    opt.impratio = physics.impratio
    opt.iterations = physics.iterations
    opt.ls_iterations = physics.ls_iterations


def build_hand_spec(physics: PhysicsConfig = PhysicsConfig()) -> mujoco.MjSpec:
    """The training sim's hand alone on its ``wrist`` mocap body: no object, no operator.

    For fitting the hand's own dynamics (``dexndm.sysid``) to joint trajectories of a hand whose
    load the training sim does not model.
    """
    spec = mujoco.MjSpec()
    spec.modelname = "dexndm_hand"
    apply_physics_options(spec, physics)
    wrist = spec.worldbody.add_body(name="wrist", mocap=True, pos=WRIST_POS)
    add_hand(spec, wrist, physics.hand)
    return spec


def build_scene_spec(obj: ObjectSpec, physics: PhysicsConfig = PhysicsConfig()) -> mujoco.MjSpec:
    """An editable MjSpec of the hand holding ``obj`` (call ``.compile()`` for the model)."""
    spec = mujoco.MjSpec()
    spec.modelname = f"dexndm_{obj.name.replace('/', '_')}"
    apply_physics_options(spec, physics)
    spec.visual.global_.offwidth = 1280
    spec.visual.global_.offheight = 960

    world = spec.worldbody
    world.add_light(name="key", pos=(0.3, -0.3, 1.3), dir=(-0.3, 0.3, -1.0), diffuse=(0.8, 0.8, 0.8))
    world.add_light(name="fill", pos=(-0.4, 0.4, 1.0), dir=(0.4, -0.4, -0.5), diffuse=(0.4, 0.4, 0.4))
    wrist = world.add_body(name="wrist", mocap=True, pos=WRIST_POS)
    add_hand(spec, wrist, physics.hand)

    body = world.add_body(name=OBJECT_BODY, pos=WRIST_POS)
    # the centre of mass is randomized per env: the body must not be compiled as "simple"
    # (inertial frame == body frame), or recomputing its constants after the shift is refused
    body.simple = 0
    body.add_freejoint(name="object_free")
    attach_object(spec, body, obj, friction=physics.object_friction)
    _add_operator(spec)
    # A marker for the guiding goal orientation: visual only, moved through mocap.
    goal = world.add_body(name="goal", mocap=True, pos=WRIST_POS + np.array([0.0, 0.0, 0.25]))
    goal.add_geom(
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=tuple(float(v) for v in np.clip(obj.extents() / 2, 0.01, 0.06)),
        rgba=(0.2, 0.8, 0.3, 0.25),
        contype=0,
        conaffinity=0,
        density=0.0,
        group=2,
    )

    # Sensors, read in one block (Batch binds sensordata): fingertip positions, touch on the
    # fingertip pads, actuator torques. Their offsets are in SensorLayout.
    for tip in C.FINGERTIP_SITES:
        spec.add_sensor(name=f"{tip}_pos", type=mujoco.mjtSensor.mjSENS_FRAMEPOS,
                        objtype=mujoco.mjtObj.mjOBJ_SITE, objname=tip)  # fmt: skip
    for tip in C.FINGERTIP_SITES:
        spec.add_sensor(name=f"{tip}_touch", type=mujoco.mjtSensor.mjSENS_TOUCH,
                        objtype=mujoco.mjtObj.mjOBJ_SITE, objname=f"{tip}_zone")  # fmt: skip
    for name in C.JOINT_NAMES:
        spec.add_sensor(name=f"{name}_torque", type=mujoco.mjtSensor.mjSENS_ACTUATORFRC,
                        objtype=mujoco.mjtObj.mjOBJ_ACTUATOR, objname=name)  # fmt: skip
    _add_touch_zones(spec)
    cam = world.add_camera(name="side", pos=WRIST_POS + np.array([0.32, -0.32, 0.22]))
    cam.mode = mujoco.mjtCamLight.mjCAMLIGHT_TARGETBODY
    cam.targetbody = "wrist"
    return spec


ZERO_ORDER_HOLD = 0
"""``mjsActuator.interp`` value of zero-order hold (the Python bindings expose no enum for it)."""


def add_action_delay(spec: mujoco.MjSpec, max_substeps: int) -> None:
    """Give every actuator a control history, so that MuJoCo itself can delay the PD targets.

    Each actuator keeps its last ``max_substeps + 1`` controls (zero-order hold); a simulation's
    ``actuator_delay`` (expanded per simulation, see :func:`action_delay_seconds`) then makes the
    PD act on the targets of that many substeps ago, inside one ``Batch.step`` call. The delay
    is 0 here: a model built with this function behaves as one without it until a delay is set.
    """
    if max_substeps < 1:
        raise ValueError(f"add_action_delay: max_substeps must be >= 1, got {max_substeps}")
    for act in spec.actuators:
        act.nsample = max_substeps + 1
        act.interp = ZERO_ORDER_HOLD
        act.delay = 0.0


def action_delay_seconds(latency_substeps: np.ndarray, timestep: float) -> np.ndarray:
    """``actuator_delay`` (s) that applies new targets exactly ``latency_substeps`` substeps late.

    MuJoCo reads a delayed control at ``time - delay`` from samples stamped with the simulation
    time at which they were written. Asking for exactly ``L * timestep`` lands on a sample's
    stamp, where float rounding of the accumulated time (beyond MuJoCo's 1e-15 s match tolerance)
    can pick the sample before it: L + 1 substeps late. With 1/120 s substeps that happened in
    959 of an episode's 2400 substeps for L = 2 and 3 (tests/sim/test_latency.py checks this
    function over a whole episode). Half a substep less lands between samples, where zero-order
    hold picks the one written L substeps ago. MuJoCo reads before it writes, so any positive
    delay costs at least one substep: L = 0 must be exactly 0, which reads ``ctrl`` itself.
    """
    lat = np.asarray(latency_substeps, dtype=np.float64)
    return np.where(lat > 0, (lat - 0.5) * timestep, 0.0)


HANDOVER_WELD = "handover"
"""The weld that lets the operator hold the object (inactive unless a handover is under way)."""


def _add_operator(spec: mujoco.MjSpec) -> None:
    """The operator's hand: a mocap body that can hold the object still while the hand closes.

    The paper's teleoperation starts from an open hand: someone holds the object where the grasp
    will be, the policy closes the fingers, and the person lets go. A weld from the object to this
    mocap body (identity relative pose, so the object sits exactly at the mocap pose) models that
    hold; it is compiled inactive and each simulation switches it on through ``eq_active``.
    """
    spec.worldbody.add_body(name="operator", mocap=True, pos=WRIST_POS)
    weld = spec.add_equality(
        name=HANDOVER_WELD,
        type=mujoco.mjtEq.mjEQ_WELD,
        objtype=mujoco.mjtObj.mjOBJ_BODY,
        name1=OBJECT_BODY,
        name2="operator",
        active=False,
    )
    # data = [anchor(3), relpos(3), relquat(4), torquescale, ...]: relpose left at zeros, the
    # compiler would freeze the bodies' pose difference at qpos0; identity puts the object at the
    # mocap pose
    data = np.zeros(len(weld.data))
    data[6] = 1.0  # relquat w
    data[10] = 1.0  # torquescale
    weld.data = data
    # a firm but not rigid hold: a 20 ms time constant settles in a few substeps
    weld.solref = (0.02, 1.0)


def _add_touch_zones(spec: mujoco.MjSpec) -> None:
    """A box site around each fingertip geom: the touch sensor's zone."""
    for tip in C.FINGERTIP_SITES:
        geom = spec.geom(f"{tip}_geom")
        body = geom.parent
        body.add_site(
            name=f"{tip}_zone",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            pos=geom.pos,
            size=np.asarray(geom.size) + 0.002,
            rgba=(0, 0, 0, 0),
            group=5,
        )


@dataclass(frozen=True)
class SceneLayout:
    """Indices into a compiled scene's arrays, so the env never looks names up per step."""

    hand_qpos: np.ndarray  # (16,) qpos addresses of the hand joints, sim order
    hand_dof: np.ndarray  # (16,) dof addresses
    object_qpos: int  # start of the object's 7 free-joint qpos (pos, quat)
    object_dof: int  # start of its 6 dofs (linear world, angular local)
    object_body: int
    object_geoms: np.ndarray
    hand_geoms: np.ndarray  # the hand's colliding geoms (what an object can touch but itself)
    fingertip_geoms: np.ndarray
    tip_pos: slice  # sensordata slices
    tip_touch: slice
    torque: slice
    wrist_mocap: int
    goal_mocap: int
    operator_mocap: int
    handover_eq: int

    @staticmethod
    def of(model: mujoco.MjModel) -> SceneLayout:
        jids = [model.joint(n).id for n in C.JOINT_NAMES]
        obj_j = model.joint("object_free").id
        obj_b = model.body(OBJECT_BODY).id
        adr = {model.sensor(i).name: (model.sensor_adr[i], model.sensor_dim[i]) for i in range(model.nsensor)}

        def span(first: str, last: str) -> slice:
            return slice(int(adr[first][0]), int(adr[last][0] + adr[last][1]))

        return SceneLayout(
            hand_qpos=np.array([model.jnt_qposadr[j] for j in jids]),
            hand_dof=np.array([model.jnt_dofadr[j] for j in jids]),
            object_qpos=int(model.jnt_qposadr[obj_j]),
            object_dof=int(model.jnt_dofadr[obj_j]),
            object_body=obj_b,
            object_geoms=np.flatnonzero((model.geom_bodyid == obj_b) & (model.geom_contype > 0)),
            hand_geoms=np.flatnonzero(
                (model.geom_bodyid != obj_b) & (model.geom_bodyid != 0) & (model.geom_contype > 0)
            ),
            fingertip_geoms=np.array([model.geom(f"{t}_geom").id for t in C.FINGERTIP_SITES]),
            tip_pos=span("if_tip_pos", "th_tip_pos"),
            tip_touch=span("if_tip_touch", "th_tip_touch"),
            torque=span(f"{C.JOINT_NAMES[0]}_torque", f"{C.JOINT_NAMES[-1]}_torque"),
            wrist_mocap=int(model.body_mocapid[model.body("wrist").id]),
            goal_mocap=int(model.body_mocapid[model.body("goal").id]),
            operator_mocap=int(model.body_mocapid[model.body("operator").id]),
            handover_eq=int(model.equality(HANDOVER_WELD).id),
        )
