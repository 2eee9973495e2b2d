"""``official_kwargs``: a family's official constructor arguments, by their official names, build the same model
as visionmlp's own arguments; an argument with no equivalent is refused by name."""

import functools
import logging
import types

import pytest
import torch

import visionmlp
from helpers.official import fixture_model, load_fixture, write_official
from visionmlp import hub
from visionmlp.models._official_args import SIGNATURES, describe


def _args(model):
    return model.build_kwargs


def test_every_family_with_a_converter_has_its_official_constructor():
    from visionmlp.convert import CONVERTERS

    families = {f for c in CONVERTERS.values() for f in c.families}
    assert families <= set(SIGNATURES)


def test_timm_mixer_arguments():
    model = visionmlp.create_model(
        "mixer_s16_224",
        official_kwargs=dict(embed_dim=64, num_blocks=2, mlp_ratio=[0.5, 4.0], block_layer="MixerBlock",
                             norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-5)),
    )  # fmt: skip
    kw = _args(model)
    assert (kw["embed_dim"], kw["num_blocks"], kw["tokens_mlp_dim"], kw["channels_mlp_dim"]) == (64, 2, 32, 256)
    assert kw["norm_eps"] == 1e-5 and model.blocks[0].norm1.eps == 1e-5


def test_mlp_ratio_reads_the_variants_width_when_not_given():
    kw = _args(visionmlp.create_model("mixer_s16_224", official_kwargs={"mlp_ratio": (1.0, 2.0)}, device="meta"))
    assert (kw["tokens_mlp_dim"], kw["channels_mlp_dim"]) == (512, 1024)  # mixer_s16_224 is 512 wide


@pytest.mark.parametrize(
    "patches", [{"size": (8, 8)}, "ml_collections.ConfigDict({'size': (8, 8)})", types.SimpleNamespace(size=[8, 8])]
)
def test_flax_mixer_arguments_imply_its_tanh_gelu(patches):
    model = visionmlp.create_model(
        "mixer_s16_224", img_size=64, official_kwargs=dict(patches=patches, num_blocks=1, hidden_dim=32,
                                                           tokens_mlp_dim=16, channels_mlp_dim=64, num_classes=10),
    )  # fmt: skip
    kw = _args(model)
    assert (kw["patch_size"], kw["embed_dim"], kw["gelu_approximate"], kw["norm_eps"]) == (8, 32, "tanh", 1e-6)


def test_timm_resmlp_block_partial_sets_layerscale_init():
    kw = _args(visionmlp.create_model(
        "resmlp_12_224", device="meta",
        official_kwargs=dict(num_blocks=3, block_layer="partial(ResBlock, init_values=0.5)", norm_layer="Affine"),
    ))  # fmt: skip
    assert (kw["depth"], kw["init_scale"]) == (3, 0.5)


def test_convmlp_without_classifier_head():
    model = visionmlp.create_model("convmlp_s", official_kwargs=dict(classifier_head=False), device="meta")
    assert model.num_classes == 0


def test_explicit_keywords_override_official_ones():
    model = visionmlp.create_model("vip_s7", official_kwargs={"num_classes": 10}, num_classes=5, device="meta")
    assert model.num_classes == 5


def test_arguments_the_official_code_never_reads_are_accepted():
    model = visionmlp.create_model(
        "cyclemlp_b1", device="meta", official_kwargs=dict(patch_size=7, segment_dim=[8] * 4, qk_scale=None,
                                                           attn_drop_rate=0.1, drop_rate=0.2),
    )  # fmt: skip
    assert "drop_rate" not in _args(model)  # the official CycleNet never uses it


@pytest.mark.parametrize(
    "name, official, message",
    [
        ("vip_s7", {"layer": [1, 1, 1, 1]}, r"layer is not an argument of Andrew-Qibin/VisionPermutator .*layers"),
        ("vip_s7", {"mlp_fn": "Permute"}, r"mlp_fn='Permute' has no equivalent in visionmlp.*WeightedPermuteMLP"),
        ("vip_s7", {"norm_layer": "partial(nn.LayerNorm, eps=1e-6)"}, r"norm_layer=.*LayerNorm with eps=1e-05"),
        ("mixer_s16_224", {"block_layer": "ResBlock"}, r"block_layer='ResBlock'.*MixerBlock only"),
        ("mixer_s16_224", {"norm_layer": "BatchNorm2d"}, r"norm_layer='BatchNorm2d' has no equivalent"),
        ("mixer_s16_224", {"drop_rate": 0.1, "proj_drop_rate": 0.2}, r"drop_rate and proj_drop_rate differ"),
        ("asmlp_t", {"patch_norm": False}, r"patch_norm=False has no equivalent.*patch_norm=True only"),
        ("cyclemlp_b1", {"fork_feat": True}, r"features_only=True"),
        ("dynamixer_s", {"overlap": True}, r"overlap=True has no equivalent"),
        ("s2mlp_wide", {"embed_dim": 8}, r"no official constructor is mapped for the s2mlp family"),
    ],
)
def test_arguments_without_equivalent_are_named(name, official, message):
    with pytest.raises(ValueError, match=message):
        visionmlp.create_model(name, official_kwargs=official, device="meta")


def test_describe_reads_objects_and_source_text():
    assert describe(functools.partial(torch.nn.LayerNorm, eps=1e-6)) == ("LayerNorm", {"eps": 1e-6})
    assert describe(torch.nn.GELU) == ("GELU", {})
    assert describe("partial(nn.LayerNorm, eps=1e-06)") == ("LayerNorm", {"eps": 1e-6})
    assert describe("nn.LayerNorm") == ("LayerNorm", {})


# ----- CycleMLP's official arguments: transitions, skip_lam, qkv_bias ------------------------------------
def test_cyclemlp_transitions_decide_the_downsampling():
    model = visionmlp.create_model(
        "cyclemlp_b1", img_size=64, official_kwargs=dict(layers=[1, 1, 1, 1], embed_dims=[8, 16, 16, 24],
                                                         transitions=[True, False, True, True], mlp_ratios=[2] * 4),
    ).eval()  # fmt: skip
    assert [i["reduction"] for i in model.feature_info] == [4, 8, 8, 16]
    assert isinstance(model.stages[2].downsample, torch.nn.Identity)
    with pytest.raises(ValueError, match=r"changes the width \(8 -> 16\) without a transition"):
        visionmlp.create_model(
            "cyclemlp_b1",
            official_kwargs=dict(layers=[1, 1], embed_dims=[8, 16], transitions=[False], mlp_ratios=[2, 2]),
        )


def test_cyclemlp_qkv_bias_and_skip_lam():
    small = dict(layers=[1, 1], embed_dims=[8, 16], mlp_ratios=[2, 2], transitions=[True])
    plain = visionmlp.create_model("cyclemlp_b1", official_kwargs=small).eval()
    assert "stages.0.blocks.0.mixer.mlp_c.bias" not in plain.state_dict()
    biased = visionmlp.create_model("cyclemlp_b1", official_kwargs={**small, "qkv_bias": True})
    assert "stages.0.blocks.0.mixer.mlp_c.bias" in biased.state_dict()
    halved = visionmlp.create_model("cyclemlp_b1", official_kwargs={**small, "skip_lam": 2.0}).eval()
    halved.load_state_dict(plain.state_dict())
    block, x = plain.stages[0].blocks[0], torch.randn(1, 4, 4, 8)
    with torch.no_grad():  # x + f(x) / 2 with f the same branch: the residual sum computed by hand
        y = x + block.mixer(block.norm1(x)) / 2
        expected = y + block.mlp(block.norm2(y)) / 2
        assert torch.allclose(halved.stages[0].blocks[0](x), expected, atol=1e-6)


# ----- loading reports the detected format ----------------------------------------------------------------
def test_create_model_reports_the_detected_format(shared, tmp_path, caplog):
    meta, state, _, _ = load_fixture(shared / "fixtures/official/cyclemlp_l2222_64.safetensors")
    name, kwargs = fixture_model("cyclemlp", meta)
    path = write_official(state, "cyclemlp", tmp_path, wrap=True)
    with caplog.at_level(logging.INFO, logger="visionmlp"):
        model = visionmlp.create_model(name, pretrained=path, **kwargs)
    assert model.load_report.format == "cyclemlp"
    assert "format cyclemlp" in caplog.text and str(path) in caplog.text


def test_a_complete_conversion_that_does_not_fit_reports_its_own_keys(shared, tmp_path):
    meta, state, _, _ = load_fixture(shared / "fixtures/official/ffonly_p16_d2_224.safetensors")
    state = {**state, "pos_encoding.pos_embed": torch.zeros(1, 64, 7, 7)}
    torch.save(state, tmp_path / "ff.pth")
    name, kwargs = fixture_model("ffonly", meta)
    with pytest.raises(ValueError, match=r"mis-shaped 1: pos_embed \(1, 64, 7, 7\) vs expected \(1, 64, 14, 14\)$"):
        visionmlp.create_model(name, pretrained=tmp_path / "ff.pth", **kwargs)


# ----- the official release files ---------------------------------------------------------------------
def test_cyclemlp_and_asmlp_release_files_are_registered(tmp_path, monkeypatch):
    assert hub.weight_file("cyclemlp_b3").url.endswith("/releases/download/v0.1/CycleMLP_B3.pth")
    assert [hub.weight_file(f"asmlp_{s}").top1 for s in "tsb"] == [81.3, 83.1, 83.3]
    monkeypatch.setenv("VISIONMLP_CACHE", str(tmp_path))
    monkeypatch.delenv("VISIONMLP_OFFLINE", raising=False)
    monkeypatch.delenv("VISIONMLP_WEIGHTS_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match=r"share it through a web page.*sharepoint.*asmlp_tiny_patch4_shift5"):
        visionmlp.create_model("asmlp_t", pretrained=True)  # a share page is never "downloaded" as weights


def test_docs_table_lists_every_official_argument():
    """docs/weights.md's table is this mapping: each row names every argument its constructor accepts."""
    from conftest import REPO_ROOT

    rows = [line for line in (REPO_ROOT / "docs" / "weights.md").read_text().splitlines() if line.startswith("| ")]
    for family, signatures in SIGNATURES.items():
        for sig in signatures:
            row = next((r for r in rows if r.startswith(f"| {family} | {sig.code} |")), None)
            assert row is not None, f"docs/weights.md has no row for {family}: {sig.code}"
            missing = [name for name in sig.accepted if f"`{name}" not in row]
            assert not missing, f"docs/weights.md's {family} row ({sig.code}) misses {missing}"
