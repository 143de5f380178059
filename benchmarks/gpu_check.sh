#!/usr/bin/env bash
# One self-contained GPU check (<= 8 minutes on one H100/H200); installs nothing.
# Uses the machine's python3 with torch; colorlib is imported from this checkout.
#   bash benchmarks/gpu_check.sh [--out DIR]      (writes DIR/GPU_RESULTS.md, default benchmarks/)
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec timeout 480 python3 benchmarks/gpu_check.py "$@"
