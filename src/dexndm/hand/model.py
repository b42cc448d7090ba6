"""The project's own MJCF of the right LEAP hand, built with ``mujoco.MjSpec``.

Kinematics, joint ranges and link masses follow the public LEAP hand description
(``shared/leap-hand.md``). Collision geometry is one or two boxes per link plus a box fingertip
per finger: boxes are cheap for MuJoCo's collision pipeline, and peers that transfer to the real
hand use the same kind of primitives (measured in ``benchmarks/``).

The hand hangs from a mocap body ``wrist`` whose pose is the *hand frame*:

* origin: the grasp centre, 8 cm in front of the palm surface, over the middle finger;
* ``+z``: the palm normal, pointing out of the palm toward a held object;
* ``+x``: the finger direction, from the wrist toward the fingertips;
* ``+y``: ``z x x``, toward the ring finger; the thumb lies on the ``-y`` side of this right hand.

A wrist orientation is therefore just the mocap quaternion, per simulation, without touching the
model; palm up means hand ``+z`` = world ``+z``.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from dexndm.hand import constants as C


@dataclass(frozen=True)
class HandConfig:
    """Physical parameters of the simulated hand (training sim)."""

    kp: float = 3.0
    """PD stiffness, Nm/rad (peers: 3.0)."""
    kd: float = 0.1
    """PD damping, Nm s/rad (HORA: 0.1)."""
    torque_limit: float = 0.5
    """Actuator torque clip, Nm (HORA: 0.5; XC330 stall torque ~0.6 Nm at 5 V)."""
    armature: float = 0.0015
    """Reflected rotor inertia, kg m^2 (1.7e-8 x 288^2)."""
    joint_damping: float = 0.03
    """Passive joint damping, Nm s/rad."""
    frictionloss: float = 0.01
    """Joint dry friction, Nm."""
    fingertip_friction: tuple[float, float, float] = (0.7, 0.05, 0.0002)
    """Fingertip friction (slide, torsion, roll), as peers use."""
    link_friction: float = 0.5

    @staticmethod
    def from_dict(d: dict) -> HandConfig:
        """From its ``asdict`` form read back from JSON (lists become tuples again)."""
        return HandConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


PALM_MASS = 0.237


def _quat_from_matrix(m: np.ndarray) -> np.ndarray:
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(m, dtype=np.float64).reshape(9))
    return q


@dataclass(frozen=True)
class _Link:
    name: str
    parent: str
    pos: tuple[float, float, float]
    quat: tuple[float, float, float, float]
    joint: str | None
    mass: float
    com: tuple[float, float, float]
    boxes: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...]
    """Collision boxes as (centre, half extents) in the link frame."""


_Q_BS = (0.5, 0.5, 0.5, -0.5)
_Q_PX = (0.5, -0.5, -0.5, 0.5)
_Q_MD = (0.5, 0.5, -0.5, 0.5)

# Finger link boxes (link frame): the finger's width is along the joint axis z (centred at
# z = 0.015), it extends along -y, and its pad (palm side) faces -x.
_BS_BOXES = (((-0.027, 0.042, 0.015), (0.014, 0.02, 0.01)), ((0.0, 0.012, 0.0147), (0.01, 0.009, 0.017)))
_PX_BOXES = (((0.0075, -0.0002, -0.011), (0.017, 0.013, 0.011)),)
_MD_BOXES = (((0.0075, -0.035, 0.015), (0.017, 0.011, 0.013)), ((0.0, -0.016, 0.015), (0.01, 0.006, 0.017)))
_DS_BOXES = (((0.0, -0.015, 0.015), (0.01, 0.006, 0.015)),)
_TIP = ((0.0, -0.036, 0.015), (0.0105, 0.013, 0.014))


def _finger_links(f: str, y: float, dip_y: float) -> list[_Link]:
    return [
        _Link(f"{f}_bs", "palm", (-0.007, y, -0.0187), _Q_BS, f"{f}_mcp", 0.044,
              (-0.0225, 0.0339, 0.0164), _BS_BOXES),
        _Link(f"{f}_px", f"{f}_bs", (-0.0122, 0.0381, 0.0145), _Q_PX, f"{f}_rot", 0.032,
              (0.0075, -0.0002, -0.011), _PX_BOXES),
        _Link(f"{f}_md", f"{f}_px", (0.015, 0.0143, -0.013), _Q_MD, f"{f}_pip", 0.037,
              (0.0054, -0.0291, 0.015), _MD_BOXES),
        _Link(f"{f}_ds", f"{f}_md", (0.0, dip_y, 0.0002), (1.0, 0.0, 0.0, 0.0), f"{f}_dip", 0.016,
              (-0.0009, -0.027, 0.0146), _DS_BOXES),
    ]  # fmt: skip


def _thumb_links() -> list[_Link]:
    return [
        _Link("th_mp", "palm", (-0.0693, -0.0012, -0.0216), (0.7071068, 0.0, 0.7071068, 0.0), "th_cmc",
              0.032, (-0.0075, -0.0002, -0.011), (((-0.0075, -0.0002, -0.011), (0.017, 0.013, 0.011)),)),
        _Link("th_bs", "th_mp", (0.0, 0.0143, -0.013), _Q_MD, "th_axl", 0.003, (0.0, 0.0, -0.0071),
              (((0.0, 0.0, -0.0015), (0.009, 0.0165, 0.002)),)),
        _Link("th_px", "th_bs", (0.0, 0.0145, -0.017), (0.7071068, -0.7071068, 0.0, 0.0), "th_mcp", 0.038,
              (-0.0021, 0.0159, -0.0137), (((0.0, 0.018, -0.014), (0.011, 0.024, 0.013)),)),
        _Link("th_ds", "th_px", (0.0, 0.0466, 0.0002), (0.0, 0.0, 0.0, 1.0), "th_ipl", 0.049,
              (0.001, -0.0242, -0.0144), (((0.0, -0.0085, -0.015), (0.01, 0.018, 0.012)),)),
    ]  # fmt: skip


_THUMB_TIP = ((0.0, -0.043, -0.0145), (0.0105, 0.013, 0.014))

# Palm collision boxes in the palm frame: the finger mounts, the main plate and the heel. The
# region the thumb sweeps (x < -0.056, y > -0.027) has only the thin back plate.
_PALM_BOXES = (
    ((-0.009, 0.008, -0.011), (0.011, 0.013, 0.017)),
    ((-0.009, -0.037, -0.011), (0.011, 0.013, 0.017)),
    ((-0.009, -0.082, -0.011), (0.011, 0.013, 0.017)),
    ((-0.039, -0.035, -0.0115), (0.021, 0.06, 0.023)),
    ((-0.078, -0.053, -0.0115), (0.022, 0.026, 0.023)),
    ((-0.078, -0.003, 0.01), (0.022, 0.028, 0.002)),
)
_PALM_COM = (-0.0495, -0.0429, -0.0102)

ALL_LINKS: tuple[_Link, ...] = tuple(
    _finger_links("if", 0.023, -0.0361)
    + _finger_links("mf", -0.0224, -0.0361)
    + _finger_links("rf", -0.0678, -0.03609)
    + _thumb_links()
)

# Where the palm sits in the hand frame (see module docstring). Derived from the palm geometry:
# the palm surface (the side the fingers curl toward) is palm -z at z = -0.0345; the fingers
# extend from the heel (palm x = -0.1) toward the finger mounts and beyond (palm +x);
# the thumb (palm y ~ 0) is on the +y side of the middle finger (palm y = -0.022).
_HAND_X_IN_PALM = np.array([1.0, 0.0, 0.0])
_HAND_Z_IN_PALM = np.array([0.0, 0.0, -1.0])
_HAND_Y_IN_PALM = np.cross(_HAND_Z_IN_PALM, _HAND_X_IN_PALM)
R_PALM_IN_HAND = np.stack([_HAND_X_IN_PALM, _HAND_Y_IN_PALM, _HAND_Z_IN_PALM])  # rows: hand axes
GRASP_CENTRE_IN_PALM = np.array([0.01, -0.035, -0.1145])
"""The hand-frame origin in the palm frame: 8 cm in front of the palm surface, over the middle
finger, where the four fingertips meet around a ~6 cm object (found by inverse kinematics, see
``dexndm.sim.grasp``)."""


def palm_pose_in_hand() -> tuple[np.ndarray, np.ndarray]:
    """Position and quaternion (w, x, y, z) of the palm body in the hand (wrist) frame."""
    # x_hand = R (x_palm - c)  =>  palm origin in hand = -R c, palm rotation = R
    pos = -R_PALM_IN_HAND @ GRASP_CENTRE_IN_PALM
    return pos, _quat_from_matrix(R_PALM_IN_HAND)


def add_hand(spec: mujoco.MjSpec, parent: mujoco.MjsBody, cfg: HandConfig = HandConfig()) -> None:
    """Add the LEAP hand under ``parent`` (normally the mocap ``wrist`` body).

    Adds 16 hinge joints named as ``constants.JOINT_NAMES``, one PD actuator per joint (same
    names), fingertip sites ``constants.FINGERTIP_SITES``, and the palm/finger contact exclusions.
    """
    pos, quat = palm_pose_in_hand()
    palm = parent.add_body(name="palm", pos=pos, quat=quat)
    palm.explicitinertial = True
    palm.mass = PALM_MASS
    palm.ipos = _PALM_COM
    palm.inertia = (4.1e-4, 3.0e-4, 1.8e-4)
    for i, (c, h) in enumerate(_PALM_BOXES):
        _box(palm, f"palm_col{i}", c, h, cfg.link_friction, (0.25, 0.25, 0.25, 1))
    bodies = {"palm": palm}
    for link in ALL_LINKS:
        body = bodies[link.parent].add_body(name=link.name, pos=link.pos, quat=link.quat)
        body.explicitinertial = True
        body.mass = link.mass
        body.ipos = link.com
        # a uniform-density box around the link's boxes gives the right order of inertia
        ext = np.max([np.abs(np.array(c)) + np.array(h) for c, h in link.boxes], axis=0)
        body.inertia = link.mass / 3.0 * np.array([ext[1] ** 2 + ext[2] ** 2, ext[0] ** 2 + ext[2] ** 2,
                                                   ext[0] ** 2 + ext[1] ** 2]) * 0.5  # fmt: skip
        bodies[link.name] = body
        if link.joint is not None:
            lo, hi = (
                C.JOINT_LOWER[C.JOINT_NAMES.index(link.joint)],
                C.JOINT_UPPER[C.JOINT_NAMES.index(link.joint)],
            )
            body.add_joint(
                name=link.joint,
                type=mujoco.mjtJoint.mjJNT_HINGE,
                axis=(0, 0, -1),
                range=(lo, hi),
                limited=mujoco.mjtLimited.mjLIMITED_TRUE,
                armature=cfg.armature,
                damping=cfg.joint_damping,
                frictionloss=cfg.frictionloss,
            )
        for i, (c, h) in enumerate(link.boxes):
            _box(body, f"{link.name}_col{i}", c, h, cfg.link_friction, (0.2, 0.2, 0.2, 1))
        if link.name.endswith("_ds"):
            finger = link.name[:2]
            c, h = _THUMB_TIP if finger == "th" else _TIP
            tip = _box(body, f"{finger}_tip_geom", c, h, cfg.fingertip_friction[0], (0.95, 0.95, 0.95, 1))
            tip.friction = cfg.fingertip_friction
            body.add_site(name=f"{finger}_tip", pos=c, size=(0.004, 0, 0))
    for name in C.JOINT_NAMES:
        lo, hi = C.JOINT_LOWER[C.JOINT_NAMES.index(name)], C.JOINT_UPPER[C.JOINT_NAMES.index(name)]
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.gaintype = mujoco.mjtGain.mjGAIN_FIXED
        act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
        gain = np.zeros(10)
        gain[0] = cfg.kp
        bias = np.zeros(10)
        bias[1], bias[2] = -cfg.kp, -cfg.kd
        act.gainprm = gain
        act.biasprm = bias
        act.ctrlrange = (lo, hi)
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = (-cfg.torque_limit, cfg.torque_limit)
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
    # The palm and the finger bases overlap by construction; so do neighbouring finger bases.
    bases = ["if_bs", "mf_bs", "rf_bs", "th_mp"]
    for other in bases + ["if_px", "mf_px", "rf_px", "th_bs", "if_md", "mf_md", "rf_md", "th_px"]:
        spec.add_exclude(bodyname1="palm", bodyname2=other)
    for i, a in enumerate(bases):
        for b in bases[i + 1 :]:
            spec.add_exclude(bodyname1=a, bodyname2=b)
    # The short side-to-side link puts each finger's base and middle link next to each other; the
    # joint range, not their boxes, limits how far they fold.
    for f in ("if", "mf", "rf"):
        spec.add_exclude(bodyname1=f"{f}_bs", bodyname2=f"{f}_md")
    spec.add_exclude(bodyname1="th_mp", bodyname2="th_px")


def _box(body: mujoco.MjsBody, name: str, centre, half, friction: float, rgba) -> mujoco.MjsGeom:
    return body.add_geom(
        name=name,
        type=mujoco.mjtGeom.mjGEOM_BOX,
        pos=centre,
        size=half,
        friction=(friction, 0.005, 0.0001),
        rgba=rgba,
        density=0.0,
    )
