"""Base + residual inference time per control step on one CPU core (issue 5: at most 1 ms).

One control step of a deployed policy is one observation in, one target vector out (batch 1).
Timed: the exported ONNX graph (:mod:`dexndm.residual.export`) in onnxruntime with one thread,
the same module in torch with one thread, and the whole ``act`` of the runner that drives it in
``dexndm eval`` (:class:`dexndm.residual.deploy.TargetChainPolicy`, numpy bookkeeping included).
The base is the generalist's network (``dexndm.policy.networks.ResidualMLP``) at the project's
width and at the paper's (1024).

    .venv/bin/python benchmarks/residual_speed.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import tyro

from dexndm.policy.networks import ResidualMLP, ResidualMLPConfig
from dexndm.residual.deploy import onnx_policy
from dexndm.residual.export import BasePlusResidual, export_onnx
from dexndm.residual.model import ResidualConfig, ResidualPolicyNet


@dataclass
class Args:
    base_widths: tuple[int, ...] = (256, 1024)
    """Generalist widths (5 residual blocks each): the project's default and the paper's."""
    residual_hidden: tuple[int, ...] = (256, 256)
    calls: int = 2000
    """Timed calls per path and round."""
    rounds: int = 5


def _median_us(fn: Callable[[], object], calls: int, rounds: int) -> tuple[float, float]:
    """(median over rounds of the mean time per call, 99th percentile of single calls), microseconds."""
    for _ in range(200):
        fn()
    means, singles = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            t0 = time.perf_counter()
            fn()
            singles.append(time.perf_counter() - t0)
        means.append((time.perf_counter() - start) / calls)
    return 1e6 * statistics.median(means), 1e6 * float(np.percentile(singles, 99))


def main(args: Args) -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    proprio = (0.6 + 0.2 * rng.normal(size=(1, 327))).astype(np.float32)
    proprio[0, -7:] = [1, 0, 0, 0, 0, 0, 1]
    prev = proprio[:, 9 * 32 + 16 : 9 * 32 + 32].copy()
    print(f"torch {torch.__version__}, 1 thread; batch 1; residual {args.residual_hidden}\n")
    print("| base width | path | mean per step (µs) | p99 (µs) |")
    print("|---|---|---|---|")
    for width in args.base_widths:
        torch.manual_seed(0)
        base = ResidualMLP(ResidualMLPConfig(width=width, blocks=5)).eval()
        residual = ResidualPolicyNet(ResidualConfig(hidden=args.residual_hidden)).eval()
        torch.nn.init.normal_(residual.head.weight, std=0.01)
        module = BasePlusResidual(base, residual).eval()
        with tempfile.TemporaryDirectory() as tmp:
            path, _ = export_onnx(module, Path(tmp) / "policy.onnx", 10)
            runner = onnx_policy(path, threads=1)
            options = ort.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1
            raw = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            feed = {"proprio": proprio, "prev_joint_targets": prev}
            obs = {"proprio": proprio}
            runner.reset(np.arange(1))
            tp, tq = torch.as_tensor(proprio), torch.as_tensor(prev)

            def torch_step(tp=tp, tq=tq, module=module) -> None:
                with torch.no_grad():
                    module(tp, tq)

            paths = {
                "onnxruntime, graph only": lambda raw=raw, feed=feed: raw.run(None, feed),
                "onnxruntime, TargetChainPolicy.act": lambda runner=runner, obs=obs: runner.act(obs),
                "torch, module only": torch_step,
            }
            for name, fn in paths.items():
                mean, p99 = _median_us(fn, args.calls, args.rounds)
                print(f"| {width} | {name} | {mean:.0f} | {p99:.0f} |", flush=True)


if __name__ == "__main__":
    main(tyro.cli(Args))
