"""EAMLP: External Attention MLP (Guo et al. 2021, "Beyond Self-attention", arXiv 2105.02358).

External attention replaces self-attention's token-to-token map by two small learned memories shared
over the dataset: ``A = Norm(X M_k^T)``, ``out = A M_v``, i.e. two Linear layers over channels, so the
model is all-MLP. The normalisation is the paper's "double normalisation": a softmax over the *tokens*
followed by an L1 normalisation over the memory units. Built as the official EANet code
(``EAMLP/models/t2t_vit.py``, ``token_performer.py``, ``transformer_block.py``): a T2T-ViT with a
Tokens-to-Token front end whose two token layers are single-head external attention (with the value
memory tied to the key memory), a class token, a fixed sinusoidal position table (saved with the
weights), pre-LN blocks of multi-head external attention (channels expanded 4x, 4x the heads, 64 memory
units per head) and an MLP, LayerNorm eps 1e-5, and classification from the class token.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import DropPath, Mlp, trunc_normal_
from ..layers._helpers import to_2tuple
from ..layers.drop import Dropout, drop_path_rates
from ..layers.resample import resample_grid_axis
from ._base import VisionModel
from ._features import FeatureInfo, tokens_to_nchw
from ._registry import (
    PretrainedCfg,
    Published,
    register_small_variants,
    register_variants,
)

# (kernel, stride, padding) of the three soft splits (unfolds) of the official T2T module: stride 16.
T2T_SPLITS = ((7, 4, 2), (3, 2, 1), (3, 2, 1))


def double_normalise(attn: torch.Tensor) -> torch.Tensor:
    """Softmax over the tokens (dim -2), then L1 over the memory units (dim -1), as the official code."""
    attn = attn.softmax(dim=-2)
    return attn / (1e-9 + attn.sum(dim=-1, keepdim=True))


def sinusoid_table(num_positions: int, dim: int) -> torch.Tensor:
    """The Transformer's fixed sin/cos table ``(1, num_positions, dim)`` (computed in float64, as numpy)."""
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    j = torch.arange(dim)
    angle = pos / torch.pow(10000.0, (2 * (j // 2)).double() / dim)
    table = torch.where(j % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.float().unsqueeze(0)


class TransposedLinear(nn.Module):
    """``y = x W + b`` where ``W`` is another Linear's weight: a layer tied to ``source`` (one parameter).

    Only the bias is owned here; ``source`` is held outside the module tree so the weight is counted,
    saved and updated once, as ``source.weight``.
    """

    def __init__(self, source: nn.Linear):
        super().__init__()
        self._source = (source,)  # a tuple: not registered as a submodule
        self.bias = nn.Parameter(torch.zeros(source.in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self._source[0].weight.t(), self.bias)


class TokenExternalAttention(nn.Module):
    """The T2T token layer's attention (official ``token_performer.Attention``): single-head external
    attention on ``q = q_linear(x)`` with ``k`` memory units, residual around it from ``q`` (the input
    has another width): ``q + proj(Norm(q M^T) M)`` with ``M = linear_0.weight``. The value memory ``linear_1`` is the
    transpose of the key memory ``linear_0`` (the official code shares their storage)."""

    def __init__(self, dim: int, out_dim: int, memory_units: int = 128, attn_drop: float = 0.1, proj_drop: float = 0.1):
        super().__init__()
        self.q_linear = nn.Linear(dim, out_dim)
        self.linear_0 = nn.Linear(out_dim, memory_units, bias=False)
        self.linear_1 = TransposedLinear(self.linear_0)
        self.attn_drop = Dropout(attn_drop)
        self.proj = nn.Linear(out_dim, out_dim)
        self.proj_drop = Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, N, dim) -> (B, N, out_dim)
        q = self.q_linear(x)
        attn = self.attn_drop(double_normalise(self.linear_0(q)))
        return q + self.proj_drop(self.proj(self.linear_1(attn)))


class TokenLayer(nn.Module):
    """x = EA(LN(x)) ; x += MLP(LN(x)) (official ``Token_performer``; no residual around the EA, which
    changes the width). The official dropouts of 0.1 inside the EA are kept."""

    def __init__(self, dim: int, out_dim: int, memory_units: int = 128):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = TokenExternalAttention(dim, out_dim, memory_units)
        self.norm2 = nn.LayerNorm(out_dim)
        self.mlp = Mlp(out_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def _split_size(split: nn.Unfold, size: tuple[int, int]) -> tuple[int, int]:
    """The grid an Unfold produces from a ``size`` map."""
    k, s, p = split.kernel_size, split.stride, split.padding
    return tuple((n + 2 * p - k) // s + 1 for n in size)


class TokensToToken(nn.Module):
    """T2T front end: soft split (unfold) -> token layer -> re-fold to a map -> soft split -> token layer
    -> soft split -> Linear to ``embed_dim``. Official names: ``attention1/2``, ``project``."""

    def __init__(self, in_chans: int, embed_dim: int, token_dim: int = 64, splits=T2T_SPLITS, memory_units=128):
        super().__init__()
        (k0, s0, p0), (k1, s1, p1), (k2, s2, p2) = splits
        self.soft_split0 = nn.Unfold(k0, stride=s0, padding=p0)
        self.soft_split1 = nn.Unfold(k1, stride=s1, padding=p1)
        self.soft_split2 = nn.Unfold(k2, stride=s2, padding=p2)
        self.attention1 = TokenLayer(in_chans * k0 * k0, token_dim, memory_units)
        self.attention2 = TokenLayer(token_dim * k1 * k1, token_dim, memory_units)
        self.project = nn.Linear(token_dim * k2 * k2, embed_dim)
        self.stride = s0 * s1 * s2

    def grid(self, size: tuple[int, int]) -> tuple[int, int]:
        for split in (self.soft_split0, self.soft_split1, self.soft_split2):
            size = _split_size(split, size)
        return size

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, h*w, embed_dim)
        size = tuple(x.shape[-2:])
        for split, layer in ((self.soft_split0, self.attention1), (self.soft_split1, self.attention2)):
            size = _split_size(split, size)
            x = tokens_to_nchw(layer(split(x).transpose(1, 2)), size)  # unfold: (B, C*k*k, h*w)
        return self.project(self.soft_split2(x).transpose(1, 2))


class ExternalAttention(nn.Module):
    """Multi-head external attention (official ``transformer_block.Attention``).

    ``trans_dims`` expands C to ``expand * C`` split into ``expand * num_heads`` heads; per head
    ``Norm(x M_k^T) M_v`` with ``memory_units`` memory units (``linear_0``/``linear_1``), then ``proj``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        expand: int = 4,
        memory_units: int = 64,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads * expand
        head_dim = dim * expand // self.num_heads
        self.trans_dims = nn.Linear(dim, dim * expand)
        self.linear_0 = nn.Linear(head_dim, memory_units)
        self.linear_1 = nn.Linear(memory_units, head_dim)
        self.attn_drop = Dropout(attn_drop)
        self.proj = nn.Linear(dim * expand, dim)
        self.proj_drop = Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        x = self.trans_dims(x).view(b, n, self.num_heads, -1).transpose(1, 2)  # (B, heads, N, head_dim)
        attn = self.attn_drop(double_normalise(self.linear_0(x)))  # (B, heads, N, memory_units)
        x = self.linear_1(attn).transpose(1, 2).reshape(b, n, -1)
        return self.proj_drop(self.proj(x))


class EAMLPBlock(nn.Module):
    """x += EA(LN(x)) ; x += MLP(LN(x))."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        memory_units: int = 64,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ExternalAttention(dim, num_heads, memory_units=memory_units, attn_drop=attn_drop, proj_drop=drop)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class EAMLP(VisionModel):
    """EAMLP with the official ``T2T_ViT`` arguments (``tokens_type='performer'``).

    ``t2t_splits`` gives the tokenizer's three (kernel, stride, padding) unfolds; the default is the
    official stride-16 front end. ``pos_embed`` is fixed (not trained) but saved: released weights carry
    their own table, which must be loaded rather than regenerated.
    """

    supports_dynamic_img_size = True

    def __init__(
        self,
        num_classes: int = 1000,
        img_size=224,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        token_dim: int = 64,
        t2t_splits=T2T_SPLITS,
        token_memory_units: int = 128,
        memory_units: int = 64,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        dynamic_img_size: bool = False,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.num_features = self.embed_dim = embed_dim
        self.in_chans = in_chans
        self.img_size = to_2tuple(img_size)
        self.fixed_img_size = self.img_size
        self.tokens_to_token = TokensToToken(in_chans, embed_dim, token_dim, t2t_splits, token_memory_units)
        # The official code keeps each tied memory as two Parameter objects sharing storage, so its
        # parameter count includes these entries twice; ours holds them once.
        self.aliased_params = sum(
            layer.attn.linear_0.weight.numel()
            for layer in (self.tokens_to_token.attention1, self.tokens_to_token.attention2)
        )
        self.grid_size = self.tokens_to_token.grid(self.img_size)
        self.dynamic_img_size = dynamic_img_size
        self.size_multiple = (self.tokens_to_token.stride,) * 2
        num_tokens = self.grid_size[0] * self.grid_size[1]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        # A Parameter with requires_grad=False, as the official code: fixed, saved, and counted.
        self.pos_embed = nn.Parameter(sinusoid_table(num_tokens + 1, embed_dim), requires_grad=False)
        self.pos_drop = Dropout(drop_rate)
        dpr = drop_path_rates(drop_path_rate, depth)
        self.blocks = nn.Sequential(
            *[
                EAMLPBlock(embed_dim, num_heads, mlp_ratio, memory_units, drop_rate, attn_drop_rate, dpr[i])
                for i in range(depth)
            ]
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.feature_info = FeatureInfo(
            {"num_chs": embed_dim, "reduction": self.tokens_to_token.stride, "module": f"blocks.{i}"}
            for i in range(depth)
        )
        self.head = self.build_head(num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # Official: trunc_normal(0.02) for the class token and every Linear weight (the tied memory
        # included), zero biases; LayerNorms start at (1, 0).
        trunc_normal_(self.cls_token, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def no_weight_decay(self) -> set[str]:
        return {"cls_token"}

    def _embed(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Tokens with the class token prepended, plus positions: (B, 1 + h*w, C), and the grid."""
        grid = self.tokens_to_token.grid(tuple(x.shape[-2:]))
        x = self.tokens_to_token(x)
        pos = self.pos_embed
        if grid != self.grid_size:
            pos = torch.cat([pos[:, :1], resample_grid_axis(pos[:, 1:], 1, self.grid_size, grid)], dim=1)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.pos_drop(x + pos), grid

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare_input(x)
        x, _ = self._embed(x)
        return self.norm(self.run_blocks(self.blocks, x))

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]

    def forward_intermediates(self, x, indices):
        x = self.prepare_input(x)
        x, grid = self._embed(x)
        out = []
        for i, block in enumerate(self.blocks[: indices[-1] + 1]):
            x = block(x)
            if i in indices:
                out.append(tokens_to_nchw(x[:, 1:], grid))
        return out


_SRC = "ViP README table (Hou et al. 2021) citing Guo et al. 2021; exact counts and MACs from the EANet code"
_REGIME = "ImageNet-1k from scratch, T2T-ViT recipe"
_published = partial(Published, params_exact=True, regime=_REGIME, source=_SRC)
_VARIANTS = {
    # EAMLP-14/19 are the official T2t_vit_14/19 configs (the mapping is inferred, see architectures.md).
    "eamlp_14": dict(
        arch=dict(embed_dim=384, depth=14, num_heads=6, mlp_ratio=3.0),
        published=_published(params=29_877_070, official_macs=6.47, top1=78.9),
    ),
    "eamlp_19": dict(
        arch=dict(embed_dim=448, depth=19, num_heads=7, mlp_ratio=3.0),
        published=_published(params=54_559_054, official_macs=11.62, top1=79.4),
    ),
}
_TINY = dict(embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0, token_dim=16, token_memory_units=16, img_size=32)
register_variants(EAMLP, _VARIANTS, family="eamlp", pretrained_cfg=PretrainedCfg(crop_pct=0.9), tiny=_TINY)

# Small EAMLPs for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): a stride-4 tokenizer (3x3/s2,
# 3x3/s2, 3x3/s1 unfolds) gives a 7x7 / 8x8 token grid; C=96, 3 heads (12 EA heads), 3 blocks, tokenizer width 32
# (~0.46 M parameters, ~31 M MACs at 28x28).
_SMALL = dict(
    embed_dim=96, depth=3, num_heads=3, mlp_ratio=3.0, token_dim=32, t2t_splits=((3, 2, 1), (3, 2, 1), (3, 1, 1))
)
register_small_variants("eamlp_s4", EAMLP, _SMALL, family="eamlp", tiny=_TINY)
