"""The skeleton of the isotropic token-grid families (Mixer, ResMLP, gMLP).

They differ only in their block, final norm and initialisation: all embed patches with a conv stem,
run blocks that take ``(tokens, grid)`` (the grid lets grid-tied weights resample themselves under
``dynamic_img_size``), normalise, and mean-pool the tokens. This class holds everything else once.
"""

from __future__ import annotations

import torch

from ..layers.drop import Dropout
from ._base import VisionModel
from ._features import FeatureInfo, tokens_to_nchw


class PatchTokenModel(VisionModel):
    """Subclasses call :meth:`init_stem`, build ``self.blocks`` (an ``nn.Sequential``) and ``self.norm``,
    then call :meth:`finish_init`."""

    supports_dynamic_img_size = True

    def init_stem(
        self, num_classes: int, img_size, in_chans: int, patch_size: int, embed_dim: int, drop_rate: float,
        dynamic_img_size: bool,
    ) -> None:  # fmt: skip
        self.init_patch_stem(num_classes, img_size, in_chans, patch_size, embed_dim, dynamic_img_size)
        self.head_drop = Dropout(drop_rate)

    def finish_init(self) -> None:
        reduction = self.stem.patch_size[0]
        self.feature_info = FeatureInfo(
            {"num_chs": self.embed_dim, "reduction": reduction, "module": f"blocks.{i}"}
            for i in range(len(self.blocks))
        )
        self.head = self.build_head(self.num_classes)

    def token_grid(self, x: torch.Tensor) -> tuple[int, int]:
        """The token grid an input image gives (the native one unless ``dynamic_img_size``)."""
        return (x.shape[-2] // self.size_multiple[0], x.shape[-1] // self.size_multiple[1])

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare_input(x)
        grid = self.token_grid(x)
        x = self.run_blocks(self.blocks, self.stem(x), grid)  # (B, N, C)
        return self.norm(x)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_drop(x.mean(dim=1))

    def forward_intermediates(self, x: torch.Tensor, indices) -> list[torch.Tensor]:
        x = self.prepare_input(x)
        grid = self.token_grid(x)
        x = self.stem(x)
        out = []
        for i, block in enumerate(self.blocks[: indices[-1] + 1]):
            x = block(x, grid)
            if i in indices:
                out.append(tokens_to_nchw(x, grid))
        return out
