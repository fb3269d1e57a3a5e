#!/usr/bin/env bash
# The one prepared GPU run: CUDA only, under 8 minutes on an H100/H200 (each section has its
# own time limit; the limits add up to 7m45s). Results go as JSON under bench/results/gpu/.
# Run all: bash bench/gpu_check.sh; one section: bash bench/gpu_check.sh NAME [NAME ...].
# A failing section never stops the others; failures are listed at the end (exit 1).
set -u
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python
OUT="${OUT:-bench/results/gpu}"
MODEL_DIR="${ILLU_GPU_CHECK_MODEL_DIR:-/tmp/illu-sdxl-random}"
mkdir -p "$OUT"
"$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'gpu_check.sh needs a CUDA GPU')" || exit 2
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/nvidia-smi.csv" || true
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-4}"
FAILED=()
WANTED=("$@")

section() {  # section NAME TIMEOUT_S COMMAND...: run with a time limit, log to $OUT/NAME.log
  local name="$1" limit="$2"
  shift 2
  if [ ${#WANTED[@]} -gt 0 ] && [[ ! " ${WANTED[*]} " =~ " $name " ]]; then return; fi
  echo "=== $name (limit ${limit}s) ==="
  local started=$SECONDS
  if timeout "$limit" "$@" >"$OUT/$name.log" 2>&1; then
    tail -n 25 "$OUT/$name.log"
  else
    echo "FAILED: $name (exit $?)"
    tail -n 60 "$OUT/$name.log"
    FAILED+=("$name")
  fi
  echo "=== $name took $((SECONDS - started)) s ==="
}

# ---------------------------------------------------------------------------------------------
# Batching, pipelined storage, compile (issue 14): full-size SDXL, random weights, 1024x1024,
# 30 steps, CFG: s/image at batch 1, 4, 8, eager and compiled (torch.compile "default" mode,
# to fit the time box), peak memory. Builds the random full-size model into $MODEL_DIR once.
section batching 180 \
  "$PYTHON" -m bench.gpu_batching --model-dir "$MODEL_DIR" --batches 1,4,8 --out "$OUT"
# The throughput bench on the GPU, on the same model (smaller load: 512 px, 20 steps).
section throughput 75 env ILLU_WARMUP_SIZE=512 \
  "$PYTHON" -m bench.throughput --model "$MODEL_DIR" --no-loras --size 512 --steps 20 \
  --users 4 --jobs-per-user 2 --heavy-jobs 8 --out "$OUT"
# ------------------------------------------------------------------------------ end of batching

# ---------------------------------------------------------------------------------------------
# LoRA training (issue 15): full-size random SDXL at 1024x1024, rank 16, batch 1, 10 steps,
# bf16 with gradient checkpointing: steps/s and peak GPU memory.
section training 105 \
  "$PYTHON" -m bench.training --device cuda --resolution 1024 --rank 16 --batch-size 1 \
  --steps 10 --out "$OUT"
# Mixed precision (bf16/fp16), gradient checkpointing, samples and resume on CUDA (tiny model).
section training-gpu-tests 45 \
  "$PYTHON" -m pytest tests/gpu_worker/engine/test_training.py -m gpu -q -p no:cacheprovider
# ------------------------------------------------------------------------- end of LoRA training

# ---------------------------------------------------------------------------------------------
# Editing (issue 16): tiled diffusion upscale 1024x1024 -> 4096x4096 on full-size random SDXL.
# Peak GPU memory (torch.cuda.max_memory_allocated) must stay well under 24 GB: each tile's
# UNet and VAE see only the 1024 px tile. Writes $OUT/upscale-cuda.json (and .png).
section upscale 60 \
  "$PYTHON" -m bench.upscale --device cuda --source 1024 --scale 4 --tile 1024 \
  --overlap 128 --steps 20 --strength 0.3 --out "$OUT"
# ------------------------------------------------------------------------------ end of editing

if [ ${#FAILED[@]} -gt 0 ]; then
  echo "failed sections: ${FAILED[*]}"
  exit 1
fi
echo "all GPU checks passed"
