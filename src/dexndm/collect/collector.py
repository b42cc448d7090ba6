"""Autonomous collection: replay action sequences open loop on a real hand, episode after episode.

For each wrist orientation in turn the collector opens a hand (:mod:`dexndm.collect.hands`), holds
its pose for ``settle_s``, then runs that orientation's planned episodes back to back: no reset,
no human; each episode starts where the previous one left the hand. Per control step (20 Hz):

1. ``state = hand.read_state()``: ``q_t``, ``qdot_t``, motor currents, timestamp;
2. ``sent = hand.send_joint_targets(a_t + noise_t)`` (the hand's safety filter may change it);
3. wait for the next tick: ``hand.advance(0.05)`` on a simulated hand (simulated time, as fast
   as it computes), a :class:`~dexndm.reality.control_loop.RateLoop` on a physical one.

So ``joint_targets[t]`` (the sent target) is in force while ``q_t`` becomes ``q_{t+1}``, the layout
the dynamics stage reads. Every episode is one atomic append to an
:class:`~dexndm.data.EpisodeStore` (``real_episode_schema(commanded_targets=True)``); a run that is
killed (``kill -9`` included) and started again with the same command skips the keys the store
holds and collects the rest, with the same commanded targets the first run would have used.

Example::

    cfg = CollectConfig(mode="chaos", source="random", episodes=100, wrist=("all",))
    collect(cfg, "runs/chaos", SimulatedHands(profile="default", box=cfg.box, seed=cfg.seed))
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dexndm.collect.config import CollectConfig, episode_key, episode_rng
from dexndm.collect.hands import HandOpener, reality_identity
from dexndm.collect.sources import make_source
from dexndm.data import EpisodeStore, real_episode_schema
from dexndm.data.artifacts import to_json_value
from dexndm.data.plan import check_store_plan
from dexndm.hand import constants as C
from dexndm.hand.constants import NUM_JOINTS
from dexndm.reality.base import RealHand
from dexndm.reality.control_loop import RateLoop
from dexndm.sim.wrists_axes import parse_wrist

NOISE_STREAM = 1
"""``episode_rng`` stream of the noise draws (stream 0 belongs to the action source)."""


@dataclass
class CollectResult:
    """What one :func:`collect` call did."""

    store: EpisodeStore
    collected: int
    """Episodes appended by this call."""
    skipped: int
    """Planned episodes the store already held."""
    simulated_s: float
    """Hand time the collected episodes span, s (control steps x 0.05)."""
    wall_s: float
    """Wall time of the call, s."""
    dropped: int = 0
    """Episodes run but not stored because a simulated hand's physics blew up in them (MuJoCo
    reset its world mid-episode); a rerun collects them again."""


def collect(
    cfg: CollectConfig,
    out: Path | str,
    hands: HandOpener,
    *,
    command: str | Sequence[str] | None = None,
    progress: bool = True,
) -> CollectResult:
    """Collect ``cfg.episodes`` episodes per wrist orientation into the store at ``out``.

    Creates the store, or resumes it: the planned episodes it holds are skipped. A store collected
    with other settings (mode, source, steps, noise, seed, load, hand...) is refused, so a resumed
    run never mixes two collections under one set of keys.

    Raises:
        ValueError: the settings differ from the store's, or a hand that cannot turn its wrist is
            asked for several wrist orientations.
    """
    start = time.perf_counter()
    wrists = cfg.wrists()
    if not hands.turns_wrist and len(wrists) != 1:
        raise ValueError(
            f"the {hands.kind} hand cannot turn its own wrist: collect one wrist orientation per run "
            f"(--wrist palm_down, ...), mounting the hand accordingly; got {wrists}"
        )
    plan = to_json_value({**cfg.plan(), "hand": hands.kind})
    reality = reality_identity(hands)
    if reality is not None:  # a store resumed on another reality profile would mix two hands
        plan["reality"] = reality
    store = EpisodeStore.create(
        out,
        real_episode_schema(commanded_targets=True),
        command=command,
        config={"collect": asdict(cfg), "hand": _describe(hands)},
        info={"source": "real", "hand": hands.kind, "plan": plan},
        exist_ok=True,
    )
    _check_plan(store, plan)
    source = make_source(cfg)
    keys = {w: [episode_key(cfg.mode, w, i) for i in range(cfg.episodes)] for w in wrists}
    skipped = sum(store.has(k) for ks in keys.values() for k in ks)
    collected = dropped = 0
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task(
            f"collect {cfg.mode}", total=len(wrists) * cfg.episodes, completed=skipped, rate=""
        )
        for wrist in wrists:
            todo = [i for i, k in enumerate(keys[wrist]) if not store.has(k)]
            if not todo:
                continue
            bar.update(task, description=f"{cfg.mode} {wrist}")
            opened = hands.open(wrist, cfg.loaded)
            with opened.hand as hand:
                pacer = _Pacer(hand)
                _hold_pose(hand, pacer, round(cfg.settle_s / C.CONTROL_DT))
                for index, targets, source_meta in source.sequences(wrist, todo):
                    noise = _episode_noise(cfg, wrist, index)
                    arrays, stats = run_episode(hand, targets + noise, pacer)
                    if stats.pop("physics_divergences", 0):
                        # the recording jumps where MuJoCo reset the world: not the hand's dynamics
                        dropped += 1
                        bar.console.print(
                            f"warning: {wrist} episode {index}: the simulated hand's physics blew up "
                            "(MuJoCo reset the world); not stored, a rerun collects it again"
                        )
                        _hold_pose(hand, pacer, round(cfg.settle_s / C.CONTROL_DT))  # let the reset settle
                        continue
                    meta = {
                        "key": keys[wrist][index],
                        "episode": index,
                        "wrist": wrist,
                        "wrist_quat": parse_wrist(wrist).round(6).tolist(),
                        "mode": cfg.mode,
                        "actions": cfg.actions,
                        "source": cfg.source if cfg.actions == "replay" else cfg.actions,
                        "source_meta": source_meta,
                        "noise": bool(noise.any()),
                        "noise_std": cfg.noise_std if noise.any() else 0.0,
                        "seed": cfg.seed,
                        **opened.meta,
                        **stats,
                        **(opened.after_episode() if opened.after_episode else {}),
                    }
                    store.append(arrays, meta)
                    collected += 1
                    wall = time.perf_counter() - start
                    sim = collected * cfg.steps * C.CONTROL_DT
                    bar.update(
                        task,
                        advance=1,
                        rate=f"{60 * collected / wall:.1f} ep/min, {sim / wall:.2f}x real time",
                    )
    return CollectResult(
        store, collected, skipped, collected * cfg.steps * C.CONTROL_DT, time.perf_counter() - start, dropped
    )


def run_episode(
    hand: RealHand, commanded: np.ndarray, pacer: _Pacer
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Drive ``hand`` through ``commanded`` ``(T, 16)`` rad targets open loop, one per control tick.

    Returns:
        ``(arrays, stats)``: arrays in the ``real_episode_schema(commanded_targets=True)`` layout
        (currents in mA), and per-episode statistics for the metadata: ``t0`` (hand clock at the
        first reading, s), ``max_abs_joint_vel`` (rad/s; a simulated world that blew up shows
        here), ``max_filter_change`` (largest ``|commanded - sent|``, rad), on a simulated hand
        ``physics_divergences`` when MuJoCo reset its world during the episode, and, on a physical
        hand, the loop's timing.
    """
    steps = len(commanded)
    q = np.empty((steps, NUM_JOINTS), np.float32)
    qdot = np.empty((steps, NUM_JOINTS), np.float32)
    current_ma = np.empty((steps, NUM_JOINTS), np.float32)
    sent = np.empty((steps, NUM_JOINTS), np.float32)
    stamps = np.empty(steps, np.float64)
    divergences = getattr(hand, "physics_divergences", 0)  # a simulated hand's count; real ones: none
    pacer.start()
    for t in range(steps):
        state = hand.read_state()
        sent[t] = hand.send_joint_targets(commanded[t])
        q[t], qdot[t], current_ma[t] = state.joint_pos, state.joint_vel, state.motor_current * 1e3
        stamps[t] = state.timestamp
        pacer.tick()
    arrays = {
        "joint_pos": q,
        "joint_vel": qdot,
        "motor_current": current_ma,
        "joint_targets": sent,
        "commanded_targets": commanded.astype(np.float32),
        "time": stamps - stamps[0],
    }
    stats: dict[str, Any] = {
        "t0": float(stamps[0]),
        "max_abs_joint_vel": float(np.abs(qdot).max()),
        "max_filter_change": float(np.abs(arrays["commanded_targets"] - sent).max()),
    }
    if getattr(hand, "physics_divergences", 0) != divergences:
        stats["physics_divergences"] = hand.physics_divergences - divergences
    if pacer.loop is not None:
        loop = pacer.loop.stats()
        stats["loop"] = {
            "period_mean_s": loop.period_mean_s,
            "jitter_s": loop.jitter_s,
            "overruns": loop.num_overruns,
        }
    return arrays, stats


class _Pacer:
    """Waits for the next control tick: simulated time on a hand with ``advance(dt)``, else a RateLoop."""

    def __init__(self, hand: RealHand) -> None:
        advance = getattr(hand, "advance", None)
        self._advance = advance if callable(advance) else None
        self.loop = None if self._advance is not None else RateLoop(C.CONTROL_HZ)

    def start(self) -> None:
        if self.loop is not None:
            self.loop.start()

    def tick(self) -> None:
        if self._advance is not None:
            self._advance(C.CONTROL_DT)
        else:
            assert self.loop is not None
            self.loop.wait()


def _hold_pose(hand: RealHand, pacer: _Pacer, steps: int) -> None:
    """Hold the measured pose for ``steps`` ticks (unrecorded): lets Chaos Box balls settle."""
    if steps <= 0:
        return
    pose = hand.read_state().joint_pos
    pacer.start()
    for _ in range(steps):
        hand.send_joint_targets(pose)
        pacer.tick()


def _episode_noise(cfg: CollectConfig, wrist: str, index: int) -> np.ndarray:
    """``(T, 16)`` rad: N(0, noise_std) with probability ``noise_prob`` for this episode, else zeros."""
    rng = episode_rng(cfg.seed, wrist, index, NOISE_STREAM)
    noisy = rng.random() < cfg.noise_prob
    if not noisy or cfg.noise_std == 0:
        return np.zeros((cfg.steps, NUM_JOINTS))
    return rng.normal(0.0, cfg.noise_std, size=(cfg.steps, NUM_JOINTS))


def _describe(hands: HandOpener) -> dict[str, Any]:
    """The opener's settings for the store's producer record (its dataclass fields if it has them)."""
    if dataclasses.is_dataclass(hands) and not isinstance(hands, type):
        return to_json_value(asdict(hands))
    return {"kind": hands.kind}


def _check_plan(store: EpisodeStore, plan: dict[str, Any]) -> None:
    check_store_plan(
        store, plan, recorder="`dexndm collect`", new_out="collect into a new --out",
        resume_advice="resume it with the same settings (more --episodes or other --wrist are fine)",
    )  # fmt: skip
