#!/usr/bin/env bash
# Data-parallel training: `mpirun -np 2` with half the per-device batch gives the parameters of one
# process with the whole batch (same global batches and MLM masks; gradients weighted by each
# rank's share of the labelled tokens). The sums differ only in rounding: within 1e-4 (the
# parameters move by up to steps x lr = 4e-3). Then resuming the 2-rank run from its checkpoint
# gives the same bits as running through.
# usage: train_check.sh MPIEXEC BIGBIRD MODEL_DIR WORK_DIR
set -euo pipefail
mpiexec=$1 exe=$2 model=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
for f in /usr/share/common-licenses/GPL-3 /usr/share/common-licenses/Apache-2.0; do cat "$f"; printf '\n\n'; done >"$work/corpus.txt"
common=(train --task mlm --model "$model" --train-file "$work/corpus.txt" --max-seq-length 128 --learning-rate 1e-3
        --lr-scheduler-type linear --warmup-steps 1 --seed 5 --logging-steps 1 --max-steps 4 --threads 1 --no-progress)
"$exe" "${common[@]}" --per-device-train-batch-size 4 --output-dir "$work/one" 2>"$work/one.log"
"$mpiexec" -np 2 --oversubscribe "$exe" "${common[@]}" --per-device-train-batch-size 2 --save-steps 2 \
    --output-dir "$work/two" 2>"$work/two.log"
grep -q '"processes":2' "$work/two.log" || { echo "FAIL: the 2-rank run did not report 2 processes"; cat "$work/two.log"; exit 1; }
"$exe" compare "$work/two/model.safetensors" "$work/one/model.safetensors" --atol 1e-4 >"$work/compare.txt" ||
    { echo "FAIL: 2 ranks differ from 1 process:"; tail -5 "$work/compare.txt"; exit 1; }
if cmp -s "$work/two/model.safetensors" "$model/model.safetensors"; then echo "FAIL: training changed nothing"; exit 1; fi
"$mpiexec" -np 2 --oversubscribe "$exe" "${common[@]}" --per-device-train-batch-size 2 \
    --resume-from-checkpoint "$work/two/checkpoint-2" --output-dir "$work/resumed" 2>"$work/resumed.log"
cmp "$work/two/model.safetensors" "$work/resumed/model.safetensors" ||
    { echo "FAIL: the resumed 2-rank run differs from the uninterrupted one"; exit 1; }
echo "mpi train: 2 ranks match 1 process within 1e-4; resume is bit-identical"
