"""The policy-fine-tune baselines of issue 5 against direct transfer, on one reality, over seeds.

Each baseline is a deployable policy (a distilled generalist ``.pt`` or an exported ``.onnx``)
made by one of the baseline recipes of docs/results.md section 6: system identification
(``dexndm sysid``, then ``train specialist --sysid``, then ``train generalist``), or a learned
actuation model in the training sim's loop (``dexndm train delta-action --structure joint|whole``,
then ``train specialist --delta-action``, then ``train generalist``). Every policy, and the base
alone, is scored with ``dexndm eval`` on the grasps of each ``--seeds`` seed (test normal cylinders,
palm up, +z), the evaluation every DexNDM row of sections 4b-4e had, so the rows compare.

    .venv/bin/python benchmarks/policy_baselines.py --reality benchmarks/profiles/soft.toml \\
        --policies sysid=runs/sysid_soft/generalist/generalist.pt --sim-rot 1.27 --out out/s13/baselines

A rerun with the same ``--out`` reuses every finished evaluation (each policy's evaluations are
kept beside its file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro

# the sibling script: running a benchmark puts benchmarks/ on sys.path
from residual_controls import score_table


@dataclass
class Args:
    policies: tuple[str, ...]
    """``LABEL=PATH`` pairs: the baseline policies to score."""
    reality: str = "default"
    base: str = "checkpoints/generalist/generalist.pt"
    """The base policy whose direct transfer every row is compared with."""
    seeds: tuple[int, ...] = (0, 1, 2)
    episodes: int = 10
    """Evaluation episodes per test shape (normal cylinders, palm up, +z)."""
    sim_rot: float | None = None
    """The base's Rot in the training sim on the same grasps, for the "gap closed" column."""
    out: Path = Path("out/policy_baselines")


def split_label_path(pair: str) -> tuple[str, str]:
    """One ``--policies`` entry, ``LABEL=PATH``, split at its first ``=``."""
    label, sep, path = pair.partition("=")
    if not sep or not label or not path:
        raise ValueError(f"--policies takes LABEL=PATH pairs, got {pair!r}")
    return label, path


def parse_policies(pairs: tuple[str, ...]) -> list[tuple[str, Path]]:
    """``LABEL=PATH`` strings to (label, path), checking that every file exists."""
    parsed = []
    for pair in pairs:
        label, path = split_label_path(pair)
        if not Path(path).is_file():
            raise FileNotFoundError(f"{label}: no policy file at {path}")
        parsed.append((label, Path(path)))
    return parsed


def main(args: Args) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    policies = parse_policies(args.policies)
    score_table(args.reality, args.base, args.episodes, args.seeds, args.out, policies, sim_rot=args.sim_rot)


if __name__ == "__main__":
    main(tyro.cli(Args))
