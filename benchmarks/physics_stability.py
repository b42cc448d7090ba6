"""Does the batched env stay physical under random actions and full domain randomization?

Counts drops (terminations), the largest object angular velocity and the most negative
per-step reward for Newton solver budgets, 64 envs x 100 control steps, Gaussian actions.

    python benchmarks/physics_stability.py --object cube normal_cylinder/00 --iterations 20 50
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from dexndm.sim.config import EnvConfig
from dexndm.sim.env import RotationEnv
from dexndm.sim.scene import PhysicsConfig


def run(obj: str, iterations: int, std: float, envs: int, steps: int, seed: int) -> dict[str, float]:
    physics = replace(PhysicsConfig(), iterations=iterations, ls_iterations=iterations // 2)
    env = RotationEnv(
        EnvConfig(num_envs=envs, objects=(obj,), wrists=("palm_up",), physics=physics, seed=seed)
    )
    rng = np.random.default_rng(seed)
    drops, worst_omega, worst_reward = 0, 0.0, 0.0
    t0 = time.perf_counter()
    for _ in range(steps):
        _, r, term, _, info = env.step(np.clip(rng.normal(0.0, std, (envs, 16)), -1, 1))
        drops += int(term.sum())
        worst_omega = max(worst_omega, float(np.nan_to_num(np.abs(env.omega)).max()))
        # the fall penalty is a fixed charge: judge the physics by the rest of the reward
        worst_reward = min(worst_reward, float(np.min(r - info["reward_terms"]["fall"])))
    return {
        "drops": drops,
        "max_omega": worst_omega,
        "min_reward": worst_reward,
        "s": time.perf_counter() - t0,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--object", nargs="+", default=["cube", "normal_cylinder/00"])
    p.add_argument("--iterations", nargs="+", type=int, default=[20, 50])
    p.add_argument("--std", type=float, default=0.5)
    p.add_argument("--envs", type=int, default=64)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print("| object | solver iterations | drops | max omega (rad/s) | min reward w/o fall penalty | wall s |")
    print("|---|---|---|---|---|---|")
    for obj in a.object:
        for it in a.iterations:
            m = run(obj, it, a.std, a.envs, a.steps, a.seed)
            cells = [obj, f"{it}/{it // 2}", m["drops"], f"{m['max_omega']:.0f}", f"{m['min_reward']:.1f}"]
            print("| " + " | ".join(str(x) for x in cells) + f" | {m['s']:.1f} |")


if __name__ == "__main__":
    main()
