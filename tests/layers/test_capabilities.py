"""The capability probe and the precision it chooses: every CPU kind's answers on any machine (forced), the
overrides, and the lines a run prints about its precision."""

import pytest
import torch
from torch import nn

from visionmlp.bench.run import BenchConfig, prepare
from visionmlp.cli import main
from visionmlp.utils import capabilities as caps_module
from visionmlp.utils import cpu
from visionmlp.utils.capabilities import KINDS, capabilities, compiled, forced, parse_override, probe
from visionmlp.utils.precision import choose_precision, emulated_warning, parse_amp

CPU = torch.device("cpu")
QUICK = ["--workers", "0", "--no-progress", "--batch-size", "16", "--limit-train", "32", "--limit-val", "32",
         "--model-kwargs", "{embed_dim: 16, num_blocks: 1, tokens_mlp_dim: 8, channels_mlp_dim: 16}"]  # fmt: skip


@pytest.fixture
def machine(monkeypatch):
    """Make the probe read a described machine: ``machine(level, flags, vendor)``."""

    def describe(level: str, flags: str, vendor: str = "AuthenticAMD", key: str = "flags"):
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: level)
        monkeypatch.setattr(cpu, "cpu_fields", lambda: {"vendor_id": vendor, key: flags})
        monkeypatch.setattr(caps_module, "cpu_vendor", lambda: vendor)
        monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: level != "AVX2", raising=False)
        return probe()

    return describe


@pytest.mark.parametrize(
    ("level", "flags", "kind", "native", "onednn_bf16"),
    [
        ("AVX512", "avx2 avx512f avx512_bf16 amx_bf16 amx_tile", "amx", True, True),  # Intel Xeon with AMX
        ("AVX512", "avx2 avx512f avx512_bf16", "avx512", True, True),  # AMD EPYC, Zen 4
        ("AVX512", "avx2 avx512f", "avx512", False, True),  # AVX-512 without bf16 (Skylake): oneDNN emulates
        ("AVX2", "avx2 fma", "avx2", False, False),  # AMD EPYC, Zen 2/3: no bfloat16 kernels at all
        ("AVX2", "avx2 avx512f avx512_bf16", "avx2", False, False),  # capped by ATEN_CPU_CAPABILITY=avx2
    ],
    ids=["amx", "avx512-bf16", "avx512-no-bf16", "avx2", "capped-to-avx2"],
)
def test_probe_reads_the_kind_and_bfloat16_support(machine, level, flags, kind, native, onednn_bf16):
    caps = machine(level, flags)
    assert (caps.kind, caps.native_bf16) == (kind, native)
    assert caps.onednn_bf16 is (onednn_bf16 and caps.onednn)


def test_probe_on_arm_and_the_conv_route_by_vendor(machine, monkeypatch):
    assert machine("NEON", "fp asimd bf16", vendor="", key="Features").native_bf16
    assert not machine("NEON", "fp asimd", vendor="", key="Features").native_bf16
    monkeypatch.setattr(torch.backends.mkl, "is_available", lambda: True)
    assert machine("AVX512", "avx512f", vendor="AuthenticAMD").conv_linear
    assert not machine("AVX512", "avx512f", vendor="GenuineIntel").conv_linear
    monkeypatch.setattr(torch.backends.mkl, "is_available", lambda: False)
    assert not machine("AVX2", "avx2", vendor="AuthenticAMD").conv_linear


def test_the_probe_reads_the_real_cpuinfo_fields():
    """The module reads the same /proc/cpuinfo flags as the reports (no second parser)."""
    assert caps_module.cpu_flags is cpu.cpu_flags


def test_overrides_name_a_kind_or_fields_and_reject_anything_else():
    assert parse_override("avx2") == {**KINDS["avx2"], "kind": "avx2"}
    assert parse_override("native_bf16=1, onednn=0") == {"native_bf16": True, "onednn": False}
    assert parse_override("avx2,onednn=0")["onednn"] is False  # fields after a kind refine it
    for text, message in [("avx3", "unknown CPU kind 'avx3'"), ("turbo=1", "unknown capability 'turbo'"),
                          ("onednn=yes", "onednn must be 0 or 1")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            parse_override(text)
    with pytest.raises(ValueError, match="unknown capability turbo"), forced(turbo=True):
        pass


def test_environment_and_forced_blocks_apply_on_top_of_the_probe(monkeypatch):
    real = capabilities()
    monkeypatch.setenv("VISIONMLP_CAPS", "avx2")
    assert capabilities().kind == "avx2" and not capabilities().native_bf16
    with forced(native_bf16=True) as inner:
        assert inner.kind == "avx2" and inner.native_bf16  # a forced block refines the environment's answer
        with forced(onednn=False):
            assert not capabilities().onednn and capabilities().native_bf16
        assert capabilities().onednn == real.onednn  # the inner block is gone, the outer one holds
    assert not capabilities().native_bf16
    monkeypatch.delenv("VISIONMLP_CAPS")
    assert capabilities() == real


@pytest.mark.parametrize("kind", ["amx", "avx512", "avx2"])
def test_amp_auto_follows_the_cpu_kind(kind):
    with forced(kind):
        precision = choose_precision("auto", CPU)
    assert precision.bf16 is KINDS[kind]["native_bf16"]
    assert f"kind {kind}" in precision.reason and precision.warning is None
    assert precision.describe().startswith("precision: " + ("bfloat16 autocast" if precision.bf16 else "float32"))


def test_explicit_amp_is_obeyed_with_one_warning_where_bfloat16_is_emulated():
    with forced("avx2"):
        on, off = choose_precision(True, CPU), choose_precision(False, CPU)
        assert "several times slower" in emulated_warning(CPU)
    assert on.bf16 and on.warning.startswith("warning: bfloat16 is emulated here")
    assert "no native bfloat16" in on.warning
    assert not off.bf16 and off.warning is None
    with forced("avx512", native_bf16=False):  # AVX-512 without bf16: oneDNN emulates it, at a cost not measured
        assert "slower than float32" in emulated_warning(CPU) and "several times" not in emulated_warning(CPU)
    with forced("amx"):
        assert choose_precision(True, CPU).warning is None


def test_amp_on_cuda_asks_the_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda _device: "Old GPU")
    precision = choose_precision("auto", torch.device("cuda", 0))
    assert not precision.bf16 and "Old GPU does not support bfloat16" in precision.reason


@pytest.mark.parametrize(("text", "value"), [("auto", "auto"), ("true", True), ("off", False), (True, True)])
def test_amp_settings_parse(text, value):
    assert parse_amp(text) == value


def test_amp_setting_errors_name_the_choices(capsys):
    with pytest.raises(ValueError, match="amp must be auto, true or false, got 'maybe'"):
        parse_amp("maybe")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--amp", "maybe"])
    assert exit_info.value.code == 2 and "amp must be auto, true or false" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "kind", "expected", "saved"),
    [
        ([], "avx2", "float32 (amp auto", "auto"),
        ([], "amx", "bfloat16 autocast (amp auto", "auto"),
        (["--amp"], "avx2", "bfloat16 autocast (amp on", True),
        (["--no-amp"], "amx", "float32 (amp off", False),
        (["--amp", "false"], "amx", "float32 (amp off", False),
    ],  # fmt: skip
    ids=["auto-avx2", "auto-amx", "on-avx2", "off-amx", "false-amx"],
)
def test_train_says_its_precision_first(tmp_path, capsys, flags, kind, expected, saved):
    argv = ["train", "--model", "mixer_s4_28", "--data", "synthetic", "--epochs", "1", "--output", str(tmp_path),
            *QUICK, *flags]  # fmt: skip
    with forced(kind):
        assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"precision: {expected}")
    emulated = kind == "avx2" and "--amp" in flags
    assert lines[1].startswith("warning: bfloat16 is emulated") is emulated
    checkpoint = torch.load(tmp_path / "last.pth", weights_only=False)
    assert checkpoint["meta"]["precision"] == expected.split(" (")[0]
    assert checkpoint["config"]["amp"] == saved  # "auto" is kept: a resumed run chooses on its own machine


def test_benchmark_warns_where_bfloat16_is_emulated(capsys):
    argv = ["benchmark", "mixer_s4_28", "--dtype", "bfloat16", "--measure", "latency", "--rounds", "1", "--warmup",
            "0", "--no-memory"]  # fmt: skip
    with forced("avx2"):
        assert main(argv) == 0
    err = capsys.readouterr().err
    assert "precision: bfloat16 weights, as asked; CPU kind avx2" in err and "bfloat16 is emulated" in err
    with forced("amx"):
        assert main(argv) == 0
    assert "emulated" not in capsys.readouterr().err


def test_compile_is_skipped_with_a_reason_where_there_is_no_compiler(monkeypatch):
    calls, said = [], []
    monkeypatch.setattr(torch, "compile", lambda module, **kwargs: calls.append(kwargs) or module)
    model = nn.Linear(2, 2)
    with forced(compiler=False):
        assert compiled(model, CPU, warn=said.append) is model
        assert prepare(nn.Linear(2, 2), BenchConfig(compile=True), train=True) is not None
    assert calls == [] and "needs a C++ compiler" in said[0]
    with forced(compiler=True):
        compiled(model, CPU, options={"freezing": True}, warn=said.append)
    assert calls == [{"options": {"freezing": True}}] and len(said) == 1
