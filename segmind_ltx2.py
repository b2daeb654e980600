#!/usr/bin/env python3
"""Run the pack's command line from a clone, whatever its folder is called:

    python segmind_ltx2.py --image examples_workflows/example.png --prompt "the lake ripples"
    python segmind_ltx2.py --help

The repository's root is itself the package (ComfyUI loads it from custom_nodes/<folder>),
so its modules import each other relatively. This file loads that folder as a package under
a fixed name, without running the nodes' __init__.py, and starts its __main__.main()."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

PACKAGE = "comfyui_segmind_ltx2"


def load_package(root: Path | None = None) -> object:
    # absolute(), not resolve(): a pack symlinked into ComfyUI/custom_nodes must still see
    # that it sits there (its output then goes to ComfyUI/output).
    root = (root or Path(__file__).absolute().parent)
    existing = sys.modules.get(PACKAGE)
    if existing is not None and list(getattr(existing, "__path__", [])) == [str(root)]:
        return existing
    spec = importlib.util.spec_from_file_location(PACKAGE, root / "__init__.py",
                                                  submodule_search_locations=[str(root)])
    if spec is None:
        raise SystemExit(f"error: {root} does not look like the Segmind LTX-2 pack (no __init__.py).")
    package = importlib.util.module_from_spec(spec)  # a package with its folder, __init__ not run
    sys.modules[PACKAGE] = package
    return package


def main() -> int:
    if sys.version_info < (3, 10):
        sys.stderr.write("error: the Segmind LTX-2 pack needs Python 3.10 or newer.\n")
        return 2
    load_package()
    try:
        # The command line imports its libraries (PyAV, numpy, requests) where it uses them,
        # so a missing one can surface at any point of the run, not only here.
        return importlib.import_module(f"{PACKAGE}.__main__").main()
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if not missing or missing == PACKAGE:
            raise
        sys.stderr.write(f"error: the Python package '{missing}' is missing: run "
                         f"`{Path(sys.executable).name} -m pip install -r requirements.txt`, then try again.\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
