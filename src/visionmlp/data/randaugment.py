"""RandAugment (Cubuk et al. 2020) configured by timm-style strings such as ``rand-m9-mstd0.5-inc1``.

The op set and magnitude mappings are timm's (so recipes carry over): magnitude ``m`` runs over 0..10;
geometric ops get a random sign; ``inc1`` picks the variants whose strength grows with ``m``. Each of the
``n`` chosen ops (drawn with replacement) applies with probability ``p`` (0.5). ``mstd`` adds Gaussian
noise to ``m`` per op (``mstd`` > 100 or ``inf`` draws it uniformly in [0, m]), clipped to [0, ``mmax``].
``Color`` (saturation) is dropped for grey images, where it is the identity.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from PIL import Image, ImageEnhance, ImageOps

_LEVEL_DENOM = 10.0
_FILL_RESAMPLE = Image.Resampling.BILINEAR


def _signed(value: float, rng: random.Random) -> float:
    return -value if rng.random() < 0.5 else value


def _affine(img: Image.Image, matrix, fill) -> Image.Image:
    return img.transform(img.size, Image.Transform.AFFINE, matrix, _FILL_RESAMPLE, fillcolor=fill)


def _fill_for(img: Image.Image, fill: tuple[int, ...]):
    return fill[0] if img.mode == "L" else (tuple(fill) * 3)[:3]


def _solarize_add(img: Image.Image, add: int, threshold: int = 128) -> Image.Image:
    lut = [min(255, i + add) if i < threshold else i for i in range(256)]
    return img.point(lut * len(img.getbands()))


def _posterize(img: Image.Image, bits: int) -> Image.Image:
    # Pillow refuses 0 bits (timm's level 10 of PosterizeIncreasing); 1 bit is the strongest it takes.
    return img if bits >= 8 else ImageOps.posterize(img, max(1, bits))


# op name -> (apply(img, arg, fill), level_to_arg(level, rng))
def _enhance(cls):
    return lambda img, factor, fill: cls(img).enhance(factor)


def _enhance_level(level, rng):
    return level / _LEVEL_DENOM * 1.8 + 0.1


def _enhance_increasing_level(level, rng):
    return min(1.9, max(0.1, 1.0 + _signed(level / _LEVEL_DENOM * 0.9, rng)))


_OPS = {
    "AutoContrast": (lambda img, _, fill: ImageOps.autocontrast(img), lambda level, rng: None),
    "Equalize": (lambda img, _, fill: ImageOps.equalize(img), lambda level, rng: None),
    "Invert": (lambda img, _, fill: ImageOps.invert(img), lambda level, rng: None),
    "Rotate": (
        lambda img, deg, fill: img.rotate(deg, resample=_FILL_RESAMPLE, fillcolor=fill),
        lambda level, rng: _signed(level / _LEVEL_DENOM * 30.0, rng),
    ),
    "Posterize": (lambda img, bits, fill: _posterize(img, bits), lambda level, rng: int(level / _LEVEL_DENOM * 4)),
    "PosterizeIncreasing": (
        lambda img, bits, fill: _posterize(img, bits),
        lambda level, rng: 4 - int(level / _LEVEL_DENOM * 4),
    ),
    "Solarize": (lambda img, t, fill: ImageOps.solarize(img, t), lambda level, rng: int(level / _LEVEL_DENOM * 256)),
    "SolarizeIncreasing": (
        lambda img, t, fill: ImageOps.solarize(img, t),
        lambda level, rng: 256 - int(level / _LEVEL_DENOM * 256),
    ),
    "SolarizeAdd": (lambda img, add, fill: _solarize_add(img, add), lambda level, rng: int(level / _LEVEL_DENOM * 110)),
    "Color": (_enhance(ImageEnhance.Color), _enhance_level),
    "ColorIncreasing": (_enhance(ImageEnhance.Color), _enhance_increasing_level),
    "Contrast": (_enhance(ImageEnhance.Contrast), _enhance_level),
    "ContrastIncreasing": (_enhance(ImageEnhance.Contrast), _enhance_increasing_level),
    "Brightness": (_enhance(ImageEnhance.Brightness), _enhance_level),
    "BrightnessIncreasing": (_enhance(ImageEnhance.Brightness), _enhance_increasing_level),
    "Sharpness": (_enhance(ImageEnhance.Sharpness), _enhance_level),
    "SharpnessIncreasing": (_enhance(ImageEnhance.Sharpness), _enhance_increasing_level),
    "ShearX": (
        lambda img, s, fill: _affine(img, (1, s, 0, 0, 1, 0), fill),
        lambda level, rng: _signed(level / _LEVEL_DENOM * 0.3, rng),
    ),
    "ShearY": (
        lambda img, s, fill: _affine(img, (1, 0, 0, s, 1, 0), fill),
        lambda level, rng: _signed(level / _LEVEL_DENOM * 0.3, rng),
    ),
    "TranslateXRel": (
        lambda img, pct, fill: _affine(img, (1, 0, pct * img.width, 0, 1, 0), fill),
        lambda level, rng: _signed(level / _LEVEL_DENOM * 0.45, rng),
    ),
    "TranslateYRel": (
        lambda img, pct, fill: _affine(img, (1, 0, 0, 0, 1, pct * img.height), fill),
        lambda level, rng: _signed(level / _LEVEL_DENOM * 0.45, rng),
    ),
}

RAND_TRANSFORMS = (
    "AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd", "Color", "Contrast",
    "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel",
)  # fmt: skip
RAND_INCREASING_TRANSFORMS = (
    "AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing", "SolarizeIncreasing", "SolarizeAdd",
    "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing", "ShearX", "ShearY",
    "TranslateXRel", "TranslateYRel",
)  # fmt: skip
_COLOUR_ONLY = {"Color", "ColorIncreasing"}


@dataclass(frozen=True)
class RandAugment:
    """Apply ``num_ops`` random ops of ``ops`` at ``magnitude``; ``fill`` (0..255 per channel) fills the
    area geometric ops uncover."""

    ops: tuple[str, ...]
    num_ops: int = 2
    magnitude: float = 9.0
    magnitude_std: float = 0.0
    magnitude_max: float = _LEVEL_DENOM
    prob: float = 0.5
    fill: tuple[int, ...] = (128,)

    def _level(self, rng: random.Random) -> float:
        m = self.magnitude
        if self.magnitude_std > 100 or self.magnitude_std == float("inf"):
            m = rng.uniform(0, m)
        elif self.magnitude_std > 0:
            m = rng.gauss(m, self.magnitude_std)
        return max(0.0, min(self.magnitude_max, m))

    def __call__(self, img: Image.Image, rng: random.Random) -> Image.Image:
        ops = [op for op in self.ops if img.mode != "L" or op not in _COLOUR_ONLY]
        for name in rng.choices(ops, k=self.num_ops):
            if rng.random() > self.prob:
                continue
            apply, level_to_arg = _OPS[name]
            img = apply(img, level_to_arg(self._level(rng), rng), _fill_for(img, self.fill))
        return img


_SECTION = re.compile(r"^(mstd|mmax|inc|m|n|p)(inf|\d+(?:\.\d*)?)$")


def rand_augment_transform(config: str, fill: tuple[int, ...] = (128,)) -> RandAugment:
    """Parse ``rand-m9-n2-mstd0.5-mmax10-inc1-p0.5`` (every section after ``rand`` optional)."""
    sections = config.split("-")
    if sections[0] != "rand":
        raise ValueError(f"auto-augment string {config!r} must start with 'rand' (e.g. 'rand-m9-mstd0.5')")
    kwargs: dict = {}
    increasing = False
    for section in sections[1:]:
        match = _SECTION.match(section)
        if match is None:
            raise ValueError(
                f"bad section {section!r} in auto-augment string {config!r}; valid sections: m<magnitude>, n<ops>, "
                "mstd<std>, mmax<max>, inc<0|1>, p<prob>"
            )
        key, value = match.group(1), float(match.group(2))
        if key == "inc":
            increasing = bool(value)
        elif key == "n":
            kwargs["num_ops"] = int(value)
        else:
            kwargs[{"m": "magnitude", "mstd": "magnitude_std", "mmax": "magnitude_max", "p": "prob"}[key]] = value
    ops = RAND_INCREASING_TRANSFORMS if increasing else RAND_TRANSFORMS
    return RandAugment(ops=ops, fill=tuple(fill), **kwargs)
