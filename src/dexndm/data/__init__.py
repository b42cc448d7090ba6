"""dexndm.data: the episode store (append-only, crash-safe, verifiable), atomic writes, sidecars.

Modules: ``store`` (EpisodeStore), ``schema`` (per-step field schema), ``manifest`` (the commit
log), ``npz`` (episode files), ``lock`` (single writer), ``verify`` (problem reports), ``atomic``
(atomic writes, sha256), ``plan`` (the settings a resumed recorder must share with its store),
``artifacts`` (JSON sidecars and provenance), ``cli`` (``dexndm data verify|info|drop``; imported
on demand, it needs rich and tyro).
"""

from dexndm.data.artifacts import read_sidecar, write_sidecar
from dexndm.data.atomic import atomic_write_bytes, atomic_write_text, atomic_writer, sha256_file
from dexndm.data.manifest import EpisodeRecord, ManifestError
from dexndm.data.plan import PlanMismatchError, check_store_plan, plan_differences
from dexndm.data.schema import SCHEMA_VERSION, FieldSpec, Schema, SchemaError, real_episode_schema
from dexndm.data.store import (
    DuplicateEpisodeError,
    Episode,
    EpisodeError,
    EpisodeStore,
    StoreError,
    StoreLockedError,
    StoreRecoveryWarning,
)
from dexndm.data.verify import EpisodeProblem, VerifyReport

__all__ = [
    "SCHEMA_VERSION",
    "DuplicateEpisodeError",
    "Episode",
    "EpisodeError",
    "EpisodeProblem",
    "EpisodeRecord",
    "EpisodeStore",
    "FieldSpec",
    "ManifestError",
    "PlanMismatchError",
    "Schema",
    "SchemaError",
    "StoreError",
    "StoreLockedError",
    "StoreRecoveryWarning",
    "VerifyReport",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_writer",
    "check_store_plan",
    "plan_differences",
    "read_sidecar",
    "real_episode_schema",
    "sha256_file",
    "write_sidecar",
]
