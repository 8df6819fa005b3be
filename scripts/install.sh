#!/usr/bin/env bash
# Install usb-asd and unmodified semilearn 0.3.2 into a virtual environment.
#
#   bash scripts/install.sh            # creates ./.venv (or reuses it)
#   VENV=/path/to/env bash scripts/install.sh
#   USB_ASD_USE_CURRENT_PYTHON=1 bash scripts/install.sh   # install into the active Python
#
# Why each step is what it is (measured; see docs/INSTALL.md):
# - torch: an existing torch is kept (CUDA users keep their CUDA build); otherwise
#   torch 2.13.0 and the torchvision that pairs with it, 0.28.0.
# - semilearn is installed with --no-deps: its metadata requires torchaudio, whose
#   PyPI build is CUDA-only and breaks `import semilearn` on CPU torch. Its other
#   requirements are listed in setup.cfg and installed from there.
# - scikit-learn-extra 0.3.0's wheel is built against numpy 1 and fails to import
#   under numpy 2, so it is built from its sdist against the installed numpy.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

if [[ "${USB_ASD_USE_CURRENT_PYTHON:-0}" == "1" ]]; then
  py="$(command -v python3 || command -v python)"
else
  venv="${VENV:-$here/.venv}"
  if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
  fi
  py="$venv/bin/python"
fi
pip=("$py" -m pip install --quiet --disable-pip-version-check)
constraints="$here/requirements/constraints.txt"

if "$py" -c "import torch" 2>/dev/null; then
  echo "[usb-asd] keeping installed torch $("$py" -c 'import torch; print(torch.__version__)')"
  if ! "$py" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torchvision') is None)"; then
    echo "[usb-asd] torchvision missing: install the torchvision that matches your torch, then re-run" >&2
    exit 1
  fi
  pins=()
else
  echo "[usb-asd] installing torch 2.13.0 + torchvision 0.28.0"
  "${pip[@]}" -c "$constraints" "torch==2.13.0" "torchvision==0.28.0"
  pins=(-c "$constraints")
fi

if ! "$py" -c "import sklearn_extra.cluster" 2>/dev/null; then
  echo "[usb-asd] building scikit-learn-extra 0.3.0 from source (about 30 s)"
  "${pip[@]}" "${pins[@]}" "numpy>=1.24" "scikit-learn>=1.2,<1.10" cython wheel setuptools
  "${pip[@]}" "${pins[@]}" --no-build-isolation --no-binary scikit-learn-extra "scikit-learn-extra==0.3.0"
fi

if ! "$py" -c "import importlib.metadata as m, sys; sys.exit(m.version('semilearn') != '0.3.2')" 2>/dev/null; then
  echo "[usb-asd] installing semilearn 0.3.2 (without torchaudio)"
  "${pip[@]}" --no-deps "semilearn==0.3.2"
fi

echo "[usb-asd] installing usb-asd and the remaining requirements"
"${pip[@]}" "${pins[@]}" -e ".[test]"
# pip warns "semilearn 0.3.2 requires torchaudio": expected, see docs/INSTALL.md.
"$py" - <<'PY'
import importlib.metadata as md
import usb_asd.plugin as plugin
plugin.register()
import torch, sklearn_extra.cluster, ot  # noqa: E401,F401
names = ("semilearn", "torch", "torchvision", "POT", "scikit-learn-extra")
print("[usb-asd] ready:", ", ".join(f"{n} {md.version(n)}" for n in names),
      "| CUDA" if torch.cuda.is_available() else "| CPU only")
PY
