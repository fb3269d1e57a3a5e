#!/usr/bin/env bash
# One prepared run of the GPU checks: CUDA only, under 8 minutes on an H100/H200, results as
# JSON under bench/results/gpu/. Each engineer's checks are one block below, clearly
# separated; keep each block within its own timeout so the whole stays under 8 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=bench/results/gpu
MODEL_DIR=${ILLU_GPU_CHECK_MODEL_DIR:-/tmp/illu-sdxl-random}
mkdir -p "$OUT"
"$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'gpu_check.sh needs a CUDA GPU')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/nvidia-smi.csv" || true
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}

# ===== batching, pipelined storage, compile (issue 14) ===================================
# Full-size SDXL, random weights, 1024x1024, 30 steps, CFG: s/image at batch 1, 4, 8 eager
# and compiled (torch.compile "default" mode, to fit the time box), peak memory.
timeout 330 "$PY" -m bench.gpu_batching --model-dir "$MODEL_DIR" --batches 1,4,8 --out "$OUT" \
  2>&1 | tee "$OUT/gpu_batching.log"
# The throughput bench on the GPU, on the same full-size model (smaller load: 512 px, 20 steps).
ILLU_WARMUP_SIZE=512 timeout 150 "$PY" -m bench.throughput --model "$MODEL_DIR" --no-loras \
  --size 512 --steps 20 --users 4 --jobs-per-user 2 --heavy-jobs 8 --out "$OUT" \
  2>&1 | tee "$OUT/throughput.log"
# ===== end of batching ===================================================================
