#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py): the engine alone on full-size random SDXL built in GPU
# memory; every section time-boxed, its JSON written as it ends; all results in at most 8 files
# under bench/results/gpu/ (7 JSON + gpu_check.log); under 8 minutes on an H200.
#
#   bash bench/gpu_check.sh                 # on the GPU host: its python3, wheels from .whl/
#   bash bench/gpu_check.sh speed fp8       # some sections only
#   bash bench/gpu_check.sh --dry-run       # the same script on CPU, tiny models, project venv
#
# The GPU host needs no network: copy the repository with .whl/ (bench/gpu_wheels.sh fills it
# here) and run the first command. $PYTHON overrides the interpreter, $OUT the results folder.
set -u
cd "$(dirname "$0")/.."
DRY_RUN=0
SECTIONS=()
for argument in "$@"; do
  case "$argument" in
    --dry-run) DRY_RUN=1 ;;
    *) SECTIONS+=("$argument") ;;
  esac
done

if [ "$DRY_RUN" = 1 ]; then
  PYTHON="${PYTHON:-.venv/bin/python}"
  [ -x "$PYTHON" ] || PYTHON=python3
  OUT="${OUT:-var/gpu-check-dry-run}"
  LIMIT_S="${GPU_CHECK_LIMIT_S:-1800}" # proves it runs; a busy CPU must not cut it short
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
else
  PYTHON="${PYTHON:-python3}"
  OUT="${OUT:-bench/results/gpu}"
  LIMIT_S="${GPU_CHECK_LIMIT_S:-465}" # 7m45s: the sections' own limits add up to less
fi
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
: >"$LOG"

if [ "$DRY_RUN" = 0 ] && compgen -G ".whl/*.whl" >/dev/null; then
  # What the host lacks (diffusers, torchao, ...), installed beside its own packages.
  SITE="${GPU_CHECK_SITE:-/tmp/illu-gpu-check-site}"
  echo "installing $(ls .whl/*.whl | wc -l) wheel(s) from .whl/ into $SITE" | tee -a "$LOG"
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" .whl/*.whl 2>&1 | tee -a "$LOG"
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "wheel install failed" | tee -a "$LOG"; exit 3; }
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

ARGS=(--out "$OUT")
[ "$DRY_RUN" = 1 ] && ARGS+=(--dry-run)
if [ ${#SECTIONS[@]} -gt 0 ]; then
  ARGS+=(--sections "$(IFS=,; echo "${SECTIONS[*]}")")
fi
STARTED=$SECONDS
timeout --kill-after=15 "$LIMIT_S" "$PYTHON" -m bench.gpu_check "${ARGS[@]}" 2>&1 | tee -a "$LOG"
STATUS=${PIPESTATUS[0]}
echo "gpu_check finished in $((SECONDS - STARTED)) s with status $STATUS; results in $OUT" | tee -a "$LOG"
exit "$STATUS"
