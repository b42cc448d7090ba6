"""The Chaos Box: a load on the fingers that needs no object, no resets and no human.

DexNDM collects its real data with the hand lowered into an open box of soft, light balls: as the
fingers replay a policy's motions the balls push back, roll away and fall back, so the joints see
contact loads like those of in-hand rotation without an object that could be dropped. With the
palm up the box is out of reach, so a ball is tied to three fingertips instead.

:class:`ChaosBox` adds either load to a simulated world. It is a callable on a ``mujoco.MjSpec``,
meant as ``SimulatedReality``'s ``extra_scene``::

    box = ChaosBox("palm_down", ChaosBoxConfig(ball_count=40))
    hand = SimulatedReality("default", wrist="palm_down", extra_scene=box)
    ...
    box.layout.escaped_balls(model, data)    # which balls left the box

The world must hold the LEAP hand under a mocap body named ``wrist`` (as ``dexndm.sim.scene``
builds it). The load is placed around the hand at :data:`dexndm.hand.constants.DEFAULT_POSE` and
the given wrist orientation: the box centred under the hand, its floor ``fingertip_height`` below
the fingertips, so the fingers sit equally deep in the balls at every orientation; the balls on a
lattice from the floor up (over the rim if need be), clear of the hand. The balls start in the air
and settle within about a second; collectors hold the hand still for a settling time before the
first episode.

The box holds the balls but never touches the hand (separate collision bits): the fingers are
loaded by the balls alone. A finger that reached a rigid floor wedged balls (and itself) against it
with forces no motor can produce, and MuJoCo answered with a blow-up.

Measured on the ``default`` profile (tests/reality/test_chaos_box.py, benchmarks/collection_speed.py):
the box changes the motor currents and joint positions well beyond the sensor noise, no ball
leaves the box in 20 s of per-joint sine waves, and the tethered ball stays within its bandage.

Which load: ``tether`` when the palm normal points up (its world z above ``palm_up_min_z``: the
back of the hand would face the box), else ``box``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import mujoco
import numpy as np

from dexndm.hand import constants as C
from dexndm.sim.rotations import quat_rotate
from dexndm.sim.wrists_axes import parse_wrist

LoadKind = Literal["box", "tether"]

WRIST_BODY = "wrist"
BALL_PREFIX = "chaos_ball_"
TETHER_BALL = "chaos_tether_ball"
_BOX_BIT = 2  # collision bit shared by the box and the balls only (the hand's geoms use bit 1)
_DROP_LAYERS_ABOVE_RIM = 1.0  # balls may start up to one wall height above the rim
_LATTICE_GAP = 0.002  # m between neighbouring balls at placement
_HAND_GAP = 0.003  # m between a placed ball and the hand


@dataclass(frozen=True)
class ChaosBoxConfig:
    """The box, its balls and the palm-up tethered ball. Lengths in m, masses in kg."""

    inner_size: tuple[float, float] = (0.30, 0.30)
    """Inside length and width of the box (world x, y). Must exceed the hand's footprint."""
    wall_height: float = 0.25
    """Height of the walls above the floor."""
    wall_thickness: float = 0.01
    fingertip_height: float = 0.03
    """How far the hand is lowered into the box: the height of the fingertips (their mean at the
    default pose) above the floor. The hand never touches the box itself, so a part of it lower
    than that (the palm heel with the fingers pointing up) passes through the floor."""
    ball_count: int = 40
    """Balls in the box. They must fit on the placement lattice below the rim."""
    ball_radius: tuple[float, float] = (0.03, 0.035)
    """Ball radius range; each ball draws one uniformly (ball-pit balls: 6-7 cm across)."""
    ball_mass: tuple[float, float] = (0.006, 0.012)
    """Ball mass range; each ball draws one uniformly."""
    ball_solref: tuple[float, float] = (0.01, 1.0)
    """Contact (time constant s, damping ratio) of every ball contact (the balls take contact
    priority). Softer = larger time constant; it must be at least twice the physics timestep, and
    with these light balls a time constant above ~0.01 s lets a pressing finger push a ball
    through the floor."""
    ball_solimp: tuple[float, float, float, float, float] = (0.5, 0.9, 0.01, 0.5, 2.0)
    """Contact impedance (dmin, dmax, width m, midpoint, power) of every ball contact: softer than
    MuJoCo's default (0.9, 0.95, 0.001) over the first centimetre of squeeze, as a hollow ball
    gives. With the default, balls pinched between fingers and the floor were shot out at up to
    150 m/s in our tests."""
    ball_friction: tuple[float, float, float] = (0.6, 0.005, 0.0001)
    """Sliding, torsional and rolling friction of every ball contact whose condim includes them."""
    ball_condim: int = 1
    """Contact dimensionality of every box-ball contact: 1 frictionless, 3 with sliding friction.
    Frictionless by default: with friction, a light ball pinched between fingers, floor and other
    balls had its spin grow tenfold every few milliseconds in our runs (elliptic cones, 1 ms
    steps) until it was shot out of the box at up to 190 m/s. The load the fingers feel is then
    the balls' weight and inertia pushed aside, not their friction."""
    tether_ball_condim: int = 3
    """Contact dimensionality of the palm-up ball (heavier and larger: stable with friction)."""
    tether_ball_radius: float = 0.03
    """Radius of the palm-up ball (a 6 cm ball, the size of the training objects)."""
    tether_ball_mass: float = 0.03
    tether_fingertips: tuple[str, ...] = ("if_tip", "mf_tip", "th_tip")
    """Fingertip sites the ball is tied to (``dexndm.hand.constants.FINGERTIP_SITES``)."""
    tether_stiffness: float = 100.0
    """Elastic stiffness of each tether once taut, N/m (a bandage; 2 cm of stretch pulls 2 N)."""
    tether_damping: float = 1.0
    """Damping of each tether, N s/m."""
    tether_slack: float = 0.005
    """Tether length beyond the fingertip-to-ball distance at the default pose."""
    tether_max_stretch: float = 0.03
    """Hard limit on stretch past the slack length: the bandage never lets the ball go."""
    palm_up_min_z: float = 0.5
    """The tether replaces the box when the palm normal's world z exceeds this (cos 60 deg)."""
    seed: int = 0
    """Draws the ball radii and masses."""

    def __post_init__(self) -> None:
        def positive(name: str, value: float) -> None:
            if not value > 0:
                raise ValueError(f"ChaosBoxConfig.{name} must be > 0, got {value}")

        def interval(name: str, lo_hi: tuple[float, float]) -> None:
            lo, hi = lo_hi
            if not 0 < lo <= hi:
                raise ValueError(
                    f"ChaosBoxConfig.{name} must be a range (low, high) with 0 < low <= high, got {lo_hi}"
                )

        for name in (
            "wall_height",
            "wall_thickness",
            "tether_ball_radius",
            "tether_ball_mass",
            "tether_stiffness",
            "tether_max_stretch",
        ):
            positive(name, getattr(self, name))
        for name in ("fingertip_height", "tether_damping", "tether_slack"):
            if getattr(self, name) < 0:
                raise ValueError(f"ChaosBoxConfig.{name} must be >= 0, got {getattr(self, name)}")
        if min(self.inner_size) <= 0:
            raise ValueError(f"ChaosBoxConfig.inner_size must be positive (x, y) in m, got {self.inner_size}")
        interval("ball_radius", self.ball_radius)
        interval("ball_mass", self.ball_mass)
        for name in ("ball_condim", "tether_ball_condim"):
            if getattr(self, name) not in (1, 3, 4, 6):
                raise ValueError(
                    f"ChaosBoxConfig.{name} must be 1, 3, 4 or 6 (MuJoCo condim), got {getattr(self, name)}"
                )
        if self.ball_count < 0:
            raise ValueError(f"ChaosBoxConfig.ball_count must be >= 0, got {self.ball_count}")
        if self.ball_solref[0] <= 0 or self.ball_solref[1] <= 0:
            raise ValueError(
                f"ChaosBoxConfig.ball_solref must be (time constant s, damping ratio), both > 0, "
                f"got {self.ball_solref}"
            )
        unknown = [t for t in self.tether_fingertips if t not in C.FINGERTIP_SITES]
        if len(self.tether_fingertips) < 1 or unknown:
            raise ValueError(
                f"ChaosBoxConfig.tether_fingertips must name fingertip sites among {C.FINGERTIP_SITES}, "
                f"got {self.tether_fingertips}"
            )
        if not -1.0 <= self.palm_up_min_z <= 1.0:
            raise ValueError(f"ChaosBoxConfig.palm_up_min_z is a cosine in [-1, 1], got {self.palm_up_min_z}")


def load_kind(wrist: str | np.ndarray, config: ChaosBoxConfig = ChaosBoxConfig()) -> LoadKind:
    """``"tether"`` if the palm faces up at this wrist (the box is out of reach), else ``"box"``."""
    palm_normal = quat_rotate(parse_wrist(wrist), np.array([0.0, 0.0, 1.0]))
    return "tether" if palm_normal[2] > config.palm_up_min_z else "box"


@dataclass
class ChaosLayout:
    """Where :class:`ChaosBox` put things, in world coordinates (m); filled when the box is built.

    Attributes:
        kind: ``box`` or ``tether``.
        box_centre: ``(2,)`` x, y of the box's inner centre.
        half_size: ``(2,)`` inner half length and width.
        floor_z: height of the floor's top surface.
        rim_z: height of the wall tops.
        ball_bodies: body names of the balls, in order.
        ball_radius: ``(n,)`` their radii.
        tether_tendons: tendon names of the tethers, one per tied fingertip.
        tether_rest: ``(k,)`` their slack lengths: the tethers pull beyond these.
    """

    kind: LoadKind
    box_centre: np.ndarray = field(default_factory=lambda: np.zeros(2))
    half_size: np.ndarray = field(default_factory=lambda: np.zeros(2))
    floor_z: float = 0.0
    rim_z: float = 0.0
    ball_bodies: list[str] = field(default_factory=list)
    ball_radius: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tether_tendons: list[str] = field(default_factory=list)
    tether_rest: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def ball_positions(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        """``(n, 3)`` world positions of the box balls."""
        return np.array([data.xpos[model.body(b).id] for b in self.ball_bodies]).reshape(-1, 3)

    def escaped_balls(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        """``(n,)`` bool: the ball's centre is outside the box's inner footprint or below its floor."""
        pos = self.ball_positions(model, data)
        outside = np.any(np.abs(pos[:, :2] - self.box_centre) > self.half_size, axis=1)
        return outside | (pos[:, 2] < self.floor_z - self.ball_radius)

    def tether_stretch(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        """``(k,)`` how far each tether is stretched past its slack length, m (negative: slack)."""
        lengths = np.array([data.ten_length[model.tendon(t).id] for t in self.tether_tendons])
        return lengths - self.tether_rest

    def to_json(self) -> dict:
        """A JSON-ready summary for episode metadata."""
        out: dict = {"kind": self.kind}
        if self.kind == "box":
            out.update(
                box_centre=np.round(self.box_centre, 4).tolist(),
                half_size=np.round(self.half_size, 4).tolist(),
                floor_z=round(self.floor_z, 4),
                rim_z=round(self.rim_z, 4),
                balls=len(self.ball_bodies),
            )
        else:
            out.update(tethers=self.tether_tendons, tether_rest=np.round(self.tether_rest, 4).tolist())
        return out


class ChaosBox:
    """Adds the Chaos Box (or, palm up, the tethered ball) to a world; see the module docstring.

    Args:
        wrist: the wrist orientation the hand will have (a name or ``"w,x,y,z"``): it decides the
            load and where the box goes.
        config: every dimension and material of the load.

    After the call, :attr:`layout` says where everything went.
    """

    def __init__(self, wrist: str | np.ndarray, config: ChaosBoxConfig = ChaosBoxConfig()) -> None:
        self.wrist_quat = parse_wrist(wrist)
        self.config = config
        self.kind: LoadKind = load_kind(self.wrist_quat, config)
        self.layout: ChaosLayout | None = None

    def __call__(self, spec: mujoco.MjSpec) -> None:
        """Add the load to ``spec`` (in place)."""
        self._check_timestep(spec)
        hand = _HandAtDefaultPose(spec, self.wrist_quat)
        if self.kind == "box":
            self.layout = self._add_box(spec, hand)
        else:
            self.layout = self._add_tether(spec, hand)

    # ---- the box -----------------------------------------------------------------------------
    def _add_box(self, spec: mujoco.MjSpec, hand: _HandAtDefaultPose) -> ChaosLayout:
        cfg = self.config
        lo, hi = hand.bounds()
        footprint = hi[:2] - lo[:2]
        inner = np.asarray(cfg.inner_size, dtype=np.float64)
        if np.any(inner < footprint + 0.02):
            raise ValueError(
                f"ChaosBoxConfig.inner_size {tuple(inner)} m is too small for the hand at this wrist "
                f"orientation (footprint {np.round(footprint, 3).tolist()} m, plus 1 cm each side); "
                "make the box larger"
            )
        centre = 0.5 * (lo[:2] + hi[:2])
        half = 0.5 * inner
        floor_z = float(np.mean([hand.site_pos(t)[2] for t in C.FINGERTIP_SITES]) - cfg.fingertip_height)
        rim_z = floor_z + cfg.wall_height
        world = spec.worldbody
        t = cfg.wall_thickness
        rgba = (0.55, 0.45, 0.35, 0.35)  # translucent: renders still show the hand
        floor = world.add_geom(
            name="chaos_box_floor",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            rgba=rgba,
            pos=(centre[0], centre[1], floor_z - t),
            size=(half[0] + 2 * t, half[1] + 2 * t, t),
        )
        panels = [floor]
        for i, (sx, sy) in enumerate(((1, 0), (-1, 0), (0, 1), (0, -1))):
            size = (
                (t, half[1] + 2 * t, 0.5 * cfg.wall_height)
                if sx
                else (half[0] + 2 * t, t, 0.5 * cfg.wall_height)
            )
            pos = (
                centre[0] + sx * (half[0] + t),
                centre[1] + sy * (half[1] + t),
                floor_z + 0.5 * cfg.wall_height,
            )
            panels.append(
                world.add_geom(
                    name=f"chaos_box_wall{i}", type=mujoco.mjtGeom.mjGEOM_BOX, pos=pos, size=size, rgba=rgba
                )
            )
        # The box holds the balls but never touches the hand: a finger reaching the floor would
        # wedge against it with forces no motor can produce (and MuJoCo answers with a blow-up).
        for panel in panels:
            panel.contype = _BOX_BIT
            panel.conaffinity = _BOX_BIT

        rng = np.random.default_rng(cfg.seed)
        radii = rng.uniform(*cfg.ball_radius, size=cfg.ball_count)
        masses = rng.uniform(*cfg.ball_mass, size=cfg.ball_count)
        spots = self._ball_spots(hand, centre, half, floor_z, rim_z)
        names = []
        for i, (pos, r, mass) in enumerate(zip(spots, radii, masses, strict=False)):
            name = f"{BALL_PREFIX}{i:03d}"
            body = world.add_body(name=name, pos=pos)
            body.add_freejoint(name=f"{name}_free")
            colour = _BALL_COLOURS[i % len(_BALL_COLOURS)]
            self._soft_ball_geom(body, f"{name}_geom", r, mass, colour, cfg.ball_condim)
            names.append(name)
        return ChaosLayout("box", centre, half, floor_z, rim_z, names, radii)

    def _ball_spots(
        self, hand: _HandAtDefaultPose, centre: np.ndarray, half: np.ndarray, floor_z: float, rim_z: float
    ) -> np.ndarray:
        """Lattice points for ``ball_count`` balls, bottom layer first, clear of the hand.

        Layers above the rim are allowed (up to ``_DROP_LAYERS_ABOVE_RIM`` wall heights): those balls
        start over the box and drop in while the hand holds still.
        """
        cfg = self.config
        r = cfg.ball_radius[1]
        cell = 2 * r + _LATTICE_GAP
        nx, ny = (np.floor(2 * half / cell)).astype(int)
        xs = centre[0] + (np.arange(nx) - (nx - 1) / 2) * cell
        ys = centre[1] + (np.arange(ny) - (ny - 1) / 2) * cell
        spots: list[np.ndarray] = []
        z = floor_z + r + 0.5 * _LATTICE_GAP
        top = rim_z + _DROP_LAYERS_ABOVE_RIM * cfg.wall_height
        while len(spots) < cfg.ball_count and z <= top:
            for x in xs:
                for y in ys:
                    p = np.array([x, y, z])
                    if hand.distance(p) > r + _HAND_GAP:
                        spots.append(p)
            z += cell
        if len(spots) < cfg.ball_count:
            raise ValueError(
                f"ChaosBoxConfig.ball_count={cfg.ball_count} balls of radius up to {r} m do not fit in the "
                f"box around the hand (room for {len(spots)}); use fewer or smaller balls, a larger "
                "inner_size or a higher wall_height"
            )
        return np.array(spots[: cfg.ball_count])

    def _soft_ball_geom(
        self, body: mujoco.MjsBody, name: str, radius: float, mass: float, rgba, condim: int
    ) -> None:
        cfg = self.config
        geom = body.add_geom(
            name=name, type=mujoco.mjtGeom.mjGEOM_SPHERE, size=(radius, 0, 0), mass=mass, rgba=rgba
        )
        # Priority makes the ball's material govern each of its contacts (hand, box, other balls).
        geom.priority = 1
        geom.solref = cfg.ball_solref
        geom.solimp = cfg.ball_solimp
        geom.friction = cfg.ball_friction
        geom.condim = condim
        geom.contype = _BOX_BIT | 1  # touches the box (and, like every default geom, the hand)
        geom.conaffinity = _BOX_BIT | 1

    # ---- the tethered ball -------------------------------------------------------------------
    def _add_tether(self, spec: mujoco.MjSpec, hand: _HandAtDefaultPose) -> ChaosLayout:
        cfg = self.config
        radius = cfg.tether_ball_radius
        tips = np.array([hand.site_pos(t) for t in cfg.tether_fingertips])
        # The grasp centre, moved out along the palm normal until the ball clears the fingers.
        normal = quat_rotate(self.wrist_quat, np.array([0.0, 0.0, 1.0]))
        centre = hand.wrist_pos.copy()
        for _ in range(200):
            if hand.distance(centre) > radius + _HAND_GAP:
                break
            centre = centre + 0.001 * normal
        else:
            raise ValueError(
                f"the tethered ball (radius {radius} m) does not fit above the palm; use a smaller "
                "ChaosBoxConfig.tether_ball_radius"
            )
        body = spec.worldbody.add_body(name=TETHER_BALL, pos=centre)
        body.add_freejoint(name=f"{TETHER_BALL}_free")
        self._soft_ball_geom(
            body,
            f"{TETHER_BALL}_geom",
            radius,
            cfg.tether_ball_mass,
            (0.9, 0.5, 0.1, 1),
            cfg.tether_ball_condim,
        )
        names, rest = [], []
        for tip, tip_pos in zip(cfg.tether_fingertips, tips, strict=True):
            # Tie the tether to the ball's surface point facing the fingertip, like a bandage.
            direction = (tip_pos - centre) / max(np.linalg.norm(tip_pos - centre), 1e-9)
            anchor = f"{TETHER_BALL}_{tip}_anchor"
            body.add_site(name=anchor, pos=radius * direction, size=(0.003, 0, 0))
            slack_length = float(np.linalg.norm(tip_pos - (centre + radius * direction)) + cfg.tether_slack)
            tendon = spec.add_tendon(name=f"chaos_tether_{tip}")
            tendon.wrap_site(tip)
            tendon.wrap_site(anchor)
            # Spring only when taut (a dead band from 0 to the slack length), and a hard limit.
            tendon.springlength = (0.0, slack_length)
            tendon.stiffness = (cfg.tether_stiffness, 0.0, 0.0)
            tendon.damping = (cfg.tether_damping, 0.0, 0.0)
            tendon.limited = mujoco.mjtLimited.mjLIMITED_TRUE
            tendon.range = (0.0, slack_length + cfg.tether_max_stretch)
            tendon.width = 0.002
            tendon.rgba = (0.9, 0.9, 0.8, 1)
            names.append(tendon.name)
            rest.append(slack_length)
        return ChaosLayout("tether", tether_tendons=names, tether_rest=np.array(rest))

    def _check_timestep(self, spec: mujoco.MjSpec) -> None:
        timeconst, timestep = self.config.ball_solref[0], spec.option.timestep
        if timeconst < 2 * timestep:
            raise ValueError(
                f"ChaosBoxConfig.ball_solref time constant {timeconst} s is below twice the physics "
                f"timestep ({timestep} s); MuJoCo would silently stiffen it. Use at least {2 * timestep:g}"
            )


_BALL_COLOURS = ((0.9, 0.2, 0.2, 1), (0.2, 0.5, 0.9, 1), (0.95, 0.8, 0.2, 1), (0.3, 0.75, 0.35, 1))


class _HandAtDefaultPose:
    """The hand of ``spec`` posed at the default pose and a wrist orientation, for placing things.

    Compiles a copy of the spec (the caller's spec is not touched), so the geometry is exactly
    what the world will simulate, whichever hand model the world uses.
    """

    def __init__(self, spec: mujoco.MjSpec, wrist_quat: np.ndarray) -> None:
        if spec.body(WRIST_BODY) is None:
            raise ValueError(
                f"the world has no body named {WRIST_BODY!r}: the Chaos Box needs the LEAP hand on a "
                "mocap wrist body as dexndm.sim.scene builds it"
            )
        probe = spec.copy()
        probe.body(WRIST_BODY).quat = wrist_quat
        model = probe.compile()
        data = mujoco.MjData(model)
        for i, name in enumerate(C.JOINT_NAMES):
            data.qpos[model.joint(name).qposadr[0]] = C.DEFAULT_POSE[i]
        mujoco.mj_kinematics(model, data)
        wrist_id = model.body(WRIST_BODY).id
        self.wrist_pos = data.xpos[wrist_id].copy()
        geoms = np.flatnonzero(model.body_rootid[model.geom_bodyid] == wrist_id)
        # Each geom's bounding box (geom_aabb: centre, half size in the geom frame) as an oriented box.
        self._rot = data.geom_xmat[geoms].reshape(-1, 3, 3).copy()
        aabb = model.geom_aabb[geoms]
        self._centre = data.geom_xpos[geoms] + np.einsum("gij,gj->gi", self._rot, aabb[:, :3])
        self._half = aabb[:, 3:].copy()
        self._sites = {model.site(i).name: data.site_xpos[i].copy() for i in range(model.nsite)}

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """World axis-aligned bounds ``(low (3,), high (3,))`` of the hand."""
        extent = np.einsum("gij,gj->gi", np.abs(self._rot), self._half)
        return (self._centre - extent).min(axis=0), (self._centre + extent).max(axis=0)

    def distance(self, point: np.ndarray) -> float:
        """Distance from ``point`` (3,) to the nearest hand geom's bounding box, m (0 inside)."""
        local = np.einsum("gji,gj->gi", self._rot, point - self._centre)
        outside = np.maximum(np.abs(local) - self._half, 0.0)
        return float(np.min(np.linalg.norm(outside, axis=1)))

    def site_pos(self, name: str) -> np.ndarray:
        try:
            return self._sites[name]
        except KeyError:
            raise ValueError(
                f"the hand has no site {name!r}; fingertip sites are {C.FINGERTIP_SITES}"
            ) from None
