"""Grouped (block-diagonal) MLPs: G independent MLPs evaluated in one batched matmul per layer.

The joint-wise model is 16 small MLPs, one per joint. The paper notes that it trains slowly
because it iterates over joints; stacking the 16 weight matrices into one ``(G, in, out)`` tensor
and using ``torch.baddbmm`` evaluates all of them in one kernel per layer, with no Python loop.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}


class GroupedLinear(nn.Module):
    """``G`` independent affine maps: ``y[g] = x[g] @ weight[g] + bias[g]``.

    Shapes: input ``(G, B, in_features)``, output ``(G, B, out_features)``;
    ``weight`` is ``(G, in_features, out_features)``, ``bias`` is ``(G, 1, out_features)``.
    """

    def __init__(self, groups: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.groups = groups
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty(groups, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(groups, 1, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # The same per-group init as nn.Linear, so G groups behave like G separate nn.Linear layers.
        bound = 1.0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """``(G, B, in) -> (G, B, out)``."""
        return torch.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"groups={self.groups}, in_features={self.in_features}, out_features={self.out_features}"


class GroupedMLP(nn.Module):
    """``G`` independent MLPs with the same layer sizes: ``(G, B, in) -> (G, B, out)``.

    Group ``g`` only ever sees ``x[g]``: there is no parameter or operation that mixes groups.
    """

    def __init__(
        self,
        groups: int,
        in_features: int,
        hidden: tuple[int, ...],
        out_features: int,
        activation: str = "silu",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        sizes = (in_features, *hidden, out_features)
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(GroupedLinear(groups, n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        self.layers = nn.Sequential(*layers)
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        """``(G, B, in) -> (G, B, out)``."""
        return self.layers(x)
