"""The generalist: one proprioceptive policy distilled from the specialists by behaviour cloning.

The paper's recipe (method.md): roll out each specialist, keep only the episodes that survive all
400 steps, and regress the specialist's actions from the proprioceptive observation (T=10
history of joint positions and previous targets, wrist quaternion, axis; no object state).
DAgger-style distillation collapsed on the real hand in the paper, so this is plain BC.

Data files (one per specialist, written atomically): ``<out>/bc_<category>.npz`` with ``obs``
(M, 327) float32, ``act`` (M, 16) float32, ``episode`` (M,) int32 and a JSON sidecar.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dexndm.data.artifacts import json_default
from dexndm.data.atomic import atomic_write_text, atomic_writer
from dexndm.hand import constants as C
from dexndm.policy.checkpoint import PolicyCheckpointError, load_policy_checkpoint, save_policy_checkpoint
from dexndm.policy.config import SpecialistConfig
from dexndm.policy.networks import ResidualMLP, ResidualMLPConfig


@dataclass(frozen=True)
class RolloutConfig:
    """How specialists are rolled out for behaviour cloning."""

    episodes: int = 256
    """Surviving (full-length) episodes to keep per specialist."""
    max_episodes: int = 2048
    """Give up after this many finished episodes (a weak specialist rarely survives 400 steps)."""
    num_envs: int = 64
    wrists: tuple[str, ...] = ("all",)
    axes: tuple[str, ...] = ("principal",)
    episode_steps: int = 400
    seed: int = 1
    """Not the specialists' training seed: fresh grasp draws and randomization."""
    open_hand: float = 0.0
    """Fraction of episodes that start from an open hand (``HandoverConfig``): the scripted
    teacher's closing actions are the labels until the operator lets go, the specialist's after,
    so that the generalist learns the grasp too (teleoperation starts from an open hand)."""


@dataclass(frozen=True)
class BCConfig:
    network: ResidualMLPConfig = field(default_factory=ResidualMLPConfig)
    epochs: int = 30
    batch_size: int = 2048
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    val_fraction: float = 0.1
    """Held-out fraction of episodes (never of steps: steps of one episode are near duplicates)."""
    seed: int = 0
    torch_threads: int = 2


def rollout_specialist(
    ckpt: Path, cfg: RolloutConfig, out_dir: Path, *, quiet: bool = False
) -> tuple[Path, dict[str, Any]]:
    """Roll out a specialist and write its surviving episodes as BC data; returns file and stats."""
    from rich.progress import Progress

    from dexndm.policy.inference import SpecialistPolicy
    from dexndm.policy.specialist import env_config_for
    from dexndm.sim.env import RotationEnv

    payload = load_policy_checkpoint(ckpt, kind="specialist")
    scfg = SpecialistConfig.from_dict(payload["config"])
    policy = SpecialistPolicy(payload, str(ckpt))
    env_cfg = env_config_for(scfg, num_envs=cfg.num_envs, episode_steps=cfg.episode_steps)
    env_cfg = replace(
        env_cfg, wrists=cfg.wrists, axes=cfg.axes, seed=cfg.seed,
        handover=replace(env_cfg.handover, prob=cfg.open_hand),
    )  # fmt: skip
    env = RotationEnv(env_cfg)
    n, T = cfg.num_envs, cfg.episode_steps
    buf_obs = np.zeros((n, T, env.obs_dim), dtype=np.float32)
    buf_act = np.zeros((n, T, C.NUM_JOINTS), dtype=np.float32)
    kept_obs: list[np.ndarray] = []
    kept_act: list[np.ndarray] = []
    finished = survived = 0
    rot_r: list[float] = []
    obs = env.observations()
    t0 = time.perf_counter()
    with Progress(disable=quiet) as progress:
        task = progress.add_task(f"BC rollouts {scfg.category}", total=cfg.episodes)
        while survived < cfg.episodes and finished < cfg.max_episodes:
            act = policy.act(obs)
            if cfg.open_hand > 0:  # the operator still holds the object: the scripted teacher closes
                act = env.with_scripted_closing(act)
            step = env.step_count.copy()
            buf_obs[np.arange(n), step] = obs["proprio"]
            buf_act[np.arange(n), step] = act
            obs, _, terminated, truncated, info = env.step(act)
            for j, e in enumerate(info.get("final_env_ids", [])):
                finished += 1
                rot_r.append(float(info["final_metrics"]["rot_r"][j]))
                if truncated[e] and survived < cfg.episodes:  # survived all steps: keep
                    kept_obs.append(buf_obs[e].copy())
                    kept_act.append(buf_act[e].copy())
                    survived += 1
                    progress.update(task, completed=survived)
    env.close()
    if not kept_obs:
        raise RuntimeError(
            f"specialist {ckpt} survived none of {finished} episodes of {T} steps: it is not trained "
            "enough to teach a generalist; train it longer or lower RolloutConfig.episode_steps"
        )
    obs_arr = np.concatenate(kept_obs)
    act_arr = np.concatenate(kept_act)
    episode = np.repeat(np.arange(len(kept_obs), dtype=np.int32), T)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bc_{scfg.category.replace('/', '_')}.npz"
    with atomic_writer(path) as f:
        np.savez(f, obs=obs_arr, act=act_arr, episode=episode)
    stats = {
        "specialist": str(ckpt), "category": scfg.category, "episodes_kept": len(kept_obs),
        "episodes_finished": finished, "survival": len(kept_obs) / max(finished, 1),
        "mean_rot_r": float(np.mean(rot_r)) if rot_r else None, "steps": int(len(obs_arr)),
        "rollout": asdict(cfg), "wall_s": time.perf_counter() - t0,
    }  # fmt: skip
    atomic_write_text(
        path.with_name(path.name + ".json"), json.dumps(stats, indent=2, default=json_default) + "\n"
    )
    return path, stats


def load_bc_data(paths: list[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate BC files; episode ids are made unique across files."""
    obs, act, ep = [], [], []
    offset = 0
    for p in paths:
        try:
            with np.load(p) as z:
                o, a, e = z["obs"], z["act"], z["episode"]
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(f"{p} is not a BC data file written by dexndm (obs/act/episode): {err}") from err
        if len(o) != len(a) or len(o) != len(e):
            raise ValueError(
                f"{p} is truncated or inconsistent: {len(o)} obs, {len(a)} actions, {len(e)} ids"
            )
        obs.append(o)
        act.append(a)
        ep.append(e + offset)
        offset += int(e.max()) + 1 if len(e) else 0
    return np.concatenate(obs), np.concatenate(act), np.concatenate(ep)


@dataclass
class BCResult:
    model: ResidualMLP
    train_loss: list[float]
    val_loss: list[float]


def train_bc(
    obs: np.ndarray, act: np.ndarray, episode: np.ndarray, cfg: BCConfig, *, quiet: bool = False
) -> BCResult:
    """Fit the residual MLP to (obs -> act) by MSE; returns the model at its best validation loss."""
    from rich.progress import Progress

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.torch_threads)
    rng = np.random.default_rng(cfg.seed)
    eps = np.unique(episode)
    n_val = max(1, int(round(len(eps) * cfg.val_fraction))) if len(eps) > 1 else 0
    val_eps = rng.choice(eps, size=n_val, replace=False)
    val = np.isin(episode, val_eps)
    x_tr, y_tr = torch.as_tensor(obs[~val]), torch.as_tensor(act[~val])
    x_va, y_va = torch.as_tensor(obs[val]), torch.as_tensor(act[val])
    net_cfg = ResidualMLPConfig(**{**cfg.network.to_dict(), "in_dim": obs.shape[1], "out_dim": act.shape[1]})
    model = ResidualMLP(net_cfg)
    model.set_normalization(x_tr.mean(0), x_tr.std(0))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    train_hist, val_hist = [], []
    best, best_state = float("inf"), None
    with Progress(disable=quiet) as progress:
        task = progress.add_task("behaviour cloning", total=cfg.epochs)
        for _ in range(cfg.epochs):
            model.train()
            perm = torch.randperm(len(x_tr))
            tot = 0.0
            for i in range(0, len(perm), cfg.batch_size):
                idx = perm[i : i + cfg.batch_size]
                loss = torch.mean((model(x_tr[idx]) - y_tr[idx]) ** 2)
                opt.zero_grad()
                loss.backward()
                opt.step()
                tot += float(loss.detach()) * len(idx)
            sched.step()
            train_hist.append(tot / len(perm))
            model.eval()
            with torch.no_grad():
                v = float(torch.mean((model(x_va) - y_va) ** 2)) if len(x_va) else train_hist[-1]
            val_hist.append(v)
            if v < best:
                best, best_state = v, {k: t.clone() for k, t in model.state_dict().items()}
            progress.update(task, advance=1, description=f"behaviour cloning (val mse {v:.4f})")
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return BCResult(model, train_hist, val_hist)


def save_generalist(path: Path, model: ResidualMLP, history: int, provenance: dict[str, Any]) -> Path:
    # plain JSON types only: configs (dataclasses), paths or numpy scalars in the provenance
    # would make the file unreadable with torch.load(weights_only=True)
    provenance = json.loads(json.dumps(provenance, default=json_default))
    return save_policy_checkpoint(
        path,
        {
            "kind": "generalist",
            "config": {"network": model.cfg.to_dict(), "history": history},
            "obs_group": "proprio",
            "obs_dim": model.cfg.in_dim,
            "actor_state": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "progress": provenance,
        },
    )


class GeneralistPolicy:
    """The generalist acting on the proprioceptive observation (what a real hand can build)."""

    uses_privileged = False

    def __init__(self, model: ResidualMLP, source: str = ""):
        self.model = model.eval()
        self.source = source

    @staticmethod
    def from_payload(payload: dict[str, Any], source: str = "") -> GeneralistPolicy:
        try:
            net_cfg = ResidualMLPConfig(**payload["config"]["network"])
            model = ResidualMLP(net_cfg)
            model.load_state_dict(payload["actor_state"])
        except (KeyError, TypeError, RuntimeError) as e:
            raise PolicyCheckpointError(
                f"{source}: generalist checkpoint does not match this dexndm: {e}"
            ) from e
        return GeneralistPolicy(model, source)

    def reset(self, env_ids: np.ndarray) -> None:
        pass

    @torch.no_grad()
    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs["proprio"], dtype=np.float32))
        if x.shape[-1] != self.model.cfg.in_dim:
            raise ValueError(
                f"{self.source}: the generalist expects {self.model.cfg.in_dim} proprioceptive inputs, "
                f"got {x.shape[-1]}; it was trained with another history length or layout"
            )
        return self.model(x).numpy().astype(np.float64)

    def __repr__(self) -> str:
        return f"GeneralistPolicy({self.source})"
