"""The generalist's network: the residual MLP of the paper, with its input normalisation inside."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ResidualMLPConfig:
    """``linear in -> blocks x [y = ReLU(L1(x) + L3(ReLU(L2(x))))] -> linear out`` (method.md).

    The paper uses width 1024 and 5 blocks; the width is scaled to a 2-core CPU here.
    """

    in_dim: int = 327
    out_dim: int = 16
    width: int = 256
    blocks: int = 5

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class ResidualBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.l1 = nn.Linear(width, width)
        self.l2 = nn.Linear(width, width)
        self.l3 = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.l1(x) + self.l3(torch.relu(self.l2(x))))


class ResidualMLP(nn.Module):
    """Maps a (normalised inside) observation to actions in [-1, 1] (tanh output).

    ``obs_mean``/``obs_std`` are buffers, so the deployed model (torch or ONNX) takes raw
    observations and needs nothing else.
    """

    def __init__(self, cfg: ResidualMLPConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("obs_mean", torch.zeros(cfg.in_dim))
        self.register_buffer("obs_std", torch.ones(cfg.in_dim))
        self.inp = nn.Linear(cfg.in_dim, cfg.width)
        self.blocks = nn.Sequential(*[ResidualBlock(cfg.width) for _ in range(cfg.blocks)])
        self.out = nn.Linear(cfg.width, cfg.out_dim)

    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.obs_mean.copy_(mean)
        # constant inputs (e.g. a fixed wrist in the data) must not blow up: floor the scale
        self.obs_std.copy_(torch.clamp(std, min=1e-3))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = (obs - self.obs_mean) / self.obs_std
        return torch.tanh(self.out(self.blocks(self.inp(x))))
