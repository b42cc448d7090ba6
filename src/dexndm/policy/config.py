"""Typed configuration of the rotation policies: PPO specialists and the curriculum.

Every hyperparameter lives here so a run is reproduced from its ``config.json`` alone. Values
follow the peers where the paper is silent (HORA-style PPO on a 16-joint hand: gamma 0.99,
lambda 0.95, clip 0.2, adaptive learning rate on a KL target, 5 epochs x 4 minibatches),
scaled to a 2-core CPU (fewer envs, shorter rollouts, a narrower network).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dexndm.hand.model import HandConfig
from dexndm.sim.config import RandomizationConfig, RewardConfig


@dataclass(frozen=True)
class PPOConfig:
    """rsl_rl's PPO arguments (``rsl_rl.algorithms.PPO``)."""

    num_learning_epochs: int = 5
    num_mini_batches: int = 4
    clip_param: float = 0.2
    gamma: float = 0.99
    lam: float = 0.95
    value_loss_coef: float = 1.0
    entropy_coef: float = 0.0
    learning_rate: float = 5e-4
    max_grad_norm: float = 1.0
    schedule: str = "adaptive"
    desired_kl: float = 0.016
    use_clipped_value_loss: bool = True


@dataclass(frozen=True)
class NetworkConfig:
    """Actor and critic MLPs (rsl_rl ``MLPModel``); both read the privileged observation."""

    actor_hidden: tuple[int, ...] = (256, 128, 64)
    """Half HORA's (512, 256, 128): on this 2-core CPU the PPO update of the wider pair took
    1.55 s of a 2.7 s iteration (256 envs x 24 steps); this pair takes 0.44 s (2 threads)."""
    critic_hidden: tuple[int, ...] = (256, 128, 64)
    activation: str = "elu"
    init_std: float = 0.5
    """Initial action noise (actions are in [-1, 1] before the /24 scaling)."""
    obs_normalization: bool = True


@dataclass(frozen=True)
class CurriculumStage:
    """From iteration ``start`` on, resets draw wrists from ``wrists`` (a wrist listed k times is
    drawn k times as often) and axes from ``axes``."""

    start: int
    wrists: tuple[str, ...]
    axes: tuple[str, ...]

    def describe(self) -> str:
        return f"wrists={','.join(self.wrists)} axes={','.join(self.axes)}"


def default_curriculum() -> tuple[CurriculumStage, ...]:
    """Palm up about +z first (the easiest case), then all wrists about +z, then +-x/+-y/+-z,
    then axes spread over the sphere."""
    return (
        CurriculumStage(0, ("palm_up",), ("+z",)),
        CurriculumStage(3000, ("all",), ("+z",)),
        CurriculumStage(4500, ("all",), ("principal",)),
        CurriculumStage(6000, ("all",), ("random",)),
    )


@dataclass(frozen=True)
class SpecialistConfig:
    """One PPO specialist: a category's train shapes, privileged observations, a curriculum."""

    category: str = "normal_cylinder"
    """Object category (``normal_cylinder``, ``normal_cuboid``, ``long_cuboid``, ``small_cylinder``,
    ``complex``), an object name, or a mesh path; its train-split shapes are used."""
    num_envs: int = 256
    steps_per_env: int = 24
    """Rollout length per PPO iteration (env steps per env)."""
    iterations: int = 8000
    """Total PPO iterations (a resumed run continues to this total)."""
    save_interval: int = 50
    episode_steps: int = 400
    """Episode length (the task's is 400; shorter only for tiny test configs)."""
    seed: int = 0
    nthread: int = 0
    """Physics threads (0: all cores)."""
    torch_threads: int = 2
    """Torch threads for the networks. Rollout and update alternate, so the update may use
    every core (measured at (512, 256, 128): 1 thread 1.55 s per update, 2 threads 0.88 s)."""
    wrists: tuple[str, ...] = ("all",)
    """Wrist orientations whose grasps are built (the curriculum picks among these)."""
    axes: tuple[str, ...] = ("random",)
    """Axes the env is configured with (the curriculum overrides what resets draw)."""
    curriculum: tuple[CurriculumStage, ...] = field(default_factory=default_curriculum)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    """The task reward (``dexndm.sim.rewards``), part of the run's identity."""
    init_from: str | None = None
    """Warm start: a specialist checkpoint whose actor and critic (with their observation
    normalizers) this run starts from; the optimizer, iteration count and curriculum start fresh."""
    hand: HandConfig = field(default_factory=HandConfig)
    """The training sim's hand (PD, torque limit, joint inertia and friction): the nominal one,
    or one fitted to a real hand's data (``dexndm sysid``, then ``train specialist --sysid``)."""
    latency_substeps: tuple[int, int] = RandomizationConfig().latency_substeps
    """Action latency drawn per episode, physics substeps (1/120 s), low and high inclusive."""
    delta_action: str | None = None
    """A delta-action model in the training sim's loop (``dexndm train delta-action``, the
    ASAP-style baseline: fine-tune with ``--init-from``, then distill)."""

    def __post_init__(self) -> None:
        if self.num_envs < 1 or self.steps_per_env < 1 or self.iterations < 1:
            raise ValueError("SpecialistConfig: num_envs, steps_per_env and iterations must be >= 1")
        if self.num_envs * self.steps_per_env < self.ppo.num_mini_batches:
            raise ValueError(
                f"SpecialistConfig: {self.num_envs} envs x {self.steps_per_env} steps cannot fill "
                f"{self.ppo.num_mini_batches} minibatches; raise num_envs or steps_per_env"
            )
        if not self.curriculum or self.curriculum[0].start != 0:
            raise ValueError("SpecialistConfig.curriculum must start with a stage at iteration 0")
        starts = [s.start for s in self.curriculum]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ValueError(f"SpecialistConfig.curriculum stage starts must increase, got {starts}")
        if "all" not in self.wrists:
            for s in self.curriculum:
                extra = [w for w in s.wrists if w not in self.wrists]
                if extra:
                    raise ValueError(
                        f"SpecialistConfig: curriculum stage at iteration {s.start} uses wrists {extra} that "
                        f"are not in wrists={list(self.wrists)}; add them to --wrists so their grasps "
                        "are built"
                    )

    def stage_at(self, iteration: int) -> tuple[int, CurriculumStage]:
        """The index and stage in force at ``iteration``."""
        idx = max(i for i, s in enumerate(self.curriculum) if s.start <= iteration)
        return idx, self.curriculum[idx]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> SpecialistConfig:
        d = dict(d)
        d["curriculum"] = tuple(
            CurriculumStage(int(s["start"]), tuple(s["wrists"]), tuple(s["axes"])) for s in d["curriculum"]
        )
        d["ppo"] = PPOConfig(**d["ppo"])
        net = dict(d["network"])
        net["actor_hidden"] = tuple(net["actor_hidden"])
        net["critic_hidden"] = tuple(net["critic_hidden"])
        d["network"] = NetworkConfig(**net)
        # a config.json from before the reward was recorded reads as today's default reward
        if "reward" in d:
            d["reward"] = RewardConfig(
                **{k: tuple(v) if isinstance(v, list) else v for k, v in d["reward"].items()}
            )
        # config.json files from before the hand and latency were part of it read as the defaults
        if "hand" in d:
            d["hand"] = HandConfig.from_dict(d["hand"])
        if "latency_substeps" in d:
            d["latency_substeps"] = tuple(d["latency_substeps"])
        for k in ("wrists", "axes"):
            d[k] = tuple(d[k])
        return SpecialistConfig(**d)
