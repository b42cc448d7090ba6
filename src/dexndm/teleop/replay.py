"""Recordings ``dexndm view`` plays in the teleoperation page: stored episodes and evaluations.

- An **episode store** (``dexndm.data``): the joint trajectory ``joint_pos`` of one episode, and
  the object's trajectory when the store has ``object_pos`` / ``object_quat`` fields (a real hand's
  store has none: the page then shows the hand alone). Wrist and object come from the episode's
  metadata (``wrist``, ``object``) when it has them.
- An **evaluation** (the directory ``dexndm eval`` wrote): its files keep metrics, not
  trajectories, so the chosen episode is simulated again from ``summary.json``'s recorded
  settings, exactly as the evaluation ran it (same cell env, seed and env count; common random
  numbers make it deterministic), and the replay's metrics are checked against ``episodes.csv``
  (``notes["matches_record"]``, shown on the page). A policy whose own random state runs on
  across cells (the ``random`` baseline) can be replayed exactly in the first cell only.

The page gets every frame at once (``frames``) and plays, pauses, scrubs and changes speed by
itself: a 400-step episode is ~60 kB of poses.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dexndm.hand import constants as C
from dexndm.sim.rewards import rotation_about_axis
from dexndm.sim.wrists_axes import parse_axis, parse_wrist
from dexndm.teleop.scene_view import HandPose, SceneMirror


@dataclass
class Replay:
    """A recorded trajectory, world frame, sim joint order.

    Attributes:
        joint_pos: ``(F, 16)`` joint angles per frame, rad.
        dt: seconds between frames.
        object_pos, object_quat: ``(F, 3)`` / ``(F, 4)`` or None (not recorded).
        axis: ``(3,)`` rotation axis of the episode, or None (the "turned" readout needs it).
        notes: what the page lists under the title (source, metrics...), JSON-ready.
    """

    title: str
    object_name: str
    wrist_quat: np.ndarray
    joint_pos: np.ndarray
    dt: float = C.CONTROL_DT
    object_pos: np.ndarray | None = None
    object_quat: np.ndarray | None = None
    axis: np.ndarray | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    _mirror: SceneMirror | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.joint_pos = np.asarray(self.joint_pos, dtype=np.float64)
        frames = len(self.joint_pos)
        if self.joint_pos.ndim != 2 or self.joint_pos.shape[1] != C.NUM_JOINTS or frames == 0:
            raise ValueError(
                f"joint_pos must be (frames, {C.NUM_JOINTS}) with frames >= 1, got {self.joint_pos.shape}"
            )
        if (self.object_pos is None) != (self.object_quat is None):
            raise ValueError("object_pos and object_quat come together: pass both or neither")
        if self.object_pos is not None and self.object_quat is not None:
            self.object_pos = np.asarray(self.object_pos, dtype=np.float64)
            self.object_quat = np.asarray(self.object_quat, dtype=np.float64)
            if self.object_pos.shape != (frames, 3) or self.object_quat.shape != (frames, 4):
                raise ValueError(
                    f"object_pos / object_quat must be ({frames}, 3) / ({frames}, 4), got "
                    f"{self.object_pos.shape} / {self.object_quat.shape}"
                )
        arrays = [self.joint_pos] + ([self.object_pos] if self.object_pos is not None else [])
        if not all(np.all(np.isfinite(a)) for a in arrays):
            raise ValueError("the recording holds NaN or inf values: it cannot be drawn")
        if not self.dt > 0:
            raise ValueError(f"dt must be positive, got {self.dt}")
        self.wrist_quat = parse_wrist(np.asarray(self.wrist_quat, dtype=np.float64))

    @property
    def mirror(self) -> SceneMirror:
        if self._mirror is None:
            from dexndm.objects import resolve_object

            self._mirror = SceneMirror(resolve_object(self.object_name))
        return self._mirror

    def geometry(self) -> dict[str, Any]:
        return self.mirror.geometry

    def turned(self) -> np.ndarray | None:
        """``(F,)`` radians turned about :attr:`axis` since the first frame, or None."""
        if self.object_quat is None or self.axis is None:
            return None
        q = self.object_quat
        steps = rotation_about_axis(q[:-1], q[1:], np.broadcast_to(self.axis, (len(q) - 1, 3)))
        return np.concatenate([[0.0], np.cumsum(steps)])

    def frames(self) -> dict[str, Any]:
        """Everything the page plays: ``{"dt", "count", "poses": (F, B*7), "turned_rad": (F,) | None,
        "object_known", "title", "notes", "object", "wrist", "axis"}``."""
        poses = []
        for k in range(len(self.joint_pos)):
            known = self.object_pos is not None and self.object_quat is not None
            pose = HandPose(
                self.joint_pos[k], self.wrist_quat,
                self.object_pos[k] if known else None,  # type: ignore[index]
                self.object_quat[k] if known else None,  # type: ignore[index]
            )  # fmt: skip
            poses.append(np.round(self.mirror.body_poses(pose), 5).ravel().tolist())
        turned = self.turned()
        return {
            **self.info(),
            "dt": self.dt,
            "poses": poses,
            "turned_rad": None if turned is None else np.round(turned, 5).tolist(),
        }

    def info(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "count": len(self.joint_pos),
            "object": self.object_name,
            "object_known": self.object_pos is not None,
            "wrist": np.round(self.wrist_quat, 6).tolist(),
            "axis": None if self.axis is None else np.round(self.axis, 6).tolist(),
            "notes": self.notes,
        }


# ---- episode stores -----------------------------------------------------------------------------
def episode_replay(root: Path | str, index: int | None = None) -> Replay:
    """One episode of an episode store (the first live one by default).

    Raises:
        KeyError: no such (live) episode; ValueError: the store has no ``joint_pos`` field.
    """
    from dexndm.data import EpisodeStore

    store = EpisodeStore(root, readonly=True)
    live = store.episode_indices()
    if not live:
        raise ValueError(f"the episode store {root} holds no episodes")
    index = live[0] if index is None else index
    if "joint_pos" not in store.schema:
        raise ValueError(f"{root} has no 'joint_pos' field to replay (fields: {list(store.schema)})")
    arrays = store.load(index)
    meta = store.meta(index)
    time = arrays.get("time")
    dt = float(np.median(np.diff(time))) if time is not None and len(time) > 1 else C.CONTROL_DT
    obj_known = "object_pos" in arrays and "object_quat" in arrays
    wrist = meta.get("wrist", "palm_up")
    axis = meta.get("axis")
    return Replay(
        title=f"{Path(root).name}: episode {index} ({meta.get('key', '')})",
        object_name=str(meta.get("object", "cube")),
        wrist_quat=parse_wrist(wrist if isinstance(wrist, str) else np.asarray(wrist, dtype=np.float64)),
        joint_pos=arrays["joint_pos"],
        dt=dt if dt > 0 else C.CONTROL_DT,
        object_pos=arrays["object_pos"] if obj_known else None,
        object_quat=arrays["object_quat"] if obj_known else None,
        axis=None if axis is None else parse_axis(axis if isinstance(axis, str) else np.asarray(axis, float)),
        notes={"source": "episode store", "store": str(root), "episode": index, "meta": meta},
    )


# ---- evaluations --------------------------------------------------------------------------------
def _dataclass_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a (nested) config dataclass from its ``asdict`` form (lists back to tuples)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value, hint = data[f.name], hints[f.name]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = _dataclass_from_dict(hint, value)  # type: ignore[arg-type]
        elif isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[f.name] = value
    return cls(**kwargs)


def _policy_for(config: dict[str, Any], policy: str | None) -> Any:
    from dexndm.eval.policies import load_policy

    if policy is not None:
        return load_policy(policy)
    recorded = str(config.get("policy", ""))
    if recorded == "HoldPolicy()":
        return load_policy("hold")
    if recorded.startswith("RandomPolicy(seed="):
        return load_policy("random", seed=int(recorded[len("RandomPolicy(seed=") : -1]))
    raise ValueError(
        f"the evaluation ran {recorded!r}: pass the same policy with --policy (a checkpoint) to replay it"
    )


def evaluation_replay(
    eval_dir: Path | str,
    *,
    cell: int = 0,
    episode: int = 0,
    policy: str | None = None,
    grasp_cache_dir: Path | str | None = None,
) -> Replay:
    """Simulate episode ``episode`` of cell ``cell`` of an evaluation again and record it.

    Args:
        eval_dir: the directory with ``summary.json`` (and ``episodes.csv``) that ``dexndm eval`` wrote.
        cell: index into the evaluation's cells (``summary.json``: ``config.cells``).
        episode: episode index within the cell.
        policy: the policy spec; default: the recorded one when it is a baseline.
        grasp_cache_dir: the grasp cache the evaluation used (default: the user cache); grasps are
            deterministic per config, so another cache gives the same grasps, only slower.
    Raises:
        FileNotFoundError: no ``summary.json``; IndexError: no such cell or episode.
    """
    from dexndm.eval.cells import Cell
    from dexndm.eval.policies import policy_view, reset_policy
    from dexndm.sim.config import EnvConfig, RandomizationConfig
    from dexndm.sim.env import RotationEnv
    from dexndm.sim.grasp import GraspConfig
    from dexndm.sim.scene import PhysicsConfig

    eval_dir = Path(eval_dir)
    summary_path = eval_dir / "summary.json"
    if not summary_path.exists():
        raise FileNotFoundError(f"{summary_path} does not exist: pass the directory `dexndm eval` wrote")
    config = json.loads(summary_path.read_text())["config"]
    cells = [Cell(**c) for c in config["cells"]]
    if not 0 <= cell < len(cells):
        raise IndexError(f"cell {cell} out of range: the evaluation has {len(cells)} cells")
    if not 0 <= episode < int(config["episodes_per_cell"]):
        raise IndexError(f"episode {episode} out of range: {config['episodes_per_cell']} episodes per cell")
    c = cells[cell]
    n = int(config["num_envs"])
    env_cfg = EnvConfig(
        num_envs=n, objects=(c.object,), split=config["split"], wrists=(c.wrist,), axes=(c.axis,),
        episode_steps=int(config["episode_steps"]), seed=int(config["seed"]), nthread=1,
        physics=_dataclass_from_dict(PhysicsConfig, config["physics"]),
        randomization=_dataclass_from_dict(RandomizationConfig, config["randomization"]),
        grasp=_dataclass_from_dict(GraspConfig, config["grasp"]),
        grasp_cache_dir=None if grasp_cache_dir is None else str(grasp_cache_dir),
    )  # fmt: skip
    pol = _policy_for(config, policy)
    slot, round_ = episode % n, episode // n  # evaluate's ownership: slot i runs episodes i, i + n, ...
    env = RotationEnv(env_cfg)
    q, pos, quat = [env.q[slot].copy()], [env.obj_pos[slot].copy()], [env.obj_quat[slot].copy()]
    finished, metrics = 0, None
    try:
        obs = env.observations()
        reset_policy(pol, np.arange(n))
        while metrics is None:
            view = policy_view(pol, obs)
            obs, _, _, _, info = env.step(np.asarray(pol.act(view), dtype=np.float64))
            ids = list(info.get("final_env_ids", ()))
            if slot in ids and finished == round_:
                j = ids.index(slot)
                metrics = {k: float(v[j]) for k, v in info["final_metrics"].items()}
                break
            if slot in ids:  # an earlier episode of this slot ended: start recording afresh
                finished += 1
                q, pos, quat = [], [], []
            q.append(env.q[slot].copy())
            pos.append(env.obj_pos[slot].copy())
            quat.append(env.obj_quat[slot].copy())
            if ids:
                reset_policy(pol, np.asarray(ids))
    finally:
        env.close()
    recorded = _recorded_row(eval_dir, c, episode)
    notes: dict[str, Any] = {
        "source": "evaluation (simulated again)", "eval_dir": str(eval_dir), "cell": dataclasses.asdict(c),
        "episode": episode, "policy": repr(pol), "metrics": metrics,
    }  # fmt: skip
    if recorded is not None:
        # the CSV keeps full float precision: a faithful replay matches it to rounding
        notes["recorded_rot"] = float(recorded["rot"])
        notes["matches_record"] = bool(
            np.isclose(float(recorded["rot"]), metrics["rot"], rtol=1e-6, atol=1e-9)
        )
    return Replay(
        title=f"{eval_dir.name}: {c.object} {c.wrist} {c.axis}, episode {episode}",
        object_name=c.object, wrist_quat=parse_wrist(c.wrist), joint_pos=np.array(q),
        object_pos=np.array(pos), object_quat=np.array(quat), axis=parse_axis(c.axis), notes=notes,
    )  # fmt: skip


def _recorded_row(eval_dir: Path, cell: Any, episode: int) -> dict[str, str] | None:
    path = eval_dir / "episodes.csv"
    if not path.exists():
        return None
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if (row["object"], row["wrist"], row["axis"], int(row["episode"])) == (
                cell.object, cell.wrist, cell.axis, episode,
            ):  # fmt: skip
                return row
    return None


def load_replay(
    path: Path | str,
    *,
    episode: int | None = None,
    cell: int = 0,
    policy: str | None = None,
    grasp_cache_dir: Path | str | None = None,
) -> Replay:
    """An episode store or an evaluation directory -> :class:`Replay` (see the module docstring).

    Args:
        episode: the store's episode index (default: the first), or the episode within the cell.
        cell, policy, grasp_cache_dir: for an evaluation (see :func:`evaluation_replay`).
    """
    path = Path(path)
    if path.is_file() and path.name in ("summary.json", "episodes.csv", "meta.json"):
        path = path.parent
    if (path / "meta.json").exists():
        return episode_replay(path, episode)
    if (path / "summary.json").exists():
        return evaluation_replay(
            path, cell=cell, episode=episode or 0, policy=policy, grasp_cache_dir=grasp_cache_dir
        )
    raise FileNotFoundError(
        f"{path} is neither an episode store (meta.json) nor an evaluation directory (summary.json): "
        "pass a store made by `dexndm collect` or a directory written by `dexndm eval`"
    )
