#!/usr/bin/env bash
# The paper's own SSL pairings on digits with 10 labels, each learner with and without SuperCM,
# paired by seed (docs/BENCHMARKS.md, SuperCM section). One training run per lock, so other
# benchmarks on the machine can interleave; runs already in the JSON are skipped (resumes).
#
#   SEEDS="0 1 2" LEARNERS="pseudolabel meanteacher pimodel vat" bash benchmarks/ssl_pairings.sh
#
# Writes benchmarks/results/digits_ssl_pairings.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
SEEDS=${SEEDS:-"0 1 2"}
LEARNERS=${LEARNERS:-"pseudolabel meanteacher pimodel vat"}
LOCK=${LOCK:-/tmp/usb_asd_bench.lock}
SAVE_DIR=${SAVE_DIR:-./saved_models/benchmarks}
# Learner by learner (a cut-short benchmark leaves whole learners, fewer of them), seed by seed,
# the pair (without, with SuperCM) of one seed back to back.
for learner in $LEARNERS; do
  configs="config/${learner}_digits_10.yaml config/supercm_${learner}_digits_10.yaml"
  for seed in $SEEDS; do
    for _ in 1 2; do
      # shellcheck disable=SC2086
      flock "$LOCK" "$PY" benchmarks/run_configs.py --configs $configs --seeds $seed \
        --max_runs 1 --save_dir "$SAVE_DIR" --out benchmarks/results/digits_ssl_pairings.json
    done
  done
done
