"""``visionmlp benchmark``: JSON schema, table, exit codes, and ``--compare timm`` (skipped without timm)."""

import json

import pytest

from visionmlp.bench import compare
from visionmlp.cli import main

FAST = ["--batch-size", "2", "--rounds", "1", "--warmup", "0"]


def _json(capsys, argv):
    assert main(["benchmark", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_schema(capsys):
    doc = _json(capsys, ["mixer_s4_28", *FAST, "--roofline", "--matmul-side", "128"])
    assert doc["schema"] == "visionmlp.benchmark/1"
    (r,) = doc["results"]
    assert r["model"] == "mixer_s4_28" and r["family"] == "mixer" and r["input_shape"] == [2, 1, 28, 28]
    assert r["macs"] * 2 == r["flops"] and r["params"] > 0
    for key in ("inference", "training", "latency"):
        section = r[key]
        for stat in ("seconds", "images_per_s", "gflops", "matmul_gflops", "fraction"):
            assert set(section[stat]) == {"median", "min", "max", "samples"}
        assert section["peak_memory_bytes"] > 0
    assert r["training"]["flops"] == 3 * r["flops"] and r["latency"]["images"] == 1
    assert len(r["machine_before"]["load_avg"]) == 3


def test_glob_table_and_options(capsys):
    argv = ["benchmark", "resmlp_s4_2*", *FAST, "--measure", "inference", "--fuse", "--pack", "--dtype", "bfloat16"]
    assert main([*argv, "--no-memory", "--threads", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == "model" and [line.split()[0] for line in lines[1:]] == ["resmlp_s4_28"]


def test_profile_lists_top_operators(capsys):
    doc = _json(capsys, ["mixer_s4_28", *FAST, "--measure", "inference", "--no-memory", "--profile", "3"])
    rows = doc["results"][0]["inference"]["profile"]
    assert len(rows) == 3 and all(row["op"].startswith("aten::") for row in rows)
    assert [row["share"] for row in rows] == sorted((row["share"] for row in rows), reverse=True)
    assert main(["benchmark", "mixer_s4_28", *FAST, "--measure", "inference", "--no-memory", "--profile", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[2:]] == ["inference", "inference"]


@pytest.mark.parametrize(
    "argv",
    [
        ["no_such_model"],
        ["mixer_s4_28", "--measure", "speed"],
        ["mixer_s4_28", "--amp", "--dtype", "bfloat16"],
        ["mixer_s4_28", "--rounds", "0"],
        ["mixer_s4_28", "--profile", "-1"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(["benchmark", *argv]) == 2
    assert "error:" in capsys.readouterr().err


def test_compare_timm_without_timm_exits_2(monkeypatch, capsys):
    def unavailable():
        raise compare.TimmUnavailable("timm is not importable: no module named 'timm'")

    monkeypatch.setattr(compare, "import_timm", unavailable)
    assert main(["benchmark", "mixer_s16_224", "--compare", "timm"]) == 2
    assert "timm is not importable" in capsys.readouterr().err


def test_compare_timm_rejects_families_timm_lacks(capsys):
    _timm()
    assert main(["benchmark", "vip_s7", *FAST, "--img-size", "224", "--compare", "timm", "--measure", "latency"]) == 2
    assert "no implementation" in capsys.readouterr().err


def _timm():
    try:
        return compare.import_timm()
    except compare.TimmUnavailable as err:
        pytest.skip(str(err))


@pytest.mark.parametrize("name", ["mixer_s16_224", "resmlp_12_224", "gmlp_s16_224"])
def test_compare_timm_same_function_and_ratio(name, capsys):
    _timm()
    doc = _json(
        capsys, [name, *FAST, "--img-size", "32", "--measure", "inference", "--compare", "timm", "--fuse", "--pack"]
    )
    cmp = doc["results"][0]["compare_timm"]
    assert cmp["max_abs_diff"] <= 1e-4
    assert len(cmp["inference"]["ratio"]["samples"]) == 1 and cmp["inference"]["ratio"]["median"] > 0


def test_report_renders_the_committed_document_from_its_json(tmp_path, capsys):
    """docs/results/performance.md is what ``visionmlp benchmark --report --render`` makes of performance.json."""
    import shutil

    from conftest import REPO_ROOT

    for name in ("performance.md", "performance.json"):
        shutil.copy(REPO_ROOT / "docs" / "results" / name, tmp_path / name)
    assert main(["benchmark", "--report", "--render", "--report-dir", str(tmp_path)]) == 0
    assert (tmp_path / "performance.md").read_text() == (REPO_ROOT / "docs/results/performance.md").read_text()
    assert main(["benchmark", "--render"]) == 2 and "--render and --only belong to --report" in capsys.readouterr().err
    assert main(["benchmark"]) == 2 and "name the models to benchmark" in capsys.readouterr().err
