"""``dexndm train specialist`` and ``dexndm train generalist``."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from dexndm.policy.config import SpecialistConfig
from dexndm.policy.generalist import BCConfig, RolloutConfig


@dataclass
class TrainSpecialistCmd:
    """Train (or resume) a PPO specialist for one object category with privileged observations.

    Rerunning the same command resumes from ``<out>/latest.pt`` (also after ``kill -9``).
    """

    spec: Annotated[SpecialistConfig, tyro.conf.arg(name="")] = field(default_factory=SpecialistConfig)
    out: Path | None = None
    """Run directory (default ``runs/specialist/<category>``)."""
    config_file: Path | None = None
    """A JSON SpecialistConfig (e.g. a run's config.json, curriculum included); replaces the options."""
    sysid: Path | None = None
    """A hand identified from real data (``dexndm sysid``): the training sim's hand becomes the
    fitted one and the action latency is drawn within one substep of the fitted latency (the
    system-identification baseline: fine-tune with ``--init-from``, then distill)."""

    def run(self) -> int:
        from dexndm.policy.specialist import train_specialist

        cfg = self.spec
        if self.config_file is not None:
            try:
                cfg = SpecialistConfig.from_dict(json.loads(Path(self.config_file).read_text()))
            except (KeyError, TypeError, json.JSONDecodeError) as e:
                raise ValueError(f"{self.config_file} is not a valid SpecialistConfig JSON: {e}") from e
        if self.sysid is not None:
            from dexndm.sysid import IdentifiedHand

            ident = IdentifiedHand.load(self.sysid)
            lat = ident.latency_substeps
            cfg = dataclasses.replace(cfg, hand=ident.hand, latency_substeps=(max(0, lat - 1), lat + 1))
        out = self.out or Path("runs/specialist") / cfg.category.replace("/", "_")
        res = train_specialist(cfg, out)
        print(
            f"specialist {cfg.category}: {res.iterations} iterations, {res.env_steps} env steps, "
            f"{res.wall_s / 60:.1f} min; checkpoint {res.out_dir / 'latest.pt'}"
        )
        return 0


@dataclass
class TrainGeneralistCmd:
    """Distill specialists into one proprioceptive generalist (BC on their surviving episodes).

    Rollout files already in ``--out`` for the same specialist are reused, so a rerun after a
    crash only redoes what is missing. Writes ``generalist.pt``, ``generalist.onnx`` (+ sidecars).
    """

    specialists: tuple[Path, ...]
    """Specialist checkpoints (``runs/specialist/<category>/latest.pt``)."""
    out: Path = Path("runs/generalist")
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    bc: BCConfig = field(default_factory=BCConfig)

    def run(self) -> int:
        import time

        from dexndm.policy.export import export_onnx
        from dexndm.policy.generalist import load_bc_data, rollout_specialist, save_generalist, train_bc

        t0 = time.perf_counter()
        files, stats = [], []
        for ckpt in self.specialists:
            files_and_stats = _reuse_rollout(ckpt, self.out, self.rollout)
            if files_and_stats is None:
                files_and_stats = rollout_specialist(ckpt, self.rollout, self.out)
            files.append(files_and_stats[0])
            stats.append(files_and_stats[1])
            print(f"{ckpt}: kept {stats[-1]['episodes_kept']} of {stats[-1]['episodes_finished']} episodes")
        obs, act, ep = load_bc_data(files)
        res = train_bc(obs, act, ep, self.bc)
        prov = {
            "specialists": [str(p) for p in self.specialists], "rollouts": stats, "bc": self.bc,
            "train_mse": res.train_loss[-1], "val_mse": min(res.val_loss), "steps": int(len(obs)),
            "wall_s": time.perf_counter() - t0,
        }  # fmt: skip
        history = (obs.shape[1] - 7) // 32
        ckpt_path = save_generalist(self.out / "generalist.pt", res.model, history, prov)
        onnx_path = export_onnx(res.model, obs.shape[1], history, self.out / "generalist.onnx")
        print(f"generalist: val mse {min(res.val_loss):.4f} on {len(obs)} steps -> {ckpt_path}, {onnx_path}")
        return 0


def _reuse_rollout(ckpt: Path, out: Path, cfg: RolloutConfig) -> tuple[Path, dict] | None:
    """A rollout file in ``out`` made from the same specialist file with the same settings."""
    from dataclasses import asdict

    from dexndm.data.artifacts import to_json_value

    for side in out.glob("bc_*.npz.json"):
        meta = json.loads(side.read_text())
        if meta.get("specialist") == str(ckpt) and meta.get("rollout") == to_json_value(asdict(cfg)):
            npz = side.with_name(side.name[: -len(".json")])
            if npz.exists():
                return npz, meta
    return None
