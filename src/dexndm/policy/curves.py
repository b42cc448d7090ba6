"""Training curves of specialist runs (return, RotR, TTF against env steps) as a PNG.

python -m dexndm.policy.curves runs/specialist/normal_cylinder --out docs/curves.png

A run warm-started from another (``--init-from``) is drawn from the env steps its source
checkpoint had reached, following the chain of ``config.json`` ``init_from`` entries, so the
phases of one policy's training line up on one axis.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def read_metrics(run_dir: Path) -> dict[str, np.ndarray]:
    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: is {run_dir} a specialist run directory?")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} has no iterations yet")
    return {k: np.array([float(r[k]) if r[k] not in ("", "nan") else np.nan for r in rows]) for k in rows[0]}


def start_offset(run_dir: Path, _depth: int = 0) -> float:
    """Env steps behind a run: those of the checkpoint it was warm-started from, recursively."""
    import json

    cfg_path = Path(run_dir) / "config.json"
    if _depth > 16 or not cfg_path.exists():
        return 0.0
    init = json.loads(cfg_path.read_text()).get("init_from")
    if not init or not Path(init).exists():
        return 0.0
    from dexndm.policy.checkpoint import load_policy_checkpoint

    steps = float(load_policy_checkpoint(Path(init), kind="specialist")["progress"]["env_steps"])
    return steps + start_offset(Path(init).parent, _depth + 1)


def _smooth(y: np.ndarray, k: int) -> np.ndarray:
    """Moving average that skips NaN (iterations where no episode ended)."""
    ok = np.isfinite(y)
    num = np.convolve(np.where(ok, y, 0.0), np.ones(k), "same")
    den = np.convolve(ok.astype(float), np.ones(k), "same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def plot_runs(run_dirs: list[Path], out: Path, smooth: int = 20) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("mean_step_reward", "mean reward per step"),
        ("rot_r", "episode RotR (rad)"),
        ("ttf", "episode TTF"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for run in run_dirs:
        m = read_metrics(run)
        x = (m["env_steps"] + start_offset(run)) / 1e6
        for ax, (key, title) in zip(axes, panels, strict=True):
            ax.plot(x, _smooth(m[key], smooth), label=Path(run).name)
            ax.set_title(title)
            ax.set_xlabel("env steps (millions)")
        # curriculum stage changes as vertical lines on the first panel
        stages = m["stage"]
        for i in np.flatnonzero(np.diff(stages) != 0):
            for ax in axes:
                ax.axvline(x[i + 1], color="grey", lw=0.6, ls="--")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=Path("docs/training_curves.png"))
    p.add_argument("--smooth", type=int, default=20)
    a = p.parse_args(argv)
    print(plot_runs(a.runs, a.out, a.smooth))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
