#!/usr/bin/env bash
# Downloads into .whl/ (ignored by git) exactly the wheels the GPU hosts lack for
# bench/gpu_check.sh, for Python 3.12 on manylinux x86_64: diffusers (the version this
# checkout runs) and torchao (the fp8 section; 0.18 is the release built for torch 2.11).
# Everything else the engine imports is on the hosts already: torch 2.11, transformers 5.x,
# peft, accelerate, safetensors, huggingface_hub, numpy, Pillow, regex, requests, filelock
# (diffusers' importlib_metadata requirement only applies to Python < 3.8). The engine imports
# OpenCV, MediaPipe, insightface, onnxruntime and dlib only where used; the check needs none.
#
#   bash bench/gpu_wheels.sh     # then copy the repository with .whl/ to the GPU host
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
DIFFUSERS_VERSION="${DIFFUSERS_VERSION:-$("$PYTHON" -c 'from importlib.metadata import version; print(version("diffusers"))')}"
TORCHAO_VERSION="${TORCHAO_VERSION:-0.18.0}"
LIMIT_MIB=40

rm -rf .whl
mkdir -p .whl
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest .whl \
  --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 \
  "diffusers==$DIFFUSERS_VERSION" "torchao==$TORCHAO_VERSION"

ls -l .whl/*.whl
BYTES=$(cat .whl/*.whl | wc -c)
echo "$(ls .whl/*.whl | wc -l) wheels, $((BYTES / 1024)) KiB in .whl/"
if [ "$BYTES" -gt $((LIMIT_MIB * 1024 * 1024)) ]; then
  echo "over the ${LIMIT_MIB} MiB the GPU host's transfer allows" >&2
  exit 1
fi
