#!/usr/bin/env bash
# Train the Fashion-MNIST recipe of each family one after another, then rewrite docs/results/fashion-mnist.*
# and the recipes' headers from every finished run folder.
#
# Usage: scripts/fashion_mnist_all.sh [RUNS_DIR [FAMILY ...]]
#   RUNS_DIR  where the run folders go (default runs/fashion-mnist); one folder per family
#   FAMILY    recipe names under configs/fashion_mnist/ (default: all of them)
#
# Re-running it is safe: a finished run is skipped and an interrupted one resumes from its last.pth.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-runs/fashion-mnist}
shift || true
families=("$@")
if [ ${#families[@]} -eq 0 ]; then
    families=($(ls configs/fashion_mnist | sed 's/\.yaml$//'))
fi
visionmlp=${VISIONMLP:-.venv/bin/visionmlp}
python=${PYTHON:-.venv/bin/python}

finished() {  # the run folder's summary.csv reaches the recipe's epoch count
    local run=$1 recipe=$2
    [ -f "$run/summary.csv" ] || return 1
    local want have
    want=$(sed -n 's/^epochs: *//p' "$recipe")
    have=$(tail -n 1 "$run/summary.csv" | cut -d, -f1)
    [ "$have" = "$want" ]
}

for family in "${families[@]}"; do
    recipe=configs/fashion_mnist/$family.yaml
    run=$runs/$family
    [ -f "$recipe" ] || { echo "no recipe $recipe (see configs/fashion_mnist/)" >&2; exit 2; }
    if finished "$run" "$recipe"; then
        echo "== $family: finished in $run, skipped"
    elif [ -f "$run/last.pth" ]; then
        echo "== $family: resuming $run"
        "$visionmlp" train --resume "$run" --no-progress
    else
        echo "== $family: training into $run"
        "$visionmlp" train -c "$recipe" --output "$run" --no-progress
    fi
done

done_runs=()
for run in "$runs"/*/; do
    family=$(basename "$run")
    [ -f "configs/fashion_mnist/$family.yaml" ] && finished "$run" "configs/fashion_mnist/$family.yaml" && done_runs+=("$run")
done
"$python" scripts/fashion_mnist_report.py "${done_runs[@]}"
