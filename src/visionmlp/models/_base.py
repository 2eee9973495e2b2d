"""The surface every visionmlp model shares: input checks, classifier head, features, checkpointing.

Families subclass :class:`VisionModel` and implement ``forward_features``, ``pool`` and
``forward_intermediates``; everything users call (``forward_head``, ``reset_classifier``,
``features_only`` ...) lives here once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..layers import PatchEmbed, trunc_normal_
from ..layers._helpers import to_2tuple
from ..layers.linear import Linear
from ._features import FeatureInfo, resolve_indices
from ._fuse import fuse_model
from ._pack import pack_model
from ._weights import save_pretrained


class VisionModel(nn.Module):
    """Base class. Subclasses set, in ``__init__``: ``num_classes``, ``num_features``, ``in_chans``,
    ``fixed_img_size`` (``(H, W)`` or ``None``), ``feature_info``, ``head`` (via :meth:`build_head`)."""

    #: positions in ``feature_info`` returned by ``features_only=True`` when ``out_indices`` is not given
    default_out_indices: Sequence[int] = (-1,)
    #: whether the class takes ``dynamic_img_size=True`` (resampling its grid-tied weights to the input)
    supports_dynamic_img_size: bool = False

    def __init__(self):
        super().__init__()
        self.grad_checkpointing = False
        self.feature_indices: list[int] | None = None
        self.feature_info = FeatureInfo()
        self.fixed_img_size: tuple[int, int] | None = None
        self.dynamic_img_size = False
        # With dynamic_img_size, input sides must be multiples of this (the total patch stride).
        self.size_multiple: tuple[int, int] = (1, 1)
        # timm's dynamic_img_pad: zero-pad the input at the bottom/right up to multiples of size_multiple.
        self.dynamic_img_pad = False
        self.model_name = type(self).__name__

    def __prepare_scriptable__(self):
        """``torch.jit.script`` asks this first: the models are plain PyTorch whose forwards branch on Python state
        (packed weights, input sizes) that TorchScript cannot compile, so say what works instead."""
        raise NotImplementedError(
            f"{self.model_name} cannot be compiled by torch.jit.script; use torch.jit.trace(model, example_input) or "
            "torch.export.export(model, (example_input,)), or `visionmlp export onnx` for ONNX"
        )

    @property
    def default_cfg(self):
        """timm's older name for ``pretrained_cfg``, which code written for timm still reads."""
        return self.pretrained_cfg

    # ----- input -------------------------------------------------------------------------------
    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`check_input`, then, with ``dynamic_img_pad``, the input zero-padded at the bottom and right to
        multiples of the model's stride (as timm pads in its patch embedding)."""
        self.check_input(x)
        pad_h, pad_w = self._padding(tuple(x.shape[-2:]))
        return F.pad(x, (0, pad_w, 0, pad_h)) if pad_h or pad_w else x

    def _padding(self, size: tuple[int, int]) -> tuple[int, int]:
        if not self.dynamic_img_pad:
            return 0, 0
        return -size[0] % self.size_multiple[0], -size[1] % self.size_multiple[1]

    def check_input(self, x: torch.Tensor) -> None:
        """Reject inputs the model cannot take with a message that names the problem and the fix."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{self.model_name} expects a torch.Tensor of images, got {type(x).__name__}")
        if x.ndim != 4:
            raise ValueError(
                f"{self.model_name} expects an NCHW batch (B, {self.in_chans}, H, W), got shape "
                f"{tuple(x.shape)}; add a batch axis with x.unsqueeze(0) for a single image"
            )
        if not x.is_floating_point():
            raise TypeError(
                f"{self.model_name} expects floating-point images, got dtype {x.dtype}; "
                "convert with x.float() (and normalise with the model's mean/std)"
            )
        ref = next(self.parameters(), None)
        if ref is not None and x.dtype != ref.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(
                f"{self.model_name} has {ref.dtype} weights but got {x.dtype} images; convert with "
                f"x.to({ref.dtype}) or the model with model.to({x.dtype})"
            )
        if x.shape[0] == 0:
            raise ValueError(f"{self.model_name} got an empty batch (0 images); pass at least one image")
        if x.shape[1] != self.in_chans:
            raise ValueError(
                f"{self.model_name} expects {self.in_chans} input channels, got {x.shape[1]}; "
                f"create the model with in_chans={x.shape[1]} or convert the images"
            )
        pad = self._padding(tuple(x.shape[-2:]))
        size = (x.shape[-2] + pad[0], x.shape[-1] + pad[1])
        if self.dynamic_img_size:
            mh, mw = self.size_multiple
            if size[0] % mh or size[1] % mw or size[0] < mh or size[1] < mw:
                raise ValueError(
                    f"{self.model_name} with dynamic_img_size needs input sides that are positive multiples "
                    f"of {mh}x{mw}, got {size[0]}x{size[1]}; resize the images or pass dynamic_img_pad=True"
                )
        elif self.fixed_img_size is not None and size != tuple(self.fixed_img_size):
            h, w = self.fixed_img_size
            mh, mw = self.size_multiple
            fits_padded = not self.dynamic_img_pad and (-(-size[0] // mh) * mh, -(-size[1] // mw) * mw) == (h, w)
            dynamic = " or pass dynamic_img_size=True" if self.supports_dynamic_img_size else ""
            if fits_padded:
                dynamic = f" or pass dynamic_img_pad=True (pads to multiples of {mh}x{mw})"
            padded = f" (padded from {x.shape[-2]}x{x.shape[-1]})" if any(pad) else ""
            raise ValueError(
                f"{self.model_name} is built for {h}x{w} inputs (its token mixing is tied to that grid), "
                f"got {size[0]}x{size[1]}{padded}; resize the images to {h}x{w}, create the model with "
                f"img_size=({size[0]}, {size[1]}){dynamic}"
            )

    def init_patch_stem(
        self, num_classes: int, img_size, in_chans: int, patch_size: int, embed_dim: int, dynamic_img_size: bool,
        name: str = "stem",
    ) -> PatchEmbed:  # fmt: skip
        """Set what every patch-grid model holds (classes, widths, input size, the grid it is tied to) and
        register its patch embedding as ``name`` (timm's ViT calls it ``patch_embed``)."""
        self.num_classes = num_classes
        self.num_features = self.embed_dim = embed_dim
        self.in_chans = in_chans
        self.img_size = to_2tuple(img_size)
        self.fixed_img_size = self.img_size
        stem = PatchEmbed(self.img_size, patch_size, in_chans, embed_dim)
        self.add_module(name, stem)
        self.grid_size = stem.grid_size
        self.dynamic_img_size = dynamic_img_size
        self.size_multiple = stem.patch_size
        return stem

    # ----- classifier --------------------------------------------------------------------------
    def build_head(self, num_classes: int) -> nn.Module:
        """A fresh classifier for ``num_features`` inputs, on the model's device and dtype."""
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 0:
            raise ValueError(f"num_classes must be an integer >= 0 (0 removes the head), got {num_classes!r}")
        if num_classes == 0:
            return nn.Identity()
        ref = next(self.parameters(), None)
        kwargs = {"device": ref.device, "dtype": ref.dtype} if ref is not None else {}
        head = Linear(self.num_features, num_classes, **kwargs)
        self.init_head(head)
        return head

    def init_head(self, head: nn.Linear) -> None:
        """Initialise a new classifier; families whose official code differs override this."""
        trunc_normal_(head.weight, std=0.02)
        nn.init.zeros_(head.bias)

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a new one for ``num_classes`` (0 removes it, for pooled features)."""
        self.head = self.build_head(num_classes)
        self.num_classes = num_classes

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Reduce ``forward_features`` output to one vector per image."""
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.pool(x)
        return x if pre_logits else self.head(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.feature_indices is not None:
            return self.forward_intermediates(x, self.feature_indices)
        return self.forward_head(self.forward_features(x))

    # ----- features ----------------------------------------------------------------------------
    def forward_intermediates(self, x: torch.Tensor, indices: Sequence[int]) -> list[torch.Tensor]:
        """NCHW maps at the ``feature_info`` positions ``indices`` (already resolved, increasing)."""
        raise NotImplementedError

    def set_features_only(self, out_indices=None) -> None:
        """Turn the model into a backbone that returns a list of NCHW maps (drops the classifier)."""
        indices = resolve_indices(out_indices, len(self.feature_info), self.default_out_indices)
        self.feature_info = FeatureInfo(self.feature_info[i] for i in indices)
        self.feature_indices = indices
        self.reset_classifier(0)

    # ----- training helpers --------------------------------------------------------------------
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute block activations in the backward pass: less memory, about 30% more compute."""
        self.grad_checkpointing = bool(enable)

    def run_blocks(self, blocks: Iterable[nn.Module], x: torch.Tensor, *args) -> torch.Tensor:
        """Apply ``blocks`` in order (``block(x, *args)``), checkpointing each when enabled and training."""
        use_ckpt = self.grad_checkpointing and torch.is_grad_enabled()
        for block in blocks:
            x = checkpoint(block, x, *args, use_reentrant=False) if use_ckpt else block(x, *args)
        return x

    def fuse(self) -> VisionModel:
        """Fold inference-time constants into adjacent weights (BatchNorm into convs, ResMLP's Affine and
        LayerScale into its Linears); exact to rounding, idempotent, eval mode only. Every block that can be
        folded does it in its own ``fuse()``; see ``models/_fuse.py``."""
        return fuse_model(self)

    def pack(self) -> VisionModel:
        """Prepack every Linear's (and pointwise conv's) weight for oneDNN CPU inference in the current dtype,
        activations after them fused in (``layers/packed_linear.py``); call after ``.to(dtype)`` and
        ``fuse()``. A cache, not state: training, a dtype change or an in-place weight update falls back to
        the unpacked path until ``pack()`` runs again. Every block that has a faster form does it in its own
        ``pack()``; see ``models/_pack.py``."""
        return pack_model(self)

    def for_inference(self) -> VisionModel:
        """Eval mode, :meth:`fuse`, then :meth:`pack`: the fastest exact inference path (what ``visionmlp
        benchmark --fuse --pack`` measures), in one call so ``validate``, ``predict`` and the studies cannot
        drift from it. Call after moving the model to its device; for bfloat16, fold in float32 first
        (``model.eval().fuse().to(dtype).for_inference()``: fusing again is a no-op). Returns ``self``."""
        return self.eval().fuse().pack()

    def save_pretrained(self, directory) -> None:
        """Write ``model.safetensors`` + ``config.json`` to ``directory``; ``create_model(name, pretrained=directory)``
        rebuilds this model from them (see ``models/_weights.py``)."""
        save_pretrained(self, directory)

    def no_weight_decay(self) -> set[str]:
        """Parameter names to exclude from weight decay beyond norms and biases (tokens, tables)."""
        return set()
