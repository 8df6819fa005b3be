#!/usr/bin/env bash
# Source-only, DANN, DANN + SuperCM (and FixMatch + CM for comparison, last) on the real pair mnist5k <-> digits, both directions,
# paired by seed (docs/DOMAIN_ADAPTATION.md). One training run per lock, so other benchmarks on
# the machine can interleave; runs already in the JSON are skipped (an interrupted call resumes).
#
#   SEEDS="0 1 2 3 4" bash benchmarks/da_real_pair.sh
#   SETUPS="source_only dann dann_supercm" bash benchmarks/da_real_pair.sh   # the paired three first
#
# Writes benchmarks/results/da_mnist5k_digits.json and da_digits_mnist5k.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
SEEDS=${SEEDS:-"0 1 2 3 4"}
LOCK=${LOCK:-/tmp/usb_asd_bench.lock}
SAVE_DIR=${SAVE_DIR:-./saved_models/benchmarks}
SETUPS=${SETUPS:-"source_only dann dann_supercm supercm_fixmatch"}
done_seeds=""
for seed in $SEEDS; do
  done_seeds="$done_seeds $seed"
  for pair in mnist5k_digits digits_mnist5k; do
    configs=""
    for setup in $SETUPS; do configs="$configs config/da_${setup}_$pair.yaml"; done
    for _ in $SETUPS; do
      # shellcheck disable=SC2086
      flock "$LOCK" "$PY" benchmarks/run_configs.py --configs $configs --seeds $done_seeds \
        --max_runs 1 --save_dir "$SAVE_DIR" --out "benchmarks/results/da_$pair.json"
    done
  done
done
