"""``dexndm train dynamics`` as a function: pre-train on sim episodes, fine-tune on real ones.

The paper's recipe (method.md, stage 4): pre-train the model on simulated episodes, fine-tune it on
the real ones with a 9:1 episode split, keep the checkpoint with the best eval error. Each stage
is one :func:`~dexndm.dynamics.train.fit_dynamics` call with its own log dir, so each resumes on
its own; the fine-tune starts from the pre-train's best weights and keeps its normalisation
statistics. Layout of ``out``::

    pretrain/   best.pt, checkpoints/last.pt, tb/     (when sim data is given)
    finetune/   best.pt, checkpoints/last.pt, tb/     (when real data is given)
    dynamics.pt (+ .json)                             the final model: what later stages load
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dexndm.data.artifacts import provenance, sha256_path
from dexndm.dynamics.checkpoint import CheckpointMismatchError, load_dynamics, save_dynamics
from dexndm.dynamics.datasets import load_episode_arrays
from dexndm.dynamics.metrics import OpenLoopError, open_loop_error
from dexndm.dynamics.models import DynamicsConfig, DynamicsModel, ModelKind, build_dynamics
from dexndm.dynamics.train import FitConfig, FitResult, fit_dynamics
from dexndm.dynamics.windows import EpisodeWindows, split_windows


@dataclass(frozen=True)
class DynamicsTrainingConfig:
    """The model and the two fits of :func:`train_dynamics`."""

    arch: ModelKind = "joint"
    """Joint-wise (DexNDM), finger-wise or whole-hand."""
    window: int = 10
    """History W in control steps."""
    hidden: tuple[int, ...] = (128, 128)
    """Hidden widths of each MLP (see :class:`~dexndm.dynamics.models.DynamicsConfig`)."""
    pretrain: FitConfig = field(default_factory=lambda: FitConfig(steps=20_000, lr=1e-3))
    """The fit on simulated episodes (its ``log_dir`` is set to ``out/pretrain``)."""
    finetune: FitConfig = field(default_factory=lambda: FitConfig(steps=10_000, lr=3e-4))
    """The fit on real episodes, from the pre-trained weights (``log_dir``: ``out/finetune``)."""
    eval_fraction: float = 0.1
    """Held-out share of episodes of each dataset (the paper: 9:1)."""
    split_seed: int = 0
    """Seed of the episode split."""
    report_horizon: int = 10
    """k of the k-step open-loop error reported at the end (beside the one-step error)."""

    def model_config(self) -> DynamicsConfig:
        return DynamicsConfig(kind=self.arch, window=self.window, hidden=tuple(self.hidden))


def worse_than_hold(errors: dict[str, OpenLoopError]) -> list[str]:
    """A warning for each eval set the model predicts ``k`` steps ahead worse than "nothing moves".

    The residual is trained through 10-step rollouts of the model: where those are worse than
    assuming the joints stay put, the residual corrects the model's error, not the hand's (most
    of the models behind the residuals that gave no gain in docs/results.md 6g were so).
    """
    lines = []
    for name, err in errors.items():
        if err.final > err.hold_final:
            lines.append(
                f"warning: the model predicts its held-out {name} episodes {err.horizon} steps ahead worse "
                f"than 'nothing moves' ({1e3 * err.final:.2f} against {1e3 * err.hold_final:.2f} mrad): "
                "a residual trained through it learns the model's error rather than the hand's. More "
                "episodes, more fine-tune steps or a multi-step fine-tune loss "
                "(--finetune-rollout-horizon 5) may help; `dexndm data verify` checks the store"
            )
    return lines


@dataclass
class DynamicsTrainingResult:
    """What :func:`train_dynamics` did; ``model`` holds the final (best fine-tuned) weights."""

    model: DynamicsModel
    path: Path
    fits: dict[str, FitResult] = field(default_factory=dict)
    """``"pretrain"`` / ``"finetune"`` -> the fit's result."""
    errors: dict[str, OpenLoopError] = field(default_factory=dict)
    """``"sim"`` / ``"real"`` -> the final model's open-loop error on that dataset's eval episodes."""


def _split(root: Path, cfg: DynamicsTrainingConfig, horizon: int) -> tuple[EpisodeWindows, EpisodeWindows]:
    arrays = load_episode_arrays(root, min_steps=cfg.window + max(horizon, cfg.report_horizon) + 1)
    if arrays["joint_pos"].shape[0] < 2:
        raise ValueError(
            f"{root} holds {arrays['joint_pos'].shape[0]} usable episode(s); the train/eval split needs "
            "at least 2 (collect more episodes)"
        )
    return split_windows(
        arrays["joint_pos"], arrays["joint_targets"], cfg.window, 1, cfg.eval_fraction, cfg.split_seed
    )


def kept_pretrained(result: DynamicsTrainingResult) -> list[str]:
    """A note when the fine-tune never beat its starting point on the held-out real episodes.

    The best-eval checkpoint is then the sim-pretrained model itself (step 0): it predicts the real
    hand as the sim behaves, so a residual trained against the sim-pretrained reference has no
    modelled gap to close and stays near zero.
    """
    fit = result.fits.get("finetune")
    if fit is None or "pretrain" not in result.fits or fit.best_step != 0:
        return []
    return [
        "note: fine-tuning never lowered the held-out real episodes' error below the sim-pretrained "
        "model's, so the saved model is the sim-pretrained one (best step 0): it predicts no "
        "sim-to-real gap, and a residual trained through it will stay near zero. More Chaos Box "
        "episodes or fine-tune steps may change that"
    ]


def _initial_model(cfg: DynamicsTrainingConfig, init: Path | None) -> DynamicsModel:
    wanted = cfg.model_config()
    if init is None:
        return build_dynamics(wanted)
    try:
        return load_dynamics(init, expected_config=wanted)
    except CheckpointMismatchError as e:
        raise CheckpointMismatchError(
            f"{e}. Pass the matching --arch/--window/--hidden, or drop --init to train from scratch"
        ) from None


def _fit(
    stage: str,
    model: DynamicsModel,
    data: tuple[EpisodeWindows, EpisodeWindows],
    fit_cfg: FitConfig,
    out: Path,
    extra: dict[str, Any],
) -> FitResult:
    fit_cfg = FitConfig(**{**asdict(fit_cfg), "log_dir": str(out / stage)})
    try:
        return fit_dynamics(model, data[0], data[1], fit_cfg, extra={"stage": stage, **extra})
    except CheckpointMismatchError as e:
        raise CheckpointMismatchError(
            f"{e}\n(the {stage} stage in {out} was started with other settings or data; use another --out, "
            "or --no-resume to start that stage over)"
        ) from None


def train_dynamics(
    out: Path | str,
    sim_data: Path | str | None = None,
    real_data: Path | str | None = None,
    cfg: DynamicsTrainingConfig = DynamicsTrainingConfig(),  # noqa: B008 - frozen dataclass
    *,
    init: Path | str | None = None,
    command: str | Sequence[str] | None = None,
) -> DynamicsTrainingResult:
    """Pre-train on ``sim_data`` and/or fine-tune on ``real_data`` (episode store directories).

    Args:
        out: output directory (see the module docstring); a rerun resumes each stage.
        sim_data, real_data: episode stores with ``joint_pos`` and ``joint_targets``; at least one.
        cfg: model and fit settings.
        init: start from this dynamics checkpoint (its config must equal ``cfg``'s model).
        command: recorded in the checkpoint's provenance (default ``sys.argv``).
    Raises:
        CheckpointMismatchError: ``init`` or a stage's resume checkpoint holds another model or run.
        ValueError, StoreError: missing or unusable data.
    """
    if sim_data is None and real_data is None:
        raise ValueError("train dynamics needs --sim-data and/or --real-data (episode store directories)")
    out = Path(out)
    sim_root = None if sim_data is None else Path(sim_data)
    real_root = None if real_data is None else Path(real_data)
    inputs = {name: p for name, p in (("sim_data", sim_root), ("real_data", real_root), ("init", init)) if p}
    hashes = {
        name: {"path": str(Path(p).resolve()), "sha256": sha256_path(Path(p))} for name, p in inputs.items()
    }
    model = _initial_model(cfg, None if init is None else Path(init))
    result = DynamicsTrainingResult(model, out / "dynamics.pt")
    splits: dict[str, tuple[EpisodeWindows, EpisodeWindows]] = {}
    if sim_root is not None:
        splits["sim"] = _split(sim_root, cfg, cfg.pretrain.rollout_horizon)
        result.fits["pretrain"] = _fit("pretrain", model, splits["sim"], cfg.pretrain, out, {"data": hashes})
    if real_root is not None:
        splits["real"] = _split(real_root, cfg, cfg.finetune.rollout_horizon)
        extra = {"data": hashes}
        if "pretrain" in result.fits:
            extra["pretrained_from"] = str(out / "pretrain" / "best.pt")
        result.fits["finetune"] = _fit("finetune", model, splits["real"], cfg.finetune, out, extra)
    for name, (_, evaluation) in splits.items():
        result.errors[name] = open_loop_error(model, evaluation, cfg.report_horizon)
    final_stage = "finetune" if "finetune" in result.fits else "pretrain"
    save_dynamics(
        result.path,
        model,
        {
            "stage": final_stage,
            "best_step": result.fits[final_stage].best_step,
            "eval_error_rad": {
                name: {
                    "one_step": err.one_step,
                    f"{err.horizon}_step": err.final,
                    "hold_one_step": err.hold_one_step,
                    f"hold_{err.horizon}_step": err.hold_final,
                }
                for name, err in result.errors.items()
            },  # fmt: skip
            "training": {
                "arch": cfg.arch,
                "window": cfg.window,
                "hidden": list(cfg.hidden),
                "pretrain": asdict(cfg.pretrain),
                "finetune": asdict(cfg.finetune),
                "eval_fraction": cfg.eval_fraction,
                "split_seed": cfg.split_seed,
            },  # fmt: skip
            "inputs": hashes,
            "provenance": provenance(command if command is not None else sys.argv, {}),
        },
    )
    return result
