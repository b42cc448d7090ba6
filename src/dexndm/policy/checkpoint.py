"""Policy checkpoints: one versioned, torch-only-data format for specialists and generalists.

A checkpoint is a ``torch.save``'d dict of builtins and tensors (loadable with
``weights_only=True``)::

    {"format": "dexndm.policy", "format_version": 1, "kind": "specialist" | "generalist",
     "config": {...}, "obs_group": "privileged" | "proprio", "obs_dim": int,
     "actor_state": {...}, ... training state ..., "progress": {"iteration", "env_steps", ...}}

A JSON sidecar (``<file>.json``) repeats everything but the tensors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from dexndm.data.artifacts import json_default
from dexndm.data.atomic import atomic_write_text
from dexndm.dynamics.checkpoint import atomic_torch_save, check_format

FORMAT_NAME = "dexndm.policy"
FORMAT_VERSION = 1


class PolicyCheckpointError(ValueError):
    """A file is not a dexndm policy checkpoint this version can use, or does not fit the config."""


def save_policy_checkpoint(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (format fields added here) atomically, plus its JSON sidecar."""
    payload = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **payload}
    atomic_torch_save(payload, path)
    sidecar = {k: v for k, v in payload.items() if not k.endswith("_state")}
    atomic_write_text(
        path.with_name(path.name + ".json"), json.dumps(sidecar, indent=2, default=json_default) + "\n"
    )
    return path


def load_policy_checkpoint(path: str | Path, kind: str | None = None) -> dict[str, Any]:
    """Load and validate a checkpoint; ``kind`` (``"specialist"``/``"generalist"``) if it must be one.

    Raises:
        FileNotFoundError: no such file.
        PolicyCheckpointError: another format, another format version, or the wrong kind.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"policy checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # an rsl_rl runner file, a pickle with code, a truncated file...
        raise PolicyCheckpointError(
            f"{path} cannot be read as a dexndm policy checkpoint ({type(e).__name__}: {str(e)[:200]})"
        ) from e
    check_format(
        payload, str(path), FORMAT_NAME, FORMAT_VERSION, "policy checkpoint",
        "use the dexndm release that wrote it or retrain", error=PolicyCheckpointError,
    )  # fmt: skip
    if kind is not None and payload.get("kind") != kind:
        raise PolicyCheckpointError(f"{path} holds a {payload.get('kind')} policy, expected a {kind}")
    return payload
