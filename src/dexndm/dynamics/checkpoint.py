"""Saving and loading dynamics models.

A model file is a ``torch.save``'d dict of builtins and tensors only, so it loads with
``torch.load(..., weights_only=True)`` (never unpickling code)::

    {"format": "dexndm.dynamics", "format_version": 1, "model_config": {...},
     "model_state": state_dict, "extra": {...}}

:func:`save_dynamics` also writes a JSON sidecar (``<path>.json``) with the format, config and
``extra``, so a person or a later stage can see what a file holds without loading torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from dexndm.dynamics.models import DynamicsConfig, DynamicsModel, build_dynamics

FORMAT_NAME = "dexndm.dynamics"
FORMAT_VERSION = 1


class CheckpointMismatchError(ValueError):
    """A checkpoint does not match what the caller expects (format, version or model config)."""


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def model_payload(model: DynamicsModel, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dict stored for a model (also embedded in training checkpoints)."""
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": model.config.to_dict(),
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": dict(extra or {}),
    }


def save_dynamics(path: str | Path, model: DynamicsModel, extra: dict[str, Any] | None = None) -> Path:
    """Save ``model`` (weights, normalisation buffers, config) and a JSON sidecar; returns ``path``.

    ``extra`` holds provenance (step, eval error, data description, source checkpoint); it must be
    builtins only (str, int, float, bool, None, lists and dicts of those).
    """
    return save_with_sidecar(path, model_payload(model, extra))


def save_with_sidecar(path: str | Path, payload: dict[str, Any]) -> Path:
    """``torch.save`` a model ``payload`` atomically and write ``<path>.json`` with all of it but
    the weights (``format``, ``format_version``, ``model_config``, ``extra``)."""
    path = Path(path)
    atomic_torch_save(payload, path)
    sidecar = {k: payload[k] for k in ("format", "format_version", "model_config", "extra")}
    path.with_name(path.name + ".json").write_text(json.dumps(sidecar, indent=2, default=str) + "\n")
    return path


def check_format(
    payload: Any,
    source: str,
    name: str,
    version: int,
    what: str,
    fix: str,
    error: type[ValueError] = CheckpointMismatchError,
) -> None:
    """Raise ``error`` unless ``payload`` is a dict of format ``name`` and version ``version``;
    ``what`` names the artifact ("dynamics model"), ``fix`` says what to do."""
    if not isinstance(payload, dict) or payload.get("format") != name:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise error(f"{source} is not a dexndm {what} (format {found!r})")
    if payload.get("format_version") != version:
        raise error(
            f"{source} has {what} format version {payload.get('format_version')}, but this dexndm reads "
            f"version {version}; {fix}"
        )


def check_payload(payload: Any, source: str, expected_config: DynamicsConfig | None = None) -> DynamicsConfig:
    """Validate a loaded payload's format, version and (optionally) config; return its config."""
    check_format(
        payload, source, FORMAT_NAME, FORMAT_VERSION, "dynamics model",
        "re-export it with the dexndm that wrote it or retrain",
    )  # fmt: skip
    config = DynamicsConfig.from_dict(payload["model_config"])
    if expected_config is not None and config != expected_config:
        differences = "; ".join(
            f"{name}: checkpoint {ours!r} vs expected {theirs!r}"
            for name, (ours, theirs) in config.diff(expected_config).items()
        )
        raise CheckpointMismatchError(f"{source} holds a different dynamics model config: {differences}")
    return config


def load_dynamics(
    path: str | Path,
    expected_config: DynamicsConfig | None = None,
    map_location: str | torch.device = "cpu",
) -> DynamicsModel:
    """Rebuild a model from its stored config and load its weights (``weights_only=True``).

    Raises :class:`CheckpointMismatchError` naming what differs if the file is not a dynamics model,
    has another format version, or (when ``expected_config`` is given) another model config.
    The model is returned in eval mode.
    """
    payload = torch.load(Path(path), map_location=map_location, weights_only=True)
    config = check_payload(payload, str(path), expected_config)
    model = build_dynamics(config)
    model.load_state_dict(payload["model_state"])
    return model.eval()


def load_extra(path: str | Path) -> dict[str, Any]:
    """The ``extra`` dict stored with a model."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    check_payload(payload, str(path))
    return payload["extra"]
