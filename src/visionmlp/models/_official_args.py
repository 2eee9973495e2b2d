"""Official constructor arguments -> visionmlp's: ``create_model(name, official_kwargs={...})``.

People who trained their own configuration with an official repository describe it by that repository's
constructor call (``VisionPermutator(layers=..., segment_dim=..., mlp_fn=WeightedPermuteMLP)``). Each
official constructor is a :class:`Signature` here: the arguments visionmlp's class shares, those it names
differently, those that need a computation (timm's ``mlp_ratio`` pair, a ``norm_layer`` partial), those
visionmlp builds at one value only (another value is refused by name, never dropped), and those the
official code accepts but never reads. The arguments not given keep the variant's values, so
``official_kwargs`` overrides a variant the way plain keywords do.

Layer-valued arguments (``norm_layer``, ``block_layer``, ``mlp_fn`` ...) may be the classes or partials
themselves or their source text as a config file or a fixture records it (``"partial(nn.LayerNorm,
eps=1e-6)"``, ``"WeightedPermuteMLP"``).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

_LN_EPS = 1e-5  # torch.nn.LayerNorm's default


@dataclass(frozen=True)
class Layer:
    """A layer-valued official argument that visionmlp builds one way only, named as the official code names it."""

    name: str


@dataclass(frozen=True)
class Signature:
    """One official constructor and how each of its arguments reaches visionmlp's class."""

    code: str  # where it lives, e.g. "Andrew-Qibin/VisionPermutator models/vip.py: VisionPermutator"
    same: tuple[str, ...] = ()
    renamed: Mapping[str, str] = field(default_factory=dict)
    # official name -> fn(value, arguments so far) -> visionmlp keyword arguments
    computed: Mapping[str, Callable[[object, dict], dict]] = field(default_factory=dict)
    fixed: Mapping[str, object] = field(default_factory=dict)
    unused: tuple[str, ...] = ()  # accepted by the official constructor, never read by it
    implies: Mapping[str, object] = field(default_factory=dict)  # what the official code computes differently

    @property
    def accepted(self) -> set[str]:
        return {*self.same, *self.renamed, *self.computed, *self.fixed, *self.unused}


def describe(value) -> tuple[str, dict]:
    """A layer-valued argument as (class name, keyword arguments): a class, a ``functools.partial`` of one,
    or the source text of either."""
    if isinstance(value, functools.partial):
        return describe(value.func)[0], dict(value.keywords)
    if isinstance(value, str):
        try:
            node = ast.parse(value.strip(), mode="eval").body
        except SyntaxError:
            return value, {}
        return _describe_node(node)
    return getattr(value, "__name__", repr(value)), {}


def _describe_node(node: ast.expr) -> tuple[str, dict]:
    if isinstance(node, ast.Call) and _node_name(node.func) == "partial" and node.args:
        return _node_name(node.args[0]), {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
    if isinstance(node, ast.Call):
        return _node_name(node.func), {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
    return _node_name(node), {}


def _node_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", ast.unparse(node))


def as_tuples(value):
    """Lists as tuples (the variants' own spelling: ``depths=(2, 2, 6, 2)``), nested too; for arguments given as
    lists (official constructors, JSON configs)."""
    return tuple(as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


# ----- computed arguments ------------------------------------------------------------------------
def _layer_norm(ours: str | None, default_eps: float = _LN_EPS):
    """``norm_layer`` -> ``ours`` (the class's eps argument); a class without one takes only the official default."""

    def compute(value, _):
        name, kw = describe(value)
        if name != "LayerNorm" or set(kw) - {"eps"}:
            raise _refused("norm_layer", value, "a LayerNorm (optionally partial(nn.LayerNorm, eps=...))")
        eps = kw.get("eps", _LN_EPS)
        if ours:
            return {ours: eps}
        if eps != default_eps:
            raise _refused("norm_layer", value, f"LayerNorm with eps={default_eps:g}")
        return {}

    return compute


def _mixer_mlp_ratio(value, args):
    """timm's ``mlp_ratio=(tokens, channels)`` of the width -> the Mixer's two hidden sizes."""
    tokens, channels = value if isinstance(value, (tuple, list)) else (0.5, value)
    dim = args["embed_dim"]
    return {"tokens_mlp_dim": int(tokens * dim), "channels_mlp_dim": int(channels * dim)}


def _flax_patches(value, _):
    """The Flax ``patches`` ConfigDict (or its dict, or its source text) -> ``patch_size``."""
    if isinstance(value, str):
        node = ast.parse(value, mode="eval").body
        value = ast.literal_eval(node.args[0] if isinstance(node, ast.Call) else node)
    size = value["size"] if isinstance(value, Mapping) else value.size
    size = as_tuples(size)
    return {"patch_size": size[0] if size[0] == size[1] else size}


def _timm_resmlp_block(value, _):
    """timm builds ResMLP with ``block_layer=partial(ResBlock, init_values=...)``: the LayerScale init."""
    name, kw = describe(value)
    if name != "ResBlock" or set(kw) - {"init_values"}:
        raise _refused("block_layer", value, "ResBlock (optionally partial(ResBlock, init_values=...))")
    return {"init_scale": kw["init_values"]} if "init_values" in kw else {}


def _same_drop(ours: str):
    """timm's ``drop_rate`` (head) and ``proj_drop_rate`` (MLPs) both land on visionmlp's one dropout rate."""

    def compute(value, args):
        if args.get(ours, value) != value:
            raise ValueError(
                f"official_kwargs: drop_rate and proj_drop_rate differ ({args[ours]} vs {value}); visionmlp has one "
                f"{ours} for the MLPs and the head, so pass one value"
            )
        return {ours: value}

    return compute


def _classifier_head(value, _):
    return {} if value else {"num_classes": 0}


def _fork_feat(value, _):
    if value:
        raise ValueError(
            "official_kwargs: fork_feat=True (the official detection/segmentation backbone) is "
            "create_model(..., features_only=True) in visionmlp"
        )
    return {}


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _refused(key: str, value, allowed: str) -> ValueError:
    return ValueError(f"official_kwargs: {key}={value!r} has no equivalent in visionmlp, which builds {allowed}")


# ----- the official constructors, per family -----------------------------------------------------
_TIMM = "huggingface/pytorch-image-models timm/models/mlp_mixer.py: MlpMixer"
_TIMM_SAME = _names("num_classes img_size in_chans patch_size embed_dim drop_path_rate")
_TIMM_UNUSED = _names("device dtype")
_TIMM_FIXED = dict(act_layer=Layer("GELU"), nlhb=False, stem_norm=False, global_pool="avg")
_PERMUTATOR_SAME = _names(
    "layers img_size patch_size in_chans num_classes embed_dims transitions mlp_ratios skip_lam qkv_bias drop_path_rate"
)

SIGNATURES: dict[str, tuple[Signature, ...]] = {
    "mixer": (
        Signature(
            _TIMM,
            same=(*_TIMM_SAME, "num_blocks"),
            unused=_TIMM_UNUSED,
            computed={
                "mlp_ratio": _mixer_mlp_ratio,
                "norm_layer": _layer_norm("norm_eps"),
                "drop_rate": _same_drop("drop_rate"),
                "proj_drop_rate": _same_drop("drop_rate"),
            },
            fixed=dict(_TIMM_FIXED, block_layer=Layer("MixerBlock"), mlp_layer=Layer("Mlp")),
        ),
        Signature(
            "google-research/vision_transformer vit_jax/models_mixer.py: MlpMixer (Flax)",
            same=_names("num_classes num_blocks tokens_mlp_dim channels_mlp_dim"),
            renamed={"hidden_dim": "embed_dim"},
            computed={"patches": _flax_patches},
            unused=_names("model_name"),
            implies={"gelu_approximate": "tanh", "norm_eps": 1e-6},  # flax.linen.gelu is the tanh form
        ),
    ),
    "resmlp": (
        Signature(
            "facebookresearch/deit resmlp_models.py: resmlp_models",
            same=_names("img_size patch_size in_chans num_classes embed_dim depth drop_rate drop_path_rate init_scale"),
            fixed={"Patch_layer": Layer("PatchEmbed"), "act_layer": Layer("GELU")},
        ),
        Signature(
            _TIMM,
            same=(*_TIMM_SAME, "mlp_ratio"),
            unused=_TIMM_UNUSED,
            renamed={"num_blocks": "depth"},
            computed={
                "block_layer": _timm_resmlp_block,
                "drop_rate": _same_drop("drop_rate"),
                "proj_drop_rate": _same_drop("drop_rate"),
            },
            fixed=dict(_TIMM_FIXED, mlp_layer=Layer("Mlp"), norm_layer=Layer("Affine")),
        ),
    ),
    "gmlp": (
        Signature(
            _TIMM,
            same=(*_TIMM_SAME, *_names("num_blocks mlp_ratio")),
            unused=_TIMM_UNUSED,
            computed={
                "norm_layer": _layer_norm("norm_eps"),
                "drop_rate": _same_drop("drop_rate"),
                "proj_drop_rate": _same_drop("drop_rate"),
            },
            fixed=dict(_TIMM_FIXED, block_layer=Layer("SpatialGatingBlock"), mlp_layer=Layer("GatedMlp")),
        ),
    ),
    "ff_only": (
        Signature(
            "lukemelas/do-you-even-need-attention vision_transformer_linear.py: LinearVisionTransformer",
            same=_names("patch_size in_chans num_classes embed_dim depth mlp_ratio drop_rate drop_path_rate"),
            renamed={"learned_positional_encoding_size": "pos_grid"},
            computed={"norm_layer": _layer_norm("norm_eps")},
            fixed={"positional_encoding": "learned", "block_cls": Layer("LinearBlock"), "hybrid_backbone": None},
            unused=_names("num_heads qkv_bias qk_scale attn_drop_rate"),
        ),
    ),
    "eamlp": (
        Signature(
            "MenghaoGuo/EANet EAMLP/models/t2t_vit.py: T2T_ViT",
            same=_names(
                "img_size in_chans num_classes embed_dim depth num_heads mlp_ratio token_dim "
                "drop_rate attn_drop_rate drop_path_rate"
            ),
            computed={"norm_layer": _layer_norm(None)},
            fixed={"tokens_type": "performer"},
            unused=_names("qkv_bias qk_scale"),
        ),
    ),
    "convmlp": (
        Signature(
            "SHI-Labs/Convolutional-MLPs src/convmlp.py: ConvMLP",
            same=_names("blocks dims mlp_ratios channels n_conv_blocks num_classes"),
            computed={"classifier_head": _classifier_head},
        ),
    ),
    "vip": (
        Signature(
            "Andrew-Qibin/VisionPermutator models/vip.py: VisionPermutator",
            same=(*_PERMUTATOR_SAME, "segment_dim"),
            computed={"norm_layer": _layer_norm(None)},
            fixed={"mlp_fn": Layer("WeightedPermuteMLP")},
            unused=_names("qk_scale drop_rate attn_drop_rate"),
        ),
    ),
    "dynamixer": (
        Signature(
            "ziyuwwang/DynaMixer models/vision_model.py: VisionModel",
            same=(*_PERMUTATOR_SAME, *_names("resolutions num_heads reduced_dims")),
            computed={"norm_layer": _layer_norm(None)},
            fixed={"mlp_fn": Layer("DynaMixerBlock"), "overlap": False},
            unused=_names("qk_scale drop_rate attn_drop_rate"),
        ),
    ),
    "cyclemlp": (
        Signature(
            "ShoufaChen/CycleMLP cycle_mlp.py: CycleNet",
            # The official stem is a fixed 7x7 stride-4 conv on 3 channels: patch_size and in_chans are never read.
            same=_names(
                "layers img_size num_classes embed_dims transitions mlp_ratios skip_lam qkv_bias drop_path_rate"
            ),
            computed={"norm_layer": _layer_norm(None), "fork_feat": _fork_feat},
            fixed={"mlp_fn": Layer("CycleMLP")},
            unused=_names("patch_size in_chans segment_dim qk_scale drop_rate attn_drop_rate"),
        ),
    ),
    "asmlp": (
        Signature(
            "svip-lab/AS-MLP models/as_mlp.py: AS_MLP",
            same=_names(
                "img_size patch_size in_chans num_classes embed_dim depths shift_size mlp_ratio as_bias "
                "drop_rate drop_path_rate"
            ),
            fixed={"norm_layer": Layer("MyNorm"), "patch_norm": True},
            unused=_names("use_checkpoint"),  # memory only: model.set_grad_checkpointing() in visionmlp
        ),
    ),
}


def official_to_kwargs(family: str, official: Mapping, defaults: Mapping) -> dict:
    """visionmlp keyword arguments for the official constructor arguments ``official`` of a ``family`` model.

    ``defaults`` are the variant's own arguments, which computed arguments read where the official call does
    not give them (timm's ``mlp_ratio`` needs the width). Raises naming every argument that has no equivalent.
    """
    if not isinstance(official, Mapping):
        raise TypeError(f"official_kwargs must be a dict of the official constructor's arguments, got {official!r}")
    if family not in SIGNATURES:
        raise ValueError(
            f"official_kwargs: no official constructor is mapped for the {family} family; families with one: "
            f"{', '.join(sorted(SIGNATURES))}. Pass visionmlp's own arguments instead"
        )
    signature = _choose(family, set(official))
    unknown = sorted(set(official) - signature.accepted)
    if unknown:
        raise ValueError(
            f"official_kwargs: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not an argument of "
            f"{signature.code}; its arguments are: {', '.join(sorted(signature.accepted))}"
        )
    out = dict(signature.implies)
    for key, value in official.items():
        value = as_tuples(value)
        if key in signature.same:
            out[key] = value
        elif key in signature.renamed:
            out[signature.renamed[key]] = value
        elif key in signature.fixed:
            _check_fixed(key, value, signature.fixed[key])
    for key, fn in signature.computed.items():  # after the plain ones: they may read them (the width)
        if key in official:
            out.update(fn(as_tuples(official[key]), {**defaults, **out}))
    return out


def _choose(family: str, keys: set[str]) -> Signature:
    """The family's official constructor that takes all of ``keys`` (the one with most of its own names among
    them where several do); where none does, the one that takes most, for its error."""
    options = SIGNATURES[family]

    def own(sig: Signature) -> int:
        others = set().union(*(o.accepted for o in options if o is not sig))
        return len(keys & (sig.accepted - others))

    fitting = [s for s in options if keys <= s.accepted]
    if fitting:
        return max(fitting, key=own)
    return max(options, key=lambda s: len(keys & s.accepted))


def _check_fixed(key: str, value, expected) -> None:
    if isinstance(expected, Layer):
        name, kw = describe(value)
        if name != expected.name or kw:
            raise _refused(key, value, f"{key}={expected.name} only")
    elif value != expected:
        raise _refused(key, value, f"{key}={expected!r} only")
