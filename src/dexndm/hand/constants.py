"""The LEAP hand (right): the single source of truth for joints, motors and limits.

Everything else in dexndm carries the hand's 16 joints as ordered arrays in radians, in
``JOINT_NAMES`` order (the *sim order*). Only ``dexndm.hardware`` converts to motor order and
motor units, through ``SIM_TO_MOTOR`` and ``ZERO_OFFSET_RAD``.

Sim order, per finger: index, middle, ring ``[mcp, rot, pip, dip]``, thumb
``[cmc, axl, mcp, ipl]``. Motor order on the real hand, per finger: ``[rot, mcp, pip, dip]``
for index (ids 0-3), middle (4-7) and ring (8-11); the thumb's motors 12-15 follow the sim order.
"""

from __future__ import annotations

import numpy as np

FINGERS: tuple[str, ...] = ("if", "mf", "rf", "th")
"""Finger prefixes in sim order: index, middle, ring, thumb."""

FINGER_JOINTS: dict[str, tuple[str, ...]] = {
    "if": ("mcp", "rot", "pip", "dip"),
    "mf": ("mcp", "rot", "pip", "dip"),
    "rf": ("mcp", "rot", "pip", "dip"),
    "th": ("cmc", "axl", "mcp", "ipl"),
}

JOINT_NAMES: tuple[str, ...] = tuple(f"{f}_{j}" for f in FINGERS for j in FINGER_JOINTS[f])
NUM_JOINTS = len(JOINT_NAMES)
assert NUM_JOINTS == 16

FINGER_OF_JOINT: np.ndarray = np.repeat(np.arange(len(FINGERS)), 4)
"""Finger index (0..3) of each joint, in sim order; used by the finger-wise dynamics model."""

# Joint ranges in radians (lower, upper), in sim order.
_RANGES = {
    "mcp": (-0.314, 2.23),
    "rot": (-1.047, 1.047),
    "pip": (-0.506, 1.885),
    "dip": (-0.366, 2.042),
    "cmc": (-0.349, 2.094),
    "axl": (-0.349, 2.094),
    "th_mcp": (-0.47, 2.443),
    "ipl": (-1.34, 1.88),
}


def _range(name: str) -> tuple[float, float]:
    finger, joint = name.split("_")
    if finger == "th" and joint == "mcp":
        return _RANGES["th_mcp"]
    return _RANGES[joint]


JOINT_LOWER: np.ndarray = np.array([_range(n)[0] for n in JOINT_NAMES])
JOINT_UPPER: np.ndarray = np.array([_range(n)[1] for n in JOINT_NAMES])

# A relaxed, slightly curled pose used as the default and as the grasp-search seed. It keeps every
# finger flexed toward the palm so a held object is caged.
DEFAULT_POSE: np.ndarray = np.array(
    [
        0.6, 0.0, 0.6, 0.6,   # index  mcp rot pip dip
        0.6, 0.0, 0.6, 0.6,   # middle
        0.6, 0.0, 0.6, 0.6,   # ring
        1.8, 0.3, 0.8, 0.3,   # thumb  cmc axl mcp ipl
    ]
)  # fmt: skip

# ---- The real hand ------------------------------------------------------------------------
SIM_TO_MOTOR: np.ndarray = np.array([1, 0, 2, 3, 5, 4, 6, 7, 9, 8, 10, 11, 12, 13, 14, 15])
"""Motor id of each sim joint: ``motor_values[SIM_TO_MOTOR] = sim_values``."""

MOTOR_TO_SIM: np.ndarray = np.argsort(SIM_TO_MOTOR)
"""Sim joint index of each motor id: ``sim_values[MOTOR_TO_SIM] = motor_values``."""

MOTOR_IDS: tuple[int, ...] = tuple(range(16))
ZERO_OFFSET_RAD: float = float(np.pi)
"""The real joint reads pi at the sim's zero: ``motor_rad = sim_rad + pi``."""

SIDE_TO_SIDE_JOINTS: tuple[str, ...] = ("if_rot", "mf_rot", "rf_rot")
MAX_CURRENT_LIMIT_MA = 600
"""Highest goal current (current-based position mode) the LEAP hand's motors are run at, mA;
above it they overheat in sustained grasps. 300-550 mA is used in practice."""

# Dynamixel XC330-M288-T facts.
XC330_MODEL_NUMBER = 1200
TICKS_PER_REV = 4096
RAD_PER_TICK = 2.0 * np.pi / TICKS_PER_REV
RPM_PER_VELOCITY_UNIT = 0.229
MA_PER_CURRENT_UNIT = 1.0
XC330_STALL_TORQUE_NM = 0.93  # at 5 V, 1.8 A (ROBOTIS e-Manual, XC330-M288-T); the LEAP hand runs them at 5 V
XC330_NO_LOAD_SPEED_RAD_S = 81.0 * 2.0 * np.pi / 60.0  # 81 rpm at 5 V (e-Manual)
XC330_STALL_CURRENT_A = 1.8
ROTOR_INERTIA_KGM2 = 1.7e-8
GEAR_RATIO = 288.7

# ---- Control ------------------------------------------------------------------------------
CONTROL_HZ = 20.0
CONTROL_DT = 1.0 / CONTROL_HZ
ACTION_SCALE = 1.0 / 24.0
"""Relative action: ``target += clip(delta, -1, 1) * ACTION_SCALE``, then clamped to limits."""

MAX_TARGET_STEP_RAD = 0.1
"""The hand's cap on a joint target's change per control tick, rad (2 rad/s at 20 Hz): the
safety filter's (:class:`dexndm.reality.base.SafetyFilter`) and the largest step base + residual
sends. The base alone moves a target at most ``ACTION_SCALE`` per tick; a residual's correction
comes on top (method.md: it is added to the base's target), so capping the sum at
``ACTION_SCALE`` would cut the corrections that lead a joint ahead of a moving target."""


MAX_PLAUSIBLE_JOINT_STEP_RAD = 2.0 * XC330_NO_LOAD_SPEED_RAD_S * CONTROL_DT
"""A measured joint moving further than this in one control tick, rad (0.85: twice the motor's
no-load speed), is not something the geared XC330 does, driven or back-driven: an encoder
misread on a real hand, a contact resolved violently in a simulated one. ``dexndm data verify``
names such episodes; training keeps them (docs/results.md 4g measured no gain from dropping one)."""

JOINT_STOP_OVERRUN_RAD = 0.15
"""How far past its range a hand joint may be pressed before the physics counts as broken. The
soft joint limits let contacts push a joint a little past its stop. In six 192-episode Chaos Box
stores (session 30) 1,124 of 1,152 episodes stay within 0.05 rad of every stop, four reach
0.06-0.09, three 0.12-0.21 and 21 go 0.38-47 rad past, often for several episodes in a row (a
finger that stays broken); 96 simulated task episodes stay within 0.03. SimulatedReality resets
and counts a joint past it as a physics blow-up; ``dexndm data verify`` names recorded ones."""


def check_target_step(step_rad: float, what: str) -> float:
    """``step_rad`` if it lies between the base's own step (``ACTION_SCALE``) and the hand's safety
    cap (``MAX_TARGET_STEP_RAD``), the range a deployed target step cap may take; else a
    ValueError that names ``what``."""
    if not ACTION_SCALE - 1e-9 <= step_rad <= MAX_TARGET_STEP_RAD + 1e-9:
        raise ValueError(
            f"{what} must lie in [{ACTION_SCALE:.4f}, {MAX_TARGET_STEP_RAD}] rad per tick (the base's own "
            f"step, the hand's safety cap), got {step_rad:g}"
        )
    return float(step_rad)


FINGERTIP_SITES: tuple[str, ...] = tuple(f"{f}_tip" for f in FINGERS)


def sim_to_motor_order(values_sim: np.ndarray) -> np.ndarray:
    """Reorder ``(..., 16)`` values from sim order to motor-id order."""
    values_sim = np.asarray(values_sim)
    out = np.empty_like(values_sim)
    out[..., SIM_TO_MOTOR] = values_sim
    return out


def motor_to_sim_order(values_motor: np.ndarray) -> np.ndarray:
    """Reorder ``(..., 16)`` values from motor-id order to sim order."""
    values_motor = np.asarray(values_motor)
    return values_motor[..., SIM_TO_MOTOR]


def clamp_to_limits(joint_targets: np.ndarray) -> np.ndarray:
    """Clamp ``(..., 16)`` joint targets (sim order, rad) to the joint ranges."""
    return np.clip(joint_targets, JOINT_LOWER, JOINT_UPPER)
