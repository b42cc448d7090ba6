"""Saving and loading residual policies.

A residual file is a ``torch.save``'d dict of builtins and tensors only (``weights_only=True``)::

    {"format": "dexndm.residual", "format_version": 1, "residual_config": {...},
     "residual_state": state_dict, "extra": {"base_policy": spec, "dynamics": {...}, ...}}

with a JSON sidecar (``<path>.json``) holding everything but the tensors. ``extra["base_policy"]``
names the base policy (a :func:`dexndm.eval.policies.load_policy` spec) the residual corrects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from dexndm.data.artifacts import json_default
from dexndm.data.atomic import atomic_write_text
from dexndm.dynamics.checkpoint import CheckpointMismatchError, atomic_torch_save, check_format
from dexndm.residual.model import ResidualConfig, ResidualPolicyNet, build_residual_net

FORMAT_NAME = "dexndm.residual"
FORMAT_VERSION = 1


def residual_payload(net: ResidualPolicyNet, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dict stored for a residual network (also embedded in training checkpoints)."""
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "residual_config": net.config.to_dict(),
        "residual_state": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "extra": dict(extra or {}),
    }


def save_residual(path: str | Path, net: ResidualPolicyNet, extra: dict[str, Any] | None = None) -> Path:
    """Save ``net`` and a JSON sidecar atomically; ``extra`` must be JSON-serialisable builtins."""
    path = Path(path)
    payload = residual_payload(net, extra)
    atomic_torch_save(payload, path)
    sidecar = {k: v for k, v in payload.items() if k != "residual_state"}
    atomic_write_text(
        path.with_name(path.name + ".json"), json.dumps(sidecar, indent=2, default=json_default) + "\n"
    )
    return path


def is_residual_payload(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("format") == FORMAT_NAME


def check_residual_payload(
    payload: Any, source: str, expected_config: ResidualConfig | None = None
) -> ResidualConfig:
    """Validate format, version and (optionally) config; return the stored config."""
    check_format(
        payload, source, FORMAT_NAME, FORMAT_VERSION, "residual policy", "retrain it (dexndm train residual)"
    )
    config = ResidualConfig.from_dict(payload["residual_config"])
    if expected_config is not None and config != expected_config:
        a, b = config.to_dict(), expected_config.to_dict()
        diff = "; ".join(f"{k}: checkpoint {a[k]!r} vs expected {b[k]!r}" for k in a if a[k] != b[k])
        raise CheckpointMismatchError(f"{source} holds a different residual config: {diff}")
    return config


def residual_from_payload(payload: dict[str, Any], source: str) -> ResidualPolicyNet:
    net = build_residual_net(check_residual_payload(payload, source))
    net.load_state_dict(payload["residual_state"])
    return net.eval()


def load_residual(path: str | Path) -> tuple[ResidualPolicyNet, dict[str, Any]]:
    """``(network in eval mode, extra)`` from a residual file (``weights_only=True``)."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    return residual_from_payload(payload, str(path)), payload["extra"]
