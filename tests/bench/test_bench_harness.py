"""The benchmark harness's logic: FLOP counting, statistics, alternation, roofline fractions, memory, profiles."""

import pytest
import torch
from torch import nn

import visionmlp
from visionmlp.bench import flops
from visionmlp.bench.profile import top_ops
from visionmlp.bench.roofline import fraction, gflops, matmul_step
from visionmlp.bench.run import BenchConfig, prepare
from visionmlp.bench.throughput import Stats, alternate, peak_memory, per_round_ratio
from visionmlp.layers.linear import Linear
from visionmlp.utils.capabilities import capabilities, forced


def test_mixer_s16_macs_match_the_paper():
    cost = flops.count("mixer_s16_224")
    assert cost.params == 18_528_264
    assert cost.macs / 1e9 == pytest.approx(3.78, abs=0.01)  # Table 1: 3.79 G (incl. norms and GELUs)
    assert flops.count("mixer_s16_224", batch_size=4).macs == 4 * cost.macs
    assert cost.train_flops == 3 * cost.flops


def test_attention_is_counted():
    # On real CPU tensors torch 2.13's counter sees SDPA as 0 FLOPs; counting on meta must include it.
    cost = flops.count("vit_s16_224")
    assert cost.macs / 1e9 == pytest.approx(4.6, abs=0.05)


def test_known_macs_of_a_linear_model():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 10))
    cost = flops.model_cost(model, (5, 3, 4, 4))
    assert cost.macs == 5 * 48 * 10 and cost.params == 48 * 10 + 10
    assert not next(model.parameters()).is_meta  # counted on a meta copy, the model is untouched


def test_img_size_changes_the_input_and_cost():
    assert flops.input_shape("mixer_s16_224", 2, 64) == (2, 3, 64, 64)
    assert flops.count("mixer_s16_224", img_size=64).macs < flops.count("mixer_s16_224").macs


def test_stats():
    s = Stats.of([3.0, 1.0, 2.0])
    assert (s.median, s.min, s.max) == (2.0, 1.0, 3.0)
    assert s.map(lambda v: 1 / v).max == 1.0
    assert s.to_dict()["samples"] == [3.0, 1.0, 2.0]
    assert f"{s:.1f}" == "2.0 (1.0-3.0)"
    with pytest.raises(ValueError):
        Stats.of([])
    ratio = per_round_ratio(Stats.of([2.0, 9.0]), Stats.of([1.0, 3.0]))  # round by round, not of the medians
    assert ratio.samples == (2.0, 3.0)


def test_alternate_interleaves_steps():
    calls = []
    times = alternate({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, 1, lambda: None)
    assert calls == ["a", "b"] * 4
    assert len(times["a"].samples) == len(times["b"].samples) == 3
    with pytest.raises(ValueError):
        alternate({"a": lambda: None}, 0, 0, lambda: None)


def test_roofline_fraction_pairs_rounds():
    step = Stats.of([1.0, 2.0])
    matmul = Stats.of([0.5, 0.5])
    frac = fraction(step, 100, matmul, 100)
    assert frac.samples == (0.5, 0.25)
    assert gflops(Stats.of([2.0]), 4e9).median == 2.0
    mm, mm_flops = matmul_step(torch.float32, torch.device("cpu"), side=8)
    assert mm().shape == (8, 8) and mm_flops == 2 * 8**3


def test_peak_memory_sees_temporaries():
    n = 1 << 20

    def step():
        a = torch.ones(n)  # 4 MiB, freed before b is made: the peak is 4 MiB, not 8
        del a
        b = torch.ones(n)
        return b.sum()

    peak = peak_memory(step, torch.device("cpu"))
    assert 4 * n <= peak < 8 * n


def test_profile_ranks_operators_per_step():
    # Two matmuls of 2 x 512^3 multiply-adds and one add over 512^2 numbers per step: the add is ~1000x cheaper,
    # so even a loaded machine that pre-empts the process mid-add (CI shares its cores) keeps the ranking.
    a = torch.randn(512, 512)

    def step():
        b = torch.mm(a, a)
        return torch.mm(b, a).add_(1.0)

    rows = top_ops(step, steps=5, top=5)
    by_op = {r["op"]: r for r in rows}
    assert rows[0]["op"] == "aten::mm" and rows[0]["share"] > by_op["aten::add_"]["share"] > 0
    assert by_op["aten::mm"]["calls"] == 2 and by_op["aten::add_"]["calls"] == 1  # per step, not per 3 steps
    assert [r["share"] for r in rows] == sorted((r["share"] for r in rows), reverse=True)
    assert sum(r["share"] for r in rows) <= 1 + 1e-9 and rows[0]["self_ms"] > by_op["aten::add_"]["self_ms"]


@pytest.mark.parametrize("steps, top", [(0, 3), (3, 0)])
def test_profile_rejects_empty_requests(steps, top):
    with pytest.raises(ValueError, match="profile needs steps >= 1 and top >= 1"):
        top_ops(lambda: None, steps, top)


@pytest.mark.parametrize("train", [False, True])
def test_prepare_packs_for_inference_only(train):
    model = prepare(visionmlp.create_model("mixer_s4_28"), BenchConfig(fuse=True, pack=True), train)
    packed = [m.is_packed for m in model.modules() if isinstance(m, Linear)]
    assert packed and (not any(packed) if train else all(packed) is capabilities().onednn)


_NO_BF16_KERNELS = pytest.mark.skipif(
    not capabilities().onednn_bf16, reason=f"needs oneDNN bfloat16 kernels, which CPU kind {capabilities().kind} lacks"
)


@pytest.mark.parametrize("kind", [pytest.param("avx512", marks=_NO_BF16_KERNELS), "avx2"])
def test_prepare_packs_bfloat16_only_where_onednn_has_its_kernels(kind):
    with forced(kind, onednn=True):
        model = prepare(visionmlp.create_model("mixer_s4_28"), BenchConfig(dtype="bfloat16", pack=True), False)
    packed = [m.is_packed for m in model.modules() if isinstance(m, Linear)]
    assert next(model.parameters()).dtype == torch.bfloat16
    assert all(packed) if kind == "avx512" else not any(packed)


@pytest.mark.parametrize("train", [False, True])
def test_compile_freezes_weights_for_inference_only(train, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "compile", lambda model, **kwargs: calls.append(kwargs) or model)
    monkeypatch.setattr(torch._dynamo, "reset", lambda: calls.append("reset"))
    prepare(visionmlp.create_model("mixer_s4_28"), BenchConfig(compile=True), train)
    # reset first: the models share one forward, and dynamo's recompile limit would leave later ones eager
    assert calls == ["reset", {"options": None if train else {"freezing": True}}]
