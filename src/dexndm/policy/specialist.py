"""PPO specialists (rsl_rl) with privileged observations, a wrist/axis curriculum, and resume.

rsl_rl provides PPO, the rollout storage and the MLP models; the loop here is ours because the
task needs three things ``OnPolicyRunner.learn`` does not give: the curriculum stage set on the
env between iterations, per-episode rotation metrics in the logs, and crash-safe checkpoints in
our own versioned format (loadable with ``weights_only=True``), so ``kill -9`` then the same
command resumes where the last checkpoint left off.

Run directory::

    <out>/config.json         the SpecialistConfig (a rerun must match it to resume)
    <out>/latest.pt           the newest checkpoint (atomic), resumed from
    <out>/model_<it>.pt       periodic snapshots
    <out>/metrics.csv         one row per iteration (env steps, return, RotR, TTF, stage, rate)
    <out>/tb/                 TensorBoard
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rsl_rl.algorithms import PPO

from dexndm.data.artifacts import json_default
from dexndm.data.atomic import atomic_write_text
from dexndm.policy.checkpoint import PolicyCheckpointError, load_policy_checkpoint, save_policy_checkpoint
from dexndm.policy.config import SpecialistConfig
from dexndm.sim.config import EnvConfig, RandomizationConfig
from dexndm.sim.scene import PhysicsConfig
from dexndm.sim.vec_env import RslRlRotationEnv

METRIC_COLUMNS = (
    "iteration", "env_steps", "wall_s", "stage", "mean_step_reward", "episodes", "ep_reward", "rot_r",
    "rot_p", "ttf", "omega_k", "go_succ", "steps_per_s", "action_std", "value_loss", "surrogate_loss",
)  # fmt: skip


def env_config_for(cfg: SpecialistConfig, num_envs: int | None = None, **overrides: Any) -> EnvConfig:
    """The training env of a specialist (its category's train shapes, all configured wrists, its
    hand and latency: the generalist's rollouts run in the sim the specialist was trained in)."""
    physics = PhysicsConfig(hand=cfg.hand)
    randomization = dataclasses.replace(RandomizationConfig(), latency_substeps=cfg.latency_substeps)
    return EnvConfig(
        num_envs=num_envs or cfg.num_envs, objects=(cfg.category,), split="train", wrists=cfg.wrists,
        axes=cfg.axes, seed=cfg.seed, nthread=cfg.nthread,
        **{"episode_steps": cfg.episode_steps, "reward": cfg.reward, "physics": physics,
           "randomization": randomization, "delta_action": cfg.delta_action, **overrides},
    )  # fmt: skip


def rsl_rl_train_cfg(cfg: SpecialistConfig) -> dict[str, Any]:
    """The dict rsl_rl's ``PPO.construct_algorithm`` reads (asymmetric: both see privileged)."""
    net = cfg.network

    def model(hidden: tuple[int, ...], stochastic: bool) -> dict[str, Any]:
        m: dict[str, Any] = {
            "class_name": "MLPModel", "hidden_dims": list(hidden), "activation": net.activation,
            "obs_normalization": net.obs_normalization,
        }  # fmt: skip
        if stochastic:
            m["distribution_cfg"] = {"class_name": "GaussianDistribution", "init_std": net.init_std}
        return m

    return {
        "algorithm": {"class_name": "PPO", **asdict(cfg.ppo)},
        "actor": model(net.actor_hidden, True),
        "critic": model(net.critic_hidden, False),
        "obs_groups": {"actor": ["privileged"], "critic": ["privileged"]},
        "num_steps_per_env": cfg.steps_per_env,
        "multi_gpu": None,
    }


def build_ppo(env: RslRlRotationEnv, cfg: SpecialistConfig) -> PPO:
    return PPO.construct_algorithm(env.get_observations(), env, rsl_rl_train_cfg(cfg), "cpu")


def _check_resume_config(stored: SpecialistConfig, wanted: SpecialistConfig, out: Path) -> None:
    # what a run learns may not change on resume; its length, snapshot interval and thread
    # counts may (threads change speed only: a run moved to a bigger machine resumes)
    free = ("iterations", "save_interval", "nthread", "torch_threads")
    a = {k: v for k, v in stored.to_dict().items() if k not in free}
    b = {k: v for k, v in wanted.to_dict().items() if k not in free}
    if a != b:
        diff = [k for k in a if a[k] != b.get(k)]
        raise PolicyCheckpointError(
            f"{out} holds a run with a different config (differs in: {', '.join(diff)}); rerun with the "
            f"same options to resume it, or give a new --out to start a fresh run"
        )


@dataclass
class TrainResult:
    out_dir: Path
    iterations: int
    env_steps: int
    wall_s: float
    last_row: dict[str, float]


def train_specialist(cfg: SpecialistConfig, out_dir: Path, *, quiet: bool = False) -> TrainResult:
    """Train (or resume) a specialist to ``cfg.iterations`` PPO iterations; returns where it is."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from torch.utils.tensorboard import SummaryWriter

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.torch_threads)
    latest = out_dir / "latest.pt"
    resume = latest.exists()
    start_it, env_steps, wall_before = 0, 0, 0.0
    payload = None
    if resume:
        payload = load_policy_checkpoint(latest, kind="specialist")
        _check_resume_config(SpecialistConfig.from_dict(payload["config"]), cfg, out_dir)
        prog = payload["progress"]
        start_it, env_steps, wall_before = (
            int(prog["iteration"]),
            int(prog["env_steps"]),
            float(prog["wall_s"]),
        )
    # on resume only the free fields of _check_resume_config can differ: record the run as it goes on
    config_text = json.dumps(cfg.to_dict(), indent=2, default=json_default) + "\n"
    atomic_write_text(out_dir / "config.json", config_text)

    torch.manual_seed(cfg.seed + start_it)
    env = RslRlRotationEnv(env_config_for(cfg))
    # a resumed run must not replay the randomization of the first run
    env.env.rng = np.random.default_rng([cfg.seed, start_it])
    alg = build_ppo(env, cfg)
    if payload is not None:
        alg._raw_actor.load_state_dict(payload["actor_state"])
        alg._raw_critic.load_state_dict(payload["critic_state"])
        alg.optimizer.load_state_dict(payload["optimizer_state"])
        alg.learning_rate = float(payload["progress"]["learning_rate"])
        for group in alg.optimizer.param_groups:
            group["lr"] = alg.learning_rate
    elif cfg.init_from:
        warm = load_policy_checkpoint(Path(cfg.init_from), kind="specialist")
        try:
            alg._raw_actor.load_state_dict(warm["actor_state"])
            alg._raw_critic.load_state_dict(warm["critic_state"])
        except RuntimeError as e:
            raise PolicyCheckpointError(
                f"--init-from {cfg.init_from}: its networks do not fit this config's "
                f"({str(e).splitlines()[0]}); warm-start only from a run with the same network widths"
            ) from e
    writer = SummaryWriter(str(out_dir / "tb"), purge_step=start_it)
    csv_path = out_dir / "metrics.csv"
    if resume and csv_path.exists():
        # rows logged after the checkpoint (a kill between saves) are redone: drop them
        with csv_path.open(newline="") as f:
            kept = [r for r in csv.DictReader(f) if int(r["iteration"]) <= start_it]
        lines = [",".join(METRIC_COLUMNS)] + [",".join(r[c] for c in METRIC_COLUMNS) for r in kept]
        atomic_write_text(csv_path, "\n".join(lines) + "\n")
    new_csv = not csv_path.exists()
    csv_file = csv_path.open("a", newline="")
    rows = csv.DictWriter(csv_file, fieldnames=METRIC_COLUMNS)
    if new_csv:
        rows.writeheader()
    stage_idx = -1
    obs = env.get_observations()
    alg.train_mode()
    t_start = time.perf_counter()
    row: dict[str, float] = {}
    progress = Progress(
        TextColumn("[bold]specialist {task.fields[category]}"), BarColumn(),
        TextColumn("it {task.completed:.0f}/{task.total:.0f}"), TextColumn("{task.fields[rate]:.0f} steps/s"),
        TextColumn("stage {task.fields[stage]}"),
        TextColumn("RotR {task.fields[rot_r]:.1f} TTF {task.fields[ttf]:.2f}"),
        TimeElapsedColumn(), TimeRemainingColumn(),
        disable=quiet,
    )  # fmt: skip
    try:
        with progress:
            task = progress.add_task(
                "train", total=cfg.iterations, completed=start_it, category=cfg.category, rate=0.0, stage=0,
                rot_r=float("nan"), ttf=float("nan"),
            )  # fmt: skip
            for it in range(start_it, cfg.iterations):
                idx, stage = cfg.stage_at(it)
                if idx != stage_idx:
                    env.env.set_task_distribution(stage.wrists, stage.axes)
                    stage_idx = idx
                    progress.console.log(f"curriculum stage {idx} from iteration {it}: {stage.describe()}")
                t0 = time.perf_counter()
                finals: dict[str, list[np.ndarray]] = defaultdict(list)
                reward_sum = 0.0
                with torch.inference_mode():
                    for _ in range(cfg.steps_per_env):
                        actions = alg.act(obs)
                        obs, rewards, dones, extras = env.step(actions)
                        alg.process_env_step(obs, rewards, dones, extras)
                        reward_sum += float(rewards.mean())
                        for k, v in extras.get("final_metrics", {}).items():
                            finals[k].append(v)
                    alg.compute_returns(obs)
                t_collect = time.perf_counter() - t0
                losses = alg.update()
                dt = time.perf_counter() - t0
                steps = cfg.num_envs * cfg.steps_per_env
                env_steps += steps
                ep = {k: float(np.mean(np.concatenate(v))) for k, v in finals.items()}
                n_eps = len(np.concatenate(finals["rot_r"])) if finals else 0
                row = {
                    "iteration": it + 1, "env_steps": env_steps,
                    "wall_s": wall_before + time.perf_counter() - t_start, "stage": idx,
                    "mean_step_reward": reward_sum / cfg.steps_per_env, "episodes": n_eps,
                    "ep_reward": ep.get("reward", np.nan), "rot_r": ep.get("rot_r", np.nan),
                    "rot_p": ep.get("rot_p", np.nan), "ttf": ep.get("ttf", np.nan),
                    "omega_k": ep.get("omega_k", np.nan), "go_succ": ep.get("go_succ", np.nan),
                    "steps_per_s": steps / dt, "action_std": action_std(alg),
                    "value_loss": float(losses.get("value_function", losses.get("value", np.nan))),
                    "surrogate_loss": float(losses.get("surrogate", np.nan)),
                }  # fmt: skip
                rows.writerow(row)
                csv_file.flush()
                for k, v in row.items():
                    if k != "iteration" and np.isfinite(v):
                        writer.add_scalar(f"train/{k}", v, it + 1)
                writer.add_scalar("perf/collect_s", t_collect, it + 1)
                writer.add_scalar("perf/learn_s", dt - t_collect, it + 1)
                writer.add_scalar("train/learning_rate", alg.learning_rate, it + 1)
                progress.update(
                    task, completed=it + 1, rate=row["steps_per_s"], stage=idx,
                    rot_r=row["rot_r"] if n_eps else task_field(progress, task, "rot_r"),
                    ttf=row["ttf"] if n_eps else task_field(progress, task, "ttf"),
                )  # fmt: skip
                last = it + 1 == cfg.iterations
                if (it + 1) % cfg.save_interval == 0 or last:
                    ckpt = _payload(alg, cfg, env, it + 1, env_steps, row["wall_s"])
                    save_policy_checkpoint(latest, ckpt)
                    if (it + 1) % (cfg.save_interval * 10) == 0 or last:
                        save_policy_checkpoint(out_dir / f"model_{it + 1}.pt", ckpt)
    finally:
        csv_file.close()
        writer.close()
        env.close()
    wall = wall_before + time.perf_counter() - t_start
    return TrainResult(out_dir, cfg.iterations, env_steps, wall, row)


def action_std(alg: PPO) -> float:
    return float(alg.get_policy().output_std.detach().mean())


def task_field(progress: Any, task: Any, name: str) -> float:
    return float(progress.tasks[task].fields[name])


def _payload(
    alg: PPO, cfg: SpecialistConfig, env: RslRlRotationEnv, iteration: int, env_steps: int, wall_s: float
) -> dict[str, Any]:
    return {
        "kind": "specialist",
        "config": cfg.to_dict(),
        "obs_group": "privileged",
        "obs_dim": int(env.env.privileged_dim),
        "proprio_dim": int(env.env.obs_dim),
        "actor_state": {k: v.detach().clone() for k, v in alg._raw_actor.state_dict().items()},
        "critic_state": {k: v.detach().clone() for k, v in alg._raw_critic.state_dict().items()},
        "optimizer_state": alg.optimizer.state_dict(),
        "progress": {
            "iteration": iteration,
            "env_steps": env_steps,
            "wall_s": wall_s,
            "learning_rate": float(alg.learning_rate),
        },  # fmt: skip
    }
