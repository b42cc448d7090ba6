"""Episode stores -> the ``(E, T, ...)`` arrays the dynamics and residual trainers window.

Real episodes (``dexndm collect``) and simulated ones (:mod:`dexndm.dynamics.sim_episodes`) share
the fields ``joint_pos`` and ``joint_targets`` (:func:`dexndm.data.real_episode_schema`), so both
load the same way here; simulated stores add ``proprio_obs`` for the residual policy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dexndm.data import EpisodeStore, StoreError

DYNAMICS_FIELDS = ("joint_pos", "joint_targets")
"""Per-step fields a dynamics model trains on: measured positions and commanded targets, rad."""


def load_episode_arrays(
    root: Path | str,
    fields: Sequence[str] = DYNAMICS_FIELDS,
    indices: Sequence[int] | None = None,
    min_steps: int = 2,
) -> dict[str, np.ndarray]:
    """Stack the ``fields`` of the store's episodes into ``{field: (E, T, *shape)}`` arrays.

    Episodes of different lengths (e.g. a collection resumed with another episode length) are
    cut to the shortest one that has at least ``min_steps`` steps; shorter ones are left out.
    Both are reported on stdout, since they change what is trained on.

    Args:
        root: an episode store directory.
        fields: per-step fields to load; each must be in the store's schema.
        indices: episode indices (default: every live episode).
        min_steps: episodes with fewer steps are skipped (e.g. window + horizon of a model).

    Raises:
        StoreError: no store at ``root``, a field it lacks, or no episode long enough.
    """
    root = Path(root)
    store = EpisodeStore(root, readonly=True)
    missing = [f for f in fields if f not in store.schema]
    if missing:
        raise StoreError(
            f"the episode store at {root} has no field(s) {missing} (it has {list(store.schema)}); "
            f"dynamics training needs {list(DYNAMICS_FIELDS)} (dexndm collect and sim episodes write them)"
        )
    records = [store.record(i) for i in (store.episode_indices() if indices is None else indices)]
    usable = [r for r in records if r.steps >= min_steps]
    if not usable:
        raise StoreError(
            f"the episode store at {root} has no episode of at least {min_steps} steps "
            f"({len(records)} episodes checked); collect longer episodes or use a shorter window"
        )
    if len(usable) < len(records):
        print(f"{root}: skipping {len(records) - len(usable)} episode(s) shorter than {min_steps} steps")
    steps = min(r.steps for r in usable)
    lengths = Counter(r.steps for r in usable)
    if len(lengths) > 1:
        print(
            f"{root}: episodes have lengths {dict(sorted(lengths.items()))}; using their first {steps} steps"
        )
    out = {
        f: np.empty((len(usable), steps, *store.schema[f].shape), dtype=store.schema[f].dtype) for f in fields
    }
    for e, rec in enumerate(usable):
        arrays = store.load(rec.index)
        for f in fields:
            out[f][e] = arrays[f][:steps]
    return out
