"""The residual policy network: ``correction = pi_res(o_t, a_t)``, bounded, zero at initialisation.

Deployed as ``target = a_t + pi_res(o_t, a_t)`` (method.md, "The residual policy"): ``o_t`` is the
generalist's proprioceptive observation and ``a_t`` the absolute joint target its action gives.

Inputs and features. The network sees the raw inputs the paper names, plus one derived feature,
``a_t - q_t`` (target minus the newest measured position in ``o_t``): the PD drive the correction
mostly has to rescale. All three are standardised per dimension with statistics of the training
data (buffers saved with the model), so the small target-position gaps are not drowned by the
large absolute angles.

Output. ``max_correction * tanh(y)`` per joint: bounded, and the last layer starts at zero, so an
untrained residual changes nothing and training starts from the base policy. The default bound,
0.012 rad, is the top of the paper's learned corrections (0.004-0.012 rad): with 0.05 the residual
learned 25-34 mrad corrections and scored below the 12 mrad one on all three reality profiles,
over three seeds each (docs/results.md, section 4b). A hand with a much larger actuator gap than
a LEAP hand's may need more room (``--max-correction``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from dexndm.dynamics.layers import ACTIVATIONS
from dexndm.dynamics.models import check_config_fields
from dexndm.hand.constants import NUM_JOINTS
from dexndm.sim.observations import proprio_dim

_MIN_STD = 1e-3  # rad: a constant input dimension must not blow up at deployment


@dataclass(frozen=True)
class ResidualConfig:
    """Everything needed to rebuild a residual network; stored in every checkpoint."""

    history: int = 10
    """T of the proprioceptive observation (its size is ``T * 32 + 7``)."""
    num_joints: int = NUM_JOINTS
    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths. Ours (the paper gives none)."""
    activation: str = "elu"
    max_correction: float = 0.012
    """Largest correction per joint, rad."""
    structure: str = "whole"
    """``whole``: one MLP on the whole observation and target (:class:`ResidualPolicyNet`);
    ``joint``: one small MLP per joint on that joint's own history and target, evaluated for all
    joints at once (:class:`JointResidualNet`; an actuator model, as the UAN-style baseline uses)."""

    def __post_init__(self) -> None:
        if self.history < 1 or self.max_correction <= 0 or any(h < 1 for h in self.hidden):
            raise ValueError(
                f"ResidualConfig needs history >= 1, max_correction > 0 and positive widths; got {self}"
            )
        if self.structure not in ("whole", "joint"):
            raise ValueError(f"ResidualConfig.structure must be 'whole' or 'joint', got {self.structure!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; choose one of {sorted(ACTIVATIONS)}")

    @property
    def obs_dim(self) -> int:
        return proprio_dim(self.history)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResidualConfig:
        check_config_fields(cls, data)
        return cls(**{**data, "hidden": tuple(int(h) for h in data.get("hidden", cls.hidden))})


class ResidualPolicyNet(nn.Module):
    """``(o_t (B, T*32+7), a_t (B, J)) -> correction (B, J)`` rad, in ``[-max_correction, max_correction]``.

    Buffers (saved in ``state_dict``): ``feature_mean`` / ``feature_std`` ``(T*32+7 + 2J,)`` for the
    features ``[o_t, a_t, a_t - q_t]``, and ``normalization_fitted``.
    """

    feature_mean: Tensor
    feature_std: Tensor
    normalization_fitted: Tensor

    def __init__(self, config: ResidualConfig = ResidualConfig()) -> None:  # noqa: B008 - frozen
        super().__init__()
        self.config = config
        j = config.num_joints
        num_features = config.obs_dim + 2 * j
        # q_t, the newest measured position, sits in the last (q, a) pair of the observation
        # (dexndm.sim.observations.proprio_obs: pairs oldest first, each q then the target).
        self.q_now_start = (config.history - 1) * 2 * j
        self.register_buffer("feature_mean", torch.zeros(num_features))
        self.register_buffer("feature_std", torch.ones(num_features))
        self.register_buffer("normalization_fitted", torch.tensor(False))
        sizes = (num_features, *config.hidden)
        layers: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(n_in, n_out), ACTIVATIONS[config.activation]()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(sizes[-1], j)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def _bad_shapes(self, proprio: Tensor, base_targets: Tensor) -> bool:
        expected = (proprio.shape[0], self.config.num_joints)
        return (
            proprio.dim() != 2
            or proprio.shape[1] != self.config.obs_dim
            or tuple(base_targets.shape) != expected
        )

    def features(self, proprio: Tensor, base_targets: Tensor) -> Tensor:
        """Raw features ``[o_t, a_t, a_t - q_t]`` ``(B, D + 2J)``."""
        j = self.config.num_joints
        # shapes are fixed while tracing for export; checking them there only adds warnings
        if not torch.jit.is_tracing() and self._bad_shapes(proprio, base_targets):
            raise ValueError(
                f"expected proprio (B, {self.config.obs_dim}) and base_targets (B, {j}); got "
                f"{tuple(proprio.shape)} and {tuple(base_targets.shape)} (observation history "
                f"{self.config.history})"
            )
        q_now = proprio[:, self.q_now_start : self.q_now_start + j]
        return torch.cat([proprio, base_targets, base_targets - q_now], dim=1)

    @torch.no_grad()
    def fit_normalization(self, proprio: Tensor, base_targets: Tensor) -> None:
        """Set the feature statistics from a sample ``(N, D)``, ``(N, J)`` of training inputs."""
        x = self.features(proprio, base_targets).double()
        self.feature_mean.copy_(x.mean(0))
        self.feature_std.copy_(x.std(0).clamp_min(_MIN_STD))
        self.normalization_fitted.fill_(True)

    def forward(self, proprio: Tensor, base_targets: Tensor) -> Tensor:
        """Corrections ``(B, J)`` rad for observations ``(B, D)`` and base targets ``(B, J)`` rad."""
        x = (self.features(proprio, base_targets) - self.feature_mean) / self.feature_std
        return self.config.max_correction * torch.tanh(self.head(self.body(x)))


class JointResidualNet(ResidualPolicyNet):
    """``structure="joint"``: joint ``i``'s correction from joint ``i``'s inputs only.

    Per joint, the features are its last T measured positions and paired targets from the
    observation, its new target ``a_t`` and ``a_t - q_t`` (``2T + 2`` numbers); one MLP per joint
    (:class:`~dexndm.dynamics.layers.GroupedMLP`, all joints in one batched op). Wrist and axis
    are not inputs. ``feature_mean`` / ``feature_std`` are ``(J, 2T + 2)``.
    """

    def __init__(self, config: ResidualConfig) -> None:
        nn.Module.__init__(self)
        from dexndm.dynamics.layers import GroupedMLP

        self.config = config
        j, per_joint = config.num_joints, 2 * config.history + 2
        self.q_now_start = (config.history - 1) * 2 * j
        self.register_buffer("feature_mean", torch.zeros(j, per_joint))
        self.register_buffer("feature_std", torch.ones(j, per_joint))
        self.register_buffer("normalization_fitted", torch.tensor(False))
        self.mlp = GroupedMLP(j, per_joint, config.hidden, 1, config.activation)
        last = self.mlp.layers[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def features(self, proprio: Tensor, base_targets: Tensor) -> Tensor:
        """Per-joint raw features ``(B, J, 2T + 2)``."""
        j, t = self.config.num_joints, self.config.history
        if not torch.jit.is_tracing() and self._bad_shapes(proprio, base_targets):
            raise ValueError(
                f"expected proprio (B, {self.config.obs_dim}) and base_targets (B, {j}); got "
                f"{tuple(proprio.shape)} and {tuple(base_targets.shape)}"
            )
        pairs = proprio[:, : t * 2 * j].reshape(-1, t, 2, j)  # oldest first, (q, target) per step
        q_hist, a_hist = pairs[:, :, 0].transpose(1, 2), pairs[:, :, 1].transpose(1, 2)  # (B, J, T)
        q_now = q_hist[:, :, -1]
        extra = torch.stack([base_targets, base_targets - q_now], dim=2)
        return torch.cat([q_hist, a_hist, extra], dim=2)

    # fit_normalization is the parent's: statistics over the batch dimension, here per joint

    def forward(self, proprio: Tensor, base_targets: Tensor) -> Tensor:
        x = (self.features(proprio, base_targets) - self.feature_mean) / self.feature_std
        out = self.mlp(x.transpose(0, 1)).squeeze(-1).transpose(0, 1)  # (J, B, 1) -> (B, J)
        return self.config.max_correction * torch.tanh(out)


def build_residual_net(config: ResidualConfig) -> ResidualPolicyNet:
    """The network ``config.structure`` names."""
    return JointResidualNet(config) if config.structure == "joint" else ResidualPolicyNet(config)
