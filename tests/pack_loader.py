"""Load the pack the way ComfyUI does: its folder's __init__.py, imported under a module
name that is not the folder's, with ComfyUI's own top-level module names already taken."""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parent.parent
MODULE_NAME = "custom_nodes_segmind_pack_under_test"
COMFY_TOP_LEVEL = ("nodes", "utils", "server", "execution", "folder_paths")


def load_pack(module_name: str = MODULE_NAME) -> types.ModuleType:
    if module_name in sys.modules:
        return sys.modules[module_name]
    for name in COMFY_TOP_LEVEL:
        # An empty stand-in, as in a test process: the pack must not resolve these names
        # to its own subpackages, nor need the real ones to load.
        sys.modules.setdefault(name, types.ModuleType(name))
    spec = importlib.util.spec_from_file_location(
        module_name, PACK_ROOT / "__init__.py", submodule_search_locations=[str(PACK_ROOT)])
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def pack_module(dotted: str) -> types.ModuleType:
    """A submodule of the loaded pack, e.g. pack_module("core.client")."""
    load_pack()
    return importlib.import_module(f"{MODULE_NAME}.{dotted}")
