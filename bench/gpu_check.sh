#!/usr/bin/env bash
# GPU checks run in one go when a GPU machine is lent (total under 8 minutes). Each feature
# owns one clearly separated section below; a section writes its results under $OUT (or
# bench/results when OUT is unset) and never stops the others: failures are reported at the end.
set -u
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python
OUT="${OUT:-bench/results/gpu}"
mkdir -p "$OUT"
FAILED=()

section() {  # section NAME TIMEOUT_S COMMAND...: run with a time limit, log to $OUT/NAME.log
  local name="$1" limit="$2"
  shift 2
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
# LoRA training (issue 15): full-size random SDXL at 1024x1024, rank 16, batch 1, 10 steps,
# bf16 with gradient checkpointing: steps/s and peak GPU memory. About 2-3 minutes, most of it
# building and hashing the random full-size model (shared with other sections through
# var/bench-models/cuda).
section training 300 \
  "$PYTHON" -m bench.training --device cuda --resolution 1024 --rank 16 --batch-size 1 \
  --steps 10 --out "$OUT"
# Mixed precision (bf16/fp16), gradient checkpointing, samples and resume on CUDA (tiny model).
section training-gpu-tests 150 \
  "$PYTHON" -m pytest tests/gpu_worker/engine/test_training.py -m gpu -q -p no:cacheprovider
# ------------------------------------------------------------------------- end of LoRA training

# ---------------------------------------------------------------------------------------------
# Editing (issue 16): tiled diffusion upscale 1024x1024 -> 4096x4096 on full-size random SDXL.
# Peak GPU memory (torch.cuda.max_memory_allocated) must stay well under 24 GB: each tile's
# UNet and VAE see only the 1024 px tile. Writes $OUT/upscale-cuda.json (and .png).
section upscale 150 \
  "$PYTHON" -m bench.upscale --device cuda --source 1024 --scale 4 --tile 1024 \
  --overlap 128 --steps 20 --strength 0.3 --out "$OUT"
# ------------------------------------------------------------------------------ end of editing

if [ ${#FAILED[@]} -gt 0 ]; then
  echo "failed sections: ${FAILED[*]}"
  exit 1
fi
echo "all GPU checks passed"
