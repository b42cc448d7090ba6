"""Collection speed on SimulatedReality: simulated seconds per wall second, free hand vs Chaos Box.

Runs the real collector (:func:`dexndm.collect.collector.collect`) into a temporary store, one
case after the other, and reports hand time (control steps x 0.05 s) per wall second:

* ``free``: ``--mode free`` (replayed policy targets, no load) at ``palm_down``;
* ``box <wrist>``: ``--mode chaos`` at each wrist orientation with a box (40 balls);
* ``tether palm_up``: ``--mode chaos`` at ``palm_up`` (the ball tied to three fingertips).

End to end: the rate includes building the world, the settling second, and the source rollouts
of the random policy in the training sim (``RotationEnv``, 1 thread), which are also timed alone
(``source`` column) so the hand's share is visible. The load is measured as well: the mean
absolute change of each joint's mean motor current against the free hand under the same
targets, and the same between two free hands that differ only in their sensor-noise seed (the
noise floor).

    .venv/bin/python benchmarks/collection_speed.py                     # RESULTS.md figures
    .venv/bin/python benchmarks/collection_speed.py --steps 100 --wrists palm_down palm_up
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
from dataclasses import replace

import numpy as np

from dexndm.collect.collector import collect
from dexndm.collect.config import CollectConfig, ReplayConfig
from dexndm.collect.hands import SimulatedHands
from dexndm.collect.sources import make_source
from dexndm.data import EpisodeStore
from dexndm.sim.wrists_axes import WRISTS


def run_case(cfg: CollectConfig, profile: str, root: str, name: str, seed: int = 0) -> dict:
    start = time.perf_counter()
    result = collect(
        cfg, f"{root}/{name}", SimulatedHands(profile=profile, box=cfg.box, seed=seed), progress=False
    )
    wall = time.perf_counter() - start
    store = EpisodeStore(f"{root}/{name}", readonly=True)
    current = np.concatenate([store.load(i)["motor_current"] for i in store.episode_indices()])
    balls_out = max(store.meta(i).get("balls_out_of_box", 0) for i in store.episode_indices())
    return {"sim_s": result.simulated_s, "wall_s": wall, "current_ma": current, "balls_out": balls_out}


def source_seconds(cfg: CollectConfig, wrist: str) -> float:
    start = time.perf_counter()
    for _ in make_source(cfg).sequences(wrist, range(cfg.episodes)):
        pass
    return time.perf_counter() - start


def effort_change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over joints of |mean |current| of a - that of b|, mA."""
    return float(np.abs(np.abs(a).mean(axis=0) - np.abs(b).mean(axis=0)).mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=400, help="control steps per episode (400 = 20 s)")
    p.add_argument("--episodes", type=int, default=1, help="episodes per case")
    p.add_argument("--wrists", nargs="+", default=list(WRISTS), help="wrist orientations with a load")
    p.add_argument("--profile", default="default")
    p.add_argument("--grasp-cache-dir", default=None)
    args = p.parse_args()

    replay = ReplayConfig(num_envs=1, grasp_cache_dir=args.grasp_cache_dir)
    base = CollectConfig(
        mode="chaos", source="random", episodes=args.episodes, steps=args.steps, noise_prob=0.0, replay=replay
    )
    load_before = os.getloadavg()
    print(f"# collection speed, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"# {platform.node()}: nproc {os.cpu_count()}, load average {load_before[0]:.1f}")
    print(f"# {args.episodes} episode(s) of {args.steps} steps per case, profile {args.profile}\n")
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for wrist in ["palm_down", *args.wrists]:
            first = wrist == "palm_down" and not rows
            cfg = replace(base, wrist=(wrist,), mode="free" if first else "chaos")
            name = "free palm_down" if first else f"{'tether' if wrist == 'palm_up' else 'box'} {wrist}"
            source_seconds(cfg, wrist)  # fills the grasp cache (once per wrist) before anything is timed
            source_s = source_seconds(cfg, wrist)
            res = run_case(cfg, args.profile, root, name.replace(" ", "_"))
            free = res if first else run_case(replace(cfg, mode="free"), args.profile, root, f"free_{wrist}")
            again = run_case(replace(cfg, mode="free"), args.profile, root, f"again_{wrist}", seed=1)
            rows.append(
                (
                    name,
                    res["sim_s"] / res["wall_s"],
                    res["wall_s"],
                    source_s,
                    effort_change(res["current_ma"], free["current_ma"]),
                    effort_change(again["current_ma"], free["current_ma"]),
                )
            )
            rate, wall = rows[-1][1], res["wall_s"]
            print(
                f"{name:18s} {rate:6.2f} sim s / wall s ({wall:.1f} s wall, source {source_s:.1f} s); "
                f"balls out of the box: {res['balls_out']}"
            )
    load_after = os.getloadavg()
    print(
        "\n| case | sim s / wall s | wall s | of which source rollouts, s | load: effort change vs free, mA "
        "| noise floor, mA |"
    )
    print("|---|---|---|---|---|---|")
    for name, rate, wall, src, eff, noise in rows:
        load = "-" if name.startswith("free") else f"{eff:.1f}"
        print(f"| {name} | {rate:.2f} | {wall:.1f} | {src:.1f} | {load} | {noise:.1f} |")
    print(f"\nload average before {load_before[0]:.1f}, after {load_after[0]:.1f}")


if __name__ == "__main__":
    main()
