#!/usr/bin/env bash
# GPU readiness check for a session with a lent GPU (under 5 minutes on an H200):
#   bash benchmarks/gpu_check.sh                 # writes benchmarks/results/gpu_check.json
#   bash benchmarks/gpu_check.sh --dry           # the same on CPU at toy sizes (seconds to a minute)
# 1. installs what is missing into the current Python (scripts/install.sh keeps an installed torch);
# 2. runs the GPU tests (they skip on CPU) and the device tests;
# 3. times FreeMatch with labels against ASD + FreeMatch (resnet18_cifar, 32x32, the configs'
#    batches) on CIFAR-format files made from real digits, and writes the JSON with the ratio.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
py="${PYTHON:-$(command -v python3 || command -v python)}"
if ! "$py" -c "import usb_asd, semilearn, ot, sklearn_extra" 2>/dev/null; then
  echo "[gpu_check] installing what is missing into $py"
  USB_ASD_USE_CURRENT_PYTHON=1 bash scripts/install.sh
fi
"$py" -c "import torch; print('[gpu_check] torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
out="benchmarks/results/gpu_check.json"
for arg in "$@"; do [[ "$arg" == "--dry" ]] && out="${TMPDIR:-/tmp}/gpu_check_dry.json"; done
tests_rc=0
"$py" -m pytest -q tests/test_gpu.py tests/test_device.py || tests_rc=$?
"$py" benchmarks/gpu_check.py --out "$out" "$@"
echo "[gpu_check] tests exit code $tests_rc; figures in $out"
exit "$tests_rc"
