"""Training and inference speed of the dynamics models on this machine (CPU by default).

Training throughput is whole optimiser steps (gather a batch of windows from episode arrays,
forward, backward, Adam) in samples per second, for the joint-wise model batched over joints
(one ``baddbmm`` per layer), the same 16 MLPs evaluated in a Python loop over joints (how the
paper describes its slow joint-wise model), and the whole-hand model with the same hidden sizes
and batch. Inference is the joint-wise forward pass without gradients, and the 10-step rollout
with gradients to the targets that residual-policy training needs.

    .venv/bin/python benchmarks/dynamics_speed.py
    .venv/bin/python benchmarks/dynamics_speed.py --hidden 256 256 --batch-size 1024 --threads 2
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import tyro
from torch import nn

from dexndm.dynamics import EpisodeWindows, JointWiseDynamics, WholeHandDynamics
from dexndm.dynamics.layers import ACTIVATIONS
from dexndm.dynamics.models import DynamicsModel
from dexndm.dynamics.train import rollout_loss


@dataclass
class Args:
    hidden: tuple[int, ...] = (128, 128)
    """Hidden widths, the same for every model (per joint for the joint-wise model)."""
    joint_widths: tuple[int, ...] = (32, 16)
    """Also time joint-wise models with hidden (W, W) per joint for each W here. At equal widths the
    joint-wise model does 16 MLPs' work per sample (5x the whole-hand's multiply-adds at 128), so
    equal widths compare implementations, not models. The narrow rows show the width at which it
    matches the whole-hand rate; whether it still predicts as well is measured by
    benchmarks/ndm_data_efficiency.py --kinds joint joint@32 joint@16 whole (at 16 it does not)."""
    batch_size: int = 1024
    window: int = 10
    steps: int = 10
    """Timed training steps per model per round (after 3 warm-up steps)."""
    rounds: int = 3
    """Rounds over the models."""
    threads: int | None = None
    """torch.set_num_threads; None keeps torch's default."""
    device: str = "cpu"


class LoopedJointWise(JointWiseDynamics):
    """The joint-wise model as 16 separate ``nn.Sequential`` MLPs called in a Python loop."""

    def __init__(self, window: int, hidden: tuple[int, ...]) -> None:
        super().__init__(window=window, hidden=hidden)
        sizes = (2 * window, *hidden, 1)
        self.per_joint = nn.ModuleList()
        for _ in range(self.num_joints):
            layers: list[nn.Module] = []
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
                layers.append(nn.Linear(n_in, n_out))
                if i < len(sizes) - 2:
                    layers.append(ACTIVATIONS[self.config.activation]())
            self.per_joint.append(nn.Sequential(*layers))
        del self.net

    def _predict_normalized_delta(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([mlp(x[:, j]) for j, mlp in enumerate(self.per_joint)], dim=1)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _time(fn: Callable[[], object], repeats: int, device: str) -> float:
    """Median seconds per call over ``repeats`` calls, after 3 warm-up calls. The median, not the
    mean, because the CPU may be shared with other jobs."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _macs(model: DynamicsModel) -> int:
    """Multiply-adds of one forward pass per sample: the weights' element count (biases aside)."""
    return sum(p.numel() for name, p in model.named_parameters() if name.endswith("weight"))


def train_step(model: DynamicsModel, data: EpisodeWindows, args: Args) -> Callable[[], None]:
    """One whole training step: gather a batch, forward, backward, Adam."""
    model.to(args.device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        batch = data.gather(torch.randint(len(data), (args.batch_size,), generator=gen)).to(args.device)
        loss = rollout_loss(model, batch.q_hist, batch.a_seq, batch.q_future)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main(args: Args) -> None:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # Random-walk episodes: the speed does not depend on the values.
    joint_pos = torch.randn(200, 400, 16).cumsum(1) * 0.01
    data = EpisodeWindows.from_arrays(joint_pos, joint_pos + 0.01, window=args.window)

    models = {
        "joint-wise (batched)": JointWiseDynamics(args.window, args.hidden),
        "joint-wise (loop over joints)": LoopedJointWise(args.window, args.hidden),
        "whole-hand": WholeHandDynamics(args.window, args.hidden),
    }
    for width in args.joint_widths:
        models[f"joint-wise (batched), {width} per joint"] = JointWiseDynamics(args.window, (width, width))
        models[f"joint-wise (loop), {width} per joint"] = LoopedJointWise(args.window, (width, width))
    print(
        f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"hidden {args.hidden}, batch {args.batch_size}, window {args.window}\n"
    )
    # Rounds interleave the models so that load from other jobs hits them alike.
    steps = {name: train_step(model, data, args) for name, model in models.items()}
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, step in steps.items():
            seconds[name].append(_time(step, args.steps, args.device))
    print("| model | parameters | multiply-adds per sample | train samples/s (median step) | vs whole-hand |")
    print("|---|---|---|---|---|")
    whole_rate = args.batch_size / statistics.median(seconds["whole-hand"])
    for name, model in models.items():
        params = sum(p.numel() for p in model.parameters())
        rate = args.batch_size / statistics.median(seconds[name])
        print(f"| {name} | {params:,} | {_macs(model):,} | {rate:,.0f} | {rate / whole_rate:.2f} |")

    model = models["joint-wise (batched)"].eval()
    print("\n| joint-wise inference | batch | ms per call | samples/s |")
    print("|---|---|---|---|")
    for batch_size in (1, 256, 4096):
        batch = data.gather(torch.arange(batch_size)).to(args.device)
        with torch.no_grad():
            sec = _time(
                lambda b=batch: model(b.q_hist, b.a_hist), 50 if batch_size < 4096 else 15, args.device
            )
        print(f"| forward, no grad | {batch_size} | {1e3 * sec:.3f} | {batch_size / sec:,.0f} |")
    frozen = model.requires_grad_(False)
    rollout_data = data.with_horizon(10)
    batch = rollout_data.gather(torch.arange(256)).to(args.device)
    a_seq = batch.a_seq.clone().requires_grad_(True)

    def rollout_backward() -> None:
        frozen.rollout(batch.q_hist, a_seq).sum().backward()

    sec = _time(rollout_backward, 15, args.device)
    print(f"| 10-step rollout + grad to targets | 256 | {1e3 * sec:.3f} | {256 / sec:,.0f} |")


if __name__ == "__main__":
    main(tyro.cli(Args))
