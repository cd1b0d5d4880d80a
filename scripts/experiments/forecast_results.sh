#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# forecast_results.sh - the numbers of docs/RESULTS.md's forecast section (issue 18):
# two baselines on the example cases, and the gain from recalibrating a deliberately
# miscalibrated predictor. Deterministic; about 10 s. Usage: scripts/experiments/forecast_results.sh [OUTDIR]
set -eu
cd "$(dirname "$0")/../.."
B=${SL_BIN:-build/synthloop}
O=${1:-build/forecast-results}
mkdir -p "$O"
E=examples/forecast/cases.jsonl
export SYNTHLOOP_DB=none
q="--db none --quiet"

echo "== baselines on $E"
$B forecast predict --cases $E --baseline uniform --output $O/uniform.jsonl $q >/dev/null
$B forecast predict --cases $E --baseline base-rate --output $O/base_rate.jsonl $q >/dev/null
$B forecast predict --cases $E --baseline annotated --output $O/annotated.jsonl $q >/dev/null
for p in uniform base_rate annotated; do
  $B forecast score --pred $O/$p.jsonl --truth $E --html $O/$p.html $q
done
$B forecast compare $O/uniform.jsonl $O/annotated.jsonl --truth $E --reps 2000 --seed 0 $q

echo "== recalibration: synthetic template cases, calibration split (seed 1) and test split (seed 2)"
$B forecast templates --n 600 --seed 1 --random-probs --start-year 2000 --output $O/cal_truth.jsonl $q >/dev/null
$B forecast templates --n 600 --seed 2 --random-probs --start-year 2000 --output $O/test_truth.jsonl $q >/dev/null
for K in 3 0.4 1; do
  echo "-- predictor sigmoid($K logit p) of the (calibrated) template probabilities"
  $B forecast predict --cases $O/cal_truth.jsonl --baseline annotated --distort $K --output $O/cal_pred_$K.jsonl $q >/dev/null
  $B forecast predict --cases $O/test_truth.jsonl --baseline annotated --distort $K --output $O/test_pred_$K.jsonl $q >/dev/null
  $B forecast calibrate --fit-pred $O/cal_pred_$K.jsonl --fit-truth $O/cal_truth.jsonl \
     --pred $O/test_pred_$K.jsonl --truth $O/test_truth.jsonl $q
done
$B forecast calibrate --fit-pred $O/cal_pred_3.jsonl --fit-truth $O/cal_truth.jsonl --method temperature \
   --pred $O/test_pred_3.jsonl --output $O/test_pred_3_temp.jsonl $q >/dev/null
$B forecast compare $O/test_pred_3.jsonl $O/test_pred_3_temp.jsonl --truth $O/test_truth.jsonl --reps 2000 --seed 0 $q
