"""``dexndm demo``: the neural sim-to-real loop, end to end, on the embedded default reality.

From a shipped base policy (the generalist), on SimulatedReality with the ``default`` profile::

    1. sim episodes   the base policy in the training sim (pre-training data, residual targets)
    2. collect        Chaos Box replay of the base's simulated actions on the "real" hand
    3. dynamics       joint-wise NDM: pre-train on (1), fine-tune on (2), best eval checkpoint
    4. residual       trained through the frozen NDM, exported with the base as one ONNX policy
    5. evaluate       base in sim (the target), base on reality (direct transfer), base +
                      residual on reality (DexNDM), same grasps; table, plot, side-by-side video

Every stage is one of the pipeline's own commands (``dexndm sim-episodes``, ``collect``, ``train
dynamics``, ``train residual``, ``eval``) with budgets sized for a 2-core CPU; each resumes, so a
rerun after a crash redoes only what is missing. The sizes are far below the paper's (4,000 real
episodes per wrist); the demo shows the loop working, ``docs/results.md`` holds the full runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import tyro

from dexndm.hand import constants as C

if TYPE_CHECKING:
    from dexndm.collect.config import CollectConfig
    from dexndm.residual.cli import TrainResidualCmd

DEFAULT_BASE = Path(__file__).resolve().parents[2] / "checkpoints" / "generalist" / "generalist.pt"
"""The shipped generalist (a source checkout; pass ``--base`` for any other policy file)."""
WRISTS_BASE = DEFAULT_BASE.parents[1] / "generalist_wrists" / "generalist.pt"
"""The shipped all-wrist generalist (six wrists about +z; docs/results.md section 6f)."""


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of each stage (defaults: the README's demo, under 15 minutes on 2 cores)."""

    base: str = str(DEFAULT_BASE)
    """The base policy: a proprioceptive checkpoint (the generalist's ``.pt``)."""
    reality: str = "default"
    """SimulatedReality profile: mild, default, harsh or a TOML file."""
    # --object / --wrist / --axis, as in ``dexndm eval``; the plural flags still work
    objects: Annotated[tuple[str, ...], tyro.conf.arg(aliases=("--object",))] = ("normal_cylinder",)
    """Objects: names, categories, shapes (``normal_cuboid/03``) or .obj/.stl meshes of closed
    solids; evaluated on the test split of shapes."""
    wrists: Annotated[tuple[str, ...], tyro.conf.arg(aliases=("--wrist",))] = ("palm_up",)
    """Wrist orientations: names (``palm_up``, ``all``) or quaternions ``w,x,y,z``."""
    axes: Annotated[tuple[str, ...], tyro.conf.arg(aliases=("--axis",))] = ("+z",)
    """Rotation axes: names (``+z``, ``principal``) or vectors ``x,y,z``."""
    episode_steps: int = 400
    """Control steps per episode in every stage (400 = 20 s)."""
    sim_episodes: int = 48
    real_episodes: int = 12
    """Chaos Box episodes per wrist orientation (the paper: 4,000)."""
    real_data: str | None = None
    """An existing Chaos Box store (``dexndm collect``) to fit on instead of collecting one: one
    collection can serve several runs (the Tables 4/5 benchmark's two tables share theirs)."""
    residual_data: str | None = None
    """Episodes to train the residual on instead of the sim stage's: the base's closed-loop
    episodes on the hand, with the observations it acted on (``benchmarks/task_data_store.py
    --observations``), scored against the sim-trained models (``dexndm train residual
    --score-against sim-model --current-against sim-model``). None: the sim's (the paper's)."""
    arch: Literal["joint", "finger", "whole"] = "joint"
    """Dynamics model the residual trains through: joint (DexNDM), finger or whole (the
    finger-wise and whole-hand baselines of the paper); use a separate ``--out`` per arch."""
    pretrain_steps: int = 3000
    finetune_steps: int = 1500
    finetune_horizon: int = 1
    """k of the k-step open-loop loss the dynamics model is fine-tuned on (``dexndm train dynamics
    --finetune-rollout-horizon``; pre-training keeps the one-step loss): 1 is the paper's; 5 lowers
    the 10-step error on real task episodes (docs/results.md 3d) but gave the residual no measured
    gain over three seeds (4b2); each step costs ~k times as much."""
    residual_steps: int = 1500
    residual_horizon: int = 10
    """K: steps of the rollout through the dynamics model in the residual's loss (``dexndm train
    residual --horizon``; the paper's 10). Each step costs about K times as much."""
    max_correction: float | None = None
    """The residual's largest correction per joint, rad (default: ``dexndm train residual``'s,
    0.012; section 4b of docs/results.md was measured with 0.05 before that became 0.012)."""
    drive_weight: float = 0.0
    """Above 0: fit a drive model of the hand's motor currents on the collected episodes and add
    the current-matching term to the residual's objective with this weight (``dexndm train
    residual --drive``; ours, not the paper's; docs/results.md section 4e). 0: the paper's."""
    on_policy_rounds: int = 0
    """After the residual: rounds of on-policy correction (ours, not the paper's; docs/results.md
    4n). Each round records ``--on-policy-episodes`` task episodes per wrist of base + the latest
    residual on the reality (training shapes, closed loop, with the observation its base read and
    the base's own targets), then trains a new residual on the states of every round so far
    (DAgger's aggregation), through the same models. The table gains a row for the residual
    trained on the sim's states. On a physical hand each such episode ends with someone putting
    the object back (the Chaos Box needs no one); here the reset is free. 0: the paper's loop."""
    on_policy_episodes: int = 64
    """Task episodes per wrist orientation in each on-policy round."""
    on_policy_refit: bool = False
    """Also refit the real hand's models in each on-policy round: the dynamics (and drive) model
    fine-tuned again from the sim-pretrained one on every round's task episodes, so the next
    residual trains through models that have seen the corrected hand (docs/results.md 4k-4n
    measured that loop by hand; 4o this flag). Off: every round trains through the Chaos Box models."""
    eval_episodes: int = 6
    """Episodes per (object, wrist, axis) cell and policy, on the test split of shapes."""
    video_steps: int = 200
    """Length of the side-by-side video (0: none)."""
    seed: int = 0
    grasp_candidates: int = 256
    """Grasp-cache candidates per object and wrist (``GraspConfig.candidates``; the cache is
    built on first use)."""
    grasp_cache_dir: str | None = None
    """Grasp cache directory (default: dexndm's user cache)."""
    threads: int = 2
    """Torch threads of the training stages (dynamics, drive, residual). 2 uses this box's two
    cores; give 1 when another job shares them: with two such jobs at two threads each, the
    residual stage ran seven to nine times slower per step than at one each (docs/results.md 4h)."""
    progress: bool = True


def _timed(stages: dict[str, float], name: str, fn: Any) -> Any:
    t0 = time.perf_counter()
    out = fn()
    stages[name] = time.perf_counter() - t0
    return out


def run_demo(cfg: DemoConfig, out: Path) -> dict[str, Any]:
    """Run the loop into ``out``; returns (and writes to ``out/summary.json``) the results."""
    from dexndm.collect.cli import CollectCmd
    from dexndm.dynamics.sim_episodes import SimEpisodeConfig, record_policy_episodes
    from dexndm.eval.cells import axis_labels, object_entries, wrist_labels
    from dexndm.eval.evaluate import evaluate
    from dexndm.eval.policies import load_policy
    from dexndm.reality.profile import load_profile
    from dexndm.sim.config import EnvConfig
    from dexndm.sim.grasp import GraspConfig

    # Every user input is checked before the first stage spends minutes on it: the profile, the
    # objects (a mesh must be a closed solid), the wrists and axes; group words ("all",
    # "principal", "general") become the cells they stand for, which every stage accepts.
    load_profile(cfg.reality)
    object_entries(cfg.objects, "test")
    if cfg.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {cfg.threads}")
    if cfg.on_policy_rounds < 0 or (cfg.on_policy_rounds > 0 and cfg.on_policy_episodes < 1):
        raise ValueError(
            f"--on-policy-rounds {cfg.on_policy_rounds} with --on-policy-episodes {cfg.on_policy_episodes}: "
            "give rounds >= 0 (0: none) and at least one episode per wrist"
        )
    if cfg.on_policy_rounds > 0:
        _task_segment(cfg)  # episodes long enough for a training window
    cfg = replace(cfg, wrists=tuple(wrist_labels(cfg.wrists)), axes=tuple(axis_labels(cfg.axes)))
    if not Path(cfg.base).exists():
        raise FileNotFoundError(
            f"no base policy at {cfg.base}: pass --base PATH (a generalist checkpoint from "
            "`dexndm train generalist`), or run from a source checkout that has checkpoints/generalist"
        )
    untrained = untrained_cells(cfg)
    if untrained:
        _warn_untrained(cfg.base, untrained)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.real_data is not None and not (Path(cfg.real_data) / "manifest.jsonl").is_file():
        raise FileNotFoundError(
            f"--real-data {cfg.real_data} is not a Chaos Box store (no manifest.jsonl): collect one "
            "with `dexndm collect --out DIR`, or leave --real-data out to collect here"
        )
    if cfg.residual_data is not None and not (Path(cfg.residual_data) / "manifest.jsonl").is_file():
        raise FileNotFoundError(
            f"--residual-data {cfg.residual_data} is not an episode store (no manifest.jsonl): record one "
            "with `benchmarks/task_data_store.py --observations --out DIR`, or leave it out (the sim's)"
        )
    stages: dict[str, float] = {}
    steps = cfg.episode_steps
    grasp = GraspConfig(candidates=cfg.grasp_candidates)
    env_cfg = EnvConfig(
        objects=cfg.objects, wrists=cfg.wrists, axes=cfg.axes, seed=cfg.seed, grasp=grasp,
        grasp_cache_dir=cfg.grasp_cache_dir,
    )  # fmt: skip
    sim_cfg = SimEpisodeConfig(
        episodes=cfg.sim_episodes, steps=steps, num_envs=min(16, cfg.sim_episodes), seed=cfg.seed
    )
    _timed(stages, "sim episodes", lambda: record_policy_episodes(
        cfg.base, env_cfg, out / "sim", sim_cfg, progress=cfg.progress
    ).close())  # fmt: skip
    real = out / "real" if cfg.real_data is None else Path(cfg.real_data)
    if cfg.real_data is None:
        _timed(stages, "collect", CollectCmd(
            hand="sim", reality=cfg.reality, out=real, progress=cfg.progress, config=chaos_config(cfg),
        ).run)  # fmt: skip
    deployed = fit_residual(cfg, out, out / "sim", real, stages)
    rounds = [deployed]
    for r in range(1, cfg.on_policy_rounds + 1):
        step = lambda r=r: on_policy_round(cfg, out, r, rounds[-1])  # noqa: E731
        rounds.append(_timed(stages, f"on-policy round {r}", step))
    deployed = rounds[-1]

    cells = {"objects": cfg.objects, "wrists": cfg.wrists, "axes": cfg.axes}
    common = {"episodes_per_cell": cfg.eval_episodes, "seed": cfg.seed, "episode_steps": steps}
    common.update(split="test", grasp=grasp, grasp_cache_dir=cfg.grasp_cache_dir)
    results = {}
    results["sim"] = _timed(stages, "eval sim", lambda: evaluate(
        load_policy(cfg.base), **cells, **common, num_envs=min(16, cfg.eval_episodes),
        out_dir=out / "eval" / "sim", progress=cfg.progress,
    ))  # fmt: skip
    rows = [("direct", cfg.base), ("dexndm", deployed)]
    if cfg.on_policy_rounds > 0:  # the residual the rounds started from, on the same grasps
        rows.insert(1, ("sim_states", rounds[0]))
    for name, policy in rows:
        results[name] = _timed(stages, f"eval {name}", lambda p=policy, n=name: evaluate_reality_cells(
            cfg, p, out / "eval" / n
        ))  # fmt: skip
    summary = _summary(cfg, results, stages, untrained)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    _plot(summary, out / "demo.png")
    if cfg.video_steps > 0:
        _timed(stages, "video", lambda: side_by_side_video(
            cfg, [load_policy(cfg.base), load_policy(deployed)], ["direct transfer", "base + residual"],
            out / "side_by_side.mp4",
        ))  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    _print(summary)
    return summary


def untrained_cells(cfg: DemoConfig) -> dict[str, list[str]]:
    """The wrists and axes of ``cfg`` (as labels) that the base's distillation rollouts never had,
    read from the checkpoint's provenance; empty when all were in it or it does not say."""
    from dexndm.eval.cells import axis_labels, wrist_labels
    from dexndm.policy.checkpoint import load_policy_checkpoint
    from dexndm.sim.wrists_axes import parse_axis, parse_wrist

    try:
        rollouts = load_policy_checkpoint(cfg.base).get("progress", {}).get("rollouts", [])
        trained_w = [
            parse_wrist(w) for w in wrist_labels([w for r in rollouts for w in r["rollout"]["wrists"]])
        ]
        trained_a = [parse_axis(a) for a in axis_labels([a for r in rollouts for a in r["rollout"]["axes"]])]
    except (ValueError, KeyError, TypeError):  # not a generalist with provenance: nothing to say
        return {}
    if not rollouts:
        return {}
    # compared as rotations and directions, so "0,0,2" is +z and -q the same wrist as q
    out = {
        "wrists": [w for w in wrist_labels(cfg.wrists)
                   if not any(abs(float(parse_wrist(w) @ q)) > 1 - 1e-6 for q in trained_w)],
        "axes": [a for a in axis_labels(cfg.axes)
                 if not any(float(parse_axis(a) @ v) > 1 - 1e-6 for v in trained_a)],
    }  # fmt: skip
    return {k: v for k, v in out.items() if v}


def _listed(untrained: dict[str, list[str]]) -> str:
    return "; ".join(f"{k} {', '.join(v)}" for k, v in untrained.items())


def _warn_untrained(base: str, untrained: dict[str, list[str]]) -> None:
    # Outside its training task the base tumbles the object out of the hand in sim too, and then
    # "Rot" and the ratio to direct transfer measure the tumble, not a rotation: say so up front.
    import sys

    hint = ""
    if "axes" not in untrained and WRISTS_BASE.exists() and Path(base).resolve() != WRISTS_BASE:
        hint = f"; --base {WRISTS_BASE} was trained at all six wrists about +z"
    print(
        f"warning: the base policy {base} was never trained at {_listed(untrained)}; there it may drop "
        f"the object in the training sim too, and the table then measures that rather than a rotation{hint}",
        file=sys.stderr,
    )


def residual_command(
    cfg: DemoConfig, out: Path, sim: Path | None = None, residual_out: Path | None = None
) -> TrainResidualCmd:
    """The ``dexndm train residual`` the demo runs in ``out`` (its models in ``out/ndm`` and
    ``out/drive``; trained on the base's sim episodes ``sim``, default ``out/sim``, or on
    ``cfg.residual_data``; written to ``residual_out``, default ``out/residual``); also how tools
    rescore a finished run's residual objective (``benchmarks/gain_oracle.py``)."""
    from dexndm.residual.cli import TrainResidualCmd

    options: dict[str, Any] = {} if cfg.max_correction is None else {"max_correction": cfg.max_correction}
    if cfg.drive_weight > 0:
        options.update(drive=out / "drive" / "drive.pt", drive_weight=cfg.drive_weight)
        if cfg.residual_data is not None:  # the real hand's currents are not the sim's
            options.update(current_against="sim-model")
    sim = out / "sim" if sim is None else sim
    residual_data = sim if cfg.residual_data is None else Path(cfg.residual_data)
    return TrainResidualCmd(
        dynamics=out / "ndm" / "dynamics.pt", sim_data=residual_data, out=residual_out or out / "residual",
        base=cfg.base,
        steps=cfg.residual_steps, horizon=cfg.residual_horizon, eval_every=max(cfg.residual_steps // 5, 1),
        seed=cfg.seed, threads=cfg.threads, progress=cfg.progress, **options,
    )  # fmt: skip


def fit_residual(cfg: DemoConfig, out: Path, sim: Path, real: Path, stages: dict[str, float]) -> Path:
    """Stages 3-4 into ``out``: the ``cfg.arch`` dynamics model (pre-trained on ``sim``, fine-tuned
    on the Chaos Box store ``real``), the drive model when ``cfg.drive_weight`` > 0, and the
    residual through them; returns the deployed base + residual policy."""
    fit_models(cfg, sim, real, out, stages)
    _timed(stages, "residual", residual_command(cfg, out, sim).run)
    return _deployed(out / "residual")


def _deployed(residual: Path) -> Path:
    """The policy ``dexndm train residual`` left in ``residual``: base + residual as one ONNX
    policy, or the residual checkpoint where the base could not be exported."""
    onnx = residual / "policy.onnx"
    return onnx if onnx.exists() else residual / "residual.pt"


def fit_models(
    cfg: DemoConfig, sim: Path, real: Path, out: Path, stages: dict[str, float] | None = None
) -> None:
    """The real hand's models into ``out/ndm`` (and ``out/drive`` when ``cfg.drive_weight`` > 0):
    pre-trained on ``sim`` (a stage already in ``out`` is resumed), fine-tuned on ``real``."""
    from dexndm.dynamics.cli import TrainDriveCmd, TrainDynamicsCmd

    stages = {} if stages is None else stages
    _timed(stages, "dynamics", TrainDynamicsCmd(
        arch=cfg.arch, sim_data=sim, real_data=real, out=out / "ndm",
        pretrain_steps=cfg.pretrain_steps, finetune_steps=cfg.finetune_steps,
        eval_every=max(cfg.finetune_steps // 5, 1), finetune_rollout_horizon=cfg.finetune_horizon,
        seed=cfg.seed, threads=cfg.threads, progress=cfg.progress,
    ).run)  # fmt: skip
    if cfg.drive_weight > 0:
        _timed(stages, "drive", TrainDriveCmd(
            sim_data=sim, real_data=real, out=out / "drive", seed=cfg.seed, threads=cfg.threads,
            pretrain_steps=cfg.pretrain_steps, finetune_steps=cfg.finetune_steps, progress=cfg.progress,
        ).run)  # fmt: skip


ON_POLICY_FIRST_EPISODE = 100_000
"""Round r's task episodes are indices r * this onwards: no grasp draw repeats across rounds."""


def on_policy_round(cfg: DemoConfig, out: Path, r: int, policy: Path) -> Path:
    """On-policy round ``r`` into ``out/on_policy/round{r}``: task episodes of ``policy`` (base +
    the latest residual) on the reality, then a residual trained on every round's states so far
    against the base's own targets; returns the deployed base + new residual."""
    from dexndm.collect.task import TaskRecording, record_task_store
    from dexndm.data.merge import merge_stores

    here = out / "on_policy" / f"round{r}"
    episodes, segment = cfg.on_policy_episodes * len(cfg.wrists), _task_segment(cfg)
    report = record_task_store(
        TaskRecording(
            reality=cfg.reality, policy=str(policy), objects=cfg.objects, wrists=cfg.wrists, axes=cfg.axes,
            episodes=episodes, episode_steps=cfg.episode_steps, segment=segment,
            grasp_candidates=cfg.grasp_candidates, grasp_cache_dir=cfg.grasp_cache_dir, seed=cfg.seed,
            observations=True, first_episode=r * ON_POLICY_FIRST_EPISODE,
        ),
        here / "episodes", command=f"dexndm demo (on-policy round {r})", progress=cfg.progress,
    )  # fmt: skip
    if report.pieces == 0:
        raise RuntimeError(
            f"on-policy round {r}: none of {episodes} task episodes lasted {segment} steps on "
            f"{cfg.reality}, so there are no states to train on; give more --on-policy-episodes"
        )
    rot = "" if np.isnan(report.mean_rot) else f"; mean Rot {report.mean_rot:.2f} rad over those stored now"
    print(f"on-policy round {r}: {report.pieces} pieces of task episodes{rot}")
    data = here / "episodes"
    if r > 1:  # DAgger: the states of every round so far
        data = here / "all_rounds"
        sources = [out / "on_policy" / f"round{k}" / "episodes" for k in range(1, r + 1)]
        merge_stores(data, sources, command=f"dexndm demo (on-policy round {r})")
    models = out
    if cfg.on_policy_refit:
        models = here
        refit_models(cfg, out, data, here)
    residual = here / "residual"
    residual_command(replace(cfg, residual_data=str(data)), models, out / "sim", residual).run()
    return _deployed(residual)


def refit_models(cfg: DemoConfig, out: Path, task_data: Path, here: Path) -> None:
    """The run's dynamics (and drive) model fine-tuned again on ``task_data`` into ``here/ndm``
    (``here/drive``), from the run's sim-pretrained stages, which are copied there so that the
    fine-tune starts from them and the residual's sim-trained references are the same models."""
    import shutil

    if not (here / "ndm" / "pretrain").exists():
        shutil.copytree(out / "ndm" / "pretrain", here / "ndm" / "pretrain")
    if cfg.drive_weight > 0 and not (here / "drive" / "pretrain.pt").exists():
        (here / "drive").mkdir(parents=True, exist_ok=True)
        shutil.copy2(out / "drive" / "pretrain.pt", here / "drive" / "pretrain.pt")
    fit_models(cfg, out / "sim", task_data, here)


def _task_segment(cfg: DemoConfig) -> int:
    """Stored piece length of on-policy task episodes: each piece must hold one of the residual's
    training windows (the model's 10-step history, the K-step rollout and its 10-step check, and
    the next state); 40 steps (two such windows) unless an episode is shorter."""
    need = 10 + max(cfg.residual_horizon, 10) + 1
    if cfg.episode_steps < need:
        raise ValueError(
            f"--episode-steps {cfg.episode_steps} is shorter than one residual training window "
            f"({need} steps): give longer episodes or leave --on-policy-rounds at 0"
        )
    return min(cfg.episode_steps, max(40, need))


def evaluate_reality_cells(cfg: DemoConfig, policy: str | Path, out_dir: Path, profile: Any = None) -> Any:
    """``policy`` on ``cfg.reality`` (or ``profile``, a RealityProfile) in every (object, wrist,
    axis) cell of ``cfg``, test shapes, with the grasps every row of a run shares (they are drawn
    from ``cfg.seed``)."""
    from dexndm.eval.policies import load_policy
    from dexndm.eval.reality_eval import evaluate_on_reality
    from dexndm.sim.grasp import GraspConfig

    return evaluate_on_reality(
        load_policy(policy), profile=cfg.reality if profile is None else profile, objects=cfg.objects,
        wrists=cfg.wrists, axes=cfg.axes,
        episodes_per_cell=cfg.eval_episodes, seed=cfg.seed, episode_steps=cfg.episode_steps, split="test",
        grasp=GraspConfig(candidates=cfg.grasp_candidates), grasp_cache_dir=cfg.grasp_cache_dir,
        out_dir=out_dir, progress=cfg.progress,
    )  # fmt: skip


def chaos_config(cfg: DemoConfig, wrists: tuple[str, ...] | None = None) -> CollectConfig:
    """The demo's Chaos Box collection: the base's simulated actions replayed under load,
    ``cfg.real_episodes`` per wrist orientation (``wrists``, default ``cfg.wrists``)."""
    from dexndm.collect.config import CollectConfig, ReplayConfig

    return CollectConfig(
        mode="chaos", source=cfg.base, episodes=cfg.real_episodes, wrist=wrists or cfg.wrists,
        steps=cfg.episode_steps, seed=cfg.seed, replay=ReplayConfig(
            objects=cfg.objects, grasp_candidates=cfg.grasp_candidates, grasp_cache_dir=cfg.grasp_cache_dir,
        ),
    )  # fmt: skip


def _summary(
    cfg: DemoConfig, results: dict[str, Any], stages: dict[str, float], untrained: dict[str, list[str]]
) -> dict[str, Any]:
    """Rot (rad) and TTF (s) per policy; gap closed = (dexndm - direct) / (sim - direct)."""
    from dexndm.eval.report import gap_closed, paired_difference, rot_ratio

    episode_s = cfg.episode_steps * C.CONTROL_DT
    rows = {}
    for name, res in results.items():
        o = res.overall
        rows[name] = {
            "rot": o["rot_mean"], "rot_std": o["rot_std"], "ttf_s": o["ttf_mean"] * episode_s,
            "ttf_s_std": o["ttf_std"] * episode_s, "omega_k": o["omega_k_mean"], "episodes": o["n"],
        }  # fmt: skip
    sim, direct, ours = rows["sim"]["rot"], rows["direct"]["rot"], rows["dexndm"]["rot"]
    # the reality rows share their grasps: differences episode by episode measure what the rows' spread hides
    pairs = [(n, "direct") for n in results if n not in ("sim", "direct")]
    pairs += [("dexndm", "sim_states")] if "sim_states" in results else []
    paired = {f"{a} - {b}": paired_difference(results[a].episodes, results[b].episodes) for a, b in pairs}
    return {
        "config": asdict(cfg),
        "base_untrained": untrained,
        "results": rows,
        "rot_ratio": rot_ratio(ours, direct),
        "gap_closed": gap_closed(ours, direct, sim),
        "paired_rot": paired,
        "by_wrist_axis": by_wrist_axis(results, episode_s),
        "stages_s": stages,
    }


def by_wrist_axis(results: dict[str, Any], episode_s: float) -> list[dict[str, Any]]:
    """Mean Rot (rad) and TTF (s) of each policy per (wrist, axis), test shapes pooled
    (``EvalResult.pooled``), in the order the cells were evaluated: where a run over several
    wrists or axes works and where not."""
    pooled = {name: res.pooled(("wrist", "axis")) for name, res in results.items()}
    out = []
    for cell in pooled["sim"]:
        row: dict[str, Any] = {"wrist": cell["wrist"], "axis": cell["axis"]}
        for name, cells in pooled.items():
            # every row was scored on the same cells; match them by label, not position
            c = next(c for c in cells if (c["wrist"], c["axis"]) == (row["wrist"], row["axis"]))
            row[name] = {"rot": c["rot_mean"], "ttf_s": c["ttf_mean"] * episode_s, "episodes": c["n"]}
        out.append(row)
    return out


def _print(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    cfg = summary["config"]
    table = Table(title=f"{', '.join(cfg['objects'])} (test shapes), {', '.join(cfg['wrists'])}, "
                  f"axis {', '.join(cfg['axes'])}; reality profile {cfg['reality']}")  # fmt: skip
    for col in ("policy", "Rot (rad)", "TTF (s)", "omega.k (rad/s)", "episodes"):
        table.add_column(col)
    rounds = cfg.get("on_policy_rounds", 0)
    labels = {
        "sim": "base in training sim", "direct": "base on reality (direct)",
        "sim_states": "base + residual (sim's states)",
        "dexndm": f"base + residual ({cfg.get('arch', 'joint')} NDM"
        + (f", {rounds} on-policy round{'s' if rounds > 1 else ''})" if rounds else ")"),
    }  # fmt: skip
    for name, r in summary["results"].items():
        table.add_row(
            labels[name], f"{r['rot']:.2f} ± {r['rot_std']:.2f}", f"{r['ttf_s']:.1f} ± {r['ttf_s_std']:.1f}",
            f"{r['omega_k']:.3f}", str(r["episodes"]),
        )  # fmt: skip
    console = Console()
    console.print(table)
    ratio, closed = summary["rot_ratio"], summary["gap_closed"]
    console.print(
        f"Rot base+residual / direct: {'n/a' if ratio is None else f'{ratio:.2f}x'}; gap closed: "
        f"{'n/a' if closed is None else f'{100 * closed:.0f}%'}"
    )
    for pair, d in summary.get("paired_rot", {}).items():
        if d is not None:
            a, b = (labels[n.strip()] for n in pair.split(" - "))
            console.print(f"paired, {a} minus {b}: {d['mean']:+.2f} ± {d['se']:.2f} rad (standard error, "
                          f"{d['n']} shared episodes)")  # fmt: skip
    console.print("stage wall times: " + ", ".join(f"{k} {v:.0f} s" for k, v in summary["stages_s"].items()))
    cells = summary.get("by_wrist_axis", [])
    if len(cells) > 1:
        from dexndm.eval.report import format_rot_ratio

        per_cell = Table(title="per wrist and axis: Rot (rad) / TTF (s)")
        for col in ("wrist", "axis", "sim", "direct", "base + residual", "/ direct"):
            per_cell.add_column(col)
        for c in cells:
            per_cell.add_row(
                c["wrist"], c["axis"],
                *(f"{c[k]['rot']:.2f} / {c[k]['ttf_s']:.1f}" for k in ("sim", "direct", "dexndm")),
                format_rot_ratio(c["dexndm"]["rot"], c["direct"]["rot"]),
            )  # fmt: skip
        console.print(per_cell)
    if summary.get("base_untrained"):
        console.print(f"[yellow]the base was never trained at {_listed(summary['base_untrained'])}: read "
                      "those cells with that in mind")  # fmt: skip


_COLOURS = {"sim": "#888888", "direct": "#d62728", "sim_states": "#ff7f0e", "dexndm": "#2ca02c"}


def _plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary["results"])
    res = summary["results"]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, key, label in ((axes[0], "rot", "Rot (rad)"), (axes[1], "ttf_s", "TTF (s)")):
        ax.bar(names, [res[n][key] for n in names], yerr=[res[n][f"{key}_std"] for n in names],
               color=[_COLOURS.get(n, "#1f77b4") for n in names], capsize=4)  # fmt: skip
        ax.set_ylabel(label)
    fig.suptitle(f"reality profile {summary['config']['reality']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def side_by_side_video(
    cfg: DemoConfig, policies: list[Any], labels: list[str], path: Path, width: int = 400, height: int = 300
) -> Path:
    """One episode per policy on SimulatedReality from the same grasp, rendered next to each other."""
    import imageio.v2 as imageio

    from dexndm.eval.cells import make_cells
    from dexndm.objects.registry import resolve_object
    from dexndm.sim.grasp import GraspConfig, cached_grasps
    from dexndm.sim.scene import PhysicsConfig
    from dexndm.sim.wrists_axes import parse_axis, parse_wrist

    cell = make_cells(cfg.objects, cfg.wrists, cfg.axes, "test")[0]
    obj = resolve_object(cell.object)
    wrist, axis = parse_wrist(cell.wrist), parse_axis(cell.axis)
    cache = None if cfg.grasp_cache_dir is None else Path(cfg.grasp_cache_dir)
    grasp = GraspConfig(candidates=cfg.grasp_candidates)
    grasps = cached_grasps(obj, wrist, grasp, PhysicsConfig(), cache_dir=cache, seed=cfg.seed)
    videos = [
        _reality_frames(
            cfg.reality, policy, obj, wrist, axis, grasps, cell, cfg.video_steps, cfg.seed, width, height
        )
        for policy in policies
    ]
    n = max(len(v) for v in videos)
    bands = [_label_band(label, width) for label in labels]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio.get_writer(path, fps=20, codec="libx264", quality=8, macro_block_size=1)
    try:
        for i in range(n):
            # a dropped object ends its episode: that side holds its last frame
            row = [v[min(i, len(v) - 1)].copy() for v in videos]
            for img, band in zip(row, bands, strict=True):
                img[: band.shape[0]] = band
            writer.append_data(np.concatenate(row, axis=1))
    finally:
        writer.close()
    return path


def _reality_frames(
    profile: str, policy: Any, obj: Any, wrist: np.ndarray, axis: np.ndarray, grasps: Any, cell: Any,
    steps: int, seed: int, width: int, height: int,
) -> list[np.ndarray]:  # fmt: skip
    """Frames of one SimulatedReality episode from grasp 0 (the reset, then one per control step)."""
    from dexndm.eval.reality_eval import run_reality_episode
    from dexndm.reality.simulated import SimulatedReality
    from dexndm.sim.render import FreeCamera, _renderer

    frames: list[np.ndarray] = []
    with SimulatedReality(profile, wrist=wrist, obj=obj, seed=seed) as hand:
        renderer = _renderer(hand.model, width, height, None)
        cam = FreeCamera(lookat=tuple(hand.wrist_pos)).mjv_camera()

        def grab(h: SimulatedReality) -> None:
            renderer.update_scene(h.data, camera=cam)
            frames.append(renderer.render().copy())

        try:
            run_reality_episode(policy, hand, grasps, 0, axis, cell=cell, episode_steps=steps, on_step=grab)
        finally:
            renderer.close()
    return frames


def _label_band(text: str, width: int, height: int = 24) -> np.ndarray:
    """A ``(height, width, 3)`` black band with ``text``, drawn with matplotlib (no extra dependency)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    fig.patch.set_facecolor("black")
    fig.text(0.02, 0.5, text, color="white", va="center", fontsize=11)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:height, :width, :3].copy()
