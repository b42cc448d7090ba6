"""``dexndm``: one verb per pipeline stage.

Examples::

    dexndm demo                                   # the main job on the embedded default
    dexndm grasps --object cube --wrist all       # build the grasp cache, report survivors
    dexndm eval --policy hold random --wrist all --axis principal --episodes 10
    dexndm render --object cube --wrist palm_up --out out/cube_palm_up.mp4
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

from dexndm.demo import DemoConfig
from dexndm.sim.wrists_axes import PRINCIPAL_AXES, WRISTS
from dexndm.sysid import SysIdConfig as SysIdConfigArg


def _expand(names: tuple[str, ...], table: dict | tuple, all_word: str) -> list[str]:
    out: list[str] = []
    for n in names:
        out.extend(list(table) if n == all_word else [n])
    return out


@dataclass
class GraspsCmd:
    """Build the grasp cache for objects x wrist orientations and report how many candidates survive."""

    object: tuple[str, ...] = ("cube",)
    """Object names, categories or mesh paths."""
    wrist: tuple[str, ...] = ("all",)
    """Wrist orientation names, 'all', or quaternions 'w,x,y,z'."""
    candidates: int = 256
    cache_dir: Path | None = None
    seed: int = 0

    def run(self) -> int:
        from rich.console import Console
        from rich.table import Table

        from dexndm.sim.env import expand_objects
        from dexndm.sim.grasp import GraspConfig, cached_grasps
        from dexndm.sim.scene import PhysicsConfig
        from dexndm.sim.wrists_axes import parse_wrist

        table = Table(title="grasp cache")
        for col in ("object", "wrist", "stable", "tried", "survival"):
            table.add_column(col)
        cfg = GraspConfig(candidates=self.candidates)
        for obj in expand_objects(self.object, "train"):
            for w in _expand(self.wrist, WRISTS, "all"):
                gs = cached_grasps(obj, parse_wrist(w), cfg, PhysicsConfig(), self.cache_dir, self.seed)
                table.add_row(obj.name, w, str(len(gs)), str(gs.tried), f"{len(gs) / max(gs.tried, 1):.0%}")
        Console().print(table)
        return 0


def _policy_dirs(specs: tuple[str, ...]) -> list[str]:
    """One output folder name per policy: the file's stem, or ``<folder>_<stem>`` where two
    policies share a stem (two runs' ``latest.pt``), so that neither overwrites the other."""
    stems = [Path(s).stem for s in specs]
    pairs = zip(specs, stems, strict=True)
    names = [f"{Path(s).parent.name}_{t}" if stems.count(t) > 1 else t for s, t in pairs]
    if len(set(names)) < len(names):
        names = [f"{i}_{n}" for i, n in enumerate(names)]
    return names


@dataclass
class EvalCmd:
    """Run policies over objects x wrist orientations x axes; print a table, write CSV/JSON."""

    policy: tuple[str, ...] = ("hold", "random")
    """'hold', 'random' or checkpoint paths."""
    object: tuple[str, ...] = ("cube",)
    wrist: tuple[str, ...] = ("all",)
    axis: tuple[str, ...] = ("principal",)
    """Axis names ('+z', 'xyz'), 'principal' (+-x, +-y, +-z) or vectors 'x,y,z'."""
    episodes: int = 10
    """Episodes per cell."""
    num_envs: int = 16
    seed: int = 0
    randomize: bool = False
    """Evaluate under the training domain randomization instead of nominal physics."""
    split: str = "train"
    """Which shapes a category name expands to: 'train' or 'test' (the held-out shapes scores use)."""
    reality: str | None = None
    """Evaluate on SimulatedReality with this gap profile ('mild', 'default', 'harsh' or a .toml
    file) instead of the training sim; episodes run one at a time (num_envs, randomize unused)."""
    start: Literal["grasp", "open", "open-scripted"] = "grasp"
    """'grasp': episodes start from a cached grasp; 'open': from an open hand, the operator holding
    the object until the policy has closed it (teleoperation's start); 'open-scripted': from an
    open hand that a scripted teacher closes (for specialists, which never learned to grasp)."""
    by: tuple[str, ...] = ()
    """Also pool the episodes by these labels ('object', 'category', 'wrist', 'axis'): '--by wrist
    axis' gives one row per wrist and axis over all objects (issue tables' cells), printed and
    written to summary_by_wrist_axis.csv."""
    out: Path = Path("out/eval")

    def run(self) -> int:
        from rich.console import Console

        from dexndm.eval.evaluate import CELL_LABELS, evaluate
        from dexndm.eval.policies import load_policy
        from dexndm.eval.report import pooled_table, write_pooled
        from dexndm.sim.config import RandomizationConfig

        unknown = [k for k in self.by if k not in CELL_LABELS]
        if unknown:
            raise SystemExit(f"dexndm eval: --by takes {', '.join(CELL_LABELS)}; got {', '.join(unknown)}")

        axes = _expand(self.axis, PRINCIPAL_AXES, "principal")
        wrists = _expand(self.wrist, WRISTS, "all")
        for spec, name in zip(self.policy, _policy_dirs(self.policy), strict=True):
            policy = load_policy(spec)
            if self.reality is not None:
                from dexndm.eval.reality_eval import evaluate_on_reality

                if self.start == "open-scripted":
                    raise SystemExit(
                        "dexndm eval: --start open-scripted needs the training sim (its scripted teacher "
                        "reads the grasp); on --reality use --start open or grasp"
                    )

                result = evaluate_on_reality(
                    policy, profile=self.reality, objects=list(self.object), wrists=wrists, axes=axes,
                    episodes_per_cell=self.episodes, seed=self.seed, out_dir=self.out / name,
                    split=self.split, start=self.start,
                )  # fmt: skip
            else:
                result = evaluate(
                    policy,
                    objects=list(self.object),
                    wrists=wrists,
                    axes=axes,
                    episodes_per_cell=self.episodes,
                    num_envs=self.num_envs,
                    seed=self.seed,
                    randomization=RandomizationConfig() if self.randomize else RandomizationConfig.none(),
                    out_dir=self.out / name,
                    split=self.split,
                    start=self.start,
                )
            if self.by:
                write_pooled(result, self.by, self.out / name, command=sys.argv)
                console = Console()
                if not console.is_terminal:
                    console = Console(width=160)  # a log or pipe: do not squeeze the columns to 80
                console.print(pooled_table(result, self.by))
        return 0


@dataclass
class RenderCmd:
    """Write an MP4 of one episode (offscreen MuJoCo; OSMesa on CPU)."""

    policy: str = "hold"
    object: str = "cube"
    wrist: str = "palm_up"
    axis: str = "+z"
    steps: int = 100
    out: Path = Path("out/episode.mp4")
    seed: int = 0
    open_hand: bool = False
    """Start from an open hand, the object held until the policy has closed it (2.3 s)."""

    def run(self) -> int:
        from dexndm.eval.policies import load_policy
        from dexndm.sim.render import render_episode

        path = render_episode(
            load_policy(self.policy), object=self.object, wrist=self.wrist, axis=self.axis, steps=self.steps,
            out_path=self.out, seed=self.seed, open_hand=self.open_hand,
        )  # fmt: skip
        print(f"wrote {path}")
        return 0


@dataclass
class DemoCmd:
    """The main job: the neural sim-to-real loop from the shipped generalist on SimulatedReality.

    Sim episodes, Chaos Box collection, joint-wise dynamics model, residual policy, then base vs
    base + residual on the reality profile (same grasps), with a table, a plot and a side-by-side
    video in OUT. Every stage resumes: rerun the same command after an interruption.
    """

    out: Path = Path("out/demo")
    config: Annotated[DemoConfig, tyro.conf.arg(name="")] = field(default_factory=DemoConfig)

    def run(self) -> int:
        from dexndm.demo import run_demo

        run_demo(self.config, self.out)
        video = ", side_by_side.mp4" if self.config.video_steps > 0 else ""
        print(f"wrote {self.out}/summary.json, demo.png{video}")
        return 0


@dataclass
class SysIdCmd:
    """System identification (a baseline): fit the training sim's hand to a real hand's episodes.

    Fits the PD stiffness and damping, torque limit, joint inertia and dry friction (scales of the
    nominal values) and the action latency by CMA-ES on open-loop replays of short windows of the
    recorded episodes. Writes OUT (JSON); use it with ``dexndm train specialist --sysid OUT``.
    """

    data: Path
    """An episode store of the real hand (``dexndm collect``)."""
    out: Path = Path("runs/sysid/hand.json")
    config: Annotated[SysIdConfigArg, tyro.conf.arg(name="")] = field(default_factory=SysIdConfigArg)
    max_episodes: int | None = None
    """Use only the first N episodes of the store."""
    progress: bool = True

    def run(self) -> int:
        from rich.console import Console
        from rich.table import Table

        from dexndm.hand.model import HandConfig
        from dexndm.sysid import FITTED, identify_hand, load_joint_data

        data = load_joint_data(self.data, self.max_episodes)
        res = identify_hand(data, self.config, source=str(self.data), progress=self.progress)
        res.save(self.out)

        table = Table(title=f"identified hand ({data.joint_pos.shape[0]} episodes, {res.windows} windows)")
        for col in ("parameter", "nominal", "fitted", "x nominal"):
            table.add_column(col)
        nominal = HandConfig()
        for f in FITTED:
            fitted = getattr(res.hand, f)
            table.add_row(f, f"{getattr(nominal, f):.4g}", f"{fitted:.4g}", f"{res.scales[f]:.2f}")
        table.add_row("latency (substeps)", "0-3", f"{res.latency_fitted_substeps:.2f}", "")
        Console().print(table)
        print(
            f"replay error over {res.horizon} steps: training sim {res.error_nominal_mrad:.2f} mrad, "
            f"identified {res.error_fitted_mrad:.2f}, joints held still {res.error_hold_mrad:.2f} "
            f"({res.wall_s:.0f} s); wrote {self.out}"
        )
        return 0


from dexndm.collect.cli import CollectCmd  # noqa: E402
from dexndm.data.cli import DataCmd  # noqa: E402
from dexndm.dynamics.cli import SimEpisodesCmd, TrainDriveCmd, TrainDynamicsCmd  # noqa: E402
from dexndm.policy.cli import TrainGeneralistCmd, TrainSpecialistCmd  # noqa: E402
from dexndm.residual.cli import TrainDeltaActionCmd, TrainResidualCmd  # noqa: E402
from dexndm.teleop.cli import TeleopCmd, ViewCmd  # noqa: E402

TrainCommands = (
    Annotated[TrainSpecialistCmd, tyro.conf.subcommand("specialist")]
    | Annotated[TrainGeneralistCmd, tyro.conf.subcommand("generalist")]
    | Annotated[TrainDynamicsCmd, tyro.conf.subcommand("dynamics")]
    | Annotated[TrainDriveCmd, tyro.conf.subcommand("drive")]
    | Annotated[TrainResidualCmd, tyro.conf.subcommand("residual")]
    | Annotated[TrainDeltaActionCmd, tyro.conf.subcommand("delta-action")]
)


@dataclass
class TrainCmd:
    """Train a pipeline stage: specialist, generalist, dynamics, residual (or the delta-action baseline)."""

    stage: Annotated[
        tyro.conf.OmitSubcommandPrefixes[TrainCommands],  # type: ignore[valid-type]
        tyro.conf.arg(help="the stage to train"),
    ]

    def run(self) -> int:
        return self.stage.run()


Commands = (
    Annotated[GraspsCmd, tyro.conf.subcommand("grasps")]
    | Annotated[EvalCmd, tyro.conf.subcommand("eval")]
    | Annotated[RenderCmd, tyro.conf.subcommand("render")]
    | Annotated[DemoCmd, tyro.conf.subcommand("demo")]
    | Annotated[TrainCmd, tyro.conf.subcommand("train")]
    | Annotated[SimEpisodesCmd, tyro.conf.subcommand("sim-episodes")]
    | Annotated[TeleopCmd, tyro.conf.subcommand("teleop")]
    | Annotated[ViewCmd, tyro.conf.subcommand("view")]
    | Annotated[CollectCmd, tyro.conf.subcommand("collect")]
    | Annotated[DataCmd, tyro.conf.subcommand("data")]
    | Annotated[SysIdCmd, tyro.conf.subcommand("sysid")]
)


def main(argv: list[str] | None = None) -> int:
    cmd = tyro.cli(Commands, args=argv)  # type: ignore[arg-type]
    try:
        return cmd.run()
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        # user errors (bad object, profile, axis...) carry their own fix: show it without a traceback
        print(f"dexndm: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
