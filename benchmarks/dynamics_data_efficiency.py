"""Data efficiency and robustness to input shift: joint-wise vs finger-wise vs whole-hand.

The paper's claim (method.md, "The joint-wise dynamics model"): with little data the joint-wise
model beats the whole-hand model in domain and by far out of distribution. Here on the synthetic
hand (:mod:`dexndm.dynamics.synthetic`, weakly coupled joints): train on targets that are mixtures
of a few latent signals (coordinated, policy-like motion), evaluate in domain (held-out episodes
of the same kind) and on a shifted distribution (every joint moving independently), for several
amounts of training data. Errors are mean absolute one-step and 10-step open-loop errors in mrad,
mean over seeds.

    .venv/bin/python benchmarks/dynamics_data_efficiency.py
    .venv/bin/python benchmarks/dynamics_data_efficiency.py --episodes 5 20 80 --seeds 0 1 2 --steps 2000
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import tyro

from dexndm.dynamics import (
    EpisodeWindows,
    FingerWiseDynamics,
    FitConfig,
    JointWiseDynamics,
    WholeHandDynamics,
    fit_dynamics,
    open_loop_error,
    split_windows,
)
from dexndm.dynamics.synthetic import random_hand_params, simulate_hand, smooth_targets

MODELS = {"joint-wise": JointWiseDynamics, "finger-wise": FingerWiseDynamics, "whole-hand": WholeHandDynamics}


@dataclass
class Args:
    episodes: tuple[int, ...] = (5, 20, 80)
    """Numbers of 10 s training episodes (before the 9:1 split)."""
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 1500
    batch_size: int = 256
    hidden: tuple[int, ...] = (64, 64)
    synergies: int = 3
    """Latent signals mixed into the 16 training targets."""
    coupling: float = 0.05
    """Spring coupling between joints of a finger, relative to each joint's stiffness."""
    threads: int | None = None


def run(args: Args) -> dict[tuple[int, str], np.ndarray]:
    """``{(episodes, model): [in 1-step, in 10-step, shifted 1-step, shifted 10-step] per seed}``."""
    results: dict[tuple[int, str], list[list[float]]] = {}
    for seed in args.seeds:
        params = random_hand_params(seed, coupling=args.coupling)
        shifted_targets = smooth_targets(10_000 + seed, 20, 200)
        shifted = EpisodeWindows.from_arrays(simulate_hand(params, shifted_targets), shifted_targets, 10)
        for num_episodes in args.episodes:
            targets = smooth_targets(seed, num_episodes, 200, synergies=args.synergies, mixing_seed=seed)
            train, evaluation = split_windows(simulate_hand(params, targets), targets, 10, seed=seed)
            for name, cls in MODELS.items():
                torch.manual_seed(seed)
                model = cls(window=10, hidden=args.hidden)
                cfg = FitConfig(
                    steps=args.steps, batch_size=args.batch_size, lr=3e-3, eval_every=100, progress=False
                )
                fit_dynamics(model, train, evaluation, cfg)
                in_domain = open_loop_error(model, evaluation, 10)
                out = open_loop_error(model, shifted, 10)
                row = [in_domain.one_step, in_domain.final, out.one_step, out.final]
                results.setdefault((num_episodes, name), []).append([1e3 * v for v in row])
    return {k: np.array(v) for k, v in results.items()}


def main(args: Args) -> None:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    results = run(args)
    print(
        f"synthetic hand, coupling {args.coupling}, {args.synergies} synergies in training, hidden "
        f"{args.hidden}, {args.steps} steps x {args.batch_size}, seeds {args.seeds}; errors in mrad\n"
    )
    print(
        "| train episodes | model | in-domain 1-step | in-domain 10-step | shifted 1-step | shifted 10-step |"
    )
    print("|---|---|---|---|---|---|")
    for (num_episodes, name), values in results.items():
        mean, std = values.mean(0), values.std(0)
        cells = " | ".join(f"{m:.2f} ± {s:.2f}" for m, s in zip(mean, std, strict=True))
        print(f"| {num_episodes} | {name} | {cells} |")


if __name__ == "__main__":
    main(tyro.cli(Args))
