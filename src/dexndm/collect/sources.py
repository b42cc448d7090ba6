"""Action sources: the absolute joint-target sequences a collection replays, one per episode.

A source yields ``(index, targets (T, 16) rad, meta)`` for the planned episode indices of one
wrist orientation, in ascending order. The targets depend only on the episode (its index, wrist
and the run's seed), never on what the hand did, so a resumed run commands the same sequences.

- :class:`ReplaySource`: a policy rolled out in the training sim (``RotationEnv``) at the
  episode's wrist and a random axis (:func:`dexndm.dynamics.sim_episodes.policy_batches`), its
  targets ``a_t`` recorded step by step;
- :class:`WaveSource`: per-joint sine or square waves (:class:`~dexndm.collect.config.WaveConfig`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from dexndm.collect.config import CollectConfig, ReplayConfig, WaveConfig, episode_rng, wrist_seed
from dexndm.hand import constants as C

SourceItem = tuple[int, np.ndarray, dict[str, Any]]


class ActionSource(Protocol):
    def sequences(self, wrist: str, indices: Sequence[int]) -> Iterator[SourceItem]:
        """``(index, targets (T, 16) rad, meta)`` for each of ``indices`` (ascending) of ``wrist``."""
        ...


@dataclass
class ReplaySource:
    """Joint targets of ``policy`` rolled out in the training sim; see the module docstring.

    Episode ``i`` of a wrist is rollout ``i`` of that wrist's simulated batches (seeded by the run's
    seed and the wrist), so it is the same whichever episodes a run skips.
    """

    policy: str
    steps: int
    episodes: int
    config: ReplayConfig
    seed: int = 0

    def sequences(self, wrist: str, indices: Sequence[int]) -> Iterator[SourceItem]:
        from dexndm.dynamics.sim_episodes import SimEpisodeConfig, policy_batches
        from dexndm.sim.config import EnvConfig, RandomizationConfig
        from dexndm.sim.grasp import GraspConfig

        cfg = self.config
        wanted = set(indices)
        env_cfg = EnvConfig(
            num_envs=cfg.num_envs,
            objects=cfg.objects,
            wrists=(wrist,),
            axes=("random",),
            episode_steps=self.steps,
            seed=0,
            nthread=1,
            randomization=RandomizationConfig() if cfg.randomize else RandomizationConfig.none(),
            grasp=GraspConfig(candidates=cfg.grasp_candidates),
            grasp_cache_dir=cfg.grasp_cache_dir,
        )
        sim_cfg = SimEpisodeConfig(
            episodes=self.episodes,
            steps=self.steps,
            num_envs=cfg.num_envs,
            action_noise=0.0,
            seed=wrist_seed(self.seed, wrist),
        )
        batches = policy_batches(self.policy, env_cfg, sim_cfg, skip=lambda eps: wanted.isdisjoint(eps))
        for batch in batches:
            for slot, index in enumerate(batch.episodes):
                if index in wanted:
                    meta = {
                        "policy": self.policy,
                        "object": batch.metas[slot]["object"],
                        "axis": batch.metas[slot]["axis"],
                        "sim_fell_step": batch.metas[slot]["fell_step"],
                    }
                    yield index, batch.arrays["joint_targets"][slot].astype(np.float64), meta


@dataclass
class WaveSource:
    """Per-joint ``sine`` or ``square`` waves, drawn per episode from :class:`WaveConfig` ranges."""

    kind: str
    steps: int
    config: WaveConfig
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("sine", "square"):
            raise ValueError(f"WaveSource.kind must be 'sine' or 'square', got {self.kind!r}")

    def sequences(self, wrist: str, indices: Sequence[int]) -> Iterator[SourceItem]:
        for index in sorted(indices):
            targets, params = wave_targets(
                self.kind, self.steps, self.config, episode_rng(self.seed, wrist, index, 0)
            )
            yield index, targets, params


def wave_targets(
    kind: str, steps: int, cfg: WaveConfig, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, Any]]:
    """One episode of waves: ``(targets (steps, 16) rad, {centre, amplitude, frequency_hz, phase})``."""
    half_range = 0.5 * (C.JOINT_UPPER - C.JOINT_LOWER)
    amplitude = np.minimum(rng.uniform(*cfg.amplitude, size=C.NUM_JOINTS), half_range)
    frequency = rng.uniform(*cfg.frequency_hz, size=C.NUM_JOINTS)
    phase = rng.uniform(0.0, 2 * np.pi, size=C.NUM_JOINTS)
    centre = C.DEFAULT_POSE + rng.uniform(-cfg.centre_offset, cfg.centre_offset, size=C.NUM_JOINTS)
    # Keep the whole wave inside the limits by moving the centre, not by clipping the wave.
    centre = np.clip(centre, C.JOINT_LOWER + amplitude, C.JOINT_UPPER - amplitude)
    t = np.arange(steps)[:, None] * C.CONTROL_DT
    wave = np.sin(2 * np.pi * frequency * t + phase)
    if kind == "square":
        wave = np.where(wave >= 0.0, 1.0, -1.0)
    targets = centre + amplitude * wave
    params = {
        "centre": centre.round(6).tolist(),
        "amplitude": amplitude.round(6).tolist(),
        "frequency_hz": frequency.round(6).tolist(),
        "phase": phase.round(6).tolist(),
    }
    return targets, params


def make_source(cfg: CollectConfig) -> ActionSource:
    """The action source of ``cfg.mode``."""
    if cfg.actions == "replay":
        return ReplaySource(cfg.source, cfg.steps, cfg.episodes, cfg.replay, cfg.seed)
    return WaveSource(cfg.actions, cfg.steps, cfg.waves, cfg.seed)
