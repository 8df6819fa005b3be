#!/bin/bash
# Issue 17: 2-process ASD on digits beside 1 process (under the benchmark lock).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-/tmp/usb_asd_two_processes}
mkdir -p $OUT
common="--c config/asd_freematch_digits.yaml --save_dir $OUT --num_workers 0 --overwrite True"
t60="--num_train_iter 60 --num_eval_iter 20 --num_log_iter 20 --asd_warmup_iter 20 --asd_cluster_iter 10 --asd_round_iter 30"
for name in t1 t2 t2_oldthreads; do
  extra=""; envs=""
  [ $name != t1 ] && extra="--multiprocessing_distributed True --num_cpu_procs 2"
  [ $name = t2_oldthreads ] && envs="OMP_NUM_THREADS=2"
  s=$(date +%s.%N); env $envs $PY train.py $common $t60 $extra --save_name $name > $OUT/$name.log 2>&1; e=$(date +%s.%N)
  echo "$name wall $(echo "$e - $s" | bc)"
done
a400="--num_train_iter 400 --num_eval_iter 400 --num_log_iter 50 --asd_warmup_iter 100 --asd_cluster_iter 50 --asd_round_iter 100"
for name in a1 a2; do
  extra=""; [ $name = a2 ] && extra="--multiprocessing_distributed True --num_cpu_procs 2"
  s=$(date +%s.%N); $PY train.py $common $a400 $extra --save_name $name > $OUT/$name.log 2>&1; e=$(date +%s.%N)
  echo "$name wall $(echo "$e - $s" | bc)"
done
