"""Neural dynamics models of the hand: ``q_{t+1} = f(q_{t-W+1..t}, a_{t-W+1..t})``.

Three models share one interface and one input encoding and differ only in which inputs each
parameter set sees (method.md, "The joint-wise dynamics model"):

- :class:`JointWiseDynamics` (DexNDM): one MLP per joint, fed only that joint's own history.
- :class:`FingerWiseDynamics` (ablation): one MLP per finger, fed that finger's 4 joints.
- :class:`WholeHandDynamics` (baseline): one MLP fed all 16 joints.

Conventions. ``q`` are measured joint positions and ``a`` commanded joint targets, radians, in
sim joint order (``dexndm.hand.constants.JOINT_NAMES``). Target ``a_t`` is applied during control
step ``t`` and produces ``q_{t+1}``. A window at time ``t`` holds ``q_{t-W+1..t}`` and
``a_{t-W+1..t}``, oldest first.

What the network predicts. Each model predicts the per-joint *change* ``q_{t+1} - q_t``,
standardised by per-joint statistics of the training data (``delta_mean``, ``delta_std``), so
that ``q_{t+1} = q_t + delta_mean + delta_std * net(x)``. Predicting the change rather than the
position keeps the output scale independent of where a joint sits in its range.

Input encoding (our choice; the paper does not say). Per joint, ``2W`` scalars. With
``relative_inputs=True`` (default) they are ``[q_{t-W+1..t-1} - q_t, q_t, a_{t-W+1..t} - q_t]``:
an invertible linear re-coding of the raw history that separates "where the joint is" (``q_t``,
which carries gravity and load) from "how it moves and how far the target is" (differences, which
carry the PD drive). It is the same information as the raw history, but after standardisation the
small differences are no longer drowned by the large absolute positions. With
``relative_inputs=False`` the features are the raw ``[q_{t-W+1..t}, a_{t-W+1..t}]``. Features are
standardised per joint and per slot with ``input_mean`` / ``input_std`` (buffers, saved with the
model).

Freezing for the residual policy: ``model.requires_grad_(False).eval()``; gradients still flow
to ``q_hist`` / ``a_hist`` / ``a_seq`` through :meth:`DynamicsModel.forward` and
:meth:`DynamicsModel.rollout`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from dexndm.dynamics.layers import GroupedMLP
from dexndm.hand.constants import FINGER_OF_JOINT, NUM_JOINTS

ModelKind = Literal["joint", "finger", "whole"]
MODEL_NAMES: dict[str, str] = {"joint": "joint-wise", "finger": "finger-wise", "whole": "whole-hand"}
"""What tables and logs call each kind."""

# Floors for the standard deviations, so that a joint that never moved in the data (std ~ 0) does
# not turn a tiny input change at deployment into a huge normalised input.
_MIN_INPUT_STD_RAD = 1e-3
_MIN_DELTA_STD_RAD = 1e-4


def history_features(q_hist: Tensor, a_hist: Tensor, relative: bool = True) -> Tensor:
    """Per-joint features of a window: ``(B, W, J), (B, W, J) -> (B, J, 2W)``, rad (see the module
    docstring: ``[q_{t-W+1..t-1} - q_t, q_t, a_{t-W+1..t} - q_t]``, or the raw history)."""
    if relative:
        q_now = q_hist[:, -1:, :]
        q_part = torch.cat([q_hist[:, :-1, :] - q_now, q_now], dim=1)
        a_part = a_hist - q_now
    else:
        q_part, a_part = q_hist, a_hist
    return torch.cat([q_part, a_part], dim=1).transpose(1, 2)


def check_config_fields(cls: type, data: dict[str, Any]) -> None:
    """Refuse a stored config with keys the dataclass ``cls`` does not have, naming them."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {unknown}; known fields: {sorted(known)}")


def register_normalization(module: nn.Module, num_joints: int, window: int, output: str) -> None:
    """Identity normalisation buffers of a per-joint window model (saved in its ``state_dict``):
    ``input_mean`` / ``input_std`` ``(J, 2W)``, ``{output}_mean`` / ``{output}_std`` ``(J,)`` and
    ``normalization_fitted`` (False until fitted)."""
    module.register_buffer("input_mean", torch.zeros(num_joints, 2 * window))
    module.register_buffer("input_std", torch.ones(num_joints, 2 * window))
    module.register_buffer(f"{output}_mean", torch.zeros(num_joints))
    module.register_buffer(f"{output}_std", torch.ones(num_joints))
    module.register_buffer("normalization_fitted", torch.tensor(False))


@torch.no_grad()
def fit_normalization_buffers(
    module: nn.Module, features: Tensor, outputs: Tensor, output: str, min_output_std: float
) -> None:
    """Fill the buffers of :func:`register_normalization` from a sample: per-joint ``features``
    ``(N, J, 2W)`` and ``outputs`` ``(N, J)``; standard deviations floored (inputs at
    ``_MIN_INPUT_STD_RAD``, outputs at ``min_output_std``)."""
    features, outputs = features.double(), outputs.double()
    module.input_mean.copy_(features.mean(dim=0))
    module.input_std.copy_(features.std(dim=0).clamp_min(_MIN_INPUT_STD_RAD))
    getattr(module, f"{output}_mean").copy_(outputs.mean(dim=0))
    getattr(module, f"{output}_std").copy_(outputs.std(dim=0).clamp_min(min_output_std))
    module.normalization_fitted.fill_(True)


@dataclass(frozen=True)
class DynamicsConfig:
    """Everything needed to rebuild a dynamics model; stored in every checkpoint."""

    kind: ModelKind = "joint"
    """Which inputs each parameter set sees: one joint, one finger, or the whole hand."""
    window: int = 10
    """History length W in control steps (10 steps = 0.5 s at 20 Hz)."""
    hidden: tuple[int, ...] = (128, 128)
    """Hidden layer widths of each MLP (per joint for "joint", per finger for "finger").

    Our choice (the paper gives none). On the synthetic hand (100 episodes x 20 s, 2000 steps of
    256), joint-wise 10-step error was 7.57 / 6.96 / 6.57 / 6.35 mrad for widths 32 / 64 / 128 /
    256 (one-step 1.08 / 0.86 / 0.63 / 0.47 mrad) at 18 / 16 / 30 / 97 s of training: 128 keeps
    most of the gain at a third of 256's cost. Real contact-rich data may want more."""
    num_joints: int = NUM_JOINTS
    """Number of joints J."""
    activation: str = "silu"
    """Hidden activation; smooth by default so gradients to the inputs are smooth too."""
    relative_inputs: bool = True
    """Encode the history relative to the current position (see the module docstring)."""
    finger_of_joint: tuple[int, ...] | None = None
    """Finger index of each joint for kind "finger"; None means the LEAP hand's FINGER_OF_JOINT."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of builtins (safe for ``torch.load(weights_only=True)`` and JSON)."""
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        if self.finger_of_joint is not None:
            out["finger_of_joint"] = list(self.finger_of_joint)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DynamicsConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        check_config_fields(cls, data)
        data = dict(data)
        if "hidden" in data:
            data["hidden"] = tuple(int(h) for h in data["hidden"])
        if data.get("finger_of_joint") is not None:
            data["finger_of_joint"] = tuple(int(f) for f in data["finger_of_joint"])
        return cls(**data)

    def diff(self, other: DynamicsConfig) -> dict[str, tuple[Any, Any]]:
        """Fields that differ: ``{name: (self_value, other_value)}``."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


class DynamicsModel(nn.Module):
    """Base class: input encoding, normalisation buffers, one-step forward and open-loop rollout.

    Subclasses implement :meth:`_predict_normalized_delta`, mapping standardised per-joint features
    ``(B, J, 2W)`` to standardised per-joint position changes ``(B, J)``.

    Buffers (all saved in ``state_dict``):
      - ``input_mean``, ``input_std``: ``(J, 2W)``, per joint and feature slot, radians.
      - ``delta_mean``, ``delta_std``: ``(J,)``, of ``q_{t+1} - q_t``, radians.
      - ``normalization_fitted``: scalar bool, False until :meth:`fit_normalization` ran.
    """

    input_mean: Tensor
    input_std: Tensor
    delta_mean: Tensor
    delta_std: Tensor
    normalization_fitted: Tensor

    def __init__(self, config: DynamicsConfig) -> None:
        super().__init__()
        if config.window < 1:
            raise ValueError(f"window must be >= 1, got {config.window}")
        self.config = config
        register_normalization(self, config.num_joints, config.window, "delta")

    # ---- shapes --------------------------------------------------------------------------------
    @property
    def window(self) -> int:
        return self.config.window

    @property
    def num_joints(self) -> int:
        return self.config.num_joints

    # ---- encoding ------------------------------------------------------------------------------
    def encode(self, q_hist: Tensor, a_hist: Tensor) -> Tensor:
        """Raw (un-normalised) per-joint features: ``(B, W, J), (B, W, J) -> (B, J, 2W)``, rad."""
        self._check_history(q_hist, a_hist)
        return history_features(q_hist, a_hist, self.config.relative_inputs)

    def _check_history(self, q_hist: Tensor, a_hist: Tensor) -> None:
        expected = (self.window, self.num_joints)
        if q_hist.dim() != 3 or tuple(q_hist.shape[1:]) != expected or q_hist.shape != a_hist.shape:
            raise ValueError(
                f"expected q_hist and a_hist of shape (B, W={self.window}, J={self.num_joints}), "
                f"got {tuple(q_hist.shape)} and {tuple(a_hist.shape)}"
            )

    @torch.no_grad()
    def fit_normalization(self, q_hist: Tensor, a_hist: Tensor, q_next: Tensor) -> None:
        """Set the normalisation buffers from a sample of windows.

        Args:
            q_hist: ``(N, W, J)`` joint positions, rad.
            a_hist: ``(N, W, J)`` joint targets, rad.
            q_next: ``(N, J)`` the next joint positions, rad.
        """
        delta = q_next - q_hist[:, -1, :]
        fit_normalization_buffers(self, self.encode(q_hist, a_hist), delta, "delta", _MIN_DELTA_STD_RAD)

    # ---- prediction ----------------------------------------------------------------------------
    def _predict_normalized_delta(self, x: Tensor) -> Tensor:
        """Standardised features ``(B, J, 2W)`` -> standardised changes ``(B, J)``."""
        raise NotImplementedError

    def forward(self, q_hist: Tensor, a_hist: Tensor) -> Tensor:
        """One-step prediction.

        Args:
            q_hist: ``(B, W, J)`` joint positions ``q_{t-W+1..t}``, rad, oldest first.
            a_hist: ``(B, W, J)`` joint targets ``a_{t-W+1..t}``, rad, oldest first.

        Returns:
            ``(B, J)`` predicted joint positions ``q_{t+1}``, rad.
        """
        x = (self.encode(q_hist, a_hist) - self.input_mean) / self.input_std
        delta = self.delta_mean + self.delta_std * self._predict_normalized_delta(x)
        return q_hist[:, -1, :] + delta

    def rollout(self, q_init_hist: Tensor, a_seq: Tensor) -> Tensor:
        """Open-loop multi-step prediction, feeding each prediction back as the next input.

        Args:
            q_init_hist: ``(B, W, J)`` measured positions ``q_{t-W+1..t}``, rad.
            a_seq: ``(B, W + K - 1, J)`` targets ``a_{t-W+1..t+K-1}``, rad: the W targets of the
                initial window followed by the K - 1 targets applied after it.

        Returns:
            ``(B, K, J)`` predicted positions ``q_{t+1..t+K}``, rad. Differentiable with respect
            to both inputs (and the parameters, unless frozen).
        """
        window = self.window
        num_steps = a_seq.shape[1] - window + 1
        if a_seq.dim() != 3 or num_steps < 1 or a_seq.shape[0] != q_init_hist.shape[0]:
            raise ValueError(
                f"a_seq must be (B, W + K - 1, J) with W={window}, K >= 1 and the same B as "
                f"q_init_hist {tuple(q_init_hist.shape)}; got {tuple(a_seq.shape)}"
            )
        q_list = list(q_init_hist.unbind(dim=1))
        predictions = []
        for k in range(num_steps):
            q_hist = torch.stack(q_list[-window:], dim=1)
            q_next = self(q_hist, a_seq[:, k : k + window, :])
            predictions.append(q_next)
            q_list.append(q_next)
        return torch.stack(predictions, dim=1)


def _check_hidden(hidden: tuple[int, ...]) -> tuple[int, ...]:
    hidden = tuple(int(h) for h in hidden)
    if any(h < 1 for h in hidden):
        raise ValueError(f"hidden widths must be positive, got {hidden}")
    return hidden


class JointWiseDynamics(DynamicsModel):
    """DexNDM's joint-wise model: ``q^i_{t+1} = f_i(h^i_t)``, one MLP per joint.

    Joint ``i``'s MLP sees only its own ``2W`` features and outputs one scalar. All J MLPs are
    evaluated together by :class:`GroupedMLP` (weights ``(J, in, out)``, one ``baddbmm`` per layer).
    """

    def __init__(
        self,
        window: int = 10,
        hidden: tuple[int, ...] = (128, 128),
        num_joints: int = NUM_JOINTS,
        activation: str = "silu",
        relative_inputs: bool = True,
    ) -> None:
        config = DynamicsConfig(
            "joint", window, _check_hidden(hidden), num_joints, activation, relative_inputs
        )
        super().__init__(config)
        self.net = GroupedMLP(num_joints, 2 * window, config.hidden, 1, activation)

    def _predict_normalized_delta(self, x: Tensor) -> Tensor:
        # (B, J, 2W) -> (J, B, 2W) -> (J, B, 1) -> (B, J)
        return self.net(x.transpose(0, 1)).squeeze(-1).transpose(0, 1)


class FingerWiseDynamics(DynamicsModel):
    """Finger-wise ablation: one MLP per finger, fed that finger's joints' histories (``n * 2W``)
    and predicting its ``n`` joints (n = 4 on the LEAP hand). Fingers are batched like joints."""

    finger_order: Tensor
    finger_order_inverse: Tensor

    def __init__(
        self,
        window: int = 10,
        hidden: tuple[int, ...] = (128, 128),
        num_joints: int = NUM_JOINTS,
        activation: str = "silu",
        relative_inputs: bool = True,
        finger_of_joint: tuple[int, ...] | None = None,
    ) -> None:
        if finger_of_joint is None:
            if num_joints != NUM_JOINTS:
                raise ValueError(f"finger_of_joint is required when num_joints != {NUM_JOINTS}")
            finger_of_joint = tuple(int(f) for f in FINGER_OF_JOINT)
        finger_of_joint = tuple(int(f) for f in finger_of_joint)
        if len(finger_of_joint) != num_joints:
            raise ValueError(f"finger_of_joint has {len(finger_of_joint)} entries for {num_joints} joints")
        counts = np.bincount(finger_of_joint)
        if counts.min() != counts.max():
            raise ValueError(f"every finger needs the same number of joints, got counts {counts.tolist()}")
        config = DynamicsConfig(
            "finger", window, _check_hidden(hidden), num_joints, activation, relative_inputs, finger_of_joint
        )
        super().__init__(config)
        self.num_fingers, self.joints_per_finger = len(counts), int(counts[0])
        order = np.argsort(finger_of_joint, kind="stable")
        # Gather joints finger by finger, and scatter the per-finger outputs back to joint order.
        self.register_buffer("finger_order", torch.as_tensor(order), persistent=False)
        self.register_buffer("finger_order_inverse", torch.as_tensor(np.argsort(order)), persistent=False)
        self.net = GroupedMLP(
            self.num_fingers,
            self.joints_per_finger * 2 * window,
            config.hidden,
            self.joints_per_finger,
            activation,
        )

    def _predict_normalized_delta(self, x: Tensor) -> Tensor:
        batch = x.shape[0]
        # (B, J, 2W) -> (B, F, n * 2W) -> (F, B, n * 2W) -> (F, B, n) -> (B, J) in joint order
        x = x[:, self.finger_order, :].reshape(batch, self.num_fingers, -1).transpose(0, 1)
        y = self.net(x).transpose(0, 1).reshape(batch, self.num_joints)
        return y[:, self.finger_order_inverse]


class WholeHandDynamics(DynamicsModel):
    """Whole-hand baseline: one MLP fed all joints' histories (``J * 2W``), predicting all J."""

    def __init__(
        self,
        window: int = 10,
        hidden: tuple[int, ...] = (128, 128),
        num_joints: int = NUM_JOINTS,
        activation: str = "silu",
        relative_inputs: bool = True,
    ) -> None:
        config = DynamicsConfig(
            "whole", window, _check_hidden(hidden), num_joints, activation, relative_inputs
        )
        super().__init__(config)
        self.net = GroupedMLP(1, num_joints * 2 * window, config.hidden, num_joints, activation)

    def _predict_normalized_delta(self, x: Tensor) -> Tensor:
        # (B, J, 2W) -> (1, B, J * 2W) -> (1, B, J) -> (B, J)
        return self.net(x.reshape(1, x.shape[0], -1)).squeeze(0)


def build_dynamics(config: DynamicsConfig) -> DynamicsModel:
    """Build an (untrained, un-normalised) model from its config."""
    common = dict(
        window=config.window,
        hidden=config.hidden,
        num_joints=config.num_joints,
        activation=config.activation,
        relative_inputs=config.relative_inputs,
    )
    if config.kind == "joint":
        return JointWiseDynamics(**common)
    if config.kind == "finger":
        return FingerWiseDynamics(**common, finger_of_joint=config.finger_of_joint)
    if config.kind == "whole":
        return WholeHandDynamics(**common)
    raise ValueError(f"unknown dynamics model kind {config.kind!r}; choose 'joint', 'finger' or 'whole'")
