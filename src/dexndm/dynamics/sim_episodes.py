"""Simulated episodes: a policy rolled out in the training sim, or target sequences replayed open loop.

Both write the same per-step fields as a real collection (:func:`dexndm.data.real_episode_schema`),
so the dynamics trainer reads sim and real stores the same way, plus what the residual policy
trains on (:func:`sim_episode_schema`):

- ``joint_pos[t]`` ``q_t``: the sim's joint positions at the start of control step ``t`` (rad;
  the true state, without the observation noise of the env);
- ``joint_targets[t]`` ``a_t``: the target in force during step ``t``, which produces
  ``q_{t+1} = joint_pos[t + 1]`` (rad; the base action target of the residual policy);
- ``proprio_obs[t]`` ``o_t``: the proprioceptive observation the policy acted on at step ``t``;
- ``joint_vel`` (rad/s), ``motor_current`` (the actuator torque as XC330 current, mA: torque x
  stall current / stall torque) and ``time`` (s).

Episodes run with the env's autoreset off: a dropped object does not end an episode (the hand's
dynamics are still valid data); the step it fell at is in the episode's ``fell_step`` meta (-1:
held to the end), so a consumer can keep only held episodes.

Episode ``i`` runs in env slot ``i % num_envs`` of batch ``i // num_envs``, and every batch
re-seeds the env's generator with ``(seed, batch)`` before its reset. So a replay with the same
env config (up to its physics), ``num_envs`` and ``seed`` starts episode ``i`` from the same grasp
and parameter draws as the recording did: how :func:`replay_joint_targets` runs a recorded target
sequence in a "reality" that differs only in, say, its PD gains.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dexndm.data import EpisodeStore, Schema, real_episode_schema
from dexndm.hand import constants as C
from dexndm.sim.config import EnvConfig
from dexndm.sim.observations import proprio_dim

CURRENT_MA_PER_NM = 1000.0 * C.XC330_STALL_CURRENT_A / C.XC330_STALL_TORQUE_NM
"""Sim actuator torque -> the current an XC330 would draw for it (linear torque constant), mA/Nm."""

CorrectionFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``fn(proprio_obs (N, D) float32, base_targets (N, 16) rad) -> corrections (N, 16) rad``."""


def sim_episode_schema(history: int = 10, num_joints: int = C.NUM_JOINTS) -> Schema:
    """The real-episode schema plus ``proprio_obs`` ``(T*32 + 7,) float32`` per step."""
    fields = dict(real_episode_schema(num_joints).items())
    fields["proprio_obs"] = ((proprio_dim(history),), "float32")
    return Schema(fields)


@dataclass(frozen=True)
class SimEpisodeConfig:
    """How many simulated episodes, how long, and the action noise of data collection."""

    episodes: int = 64
    """Episodes to record (a multiple of ``num_envs`` wastes no simulation)."""
    steps: int = 400
    """Control steps per episode (400 = 20 s)."""
    num_envs: int = 16
    """Episodes simulated at once."""
    action_noise: float = 0.0
    """Std of Gaussian noise added to the policy's relative actions (action units, 1 = 1/24 rad)
    in noisy episodes, before the env's clip; 0 disables noise."""
    noise_prob: float = 0.5
    """Probability that an episode is noisy (the paper: 0.5)."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.episodes < 1 or self.steps < 2 or self.num_envs < 1:
            raise ValueError(
                f"SimEpisodeConfig needs episodes >= 1, steps >= 2 and num_envs >= 1; got {self.episodes}, "
                f"{self.steps}, {self.num_envs}"
            )
        if self.action_noise < 0 or not 0 <= self.noise_prob <= 1:
            raise ValueError("SimEpisodeConfig: action_noise must be >= 0 and noise_prob in [0, 1]")


def _rollout(
    env_cfg: EnvConfig, steps: int, batch_seed: tuple[int, ...], act: Callable, action_limit: float = 1.0
) -> tuple[dict[str, np.ndarray], np.ndarray, list[dict[str, Any]]]:
    """Run one batch of ``env_cfg.num_envs`` episodes of ``steps`` steps with autoreset off.

    ``act(env, t, obs) -> (N, 16)`` relative actions, clipped by the env to ``+-action_limit``
    (:func:`dexndm.eval.policies.action_limit`). Returns per-step arrays ``(N, T, ...)`` in
    the :func:`sim_episode_schema` layout, the first step each object fell at (-1: never) and one
    meta dict per env (wrist, axis, object, the randomized physics).
    """
    from dexndm.sim.env import RotationEnv  # mujoco is imported only when simulating

    env = RotationEnv(replace(env_cfg, episode_steps=max(env_cfg.episode_steps, steps)))
    try:
        env.autoreset = False
        env.action_limit = action_limit
        env.rng = np.random.default_rng(batch_seed)
        obs = env.reset()
        n = env.num_envs
        out = {
            "joint_pos": np.empty((n, steps, C.NUM_JOINTS), np.float32),
            "joint_vel": np.empty((n, steps, C.NUM_JOINTS), np.float32),
            "motor_current": np.empty((n, steps, C.NUM_JOINTS), np.float32),
            "joint_targets": np.empty((n, steps, C.NUM_JOINTS), np.float32),
            "time": np.arange(steps, dtype=np.float64) * C.CONTROL_DT + np.zeros((n, 1)),
            "proprio_obs": np.empty((n, steps, obs["proprio"].shape[1]), np.float32),
        }
        fell = np.full(n, -1)
        for t in range(steps):
            out["joint_pos"][:, t] = env.q
            out["joint_vel"][:, t] = env.qdot
            out["motor_current"][:, t] = env.torque * CURRENT_MA_PER_NM
            out["proprio_obs"][:, t] = obs["proprio"]
            obs, _, terminated, _, _ = env.step(act(env, t, obs))
            out["joint_targets"][:, t] = env.targets
            fell[(fell < 0) & terminated] = t
        objects = [env.groups[g].obj.name for g in env.group_of]
        metas = [
            {
                "object": objects[i],
                "wrist_quat": env.wrist_quat[i].round(6).tolist(),
                "axis": env.axis[i].round(6).tolist(),
                "object_mass": float(env.phys[i, 0]),
                "friction": float(env.phys[i, 1]),
                "kp_scale": float(env.phys[i, 2]),
                "kd_scale": float(env.phys[i, 3]),
                "latency_substeps": int(env.phys[i, 4]),
            }
            for i in range(n)
        ]
        return out, fell, metas
    finally:
        env.close()


def _batches(num_episodes: int, num_envs: int) -> list[range]:
    return [
        range(b * num_envs, min((b + 1) * num_envs, num_episodes))
        for b in range(-(-num_episodes // num_envs))
    ]


@dataclass
class PolicyBatch:
    """One simulated batch of :func:`policy_batches`: ``episodes`` are its episode numbers."""

    episodes: range
    arrays: dict[str, np.ndarray]
    """``{field: (len(episodes), T, ...)}`` in the :func:`sim_episode_schema` layout."""
    metas: list[dict[str, Any]]
    """Per episode: seed, batch, noise flag, ``fell_step`` (-1: held), wrist, axis, physics."""


def policy_batches(
    policy: str | Any,
    env_cfg: EnvConfig,
    cfg: SimEpisodeConfig,
    skip: Callable[[range], bool] | None = None,
) -> Iterator[PolicyBatch]:
    """Simulate ``policy``'s episodes batch by batch (``cfg.num_envs`` at a time, autoreset off).

    Args:
        policy: a :func:`dexndm.eval.policies.load_policy` spec (``"random"``, a checkpoint path),
            loaded once per batch with the batch's seed, or a policy object (reset per batch).
        env_cfg: the sim (objects, wrists, axes, randomization); ``num_envs`` becomes ``cfg.num_envs``.
        skip: ``skip(episodes) -> True`` leaves a batch out without simulating it (resuming).
    """
    from dexndm.eval.policies import load_policy, policy_view, reset_policy

    env_cfg = replace(env_cfg, num_envs=cfg.num_envs)
    for b, episodes in enumerate(_batches(cfg.episodes, cfg.num_envs)):
        if skip is not None and skip(episodes):
            continue
        batch_seed = int(np.random.SeedSequence((cfg.seed, b)).generate_state(1)[0])
        pol = load_policy(policy, seed=batch_seed) if isinstance(policy, str) else policy
        reset_policy(pol, np.arange(cfg.num_envs))
        noise_rng = np.random.default_rng((cfg.seed, b, 1))
        noisy = noise_rng.random(cfg.num_envs) < cfg.noise_prob
        noisy &= cfg.action_noise > 0

        def act(env, t, obs, pol=pol, noisy=noisy, noise_rng=noise_rng):
            view = policy_view(pol, obs)
            actions = np.asarray(pol.act(view), dtype=np.float64)
            if cfg.action_noise > 0:
                actions = actions + noisy[:, None] * noise_rng.normal(0.0, cfg.action_noise, actions.shape)
            return actions

        arrays, fell, metas = _rollout(env_cfg, cfg.steps, (cfg.seed, b), act)
        count = len(episodes)
        yield PolicyBatch(
            episodes,
            {k: v[:count] for k, v in arrays.items()},
            [
                {"seed": cfg.seed, "batch": b, "noise": bool(noisy[s]), "fell_step": int(fell[s]), **metas[s]}
                for s in range(count)
            ],
        )


def simulate_policy_episodes(
    policy: str | Any, env_cfg: EnvConfig, cfg: SimEpisodeConfig
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """All of :func:`policy_batches` in memory: ``({field: (E, T, ...)}, per-episode metas)``."""
    batches = list(policy_batches(policy, env_cfg, cfg))
    arrays = {k: np.concatenate([b.arrays[k] for b in batches]) for k in batches[0].arrays}
    return arrays, [m for b in batches for m in b.metas]


def record_policy_episodes(
    policy: str | Any,
    env_cfg: EnvConfig,
    out: Path | str,
    cfg: SimEpisodeConfig = SimEpisodeConfig(),  # noqa: B008 - frozen dataclass
    *,
    command: str | Sequence[str] | None = None,
    progress: bool = True,
) -> EpisodeStore:
    """Roll ``policy`` out in the training sim and append its episodes to the store at ``out``.

    ``policy`` and ``env_cfg`` as in :func:`policy_batches`. The store is created, or resumed:
    batches whose episodes are all there are skipped, so a killed run continues where it stopped
    and produces the same episodes. Returns the store (opened for appending).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    spec = policy if isinstance(policy, str) else repr(policy)
    store = EpisodeStore.create(
        out,
        sim_episode_schema(env_cfg.history),
        command=command,
        config={
            "sim_episodes": asdict(cfg),
            "env": asdict(replace(env_cfg, num_envs=cfg.num_envs)),
            "policy": spec,
        },
        info={"source": "sim", "policy": spec},
        exist_ok=True,
    )
    key = "sim/seed={}/episode={:06d}".format

    def done(episodes: range) -> bool:
        return all(store.has(key(cfg.seed, i)) for i in episodes)

    columns = (TextColumn("sim episodes"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not progress) as bar:
        already = sum(store.has(key(cfg.seed, i)) for i in range(cfg.episodes))
        task = bar.add_task("record", total=cfg.episodes, completed=already)
        for batch in policy_batches(policy, env_cfg, cfg, skip=done):
            for slot, i in enumerate(batch.episodes):
                if not store.has(key(cfg.seed, i)):
                    meta = {"key": key(cfg.seed, i), "source": "sim", "policy": spec, **batch.metas[slot]}
                    store.append({k: v[slot] for k, v in batch.arrays.items()}, meta)
                    bar.advance(task)
    return store


def replay_joint_targets(
    env_cfg: EnvConfig,
    joint_targets: np.ndarray,
    *,
    seed: int = 0,
    correction: CorrectionFn | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Replay target sequences ``(E, T, 16)`` (rad) open loop in the sim ``env_cfg`` describes.

    Episodes are batched ``env_cfg.num_envs`` at a time and seeded as in :func:`record_policy_episodes`,
    so with the same ``num_envs`` and ``seed`` episode ``i`` starts from the grasp that recorded
    episode ``i`` started from. Targets reach the env as relative actions, ``24 (a_t - target)``
    clipped to [-1, 1]: a sequence a policy produced (steps of at most 1/24 rad) is applied exactly;
    a larger jump is spread over the following steps.

    Args:
        correction: ``fn(proprio_obs, base_targets) -> corrections`` evaluated every step on the
            env's observation (closed loop, like a residual policy on the real hand): the env is
            sent ``a_t + correction``, its step capped at ``C.MAX_TARGET_STEP_RAD`` as a deployed
            base + residual's is (:mod:`dexndm.residual.deploy`); ``joint_targets`` in the result
            then holds what was sent.
    Returns:
        ``(arrays, info)``: arrays ``{field: (E, T, ...)}`` in the :func:`sim_episode_schema` layout
        (``joint_targets`` the targets actually applied), and ``info`` with ``fell_step`` ``(E,)``
        and ``clipped_fraction`` (the fraction of joint-steps whose wanted change exceeded the cap).
    """
    joint_targets = np.asarray(joint_targets, dtype=np.float64)
    if joint_targets.ndim != 3 or joint_targets.shape[2] != C.NUM_JOINTS or joint_targets.shape[1] < 2:
        raise ValueError(f"joint_targets must be (E, T >= 2, {C.NUM_JOINTS}) rad, got {joint_targets.shape}")
    num_episodes, steps, _ = joint_targets.shape
    n = env_cfg.num_envs
    parts: list[dict[str, np.ndarray]] = []
    fell_parts: list[np.ndarray] = []
    clipped = [0, 0]
    limit = 1.0 if correction is None else C.MAX_TARGET_STEP_RAD / C.ACTION_SCALE
    for b, episodes in enumerate(_batches(num_episodes, n)):
        base = np.repeat(joint_targets[episodes.stop - 1 : episodes.stop], n, axis=0)
        base[: len(episodes)] = joint_targets[episodes.start : episodes.stop]

        def act(env, t, obs, base=base, count=len(episodes)):
            wanted = base[:, t]
            if correction is not None:
                wanted = C.clamp_to_limits(wanted + correction(obs["proprio"], wanted.astype(np.float32)))
            raw = (wanted - env.targets) / C.ACTION_SCALE
            # float32-stored sequences are off by ~1e-7 rad: only count real clipping
            clipped[0] += int((np.abs(raw[:count]) > limit * (1.0 + 1e-4)).sum())
            clipped[1] += raw[:count].size
            return np.clip(raw, -limit, limit)

        arrays, fell, _ = _rollout(env_cfg, steps, (seed, b), act, limit)
        parts.append({k: v[: len(episodes)] for k, v in arrays.items()})
        fell_parts.append(fell[: len(episodes)])
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    info = {"fell_step": np.concatenate(fell_parts), "clipped_fraction": clipped[0] / max(clipped[1], 1)}
    return arrays, info


def tracking_error(
    joint_pos: np.ndarray, reference: np.ndarray, held_steps: np.ndarray | None = None
) -> float:
    """Mean absolute joint-position difference ``(E, T, J)`` vs ``(E, T, J)``, rad.

    With ``held_steps`` ``(E,)`` (e.g. the earlier fall step of the two runs, or T), only steps
    before it count per episode, so a dropped object does not dominate the comparison.
    """
    diff = np.abs(np.asarray(joint_pos, np.float64) - np.asarray(reference, np.float64))
    if held_steps is None:
        return float(diff.mean())
    mask = np.arange(diff.shape[1])[None, :] < np.asarray(held_steps)[:, None]
    if not mask.any():
        return math.nan
    return float(diff[mask].mean())
