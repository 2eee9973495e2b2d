"""``visionmlp experiment fashion-mnist``: the shipped recipes trained by their own commands, teachers first, scored
once on the test split, resumed rather than retrained, and the targets judged on what was measured."""

import json
import shutil
import sys
import threading
import time

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from visionmlp.cli import main
from visionmlp.experiments import _jobs, fashion_mnist
from visionmlp.experiments.fashion_mnist import (
    RECIPES,
    at_median_epoch,
    best_untaught,
    final_weights,
    holdout_scores,
    judge,
    mark_chosen,
    progress,
    recipes_in,
    ship,
)
from visionmlp.utils.capabilities import forced
from visionmlp.utils.cpu import cpu_summary


def test_teachers_train_first_then_half_done_runs(tmp_path):
    order = [r.stem for r in recipes_in(RECIPES)]
    assert order[0] == "resnet_teacher" and order.index("asmlp") < order.index("vit")
    (tmp_path / "vit").mkdir()
    (tmp_path / "vit" / "last.pth").write_bytes(b"")
    assert [r.stem for r in recipes_in(RECIPES, tmp_path)][:2] == ["resnet_teacher", "vit"]


def _row(model, top1, all_mlp=True, teacher=None, holdout=None, recipe=None):
    holdout = top1 if holdout is None else holdout
    return {"model": model, "family": model, "test_top1": top1, "all_mlp": all_mlp, "teacher": teacher,
            "holdout_top1": holdout, "recipe": recipe or model, "final_weights": "ema",
            "holdout_top1_of": {"ema": holdout}}  # fmt: skip


# A stand-in for `visionmlp train` (argv: calls-file, saves, then train's own): logs its arguments; the first call
# trains until SIGTERM, saving last.pth into its --output first when `saves` is "1", as the trainer does once its
# loop runs (before that, a SIGTERM kills it with nothing saved); later calls return at once.
FAKE_TRAIN = """
import pathlib, signal, sys, time
calls, saves, args = pathlib.Path(sys.argv[1]), sys.argv[2] == "1", sys.argv[3:]
first = not calls.exists()
calls.open("a").write(" ".join(args) + "\\n")
def stop(*_):
    if saves:
        (pathlib.Path(args[args.index("--output") + 1]) / "last.pth").write_bytes(b"")
    sys.exit(130)
if first:
    signal.signal(signal.SIGTERM, stop)
    time.sleep(60)
"""


@pytest.mark.parametrize("saved", [True, False])
def test_a_run_given_more_cores_resumes_or_starts_again(tmp_path, monkeypatch, saved):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    calls, script, run = tmp_path / "calls.txt", tmp_path / "fake_train.py", tmp_path / "runs" / "gmlp"
    script.write_text(FAKE_TRAIN)
    run.mkdir(parents=True)
    argv = [sys.executable, str(script), str(calls), "1" if saved else "0"]
    monkeypatch.setattr(_jobs, "visionmlp", lambda *args: [*argv, *args])
    launcher = _jobs.Launcher(_jobs.Commands(log=lambda line: None))
    launcher.share(["gmlp", "mixer"])
    recipe = RECIPES / "gmlp.yaml"
    train = (recipe, {}, run, run.parent, set(), fashion_mnist.SWEEPS["full"], launcher, print)
    worker = threading.Thread(target=fashion_mnist._train, args=train)
    worker.start()
    while not calls.exists():
        time.sleep(0.05)
    time.sleep(0.5)  # its SIGTERM handler is in place
    launcher.share(["gmlp"])  # mixer finished: gmlp takes both cores
    worker.join(30)
    first, again = calls.read_text().splitlines()
    assert first == f"train -c {recipe} --output {run} --no-progress --threads 1"
    if saved:  # from its checkpoint
        assert again == f"train --resume {run} --no-progress --threads 2"
    else:  # stopped before its first checkpoint: from the start
        assert again == f"train -c {recipe} --output {run} --no-progress --threads 2"


def test_the_hold_out_chooses_each_models_arm_and_the_targets_see_only_that_one():
    alone = _row("gmlp", 0.945, holdout=0.92, recipe="gmlp")  # the better test top-1 must not be picked
    taught = _row("gmlp", 0.935, teacher="resnet", holdout=0.93, recipe="gmlp_distill")
    rows = [alone, taught, _row("mixer", 0.93)]
    mark_chosen(rows, pending=[{"recipe": "mixer_long", "model": "mixer", "progress": "epoch 3 of 30"}])
    assert [r["chosen"] for r in rows] == [False, True, True]
    assert [r["final"] for r in rows] == [False, True, False]  # mixer has an arm still training: nothing ships
    _, mlp, _ = judge(rows, {"gmlp", "mixer"})
    assert (mlp["model"], mlp["measured"]) == ("gmlp", 0.935)


def test_the_untaught_all_mlp_line_follows_the_hold_out_not_the_test():
    rows = [_row("vip", 0.9387, holdout=0.930, recipe="vip"), _row("vip", 0.9384, holdout=0.931, recipe="vip_64"),
            _row("gmlp", 0.95, teacher="resnet"), _row("resnet", 0.96, all_mlp=False), _row("mixer", 0.93)]  # fmt: skip
    assert best_untaught(rows)["recipe"] == "vip_64"  # the hold-out's untaught arm of the best untaught model
    assert best_untaught(rows[2:4]) is None


def test_a_run_is_priced_at_the_median_epoch_of_each_thread_count():
    alone = [100.0, 100.0, 900.0]  # CPU-seconds; the 900 s epoch was paused
    assert at_median_epoch(alone, [2, 2, 2]) == 300.0
    # Three one-thread epochs at 80 CPU-s, then four alone on two threads at 100: each part at its own median, where
    # one median over all seven would price the run at 700.
    assert at_median_epoch([80.0, 80.0, 80.0, 100.0, 100.0, 100.0, 100.0], [1, 1, 1, 2, 2, 2, 2]) == 640.0
    # One two-thread epoch, 900 CPU-s across a session's pauses, among one-thread ones: too few to have a median of
    # their own, so it is priced at the run's median epoch (80), not at itself.
    assert at_median_epoch([80.0, 80.0, 900.0, 80.0, 80.0], [1, 1, 2, 1, 1]) == 400.0


def test_the_hold_out_chooses_between_the_ema_and_the_raw_weights():
    ema = {"ema": True}
    scored = holdout_scores({"val_top1": "0.916", "ema_top1": "0.9113", "epoch": "26"})
    assert scored == {"ema": 0.9113, "raw": 0.916}
    assert final_weights(ema, scored) == "raw"  # the EMA trailed (EAMLP)
    assert final_weights(ema, holdout_scores({"val_top1": "0.937", "ema_top1": "0.937"})) == "ema"  # a tie: EMA
    assert final_weights(ema, holdout_scores({"val_top1": "0.90", "ema_top1": "0.91"})) == "ema"
    no_ema = holdout_scores({"val_top1": "0.90", "ema_top1": ""})
    assert no_ema == {"raw": 0.90}
    assert final_weights({"ema": False}, no_ema) == "raw"  # no EMA to choose


def test_a_shipped_file_of_the_other_weights_is_stale(tmp_path):
    runs, weights = tmp_path / "runs", tmp_path / "weights"
    weights.mkdir()
    row = {**_row("eamlp", 0.9106, recipe="eamlp"), "final_weights": "raw"}
    mark_chosen([row], pending=[])
    _ship_file(weights, runs, row)  # as released before the header named the weights: the EMA
    ship([row], runs, weights, sweep=None, launcher=None, log=print, release=False)
    assert row["weights"] is None  # the same run and top-1, but not the weights the hold-out chose
    _ship_file(weights, runs, row, kind="raw")
    ship([row], runs, weights, sweep=None, launcher=None, log=print, release=False)
    assert row["weights"] == "weights/weights/eamlp.safetensors"


def test_a_pending_run_says_how_far_it_got(tmp_path):
    cfg = {"epochs": 26}
    assert progress(tmp_path / "eamlp_light", cfg) == "not started"
    (tmp_path / "eamlp_light").mkdir()
    (tmp_path / "eamlp_light" / "last.pth").write_bytes(b"")  # stopped at step 33: a checkpoint, no epoch yet
    assert progress(tmp_path / "eamlp_light", cfg) == "in epoch 1 of 26"
    (tmp_path / "eamlp_light" / "summary.csv").write_text("epoch,val_top1\n1,0.8\n2,0.85\n")
    assert progress(tmp_path / "eamlp_light", cfg) == "epoch 2 of 26"


def _reported_row(recipe, model, epochs):
    """A report row as the sweep writes it, with the fields the markdown reads."""
    return {**_row(model, 0.93, recipe=recipe), "teacher": None, "params": 1e6, "macs": 3e7, "epochs": epochs,
            "wall_hours": 1.0, "threads": [1], "cpu_hours": 1.0, "median_cpu_hours": 1.0, "overhead_share": 0.1,
            "phases_s": {}, "command": f"visionmlp train -c {recipe}.yaml", "curve": [0.9, 0.93]}  # fmt: skip


def test_a_new_checkout_keeps_the_reports_rows_whose_runs_are_gone(tmp_path, capsys):
    recipes, runs, out = tmp_path / "recipes", tmp_path / "runs", tmp_path / "out"
    recipes.mkdir(), out.mkdir()
    for name in ("gmlp", "mixer", "vit"):
        shutil.copy(RECIPES / f"{name}.yaml", recipes / f"{name}.yaml")
    rows = [_reported_row("gmlp", "gmlp_s4_28", 40), _reported_row("mixer", "mixer_s4_28", 30)]  # mixer's is 72 now
    doc = {"sweep": "tiny", "data": "synthetic", "rows": rows, "pending": [], "machine": {"cpu": "AMD EPYC (avx2)"}}
    (out / "fashion-mnist.json").write_text(json.dumps(doc))
    argv = ["experiment", "fashion-mnist", "--budget", "tiny", "--data", "synthetic", "--recipes", str(recipes),
            "--runs", str(runs), "--out", str(out), "--no-train"]  # fmt: skip
    assert main(argv) == 0  # no run folders and no journal: the committed report is the record
    printed = capsys.readouterr().out
    assert "gmlp: kept from the report" in printed and "mixer: the report's row (mixer_s4_28, 30 epochs)" in printed
    doc = json.loads((out / "fashion-mnist.json").read_text())
    assert [r["recipe"] for r in doc["rows"]] == ["gmlp"] and doc["data"] == "synthetic"
    assert doc["rows"][0]["cpus"] == ["AMD EPYC (avx2)"]  # where it trained, not this machine, which now scores
    assert "| AMD EPYC (avx2) |" in (out / "fashion-mnist.md").read_text()
    assert doc["rows"][0]["final_weights"] == "ema"  # scored before the choice: every recipe's EMA
    assert "| EMA (raw not scored) |" in (out / "fashion-mnist.md").read_text()
    assert [p["recipe"] for p in doc["pending"]] == ["mixer", "vit"]
    (runs / "gmlp").mkdir(parents=True)  # a run folder is the run's own record: the report's row gives way
    assert main(argv) == 0
    assert "gmlp" in [p["recipe"] for p in json.loads((out / "fashion-mnist.json").read_text())["pending"]]


def test_restart_forgets_the_reports_rows(tmp_path):
    recipes, out = tmp_path / "recipes", tmp_path / "out"
    recipes.mkdir(), out.mkdir()
    shutil.copy(RECIPES / "gmlp.yaml", recipes / "gmlp.yaml")
    doc = {"sweep": "tiny", "data": "synthetic", "rows": [_reported_row("gmlp", "gmlp_s4_28", 40)], "pending": []}
    (out / "fashion-mnist.json").write_text(json.dumps(doc))
    argv = ["experiment", "fashion-mnist", "--budget", "tiny", "--data", "synthetic", "--recipes", str(recipes),
            "--runs", str(tmp_path / "runs"), "--out", str(out), "--no-train"]  # fmt: skip
    assert main([*argv, "--restart"]) == 0
    assert json.loads((out / "fashion-mnist.json").read_text())["rows"] == []
    doc["data"] = None  # a report of the real data is not the synthetic sweep's
    (out / "fashion-mnist.json").write_text(json.dumps(doc))
    assert main(argv) == 0 and json.loads((out / "fashion-mnist.json").read_text())["rows"] == []


def _ship_file(weights, runs, row, kind=None):
    """A release's file as ``export release`` writes its header: the run it came from, its test top-1 and (unless
    ``kind`` is None, as in files released before the header named them) which weights it holds."""
    meta = {"training": json.dumps({"output": str(runs / row["recipe"])}), "top1": f"{100 * row['test_top1']:.2f}"}
    meta |= {"weights": kind} if kind else {}
    save_file({"w": torch.zeros(1)}, str(weights / f"{row['model']}.safetensors"), metadata=meta)


def test_a_release_replaces_the_file_an_arm_listed_earlier_shipped(tmp_path, monkeypatch):
    runs, weights = tmp_path / "runs", tmp_path / "weights"
    weights.mkdir()
    earlier = _row("gmlp", 0.930, holdout=0.92, recipe="gmlp")  # shipped while it was the only finished arm
    later = _row("gmlp", 0.935, teacher="resnet", holdout=0.93, recipe="gmlp_distill")
    rows = [earlier, later]  # the arm the hold-out no longer chooses comes first
    mark_chosen(rows, pending=[])
    _ship_file(weights, runs, earlier)
    monkeypatch.setattr(fashion_mnist, "_release", lambda row, *_: _ship_file(weights, runs, row))
    ship(rows, runs, weights, sweep=None, launcher=None, log=print, release=False)
    assert [r["weights"] for r in rows] == ["weights/weights/gmlp.safetensors", None]  # not released yet
    ship(rows, runs, weights, sweep=None, launcher=None, log=print, release=True)
    assert [r["weights"] for r in rows] == [None, "weights/weights/gmlp.safetensors"]


def test_targets_are_judged_on_the_measured_rows():
    rows = [_row("resnet", 0.951, all_mlp=False), _row("gmlp", 0.941, teacher="resnet"), _row("mixer", 0.915)]
    every, mlp, best = judge(rows, {"resnet", "gmlp", "mixer"})
    assert (every["model"], every["met"]) == ("mixer", False)  # 91.5% < 91.6%
    assert (mlp["model"], mlp["met"]) == ("gmlp", True) and (best["model"], best["met"]) == ("resnet", True)
    rows[-1]["test_top1"] = 0.92
    assert judge(rows, {"resnet", "gmlp", "mixer"})[0]["met"]
    assert not judge(rows, {"resnet", "gmlp", "mixer", "vip"})[0]["met"]  # a family without a row: not met
    assert not any(t["met"] for t in judge([]))


def test_tiny_sweep_trains_scores_resumes_and_reports(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})  # two cores, so --jobs 2 runs 1 thread each
    recipes, runs, out = tmp_path / "recipes", tmp_path / "runs", tmp_path / "out"
    recipes.mkdir()
    for name in ("resnet_teacher", "gmlp_distill", "gmlp"):
        shutil.copy(RECIPES / f"{name}.yaml", recipes / f"{name}.yaml")
    argv = ["experiment", "fashion-mnist", "--budget", "tiny", "--data", "synthetic", "--recipes", str(recipes),
            "--runs", str(runs), "--out", str(out)]  # fmt: skip
    assert main([*argv, "--no-train"]) == 0  # nothing trained yet: an empty table that says what is pending
    doc = json.loads((out / "fashion-mnist.json").read_text())
    assert doc["rows"] == [] and [p["progress"] for p in doc["pending"]] == ["not started"] * 3
    assert not any(t["met"] for t in doc["targets"]) and not runs.exists()
    assert "`resnet_teacher` (not started)" in (out / "fashion-mnist.md").read_text()
    assert main([*argv, "--only", "resnet_teacher"]) == 0  # the teacher alone: the student stays pending
    doc = json.loads((out / "fashion-mnist.json").read_text())
    assert [r["recipe"] for r in doc["rows"]] == ["resnet_teacher"] and len(doc["pending"]) == 2
    capsys.readouterr()
    assert main([*argv, "--jobs", "2"]) == 0  # the two gMLP arms side by side, their output labelled
    assert "[gmlp] epoch 1/1" in capsys.readouterr().out
    doc = json.loads((out / "fashion-mnist.json").read_text())
    rows = {r["recipe"]: r for r in doc["rows"]}
    assert set(rows) == {"resnet_teacher", "gmlp_distill", "gmlp"}
    assert rows["resnet_teacher"]["threads"] == [2]  # trained alone, before
    assert all(row["cpus"] == [cpu_summary()] for row in rows.values())
    # The arms started with one thread each; the one still training when the other finished may have resumed
    # with both cores.
    arms = sorted(rows[r]["threads"] for r in ("gmlp_distill", "gmlp"))
    assert arms in ([[1], [1]], [[1], [2]])
    assert rows["gmlp_distill"]["teacher"] == "resnet_s2_28" and rows["resnet_teacher"]["teacher"] is None
    assert rows["gmlp"]["chosen"] != rows["gmlp_distill"]["chosen"]  # one arm of gmlp_s4_28 is the hold-out's
    validation = json.loads((runs / "gmlp_distill" / "validation.json").read_text())
    assert validation["split"] == "test" and validation["images"] == 64
    distilled = rows["gmlp_distill"]  # its test split scores the weights the hold-out chose, EMA or raw
    assert validation["ema"] == (distilled["final_weights"] == "ema")
    scores = distilled["holdout_top1_of"]
    assert set(scores) == {"ema", "raw"} and distilled["holdout_top1"] == scores[distilled["final_weights"]]
    assert distilled["holdout_top1"] == max(scores.values())
    assert rows["gmlp_distill"]["test_top1"] == validation["top1"]
    for row in rows.values():
        assert row["epochs"] == 1 and 0 < row["median_cpu_hours"] <= row["cpu_hours"] and 0 < row["overhead_share"] < 1
        assert row["command"].startswith(f"visionmlp train -c {recipes}")
    report = (out / "fashion-mnist.md").read_text()
    assert "distilled from resnet_s2_28" in report and "Sweep `tiny`: a pipeline check" in report
    assert all(t["target"] in report for t in doc["targets"])
    assert not (out / "fashion-mnist.tiny.partial.jsonl").exists()  # the report holds the rows now
    assert not any(r["weights"] for r in rows.values())  # nothing released without --release
    # Again: the run folders are finished and unchanged since the report scored them, so nothing trains or is
    # scored again (no validation.json is written); the hold-out's arm of each model is released and the report
    # rebuilt with the same rows. A run folder that changed (here its summary.csv) is scored again.
    capsys.readouterr()
    weights = tmp_path / "weights"
    for name in rows:
        (runs / name / "validation.json").unlink()
    with (runs / "gmlp" / "summary.csv").open("a") as f:
        f.write("\n")
    assert main([*argv, "--release", "--weights", str(weights)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("unchanged since the report scored it") == 2 and "gmlp: scoring on the test set" in printed
    assert [p.parent.name for p in sorted(runs.glob("*/validation.json"))] == ["gmlp"]
    doc = json.loads((out / "fashion-mnist.json").read_text())
    again = {r["recipe"]: r for r in doc["rows"]}
    for recipe in ("resnet_teacher", "gmlp_distill"):  # the same rows, but for which weights this release shipped
        assert {**again[recipe], "weights": None} == {**rows[recipe], "weights": None}
    assert again["gmlp"]["summary_sha256"] != rows["gmlp"]["summary_sha256"]
    assert again["gmlp"]["test_top1"] == rows["gmlp"]["test_top1"]  # the same weights, the same images
    rows = again
    chosen = "gmlp" if rows["gmlp"]["chosen"] else "gmlp_distill"
    assert sorted(p.name for p in weights.iterdir()) == ["gmlp_s4_28.safetensors", "resnet_s2_28.safetensors"]
    with safe_open(str(weights / "gmlp_s4_28.safetensors"), "pt") as f:
        header = f.metadata()
    assert json.loads(header["training"])["output"] == str(runs / chosen) and header["eval_images"] == "64"
    assert {r: row["weights"] for r, row in rows.items()} == {
        "resnet_teacher": "weights/weights/resnet_s2_28.safetensors",
        chosen: "weights/weights/gmlp_s4_28.safetensors",
        ({"gmlp", "gmlp_distill"} - {chosen}).pop(): None,
    }
    assert f"not released: the hold-out chose `{chosen}`" in (out / "fashion-mnist.md").read_text()
    assert "(over budget)" not in (out / "fashion-mnist.md").read_text()
    doc["rows"][0]["median_cpu_hours"] = 3.2  # a row that cost more than a row may: marked when rendered
    (out / "fashion-mnist.json").write_text(json.dumps(doc))
    assert main([*argv, "--render"]) == 0
    assert "3.20 (over budget)" in (out / "fashion-mnist.md").read_text()


def test_only_names_recipes_that_exist(tmp_path, capsys):
    argv = ["experiment", fashion_mnist.NAME, "--budget", "tiny", "--out", str(tmp_path), "--runs", str(tmp_path),
            "--only", "no_such_recipe", "gmlp"]  # fmt: skip
    assert main(argv) == 2
    assert "--only no_such_recipe: no such recipe" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused before anything trained or was written


def test_jobs_are_at_least_one_and_at_most_the_cores(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    for jobs in ("0", "3"):
        assert main(["experiment", "fashion-mnist", "--budget", "tiny", "--jobs", jobs, "--out", str(tmp_path)]) == 2
        assert f"--jobs {jobs}: give 1 to 2 (this machine's cores)" in capsys.readouterr().err


def test_the_table_has_no_small_budget(tmp_path, capsys):
    assert main(["experiment", fashion_mnist.NAME, "--budget", "small", "--out", str(tmp_path)]) == 2
    assert "no small budget" in capsys.readouterr().err


def test_a_recipe_that_stops_stops_the_sweep_with_what_to_do(tmp_path, capsys):
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "broken.yaml").write_text("model: mixer_s4_28\nepochs: 1\nlearning_rate: 1\n")  # an unknown setting
    argv = ["experiment", fashion_mnist.NAME, "--budget", "tiny", "--data", "synthetic", "--recipes", str(recipes),
            "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 1
    assert "broken: `visionmlp train` stopped with exit status 2" in capsys.readouterr().err


def test_the_full_sweep_refuses_to_train_without_native_bfloat16_unless_told(tmp_path, capsys):
    argv = ["experiment", fashion_mnist.NAME, "--budget", "full", "--out", str(tmp_path / "out"), "--runs",
            str(tmp_path / "runs"), "--recipes", str(tmp_path)]  # fmt: skip
    (tmp_path / "gmlp.yaml").write_text((RECIPES / "gmlp.yaml").read_text())
    with forced("avx2"):
        assert main(argv) == 2
        assert "has no native bfloat16" in capsys.readouterr().err and not (tmp_path / "runs").exists()
        assert main([*argv, "--no-train"]) == 0  # reporting the finished runs needs no training
    assert "`gmlp` (not started)" in (tmp_path / "out" / "fashion-mnist.md").read_text()
