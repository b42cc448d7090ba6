"""One deployable policy: base + residual as a single ONNX model with a JSON sidecar.

The exported graph is :class:`BasePlusResidual`::

    inputs   proprio             (N, T*32 + 7) float32   the proprioceptive observation
             prev_joint_targets  (N, 16) float32          the base target chain's last value, rad
    outputs  joint_targets       (N, 16) float32          what to send the hand, rad
             base_joint_targets  (N, 16) float32          the base target, rad (feed it back as
                                                          the next step's prev_joint_targets)

    base_joint_targets = clamp(prev_joint_targets + clip(base(proprio), -1, 1) / 24, limits)
    joint_targets      = clamp(base_joint_targets + pi_res(proprio, base_joint_targets), limits)

The base chain is kept apart from what is sent, so corrections do not accumulate in it: that is
the target sequence the residual was trained on (the base policy's own, in sim). The runner keeps
one (16,) state, ``prev_joint_targets``, starting at the hand's targets when the episode starts.

A base policy can be exported when it exposes ``torch_module`` (or, like the generalist,
``model``): an ``nn.Module`` (or a function returning one) mapping ``proprio (N, D) float32`` to
relative actions ``(N, 16)`` (clipped to [-1, 1] in the graph).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from dexndm.data.artifacts import json_default, provenance
from dexndm.data.atomic import atomic_write_bytes, atomic_write_text
from dexndm.hand import constants as C
from dexndm.residual.model import ResidualPolicyNet

ONNX_FORMAT = "dexndm.policy.onnx"
ONNX_FORMAT_VERSION = 1
INPUT_NAMES = ("proprio", "prev_joint_targets")
OUTPUT_NAMES = ("joint_targets", "base_joint_targets")
EXPORT_TOLERANCE = 1e-5
"""Largest |onnxruntime - torch| (rad) an export may show on its check inputs."""


class BasePlusResidual(nn.Module):
    """``(proprio, prev_joint_targets) -> (joint_targets, base_joint_targets)``; see the module docstring.

    ``residual=None`` exports the base policy alone in the same interface.
    """

    joint_lower: Tensor
    joint_upper: Tensor

    def __init__(self, base: nn.Module, residual: ResidualPolicyNet | None = None) -> None:
        super().__init__()
        self.base = base
        self.residual = residual
        self.register_buffer("joint_lower", torch.as_tensor(C.JOINT_LOWER, dtype=torch.float32))
        self.register_buffer("joint_upper", torch.as_tensor(C.JOINT_UPPER, dtype=torch.float32))

    def forward(self, proprio: Tensor, prev_joint_targets: Tensor) -> tuple[Tensor, Tensor]:
        delta = torch.clamp(self.base(proprio), -1.0, 1.0)
        base = torch.clamp(prev_joint_targets + delta * C.ACTION_SCALE, self.joint_lower, self.joint_upper)
        if self.residual is None:
            return base, base
        final = torch.clamp(base + self.residual(proprio, base), self.joint_lower, self.joint_upper)
        return final, base


def base_torch_module(policy: Any) -> nn.Module:
    """The ``nn.Module`` of a base policy object (its ``torch_module``), or a ValueError saying why not."""
    # torch_module: the documented hook; model: what the generalist (dexndm.policy) holds
    module = getattr(policy, "torch_module", None) or getattr(policy, "model", None)
    if module is not None and not isinstance(module, nn.Module) and callable(module):
        module = module()
    if not isinstance(module, nn.Module):
        raise ValueError(
            f"base policy {policy!r} has no torch_module, so it cannot be exported into one ONNX graph; "
            "use a generalist checkpoint, or run base + residual from the residual checkpoint "
            "(load_policy('residual.pt'))"
        )
    if getattr(policy, "uses_privileged", False):
        raise ValueError(
            f"base policy {policy!r} reads privileged observations, which a real hand cannot build; "
            "a residual is deployed on a proprioceptive (generalist) policy"
        )
    return module


def deployment_info(history: int, max_correction: float | None) -> dict[str, Any]:
    """What a runner needs besides the graph: layout, joint order, action scale, control period."""
    return {
        "format": ONNX_FORMAT,
        "format_version": ONNX_FORMAT_VERSION,
        "inputs": {
            "proprio": {"shape": ["N", history * 2 * C.NUM_JOINTS + 7], "dtype": "float32"},
            "prev_joint_targets": {"shape": ["N", C.NUM_JOINTS], "dtype": "float32", "unit": "rad"},
        },
        "outputs": {
            "joint_targets": {"shape": ["N", C.NUM_JOINTS], "dtype": "float32", "unit": "rad"},
            "base_joint_targets": {"shape": ["N", C.NUM_JOINTS], "dtype": "float32", "unit": "rad"},
        },
        "observation": {
            "layout": "T pairs (joint_pos q_k, previous joint target), oldest first, then wrist_quat "
            "(w, x, y, z) and rotation axis (unit, world frame); dexndm.sim.observations.proprio_obs",
            "history": history,
        },
        "joint_names": list(C.JOINT_NAMES),
        "joint_order": "sim",
        "joint_lower_rad": C.JOINT_LOWER.tolist(),
        "joint_upper_rad": C.JOINT_UPPER.tolist(),
        "action_scale_rad": C.ACTION_SCALE,
        "control_dt_s": C.CONTROL_DT,
        "control_hz": C.CONTROL_HZ,
        "max_correction_rad": max_correction,
        "state": "prev_joint_targets <- base_joint_targets after every step; at an episode start, the "
        "hand's current joint targets",
    }


def _check_inputs(history: int, batch: int = 64, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Plausible inputs: joint angles around the default pose, wrist quaternions, unit axes."""
    gen = torch.Generator().manual_seed(seed)
    pose = torch.as_tensor(C.DEFAULT_POSE, dtype=torch.float32)
    q = pose + 0.3 * torch.randn(batch, history, 2, C.NUM_JOINTS, generator=gen)
    quat = torch.nn.functional.normalize(torch.randn(batch, 4, generator=gen), dim=1)
    axis = torch.nn.functional.normalize(torch.randn(batch, 3, generator=gen), dim=1)
    proprio = torch.cat([q.reshape(batch, -1), quat, axis], dim=1)
    prev = pose + 0.3 * torch.randn(batch, C.NUM_JOINTS, generator=gen)
    return proprio, prev


def export_onnx(
    module: BasePlusResidual,
    path: str | Path,
    history: int,
    *,
    sources: dict[str, Any] | None = None,
    command: str | Sequence[str] | None = None,
) -> tuple[Path, float]:
    """Export ``module`` to ONNX at ``path`` with its sidecar ``<path>.json``; both written atomically.

    The export is checked: onnxruntime and torch must agree within :data:`EXPORT_TOLERANCE` on 64
    plausible inputs, or a RuntimeError is raised and nothing is written.

    Returns:
        ``(path, max_abs_difference)`` (rad).
    """
    import onnxruntime as ort

    path = Path(path)
    module = module.eval()
    proprio, prev = _check_inputs(history)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter (dynamo=False, as dexndm.policy.export uses) warns that torch
        # now prefers torch.export; it is still supported, and the check below guards the result
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module, (proprio, prev), buffer, input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
            dynamic_axes={name: {0: "batch"} for name in (*INPUT_NAMES, *OUTPUT_NAMES)}, opset_version=17,
            dynamo=False,
        )  # fmt: skip
        expected = [t.numpy() for t in module(proprio, prev)]
    data = buffer.getvalue()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    got = session.run(list(OUTPUT_NAMES), {"proprio": proprio.numpy(), "prev_joint_targets": prev.numpy()})
    diff = max(float(np.abs(g - e).max()) for g, e in zip(got, expected, strict=True))
    if not diff <= EXPORT_TOLERANCE:
        raise RuntimeError(
            f"ONNX export check failed: onnxruntime differs from torch by {diff:.3g} rad "
            f"(tolerance {EXPORT_TOLERANCE}); nothing was written to {path}"
        )
    # Everything the sidecar says is settled before either file is written, so a failure here
    # cannot leave a graph without the sidecar that makes it loadable as ours.
    max_corr = None if module.residual is None else module.residual.config.max_correction
    sidecar = {
        **deployment_info(history, max_corr),
        "artifact": {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)},
        "check": {"inputs": len(proprio), "max_abs_difference_rad": diff},
        "sources": sources or {},
        "provenance": provenance(command if command is not None else sys.argv, {}),
    }
    text = json.dumps(sidecar, indent=2, default=json_default) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)
    atomic_write_text(path.with_name(path.name + ".json"), text)
    return path, diff
