"""Pictures of dense predictions for ``visionmlp predict``: the class map blended over the image, or the boxes
with their class names and scores drawn on it."""

from __future__ import annotations

import colorsys

import numpy as np
import torch
from PIL import Image, ImageDraw

from .detect import Detections


def palette(count: int) -> list[tuple[int, int, int]]:
    """``count`` well-separated colours (evenly spaced hues), the first one, background, black."""
    colours = [(0, 0, 0)]
    for k in range(1, count):
        r, g, b = colorsys.hsv_to_rgb((k - 1) / max(1, count - 1), 0.85, 1.0)
        colours.append((round(255 * r), round(255 * g), round(255 * b)))
    return colours


def _rgb(image: torch.Tensor, scale: int) -> Image.Image:
    """A (C, H, W) image in [0, 1] as an RGB picture ``scale`` times larger (small canvases stay legible)."""
    array = (image.clamp(0, 1) * 255).byte().permute(1, 2, 0).cpu().numpy()
    picture = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).convert("RGB")
    return picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)


def overlay_segmentation(image: torch.Tensor, class_map: torch.Tensor, num_classes: int, scale: int = 4) -> Image.Image:
    """The class map (0: background, left clear) in colour, half over the image."""
    colours = np.array(palette(num_classes), dtype=np.uint8)[class_map.cpu().numpy()]
    mask = Image.fromarray(colours).resize((image.shape[-1] * scale, image.shape[-2] * scale), Image.NEAREST)
    base = _rgb(image, scale)
    blended = Image.blend(base, mask, 0.5)
    keep = np.asarray(mask).any(-1, keepdims=True)
    return Image.fromarray(np.where(keep, np.asarray(blended), np.asarray(base)))


def overlay_detections(image: torch.Tensor, found: Detections, names: list[str], scale: int = 4) -> Image.Image:
    """Each box in its class's colour, labelled with the class name and score."""
    picture = _rgb(image, scale)
    draw = ImageDraw.Draw(picture)
    colours = palette(len(names) + 1)[1:]
    for box, score, label in zip(found.boxes.tolist(), found.scores.tolist(), found.labels.tolist(), strict=True):
        x0, y0, x1, y1 = (round(v * scale) for v in box)
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=colours[label], width=2)
        draw.text((x0 + 2, y0 + 1), f"{names[label]} {score:.2f}", fill=colours[label])
    return picture
