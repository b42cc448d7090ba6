"""Typed configuration of the rotation task: every range and weight lives here."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dexndm.hand import constants as C
from dexndm.sim.grasp import GraspConfig
from dexndm.sim.scene import PhysicsConfig


@dataclass(frozen=True)
class RandomizationConfig:
    """Domain randomization, resampled per environment at every reset (ranges are [low, high])."""

    object_mass: tuple[float, float] = (0.01, 0.05)
    """Object mass, kg (the paper: 0.01-0.05)."""
    friction: tuple[float, float] = (0.3, 3.0)
    """Contact friction coefficient (the paper: 0.3-3.0): the object's, and the hand's where the draw
    is below the hand's own, so that a hand-object contact gets the draw."""
    com_offset: float = 0.005
    """Centre-of-mass offset, uniform per axis in +-this, m."""
    kp_scale: tuple[float, float] = (0.8, 1.2)
    """Multiplier on the PD stiffness."""
    kd_scale: tuple[float, float] = (0.8, 1.2)
    """Multiplier on the PD damping."""
    disturbance_scale: float = 2.0
    """Disturbance force magnitude = this x object mass (N per kg), as in the paper."""
    disturbance_prob: float = 0.25
    """Probability per control step that the disturbance force is resampled."""
    joint_noise: float = 0.005
    """Observed joint positions get U(0, this) rad of noise (the paper)."""
    latency_substeps: tuple[int, int] = (0, 3)
    """Action latency in physics substeps (of 1/120 s): the new targets reach the PD this late."""
    object_scale: tuple[float, float] = (1.0, 1.0)
    """Object scale, drawn once per object group when the env is built (shapes are compiled)."""

    @staticmethod
    def none() -> RandomizationConfig:
        """No randomization: nominal physics, for evaluation and tests."""
        return RandomizationConfig(
            object_mass=(0.03, 0.03), friction=(1.0, 1.0), com_offset=0.0, kp_scale=(1.0, 1.0),
            kd_scale=(1.0, 1.0), disturbance_scale=0.0, disturbance_prob=0.0, joint_noise=0.0,
            latency_substeps=(0, 0),
        )  # fmt: skip


@dataclass(frozen=True)
class RewardConfig:
    """``r = r_rot + r_goal + r_penalty`` (method.md); weights the paper does not give are ours."""

    rot_clip: float = 0.5
    rot_weight: float = 1.0
    rotp_max: float = 0.1
    """Off-axis rotation penalty weight c_rotp reached by ``rotp_ramp_end`` resets."""
    rotp_ramp: tuple[int, int] = (10, 100)
    """c_rotp is 0 for the first ``[0]`` resets of an env, then ramps linearly to ``rotp_max``."""
    obj_vel_weight: float = 0.3
    pose_weight: float = 0.3
    work_weight: float = 2.0
    torque_weight: float = 0.1
    fall_penalty: float = 20.0
    """Ours: charged once when the object falls. It must outweigh the discounted penalties a
    struggling policy still has ahead (about 10 at -0.1 per step and gamma 0.99), or PPO learns
    to drop the object to end the episode; at 50 (the first choice) the specialist learned to
    hold and never to rotate (the earlier snapshot, commit 41ccc5e: omega.k 0.00 rad/s)."""
    pos_weight: float = 10.0
    """Ours: per metre of the object centre's distance from the grasp centre. The fall penalty
    alone is too sparse: with it, the specialist learned a rotating gait that also walked the
    object off the hand at ~3 cm/s, reaching the 6 cm limit after ~90 steps in every episode
    (iteration 550 of the first run: TTF 0.22, 0 of 32 episodes survived; without the limit the
    objects really dropped, median 159 steps; ``benchmarks/specialist_probe.py --drift``).
    At 3 per metre TTF stayed at 0.27 over 1.2 M more steps; 10 makes a centimetre of drift
    cost a third of the rotation reward at 0.3 rad/s."""
    goal_bonus: float = 2.0
    """Ours: bonus each time the guiding goal is reached (then it advances 90 degrees)."""
    goal_step_deg: float = 90.0
    goal_reach_deg: float = 15.0


OPEN_HAND_POSE: tuple[float, ...] = (0.0,) * 12 + (1.0, 0.0, 0.0, 0.0)
"""Joint positions of the open hand, sim order: fingers straight, the thumb straight and turned
half way towards the palm. Fully flat (th_cmc 0) the thumb has ~2 rad to travel, 48 steps at
the action limit of 1/24 rad per step, and the grasp then closed too late to hold."""


@dataclass(frozen=True)
class HandoverConfig:
    """Episodes that start from an open hand (the grasp is part of the task, as in teleoperation).

    The operator holds the object at a grasp's object pose (a weld to the ``operator`` mocap
    body) while the hand, starting open, closes; after ``hold_steps`` control steps the operator
    lets go. The scripted teacher for the closing phase (:meth:`RotationEnv.handover_actions`)
    moves the targets from the open pose to the grasp's targets in ``close_steps`` steps.
    """

    prob: float = 0.0
    """Probability that an episode starts from the open hand (0: every episode starts grasped)."""
    open_pose: tuple[float, ...] = OPEN_HAND_POSE
    close_steps: int = 40
    """Control steps over which the teacher closes the hand (2 s at 20 Hz): the middle fingers'
    pip joints travel up to ~1.8 rad, 43 steps at the action limit."""
    hold_steps: int = 46
    """Control steps the operator holds the object before letting go (>= close_steps)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.prob <= 1.0:
            raise ValueError(f"HandoverConfig.prob must be in [0, 1], got {self.prob}")
        if len(self.open_pose) != 16:
            raise ValueError(
                f"HandoverConfig.open_pose must have 16 joint positions, got {len(self.open_pose)}"
            )
        if not 1 <= self.close_steps <= self.hold_steps:
            raise ValueError(
                "HandoverConfig needs 1 <= close_steps <= hold_steps, "
                f"got {self.close_steps} and {self.hold_steps}"
            )

    @property
    def open_joint_pos(self) -> np.ndarray:
        """``open_pose`` as a (16,) array within the joint limits: what every open-hand start
        (training sim, SimulatedReality, a physical hand) sets the joints and targets to."""
        return C.clamp_to_limits(np.asarray(self.open_pose, dtype=np.float64))


@dataclass(frozen=True)
class EnvConfig:
    """The batched in-hand rotation environment."""

    num_envs: int = 64
    objects: tuple[str, ...] = ("cube",)
    """Object names (``normal_cuboid/03``), categories (all of their train shapes) or mesh paths."""
    split: str = "train"
    """Which shapes a category name expands to."""
    wrists: tuple[str, ...] = ("palm_up",)
    """Wrist orientations sampled at reset: names (``palm_down``), ``"all"`` for the six, or 'w,x,y,z'."""
    axes: tuple[str, ...] = ("+z",)
    """Rotation axes sampled at reset: names (``+z``, ``xyz``), ``"principal"``, ``"random"`` or 'x,y,z'."""
    episode_steps: int = 400
    history: int = 10
    """T: steps of (q, previous target) in the proprioceptive observation."""
    fall_distance: float = 0.06
    """The episode ends when the object's centre is this far (m) from the grasp centre."""
    seed: int = 0
    nthread: int = 0
    """Physics threads (0: all cores)."""
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    randomization: RandomizationConfig = field(default_factory=RandomizationConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    grasp: GraspConfig = field(default_factory=GraspConfig)
    handover: HandoverConfig = field(default_factory=HandoverConfig)
    grasp_cache_dir: str | None = None
    delta_action: str | None = None
    """A delta-action model (``dexndm train delta-action``, the ASAP-style baseline): the PD then
    receives the commanded targets plus its offset; observations keep the commanded targets."""

    def __post_init__(self) -> None:
        if self.num_envs < 1:
            raise ValueError(f"EnvConfig.num_envs must be >= 1, got {self.num_envs}")
        if self.episode_steps < 1 or self.history < 1:
            raise ValueError("EnvConfig.episode_steps and history must be >= 1")
        if not self.objects or not self.wrists or not self.axes:
            raise ValueError("EnvConfig: objects, wrists and axes must each name at least one entry")
