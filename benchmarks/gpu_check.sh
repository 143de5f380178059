#!/usr/bin/env bash
# One self-contained GPU check (<= 8 minutes on one H100/H200); installs nothing.
# Uses the machine's python3 with torch; colorlib is imported from this checkout.
#   bash benchmarks/gpu_check.sh [--out DIR]      (writes DIR/GPU_RESULTS.md, default benchmarks/)
# colorlib's augmentation needs kornia. A machine without it and without a network can be
# given it beside the checkout: on a machine with the same Python version,
#   pip install --no-deps --target benchmarks/site kornia kornia-rs
# and carry benchmarks/site (git-ignored) along; this script puts it on the path.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -d benchmarks/site ]; then export PYTHONPATH="$PYTHONPATH:$PWD/benchmarks/site"; fi
if ! python3 -c "import kornia" 2>/dev/null; then
  echo "gpu_check: python3 cannot import kornia; see the comment at the top of $0" >&2
  exit 2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec timeout 480 python3 benchmarks/gpu_check.py "$@"
