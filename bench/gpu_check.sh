#!/usr/bin/env bash
# GPU measurements: each section is a function that runs a Python benchmark on CUDA and writes
# JSON under bench/results/gpu/. Run all: bash bench/gpu_check.sh; one: bash bench/gpu_check.sh NAME
# (NAME = a function below without its "check_" prefix). PYTHON picks the interpreter.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
OUT="bench/results/gpu"
mkdir -p "$OUT"
CHECKS=()

# ---------------------------------------------------------------------------------------------
# Editing (issue 16): tiled diffusion upscale 1024x1024 -> 4096x4096 on full-size random SDXL.
# Peak GPU memory (torch.cuda.max_memory_allocated) must stay well under 24 GB: each tile's
# UNet and VAE see only the 1024 px tile. Writes $OUT/upscale-cuda.json (and .png).
check_upscale() {
    "$PYTHON" -m bench.upscale --device cuda --source 1024 --scale 4 --tile 1024 \
        --overlap 128 --steps 20 --strength 0.3 --out "$OUT"
}
CHECKS+=(upscale)
# --------------------------------------------------------------------------- end of editing ---

if [[ $# -gt 0 ]]; then
    CHECKS=("$@")
fi
for name in "${CHECKS[@]}"; do
    echo "== $name"
    "check_$name"
done
