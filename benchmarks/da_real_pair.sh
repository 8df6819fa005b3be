#!/usr/bin/env bash
# Source-only, DANN, DANN + SuperCM (and FixMatch + CM for comparison, last) on the real pair mnist5k <-> digits, both directions,
# paired by seed (docs/DOMAIN_ADAPTATION.md). One training run per lock, so other benchmarks on
# the machine can interleave; runs already in the JSON are skipped (an interrupted call resumes).
#
#   SEEDS="0 1 2 3 4" bash benchmarks/da_real_pair.sh
#
# Writes benchmarks/results/da_mnist5k_digits.json and da_digits_mnist5k.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
SEEDS=${SEEDS:-"0 1 2 3 4"}
LOCK=${LOCK:-/tmp/usb_asd_bench.lock}
SAVE_DIR=${SAVE_DIR:-./saved_models/benchmarks}
done_seeds=""
for seed in $SEEDS; do
  done_seeds="$done_seeds $seed"
  for pair in mnist5k_digits digits_mnist5k; do
    configs="config/da_source_only_$pair.yaml config/da_dann_$pair.yaml config/da_dann_supercm_$pair.yaml config/da_supercm_fixmatch_$pair.yaml"
    for _ in 1 2 3 4; do
      # shellcheck disable=SC2086
      flock "$LOCK" "$PY" benchmarks/run_configs.py --configs $configs --seeds $done_seeds \
        --max_runs 1 --save_dir "$SAVE_DIR" --out "benchmarks/results/da_$pair.json"
    done
  done
done
