"""Is it the Chaos Box data that holds the residual back? A store of the base's own task episodes.

DexNDM fits its dynamics model on Chaos Box episodes: simulated action sequences replayed open
loop under random loads, with no object to put back. Where the residual then gives back less of a
wrist's gap than a hand moving as the sim's would (docs/results.md 2b and 4f: soft, base up, 1.88
rad against the reference's 3.41), the model may not know the hand in the regime the task runs in
(fingers pressing an object the wrist hangs below them). This script records that regime: the base
policy turning objects on the reality at one wrist, closed loop, written as an episode store in
the Chaos Box layout (``real_episode_schema``, the same fields and units as ``dexndm collect``).
``dexndm demo --real-data STORE`` then fits the dynamics and drive models on it instead of on a
Chaos Box; the rest of the loop is unchanged.

Measured in docs/results.md section 4i. A diagnostic, not part of the method: on a physical
hand each of these episodes ends with the object on the floor and someone putting it back, which
is what the Chaos Box avoids.

The objects are the training-split shapes (the demo evaluates on the test split) and the grasps
are drawn with ``--seed`` + 1000, so no evaluation episode is in the store. Each episode ends
when the object falls, so it is stored cut into ``--segment``-step pieces: the dynamics trainers
stack a store's episodes at one length (``load_episode_arrays`` cuts them all to the shortest).

    .venv/bin/python benchmarks/task_data_store.py --reality benchmarks/profiles/soft.toml \
        --wrist base_up --base checkpoints/generalist_wrists/generalist.pt --episodes 64 \
        --out out/task_store
    .venv/bin/dexndm demo --real-data out/task_store ...   # the loop on it

A rerun with the same ``--out`` keeps the episodes already stored and records the rest.

``--observations`` also stores ``proprio_obs``, the observation the base chose each step's
target from, so that ``dexndm train residual --sim-data STORE --current-against sim-model``
(or ``dexndm demo --residual-data STORE``) trains the residual on the states the hand itself
visits under the base, rather than on the sim's (docs/results.md 4j). With a base + residual
policy (``--base .../policy.onnx``) it stores ``base_targets`` too, the base's own targets before
the correction, and ``proprio_obs`` is the observation that base read: a residual trained on such
a store learns on the states the corrected hand visits (an on-policy round, docs/results.md 4n).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro

from dexndm.collect.task import TaskRecording, record_task_store
from dexndm.data.plan import PlanMismatchError


@dataclass
class Args:
    reality: str = "default"
    """Reality profile (a shipped name or a TOML file)."""
    base: str = "checkpoints/generalist/generalist.pt"
    wrist: str = "palm_up"
    axis: str = "+z"
    objects: tuple[str, ...] = ("normal_cylinder",)
    """Categories; their training-split shapes are used."""
    episodes: int = 64
    episode_steps: int = 400
    segment: int = 40
    """Steps per stored piece (>= the model's window + its 10-step check); a shorter remainder is dropped."""
    grasp_candidates: int = 256
    """Grasp candidates per shape and wrist (the demo's default, so its grasp cache is shared)."""
    grasp_cache_dir: Path | None = None
    seed: int = 0
    """The pipeline seed of the loop this store feeds (grasp cache); draws use seed + 1000."""
    observations: bool = False
    """Also store ``proprio_obs``: the base's observation at each step (for residual training)."""
    first_episode: int = 0
    """Index of the first episode: a second store from ``--first-episode 1000`` shares none with the first."""
    score: tuple[Path, ...] = ()
    """Dynamics checkpoints to score on every piece of the store after recording: open-loop error
    1 and 10 steps ahead beside "nothing moves" (e.g. a Chaos Box model against a task-data one,
    on task episodes neither was fitted on)."""
    out: Path = Path("out/task_store")


def main(args: Args) -> None:
    rec = TaskRecording(
        reality=args.reality, policy=args.base, objects=args.objects, wrists=(args.wrist,), axes=(args.axis,),
        episodes=args.episodes, episode_steps=args.episode_steps, segment=args.segment,
        grasp_candidates=args.grasp_candidates,
        grasp_cache_dir=None if args.grasp_cache_dir is None else str(args.grasp_cache_dir), seed=args.seed,
        observations=args.observations, first_episode=args.first_episode,
    )  # fmt: skip
    try:
        report = record_task_store(rec, args.out, command="benchmarks/task_data_store.py", progress=False)
    except PlanMismatchError as e:
        raise SystemExit(str(e)) from None
    print(
        f"{args.out}: {report.stored_pieces} pieces of {args.segment} steps stored this run "
        f"({report.wall_s:.0f} s), {report.skipped_episodes} episodes too short or diverged, "
        f"{report.pieces} pieces in the store"
    )
    for path in args.score:
        score_model(path, args.out)


def score_model(path: Path, store: Path, horizon: int = 10) -> None:
    """Print ``path``'s open-loop error on every piece of ``store`` beside "nothing moves"."""
    from dexndm.dynamics.checkpoint import load_dynamics
    from dexndm.dynamics.datasets import load_episode_arrays
    from dexndm.dynamics.metrics import open_loop_error
    from dexndm.dynamics.windows import EpisodeWindows

    model = load_dynamics(path)
    arrays = load_episode_arrays(store)
    windows = EpisodeWindows.from_arrays(arrays["joint_pos"], arrays["joint_targets"], model.config.window)
    err = open_loop_error(model, windows, horizon)
    hold_1, hold_k = 1e3 * err.hold_one_step, 1e3 * err.hold_final
    print(
        f"{path} on {store} ({len(windows)} windows): 1-step {1e3 * err.one_step:.2f} mrad (hold "
        f"{hold_1:.2f}), {horizon}-step {1e3 * err.final:.2f} (hold {hold_k:.2f})"
    )


if __name__ == "__main__":
    main(tyro.cli(Args))
