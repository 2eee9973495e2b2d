"""``visionmlp experiment``: every study runs end to end at the tiny budget (a few steps on the synthetic
set) and writes its report, plot and JSON with the expected rows; verdicts and the parameter check are
tested on synthetic numbers."""

from __future__ import annotations

import json

import pytest
import torch

from visionmlp.cli import main
from visionmlp.experiments import (
    BUDGETS,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    STUDIES,
    ParamMismatchError,
    Point,
    check_matched,
    data_scale,
    permutation,
    resolution,
    run_study,
    tradeoff,
    write_index,
)
from visionmlp.experiments._data import PatchPermutation
from visionmlp.experiments._study import _table
from visionmlp.layers.packed_linear import can_pack
from visionmlp.models import BASELINE_FAMILIES

# rows of each study's table at the tiny budget
EXPECTED_ROWS = {
    "data-scale": 3 * 2,  # 3 models x 2 sizes
    "permutation": 2 * 2,
    "convmlp-ablation": 4,
    "dynamixer-ablation": 9,
    "residual": 4,
    "resolution": 5 * (1 + 2 * 4),  # 5 models x (28x28 + 2 modes x 4 sizes)
    "tradeoff": 3,
    "transfer": 3,
}
TRADEOFF_SUBSET = ["gmlp_s4_28", "vit_s4_28", "resnet_s2_28"]  # the smoke test times 3 of the 15 variants


@pytest.mark.parametrize("name", list(STUDIES))
def test_study_runs_at_tiny_budget(name, tmp_path, monkeypatch):
    if name == "tradeoff":
        monkeypatch.setattr(tradeoff, "list_models", lambda _pattern: TRADEOFF_SUBSET)
    study = STUDIES[name]
    doc = run_study(
        study, BUDGETS["tiny"], tmp_path, 1, "synthetic", f"visionmlp experiment {name}", log=lambda _m: None
    )
    assert doc["verdict"]["status"] in (HOLDS, FAILS, INCONCLUSIVE)
    saved = json.loads((tmp_path / f"{name}.json").read_text())
    assert len(saved["table"]) == EXPECTED_ROWS[name] and saved["study"] == name
    assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / f"{name}.md").read_text()
    assert f"visionmlp experiment {name}" in report and doc["verdict"]["status"] in report
    assert report.count("\n| ") >= EXPECTED_ROWS[name] + len(doc["params"])
    assert "*Preliminary: budget `tiny`" in report  # below the full budget a verdict says it is provisional
    assert len(saved["machine"]["load_average"]) == 2 and "load average" in report
    assert "Fashion-MNIST" not in report.split("## Setup", 1)[1].split("\n## ", 1)[0]  # it names the data it used
    assert saved["machine"]["precision"] in ("float32", "bfloat16 autocast") and saved["machine"]["cpu_kind"]


def test_every_matched_study_is_matched():
    for study in STUDIES.values():
        counts = study.param_counts()  # raises ParamMismatchError when a matched study is not
        assert len(counts) >= 2


def test_param_check_fails_loudly():
    check_matched({"a": 100, "b": 109})
    with pytest.raises(ParamMismatchError, match="b"):
        check_matched({"a": 100, "b": 100, "c": 150})


def test_cli_and_index(tmp_path, capsys):
    assert main(["experiment", "permutation", "--budget", "tiny", "--seeds", "1", "--data", "synthetic",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    assert capsys.readouterr().out.startswith("precision: ")  # every arm trains with amp auto; it says which
    index = (tmp_path / "README.md").read_text()
    assert "[report](permutation.md)" in index and index.count("| not yet run |") == len(STUDIES) - 1
    assert "(preliminary) |" in index  # a tiny-budget verdict is not presented as the claim's
    assert main(["experiment", "permutation", "--budget", "small", "--seeds", "1", "--out", str(tmp_path)]) == 2
    assert "at least 2 seeds" in capsys.readouterr().err
    # --render rewrites the report and plot from the JSON alone, exactly as the run wrote them
    report, plot = tmp_path / "permutation.md", tmp_path / "permutation.png"
    written = report.read_text()
    report.unlink()
    plot.unlink()
    assert main(["experiment", "permutation", "--render", "--out", str(tmp_path)]) == 0
    assert report.read_text() == written and plot.is_file()
    assert main(["experiment", "residual", "--render", "--out", str(tmp_path)]) == 2  # nothing saved to render
    assert "run `visionmlp experiment residual` first" in capsys.readouterr().err


def test_rates_and_costs_are_not_printed_as_percentages():
    row = {"arm": "m", "test_top1": Point.of([0.5, 0.7]), "img_per_s": Point.of([1000.0, 1200.0])}
    assert "| m | 60.00 ± 14.14 | 1100 ± 141 |" in _table([row], plain_columns=("img_per_s",))


def test_committed_index_lists_every_claim(tmp_path):
    text = write_index(tmp_path, list(STUDIES.values())).read_text()
    assert all(study.claim in text for study in STUDIES.values())


def test_patch_permutation_is_a_fixed_bijection():
    import torch

    x = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(2, 8, 8)
    perm = PatchPermutation((8, 8), 4, seed=3)
    y = perm(x)
    assert sorted(y.flatten().tolist()) == x.flatten().tolist() and not torch.equal(y, x)
    assert torch.equal(perm(x), y)


def _p(mean, spread=0.01):
    return Point(mean, spread, 2)


def test_data_scale_verdict():
    def table(cnn, vit, mixer, cnn_big, mixer_big):
        rows = [("bit", 1000, cnn), ("vit", 1000, vit), ("mixer", 1000, mixer), ("bit", 60000, cnn_big),
                ("vit", 60000, cnn_big), ("mixer", 60000, mixer_big)]  # fmt: skip
        return [{"arm": a, "images": n, "test_top1": _p(v)} for a, n, v in rows]

    assert data_scale.verdict(table(0.80, 0.75, 0.70, 0.90, 0.89)).status == HOLDS
    assert data_scale.verdict(table(0.70, 0.75, 0.80, 0.90, 0.89)).status == FAILS
    assert data_scale.verdict(table(0.80, 0.795, 0.70, 0.90, 0.89)).status == INCONCLUSIVE


def test_permutation_verdict():
    def table(m, mp, c, cp):
        rows = [
            ("mixer", "original", m),
            ("mixer", "permuted", mp),
            ("resnet", "original", c),
            ("resnet", "permuted", cp),
        ]
        return [{"arm": a, "data": d, "test_top1": _p(v)} for a, d, v in rows]

    assert permutation.verdict(table(0.85, 0.85, 0.88, 0.70)).status == HOLDS
    assert permutation.verdict(table(0.85, 0.70, 0.88, 0.70)).status == FAILS
    assert permutation.verdict(table(0.85, 0.85, 0.88, 0.875)).status == INCONCLUSIVE


def test_ablation_and_residual_verdicts():
    from visionmlp.experiments import convmlp_ablation, dynamixer_ablation, residual

    def steps(*means):
        return [{"arm": f"s{i}", "test_top1": _p(m)} for i, m in enumerate(means)]

    assert convmlp_ablation.verdict(steps(0.70, 0.75, 0.80, 0.85)).status == HOLDS
    assert convmlp_ablation.verdict(steps(0.70, 0.60, 0.80, 0.85)).status == FAILS
    assert convmlp_ablation.verdict(steps(0.70, 0.705, 0.70, 0.85)).status == INCONCLUSIVE
    dyn = [{"arm": a, "test_top1": _p(m)} for a, m in (("reference", 0.8), ("static", 0.7), ("shared", 0.75))]
    assert dynamixer_ablation.verdict(dyn).status == HOLDS
    dyn[1]["test_top1"] = _p(0.9)
    assert dynamixer_ablation.verdict(dyn).status == FAILS
    res = [{"arm": a, "test_top1": _p(m)} for a, m in (("mixer", 0.8), ("mixer-plain", 0.5), ("gmlp", 0.8),
                                                        ("gmlp-plain", 0.6))]  # fmt: skip
    assert residual.verdict(res).status == HOLDS
    res[3]["test_top1"] = _p(0.81)
    assert residual.verdict(res).status == FAILS


def test_resolution_and_tradeoff_verdicts():

    def cells(native, resized):
        rows = []
        for size in ("24x24", "32x32", "40x40", "24x40"):
            rows += [{"arm": "mixer", "size": size, "mode": "native", "top1": _p(native)},
                     {"arm": "mixer", "size": size, "mode": "resize", "top1": _p(resized)}]  # fmt: skip
        return rows

    assert resolution.verdict(cells(0.8, 0.8)).status == HOLDS
    assert resolution.verdict(cells(0.5, 0.8)).status == FAILS

    def model(arm, family, acc, speed, all_mlp=True):
        return {"arm": arm, "family": family, "all_mlp": all_mlp and family not in BASELINE_FAMILIES,
                "test_top1": _p(acc), "img_per_s": _p(speed)}  # fmt: skip

    assert tradeoff.verdict([model("m", "mixer", 0.8, 100), model("v", "vit", 0.7, 50)]).status == HOLDS
    assert tradeoff.verdict([model("m", "mixer", 0.6, 50), model("r", "resnet", 0.8, 100)]).status == FAILS
    # a hybrid (convolutions beyond the stem) neither carries the claim nor pushes an all-MLP model off the front
    hybrid = model("c", "convmlp", 0.9, 200, all_mlp=False)
    assert tradeoff.verdict([hybrid, model("m", "mixer", 0.6, 50), model("r", "resnet", 0.8, 100)]).status == FAILS
    held = tradeoff.verdict([hybrid, model("m", "mixer", 0.8, 100), model("v", "vit", 0.7, 50)])
    assert held.status == HOLDS and "not judged: c" in held.reason
    assert tradeoff.judged_front([hybrid, model("m", "mixer", 0.8, 100), model("v", "vit", 0.7, 50)]) == ["m"]
    assert tradeoff.pareto_front([model("m", "mixer", 0.8, 10), model("r", "resnet", 0.7, 100)]) == ["m", "r"]


def test_tradeoff_times_every_model_fused_and_packed_side_by_side(tmp_path, monkeypatch):
    timed = []
    real = tradeoff.inference_step

    def spy(model, x):
        timed.append((model.training, any(getattr(m, "is_packed", False) for m in model.modules())))
        return real(model, x)

    monkeypatch.setattr(tradeoff, "list_models", lambda _pattern: ["mixer_s4_28", "gmlp_s4_28"])
    monkeypatch.setattr(tradeoff, "inference_step", spy)
    monkeypatch.setitem(tradeoff.TIMING, "tiny", (3, 1))
    doc = run_study(STUDIES["tradeoff"], BUDGETS["tiny"], tmp_path, 1, "synthetic", "cmd", log=lambda _m: None)
    assert timed == [(False, can_pack(torch.ones(1, 1)))] * 2  # in eval mode, prepacked where oneDNN is
    rounds = [r for r in doc["runs"] if "img_per_s" in r]
    assert sorted((r["arm"], r["round"]) for r in rounds) == [(a, i) for a in ("gmlp_s4_28", "mixer_s4_28")
                                                              for i in range(3)]  # fmt: skip
    speed = {row["arm"]: row["img_per_s"] for row in doc["table"]}
    assert all(point["n"] == 3 and point["mean"] > 0 for point in speed.values())  # a point over the rounds
    assert all("gmacs" in row and row["test_top1"]["n"] == 1 for row in doc["table"])
    assert all(row["all_mlp"] is True for row in doc["table"])  # both are all-MLP, so both are judged
