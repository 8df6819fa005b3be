#!/bin/bash
# Median step time of ASD + FreeMatch on MNIST-5k, a checkout of an earlier commit against this one,
# alternately (same machine, same load), 3 pairs of 400-iteration runs. Ratios: benchmarks/results/mnist5k_asd_step_time.json.
#   bash benchmarks/asd_step_time_pairs.sh /path/to/checkout-of-3318ec3 /tmp/step_time
OLD=$1; OUT=$2; HERE=$(cd "$(dirname "$0")/.." && pwd); PY=$HERE/.venv/bin/python
for i in 1 2 3; do
  (cd "$OLD" && $PY train.py --c config/asd_freematch_mnist5k.yaml --num_train_iter 400 --num_eval_iter 400 \
      --save_dir "$OUT/before$i" --progress_bar False > "$OUT/before$i.log" 2>&1)
  (cd "$HERE" && $PY train.py --c config/asd_freematch_mnist5k.yaml --num_train_iter 400 --num_eval_iter 400 \
      --asd_warmup_iter 200 --save_dir "$OUT/after$i" --progress_bar False > "$OUT/after$i.log" 2>&1)
done
