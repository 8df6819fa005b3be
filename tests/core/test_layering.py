"""Imports only go down: usb_asd.core builds on nothing of the method packages or the top-level results module.

The methods (``usb_asd.asd``, ``usb_asd.supercm``, ``usb_asd.dann``) are built on core; an
import the other way, even one inside a function, would make core change with them.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "usb_asd"
CORE = PACKAGE / "core"

#: Packages core must not import; the top-level results module only re-exports core's helpers.
METHODS = ("usb_asd.asd", "usb_asd.supercm", "usb_asd.dann")
FORBIDDEN = METHODS + ("usb_asd.results",)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_path(name: str) -> Optional[Path]:
    base = ROOT.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def imported_names(path: Path) -> Iterator[Tuple[int, str]]:
    """``(line, absolute name)`` of every import in the file, those inside functions included.

    ``from .x import y`` yields both ``pkg.x`` and ``pkg.x.y`` (``y`` may be a module).
    """
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            yield node.lineno, source
            for alias in node.names:
                yield node.lineno, f"{source}.{alias.name}"


def _is_under(name: str, packages) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def core_files():
    return sorted(CORE.rglob("*.py"))


def test_core_modules_import_nothing_above_them():
    found = [f"{path.relative_to(ROOT)}:{line}: {name}"
             for path in core_files() for line, name in imported_names(path) if _is_under(name, FORBIDDEN)]
    assert len(core_files()) > 5
    assert not found, "usb_asd.core imports from a layer above it:\n" + "\n".join(found)


def test_nothing_core_reaches_imports_a_method_package():
    # Follows every import (lazy ones too) from core through the package's own modules,
    # so ``..validation`` or ``..data`` cannot bring a method package in on core's behalf.
    reached: Dict[str, Optional[str]] = {}
    todo = [(_module_name(path), None) for path in core_files()]
    while todo:
        name, importer = todo.pop()
        if name in reached:
            continue
        reached[name] = importer
        path = _module_path(name)
        for _, imported in imported_names(path):
            if not _is_under(imported, ("usb_asd",)):
                continue
            parts = imported.split(".")
            for end in range(1, len(parts) + 1):  # a package's __init__ runs before its modules
                prefix = ".".join(parts[:end])
                if _module_path(prefix) is not None and prefix not in reached:
                    todo.append((prefix, name))
    bad = []
    for name in sorted(reached):
        if _is_under(name, METHODS):
            chain = [name]
            while reached[chain[-1]] is not None:
                chain.append(reached[chain[-1]])
            bad.append(" <- ".join(chain))
    assert "usb_asd.validation" in reached  # the walk follows core's imports out of core
    assert not bad, "usb_asd.core reaches a method package:\n" + "\n".join(bad)


def test_importing_all_of_core_loads_no_method_package():
    # A fresh interpreter: the test session itself has imported the method packages already.
    # ``import usb_asd`` alone loads none of them, so anything found here came through core.
    script = (
        "import importlib, pkgutil, sys\n"
        "import usb_asd, usb_asd.core as core\n"
        "for info in pkgutil.iter_modules(core.__path__):\n"
        "    importlib.import_module('usb_asd.core.' + info.name)\n"
        "print(usb_asd.__file__)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r})))\n"
    )
    paths = [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    out = subprocess.run([sys.executable, "-c", script], cwd=str(ROOT), env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    package_file, loaded = out.stdout.strip().splitlines()[-2:]
    assert Path(package_file).resolve() == PACKAGE / "__init__.py"  # this checkout, not an installed copy
    assert loaded == "[]", f"importing usb_asd.core loads {loaded}"
