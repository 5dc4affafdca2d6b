#!/usr/bin/env bash
# One prepared GPU check (issue 13), at most 5 minutes: bf16 training steps/s on the
# basenji_1bp shape, the cached loader against the GPU's appetite, train/predict/score-variants
# on CUDA and a 1-GPU DDP start. Ends with one JSON line (figures: docs/benchmarks.md).
#   benchmarks/gpu_check.sh          # on a CUDA machine
#   benchmarks/gpu_check.sh --cpu    # toy sizes on the CPU: the script's own test
# GPU_CHECK_TIMEOUT (seconds, default 300) bounds the whole run; a loaded CPU needs more.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python}"
exec timeout "${GPU_CHECK_TIMEOUT:-300}" "$PY" -u benchmarks/gpu_check.py "$@"
