"""Evaluate a policy on :class:`~dexndm.reality.simulated.SimulatedReality`, cell by cell.

The real-hand protocol on the simulated reality: for each (object, wrist orientation, rotation
axis) cell, one simulated hand with the chosen reality-gap profile runs ``episodes_per_cell``
episodes one after another. Each starts from an entry of the *training* grasp cache for that
object and wrist (:func:`dexndm.sim.grasp.cached_grasps`, the same entries the sim evaluation
uses) and lasts ``episode_steps`` control steps unless the object falls (its centre leaves the
``fall_distance`` ball around the grasp centre: the env's rule).

The policy sees only what a real hand gives: the proprioceptive observation, built by
:func:`dexndm.sim.observations.proprio_obs` from the hand's *readings* (quantized, noisy, delayed)
with the env's pairing: after each step the newest reading ``q`` is pushed with the targets that
were in force *before* that step's action (``EnvConfig.history`` = T pairs). Its relative
actions become targets ``target += clip(a, -1, 1) / 24`` through ``send_joint_targets`` (the
safety filter), and the targets actually sent are the base of the next action. Object pose and
angular velocity come from the simulator for the metrics only.

Metrics per episode are the sim evaluation's (``dexndm.eval.evaluate.METRICS``): RotR, RotP,
TTF, Rot, omega_k, goals, GO Succ, reward, steps; the result is an
:class:`~dexndm.eval.evaluate.EvalResult`, written and printed by the same report.

Example::

    from dexndm.eval import load_policy
    from dexndm.eval.reality_eval import evaluate_on_reality
    result = evaluate_on_reality(load_policy("hold"), profile="default", wrists=["palm_up"],
                                 axes=["+z"], episodes_per_cell=4, out_dir="out/eval_reality/hold")
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dexndm.eval.cells import Cell, make_cells
from dexndm.eval.evaluate import METRICS, EvalResult, _checked_actions, _stats, finish_evaluation
from dexndm.eval.policies import Policy, action_limit, reset_policy, uses_privileged
from dexndm.hand import constants as C
from dexndm.objects import resolve_object
from dexndm.reality.profile import RealityProfile, load_profile
from dexndm.reality.simulated import SimulatedReality
from dexndm.sim.config import EnvConfig, HandoverConfig, RewardConfig
from dexndm.sim.grasp import GraspConfig, GraspSet, cached_grasps
from dexndm.sim.observations import ProprioHistory
from dexndm.sim.rewards import rotation_about_axis, rotation_reward, rotp_weight
from dexndm.sim.rotations import quat_angle, quat_from_axis_angle, quat_mul
from dexndm.sim.scene import PhysicsConfig
from dexndm.sim.wrists_axes import parse_axis, parse_wrist


class _EpisodeMeter:
    """The env's per-episode metrics (``RotationEnv._episode_metrics``) for one hand."""

    def __init__(self, obj_quat: np.ndarray, axis: np.ndarray, c_rotp: float, reward: RewardConfig) -> None:
        self.axis = axis[None]
        self.cfg = reward
        self.c_rotp = np.array([c_rotp])
        self.step_angle = np.deg2rad(reward.goal_step_deg)
        self.prev_quat = obj_quat[None]
        self.goal_quat = self._ahead(self.prev_quat, self.step_angle)
        self.sums = dict.fromkeys(("rot_r", "rot_p", "rot", "reward", "goals"), 0.0)
        self.steps = 0

    def _ahead(self, quat: np.ndarray, angle: float) -> np.ndarray:
        return quat_mul(quat_from_axis_angle(self.axis, np.array([angle])), quat)

    def update(self, hand: SimulatedReality, q_init: np.ndarray) -> None:
        """Account one control step from the simulator's true state."""
        pos, quat = hand.object_pose()
        quat, omega = quat[None], hand.object_angvel()[None]
        q, qdot, torque = (x[None] for x in hand.joint_state_truth())
        self.steps += 1
        reached = quat_angle(quat, self.goal_quat) < np.deg2rad(self.cfg.goal_reach_deg)
        if reached[0]:
            self.goal_quat = self._ahead(self.goal_quat, self.step_angle)
        reward, _ = rotation_reward(
            omega, self.axis, hand.object_linvel()[None], q, q_init[None], torque, qdot, reached,
            self.c_rotp, self.cfg, np.linalg.norm(pos - hand.wrist_pos)[None],
        )  # fmt: skip
        self.sums["rot_r"] += float(np.sum(omega * self.axis))
        self.sums["rot_p"] += float(np.linalg.norm(np.cross(omega, self.axis)))
        self.sums["rot"] += float(rotation_about_axis(self.prev_quat, quat, self.axis)[0])
        self.sums["reward"] += float(reward[0])
        self.sums["goals"] += float(reached[0])
        self.prev_quat = quat

    def metrics(self, episode_steps: int) -> dict[str, float]:
        steps = max(self.steps, 1)
        # GO Succ: within 0.1 pi of the last goal the object was guided to, and one was reached
        last_goal = self._ahead(self.goal_quat, -self.step_angle)
        goal_err = float(quat_angle(self.prev_quat, last_goal)[0])
        return {
            "rot_r": self.sums["rot_r"],
            "rot_p": self.sums["rot_p"] / steps,
            "ttf": self.steps / episode_steps,
            "rot": self.sums["rot"],
            "omega_k": self.sums["rot"] / (steps * C.CONTROL_DT),
            "goals": self.sums["goals"],
            "go_succ": float(goal_err < 0.1 * np.pi and self.sums["goals"] >= 1),
            "reward": self.sums["reward"],
            "steps": float(self.steps),
        }


def run_reality_episode(
    policy: Policy,
    hand: SimulatedReality,
    grasps: GraspSet,
    grasp_index: int,
    axis: np.ndarray,
    *,
    cell: Cell,
    episode_steps: int = 400,
    history: int = 10,
    fall_distance: float = 0.06,
    c_rotp: float = 0.0,
    reward: RewardConfig | None = None,
    on_step: Callable[[SimulatedReality], None] | None = None,
    handover: HandoverConfig | None = None,
) -> tuple[dict[str, float], bool]:
    """One episode on a connected ``hand`` from grasp ``grasp_index``; returns ``(metrics, fell)``,
    metrics with ``physics_diverged`` (MuJoCo reset the world: the episode ended there, as a fall).

    Args:
        axis: ``(3,)`` unit rotation axis, world frame.
        cell: labels for error messages.
        c_rotp: off-axis penalty weight in the reward (the env's ramp value for this episode).
        on_step: called with the hand after the reset and after every control step (e.g. to
            render frames).
        handover: start from its open pose instead, the object held at the grasp's object pose
            for ``hold_steps`` control steps while the policy closes the hand.
    """
    k = grasp_index
    if handover is None:
        hand.reset_to_grasp(
            grasps.joint_pos[k], grasps.joint_targets[k], grasps.object_pos[k], grasps.object_quat[k]
        )
    else:
        pose = handover.open_joint_pos
        hand.reset_to_grasp(pose, pose, grasps.object_pos[k], grasps.object_quat[k], held=True)
    targets = hand.safety.last_targets.copy()
    q_init = hand.joint_state_truth()[0]
    hist = ProprioHistory(history)
    hist.start(hand.read_state().joint_pos, targets)
    meter = _EpisodeMeter(hand.object_pose()[1], axis, c_rotp, reward or RewardConfig())
    reset_policy(policy, np.arange(1))
    if on_step is not None:
        on_step(hand)
    fell = False
    divergences = hand.physics_divergences
    limit = action_limit(policy)
    for step in range(episode_steps):
        obs = hist.obs(hand.wrist_quat, axis)
        actions = _checked_actions(policy.act({"proprio": obs}), 1, policy, cell, step)
        wanted = C.clamp_to_limits(targets + np.clip(actions[0], -limit, limit) * C.ACTION_SCALE)
        targets = hand.send_joint_targets(wanted)
        hand.advance()
        if hand.physics_divergences != divergences:
            # MuJoCo reset the world mid-step: what follows is not this episode. It ends here, as a
            # fall, scored on the steps before (the caller flags it; see evaluate_on_reality).
            fell = True
            break
        hist.push(hand.read_state().joint_pos, targets)  # the target in force, as the env pairs them
        if handover is not None and step + 1 == handover.hold_steps:
            hand.let_go()
        meter.update(hand, q_init)
        if on_step is not None:
            on_step(hand)
        pos, _ = hand.object_pose()
        if not np.all(np.isfinite(pos)) or np.linalg.norm(pos - hand.wrist_pos) > fall_distance:
            fell = True
            break
    # a row flag, not a metric: whether MuJoCo reset the world during this episode
    return {**meter.metrics(episode_steps), "physics_diverged": hand.physics_divergences != divergences}, fell


def evaluate_on_reality(
    policy: Policy,
    *,
    profile: str | Path | RealityProfile = "default",
    objects: tuple[str, ...] | list[str] = ("cube",),
    wrists: tuple[str, ...] | list[str] = ("palm_up",),
    axes: tuple[str, ...] | list[str] = ("+z",),
    episodes_per_cell: int = 10,
    seed: int = 0,
    episode_steps: int = 400,
    split: str = "train",
    grasp: GraspConfig | None = None,
    grasp_cache_dir: str | Path | None = None,
    out_dir: Path | str | None = None,
    progress: bool = True,
    console: Console | None = None,
    start: str = "grasp",
) -> EvalResult:
    """Evaluate ``policy`` on SimulatedReality over every (object, wrist, axis) cell.

    Args mirror :func:`dexndm.eval.evaluate.evaluate`; in addition ``profile`` is the reality gap
    (a shipped name, a TOML path or a profile); ``start`` is ``"grasp"`` or ``"open"`` (the
    policy closes the hand around the held object; the default ``HandoverConfig`` timing).
    Every cell's hand is seeded with ``seed`` and
    draws its grasps with ``seed`` (cells differing only in the axis start from the same grasps).
    Returns:
        An :class:`~dexndm.eval.evaluate.EvalResult`; ``config["reality"]`` records the profile.
    Raises:
        PolicyOutputError: the policy returned non-finite or wrongly shaped actions.
        ValueError: a policy that needs privileged observations (a real hand has none).
    """
    if episodes_per_cell < 1 or episode_steps < 1:
        raise ValueError("evaluate_on_reality: episodes_per_cell and episode_steps must be >= 1")
    if uses_privileged(policy):
        raise ValueError(
            f"policy {policy!r} reads privileged observations (object state), which a real hand cannot "
            "give: evaluate a proprioceptive policy (the generalist) on the simulated reality"
        )
    if start not in ("grasp", "open"):
        raise ValueError(f"evaluate_on_reality: start must be 'grasp' or 'open', got {start!r}")
    handover = HandoverConfig() if start == "open" else None
    reality = load_profile(profile)
    grasp = GraspConfig() if grasp is None else grasp
    env_defaults = EnvConfig()
    cells = make_cells(objects, wrists, axes, split)
    config: dict[str, Any] = {
        "policy": repr(policy), "uses_privileged": False, "objects": list(objects), "wrists": list(wrists),
        "axes": list(axes), "split": split, "episodes_per_cell": episodes_per_cell, "num_envs": 1,
        "seed": seed, "episode_steps": episode_steps, "grasp": asdict(grasp),
        "reality": asdict(reality), "cells": [asdict(c) for c in cells], "start": start,
    }  # fmt: skip
    console = console or Console()
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("episodes"),
        TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console, disable=not progress) as bar:
        task = bar.add_task("reality", total=len(cells) * episodes_per_cell)
        for cell in cells:
            bar.update(task, description=f"{reality.name}: {cell.object} {cell.wrist} {cell.axis}")
            obj = resolve_object(cell.object)
            wrist_quat = parse_wrist(cell.wrist)
            cache = None if grasp_cache_dir is None else Path(grasp_cache_dir)
            grasps = cached_grasps(obj, wrist_quat, grasp, PhysicsConfig(), cache_dir=cache, seed=seed)
            if len(grasps) == 0:
                raise RuntimeError(
                    f"no stable grasp of {obj.name} at wrist {cell.wrist} in the training grasp cache "
                    f"({grasps.tried} candidates): try more candidates or another object"
                )
            rng = np.random.default_rng(seed)
            axis = parse_axis(cell.axis)
            cell_rows: list[dict[str, Any]] = []
            with SimulatedReality(reality, wrist=wrist_quat, obj=obj, seed=seed) as hand:
                for episode in range(episodes_per_cell):
                    c_rotp = float(rotp_weight(np.array([episode + 1]), env_defaults.reward)[0])
                    metrics, fell = run_reality_episode(
                        policy, hand, grasps, int(rng.integers(len(grasps))), axis, cell=cell,
                        episode_steps=episode_steps, history=env_defaults.history,
                        fall_distance=env_defaults.fall_distance, c_rotp=c_rotp, reward=env_defaults.reward,
                        handover=handover,
                    )  # fmt: skip
                    cell_rows.append({
                        "object": cell.object, "category": cell.category, "wrist": cell.wrist,
                        "axis": cell.axis, "seed": seed, "episode": episode, "env_id": 0, "fell": fell,
                        **{m: metrics[m] for m in METRICS},
                        "physics_diverged": metrics["physics_diverged"],
                    })  # fmt: skip
                    bar.update(task, advance=1)
            rows.extend(cell_rows)
            summary.append({**asdict(cell), **_stats(cell_rows)})

    diverged = sum(r["physics_diverged"] for r in rows)
    config["physics_diverged_episodes"] = diverged
    if diverged:
        print(
            f"warning: the simulated reality's physics blew up in {diverged} of {len(rows)} episodes "
            "(MuJoCo reset the world); each ended there and counts as a fall (physics_diverged in "
            "episodes.csv). A finer [physics] timestep_s in the profile may make it rarer",
            file=sys.stderr,
        )
    return finish_evaluation(rows, summary, config, t0, cells, out_dir, console if progress else None)
