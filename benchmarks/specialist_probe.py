"""Probe a rotation policy in the training env: mean reward terms per step, and how episodes end.

    python benchmarks/specialist_probe.py --policy random            # reward terms under random actions
    python benchmarks/specialist_probe.py --policy runs/specialist/normal_cylinder/latest.pt --drift

Reward terms: 64 envs, normal cylinders palm up about +z, training randomization, 200 control
steps; the mean of each term of ``info["reward_terms"]`` over envs and steps. With ``--drift``
the 6 cm fall limit is lifted (0.5 m) for 32 envs and 400 steps, and the script reports when
the object's centre first passes 6 cm from the grasp centre and when it really drops (10 cm
below the hand), medians over envs.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import torch

from dexndm.eval.policies import load_policy, policy_view
from dexndm.sim.config import EnvConfig
from dexndm.sim.env import RotationEnv
from dexndm.sim.scene import WRIST_POS


def _act(policy, obs):
    return policy.act(policy_view(policy, obs))


def reward_terms(policy, cfg: EnvConfig, steps: int) -> dict[str, float]:
    env = RotationEnv(cfg)
    obs = env.reset()
    sums: dict[str, float] = {}
    for _ in range(steps):
        obs, _, _, _, info = env.step(_act(policy, obs))
        for k, v in info["reward_terms"].items():
            sums[k] = sums.get(k, 0.0) + float(np.mean(v))
    env.close()
    return {k: v / steps for k, v in sums.items()}


def drift(policy, cfg: EnvConfig, steps: int = 400, limit: float = 0.06) -> dict[str, float]:
    env = RotationEnv(replace(cfg, num_envs=32, fall_distance=0.5))
    obs = env.reset()
    n = env.num_envs
    t_limit, t_drop = np.full(n, steps), np.full(n, steps)
    for t in range(steps):
        obs = env.step(_act(policy, obs))[0]
        dist = np.linalg.norm(env.obj_pos - WRIST_POS, axis=-1)
        t_limit = np.where((dist > limit) & (t_limit == steps), t, t_limit)
        t_drop = np.where((env.obj_pos[:, 2] < WRIST_POS[2] - 0.1) & (t_drop == steps), t, t_drop)
    env.close()
    return {
        "median_steps_to_6cm": float(np.median(t_limit)),
        "median_steps_to_drop": float(np.median(t_drop)),
        "never_dropped": float(np.mean(t_drop == steps)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--policy", default="random", help="'random', 'hold' or a checkpoint")
    p.add_argument("--object", default="normal_cylinder")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--drift", action="store_true")
    p.add_argument("--seed", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(1)
    policy = load_policy(a.policy, seed=a.seed)
    cfg = EnvConfig(num_envs=64, objects=(a.object,), wrists=("palm_up",), axes=("+z",), seed=a.seed)
    print("| term | mean per step |\n|---|---|")
    for k, v in reward_terms(policy, cfg, a.steps).items():
        print(f"| {k} | {v:+.4f} |")
    if a.drift:
        print(drift(policy, cfg))


if __name__ == "__main__":
    main()
