"""The two-layer perceptron every family uses for channel (and often token) mixing."""

from __future__ import annotations

from torch import nn

from .drop import Dropout
from .packed_linear import absorb_activation


class Mlp(nn.Module):
    """Linear -> activation -> dropout -> Linear -> dropout.

    Submodule names ``fc1``/``fc2`` match timm and most official repositories, so their weights load
    by name. :meth:`pack` hands the activation to ``fc1``, to run as its GEMM's post-op.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int | None = None,
        act_layer: type[nn.Module] | None = None,
        bias: bool = True,
        drop: float = 0.0,
        gelu_approximate: str = "none",
    ):
        super().__init__()
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features, bias=bias)
        self.act = act_layer() if act_layer is not None else nn.GELU(approximate=gelu_approximate)
        self.drop1 = Dropout(drop)
        self.fc2 = nn.Linear(hidden_features, out_features, bias=bias)
        self.drop2 = Dropout(drop)

    def forward(self, x):
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))

    def pack(self) -> Mlp:
        absorb_activation(self, "fc1", "act")
        return self
