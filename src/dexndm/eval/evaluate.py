"""Evaluate a policy in simulation, cell by cell: (object, wrist orientation, rotation axis).

Each cell gets its own single-object, single-wrist, single-axis ``RotationEnv`` with
``min(num_envs, episodes_per_cell)`` envs, so every episode of the cell has exactly its wrist and
axis, and the env is driven only through its public ``step`` (no state is written behind its back).
Every cell uses the same env ``seed``: cells that differ only in the axis then start from the same
grasps and physics draws (common random numbers), so differences between them are the policy's.

Which episodes count is fixed *when they start*, not when they end: env slot ``i`` owns episodes
``i, i + n, i + 2n, ...`` of the cell. Taking the first ``episodes_per_cell`` episodes to *finish*
would favour short ones, i.e. drops, and bias TTF and RotR low.

Metrics per episode (``RotationEnv._episode_metrics``, method.md "Metrics"): ``rot_r`` (sum of
omega . k over steps, rad/s), ``rot_p`` (mean |omega x k|, rad/s), ``ttf`` (steps / episode_steps,
in (0, 1]), ``rot`` (rad turned about k), ``omega_k`` (rot / duration, rad/s), ``goals`` (guiding
goals reached), ``go_succ`` (final orientation within 0.1 pi of the goal), ``reward``, ``steps``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dexndm.eval.cells import Cell, make_cells
from dexndm.eval.policies import Policy, action_limit, policy_view, reset_policy, uses_privileged
from dexndm.hand import constants as C
from dexndm.sim.config import EnvConfig, HandoverConfig, RandomizationConfig
from dexndm.sim.env import RotationEnv
from dexndm.sim.grasp import GraspConfig
from dexndm.sim.scene import PhysicsConfig

METRICS = ("rot_r", "rot_p", "ttf", "rot", "omega_k", "goals", "go_succ", "reward", "steps")
"""Per-episode metrics, in ``RotationEnv``'s ``info["final_metrics"]`` names."""
CELL_LABELS = ("object", "category", "wrist", "axis")
"""The labels of a cell in each episode row (an object's category too), what results pool by."""
START_MODES = ("grasp", "open", "open-scripted")
"""How episodes start: a cached grasp, an open hand the policy closes, or one a script closes."""


class PolicyOutputError(ValueError):
    """The policy returned actions the evaluation refuses (wrong shape, NaN or inf)."""


@dataclass
class EvalResult:
    """What ``evaluate`` measured.

    Attributes:
        episodes: one dict per episode: cell labels, ``seed``, ``episode`` (index in the cell),
            ``env_id``, ``fell`` (terminated by a drop), and the ``METRICS``.
        summary: one dict per cell: labels, ``n`` and ``<metric>_mean`` / ``<metric>_std``
            (sample std, 0 when n = 1).
        overall: the same statistics over every episode (cells weigh equally: equal counts).
        config: the evaluation's settings, JSON-ready (goes into the sidecars).
        wall_s: evaluation time, s.
    """

    episodes: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    overall: dict[str, Any]
    config: dict[str, Any]
    wall_s: float = 0.0
    cells: list[Cell] = field(default_factory=list)

    def write(self, out_dir: Path | str, command: str | list[str] | None = None) -> dict[str, Path]:
        """``episodes.csv``, ``summary.csv``, ``summary.json`` (+ sidecars) in ``out_dir``."""
        from dexndm.eval.report import write_result

        return write_result(self, Path(out_dir), command=command)

    def pooled(self, by: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
        """Summaries pooled over every label not in ``by``, in first-seen order.

        ``pooled(("wrist", "axis"))`` gives the issue tables' cells: each (wrist, axis) with the
        episodes of all its objects.
        """
        unknown = [k for k in by if k not in CELL_LABELS]
        if unknown or not by:
            raise ValueError(f"EvalResult.pooled: by must name some of {list(CELL_LABELS)}, got {list(by)}")
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in self.episodes:
            groups.setdefault(tuple(str(row[k]) for k in by), []).append(row)
        return [{**dict(zip(by, key, strict=True)), **_stats(rows)} for key, rows in groups.items()]

    def print_table(self, console: Console | None = None) -> None:
        from dexndm.eval.report import result_table

        console = console or Console()
        if not console.is_terminal and console.width < 160:
            # a log file or pipe has no width worth wrapping the table at (rich assumes 80)
            console = Console(file=console.file, width=160)
        console.print(result_table(self, two_lines=console.width < 150))


def _stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows)}
    for m in METRICS:
        v = np.array([r[m] for r in rows], dtype=np.float64)
        out[f"{m}_mean"] = float(v.mean()) if len(v) else float("nan")
        out[f"{m}_std"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return out


def _checked_actions(actions: Any, n: int, policy: Policy, cell: Cell, step: int) -> np.ndarray:
    """The policy's actions as a finite (n, 16) float array, or a ``PolicyOutputError``.

    The env would also refuse NaN (ValueError); checking here names the policy, cell and step.
    """
    a = np.asarray(actions, dtype=np.float64)
    where = f"at step {step} of cell (object={cell.object}, wrist={cell.wrist}, axis={cell.axis})"
    if a.shape != (n, C.NUM_JOINTS):
        raise PolicyOutputError(
            f"policy {policy!r} returned actions of shape {a.shape} {where}; expected ({n}, {C.NUM_JOINTS}): "
            "one row of 16 relative joint actions per env, sim joint order"
        )
    bad = ~np.all(np.isfinite(a), axis=1)
    if bad.any():
        raise PolicyOutputError(
            f"policy {policy!r} returned non-finite actions (NaN or inf) for env(s) "
            f"{np.flatnonzero(bad)[:8].tolist()} {where}: evaluation refused. Check the checkpoint "
            "for NaN weights and the observation normalization (a zero std divides by zero)."
        )
    return a


def run_cell(
    policy: Policy,
    cell: Cell,
    env_cfg: EnvConfig,
    episodes: int,
    on_step: Callable[[int, int], None] | None = None,
    scripted_grasp: bool = False,
) -> list[dict[str, Any]]:
    """Run ``episodes`` episodes of one cell and return their rows, ordered by episode index.

    Args:
        env_cfg: the cell's env (one object, wrist and axis); ``num_envs`` <= ``episodes``.
        on_step: optional ``fn(n_envs: int, finished_counted: int)`` called after every step.
        scripted_grasp: in open-hand starts (``env_cfg.handover``), the scripted teacher closes
            the hand and ``policy`` takes over when the operator lets go (for policies that never
            learned to grasp, such as the specialists).
    """
    n = env_cfg.num_envs
    quota = np.array([len(range(i, episodes, n)) for i in range(n)])  # episodes owned per slot
    done = np.zeros(n, dtype=int)
    env = RotationEnv(env_cfg)  # resets every env
    env.action_limit = action_limit(policy)
    rows: list[dict[str, Any]] = []
    try:
        obs = env.observations()
        reset_policy(policy, np.arange(n))
        step = 0
        while np.any(done < quota):
            view = policy_view(policy, obs)
            actions = _checked_actions(policy.act(view), n, policy, cell, step)
            if scripted_grasp:
                actions = env.with_scripted_closing(actions)
            obs, _, terminated, _, info = env.step(actions)
            step += 1
            counted = 0
            ids = info.get("final_env_ids", ())
            for j, i in enumerate(ids):
                if done[i] < quota[i]:
                    metrics = {m: float(info["final_metrics"][m][j]) for m in METRICS}
                    rows.append({
                        "object": cell.object, "category": cell.category, "wrist": cell.wrist,
                        "axis": cell.axis, "seed": env_cfg.seed, "episode": int(i + done[i] * n),
                        "env_id": int(i), "fell": bool(terminated[i]), **metrics,
                    })  # fmt: skip
                    done[i] += 1
                    counted += 1
            if len(ids):
                reset_policy(policy, np.asarray(ids))
            if on_step is not None:
                on_step(n, counted)
    finally:
        env.close()
    return sorted(rows, key=lambda r: r["episode"])


def finish_evaluation(
    rows: list[dict[str, Any]],
    summary: list[dict[str, Any]],
    config: dict[str, Any],
    t0: float,
    cells: list[Cell],
    out_dir: Path | None,
    console: Console | None,
) -> EvalResult:
    """Bundle an evaluation's rows and cell summaries; write them and print the table if asked."""
    result = EvalResult(rows, summary, _stats(rows), config, time.perf_counter() - t0, cells)
    if out_dir is not None:
        result.write(out_dir)
    if console is not None:
        result.print_table(console)
    return result


def evaluate(
    policy: Policy,
    *,
    objects: tuple[str, ...] | list[str] = ("cube",),
    wrists: tuple[str, ...] | list[str] = ("palm_up",),
    axes: tuple[str, ...] | list[str] = ("+z",),
    episodes_per_cell: int = 10,
    num_envs: int = 64,
    seed: int = 0,
    randomization: RandomizationConfig | None = None,
    physics: PhysicsConfig | None = None,
    grasp: GraspConfig | None = None,
    episode_steps: int = 400,
    split: str = "train",
    grasp_cache_dir: str | Path | None = None,
    nthread: int = 0,
    out_dir: Path | str | None = None,
    progress: bool = True,
    console: Console | None = None,
    start: str = "grasp",
    handover: HandoverConfig | None = None,
) -> EvalResult:
    """Evaluate ``policy`` on every (object, wrist, axis) cell.

    Args:
        policy: see :class:`dexndm.eval.policies.Policy`; it sees only ``obs["proprio"]`` unless it
            sets ``uses_privileged = True``.
        objects: object names, categories (all their ``split`` shapes) or mesh paths.
        wrists: wrist names, ``"all"`` or quaternions ``"w,x,y,z"``.
        axes: axis names, ``"principal"``, ``"diagonals"``, ``"named"``, ``"general"`` or ``"x,y,z"``.
        episodes_per_cell: finished episodes collected per cell, exactly.
        num_envs: the most envs simulated at once (a cell uses ``min(num_envs, episodes_per_cell)``).
        seed: the env seed of every cell (grasp draws, physics randomization, joint noise).
        randomization: domain randomization (default none: nominal physics).
        episode_steps: steps (of 0.05 s) before a time-out; TTF is relative to it.
        out_dir: when given, the CSV / JSON files are written there (see ``EvalResult.write``).
        progress: show a progress bar and print the result table.
        start: ``"grasp"``: every episode starts from a cached grasp; ``"open"``: from an open
            hand with the operator holding the object (``handover``), and the policy must grasp;
            ``"open-scripted"``: from an open hand, closed by the scripted teacher.
        handover: timing and open pose of open-hand starts (default ``HandoverConfig()``).
    Returns:
        The per-episode rows and per-cell summary.
    Raises:
        PolicyOutputError: the policy returned non-finite or wrongly shaped actions.
    """
    if episodes_per_cell < 1 or num_envs < 1:
        raise ValueError("evaluate: episodes_per_cell and num_envs must be >= 1")
    if start not in START_MODES:
        raise ValueError(f"evaluate: start must be one of {START_MODES}, got {start!r}")
    handover = replace(handover or HandoverConfig(), prob=0.0 if start == "grasp" else 1.0)
    randomization = RandomizationConfig.none() if randomization is None else randomization
    physics = PhysicsConfig() if physics is None else physics
    grasp = GraspConfig() if grasp is None else grasp
    cells = make_cells(objects, wrists, axes, split)
    n_envs = min(num_envs, episodes_per_cell)
    config: dict[str, Any] = {
        "policy": repr(policy), "uses_privileged": uses_privileged(policy),
        "objects": list(objects), "wrists": list(wrists), "axes": list(axes), "split": split,
        "episodes_per_cell": episodes_per_cell, "num_envs": n_envs, "seed": seed,
        "episode_steps": episode_steps, "randomization": asdict(randomization),
        "physics": asdict(physics), "grasp": asdict(grasp), "start": start,
        "handover": asdict(handover),
        "cells": [asdict(c) for c in cells],
    }  # fmt: skip
    console = console or Console()
    t0 = time.perf_counter()
    env_steps = 0
    rows: list[dict[str, Any]] = []
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("episodes  {task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
        TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console, disable=not progress, transient=False) as bar:
        task = bar.add_task("eval", total=len(cells) * episodes_per_cell, rate="")

        def on_step(n: int, counted: int) -> None:
            nonlocal env_steps
            env_steps += n
            rate = env_steps / max(time.perf_counter() - t0, 1e-9)
            bar.update(task, advance=counted, rate=f"{rate:,.0f} env-steps/s")

        for cell in cells:
            bar.update(task, description=f"{cell.object} {cell.wrist} {cell.axis}")
            env_cfg = EnvConfig(
                num_envs=n_envs, objects=(cell.object,), split=split, wrists=(cell.wrist,),
                axes=(cell.axis,), episode_steps=episode_steps, seed=seed, nthread=nthread,
                physics=physics, randomization=randomization, grasp=grasp, handover=handover,
                grasp_cache_dir=None if grasp_cache_dir is None else str(grasp_cache_dir),
            )  # fmt: skip
            rows.extend(run_cell(policy, cell, env_cfg, episodes_per_cell, on_step, start == "open-scripted"))

    summary = []
    for cell in cells:
        cell_rows = [
            r for r in rows if (r["object"], r["wrist"], r["axis"]) == (cell.object, cell.wrist, cell.axis)
        ]
        summary.append({**asdict(cell), **_stats(cell_rows)})
    return finish_evaluation(rows, summary, config, t0, cells, out_dir, console if progress else None)
