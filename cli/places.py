"""Where the command line reads and writes, whatever the folder is called and however it
was started (launcher script, `python -m`, console script):

- output: --out, else $SEGMIND_LTX2_OUTPUT, else ComfyUI's output folder when the pack sits
  in <ComfyUI>/custom_nodes (or the command runs inside a ComfyUI tree), else ./output;
  never <ComfyUI>/custom_nodes/output, which ComfyUI would scan as a node pack.
- user folder (key file, result cache, job journal): $SEGMIND_LTX2_HOME, else ComfyUI's
  user folder when the pack sits in <ComfyUI>/custom_nodes, else ~/.config/segmind-ltx2.
  It depends on where the pack is, not on the current folder, so the same command run
  again finds the same cache and journal (and pays nothing twice)."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

# not resolve(): a pack symlinked into custom_nodes must still count as sitting there
PACK_ROOT = Path(__file__).absolute().parent.parent


def looks_like_comfyui(folder: Path) -> bool:
    return (folder / "main.py").is_file() and (folder / "comfy").is_dir() and (folder / "custom_nodes").is_dir()


def comfyui_root_of_pack(pack: Path = PACK_ROOT) -> Path | None:
    """<ComfyUI> when the pack is <ComfyUI>/custom_nodes/<any name>."""
    if pack.parent.name == "custom_nodes" and looks_like_comfyui(pack.parent.parent):
        return pack.parent.parent
    return None


def comfyui_root_around(cwd: Path | None = None) -> Path | None:
    """The ComfyUI tree the current folder is in (ComfyUI itself, custom_nodes, ...), if any."""
    here = (cwd or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if looks_like_comfyui(folder):
            return folder
    return None


def user_directory(pack: Path = PACK_ROOT) -> Path:
    env = os.environ.get("SEGMIND_LTX2_HOME", "").strip()
    if env:
        return Path(env)
    root = comfyui_root_of_pack(pack)
    if root is not None:
        return root / "user"  # shared with ComfyUI: a key saved in its settings works here
    return Path.home() / ".config" / "segmind-ltx2"


def output_directory(out: Path | None = None, pack: Path = PACK_ROOT, cwd: Path | None = None) -> Path:
    if out is not None:
        return Path(out)
    env = os.environ.get("SEGMIND_LTX2_OUTPUT", "").strip()
    if env:
        return Path(env)
    root = comfyui_root_of_pack(pack) or comfyui_root_around(cwd)
    if root is not None:
        return root / "output"
    return (cwd or Path.cwd()) / "output"


def version() -> str:
    """The pack's version: pyproject.toml in a clone, the installed metadata otherwise."""
    try:
        text = (PACK_ROOT / "pyproject.toml").read_text(encoding="utf-8")
        found = re.search(r'(?m)^version\s*=\s*"([^"]+)"', text)
        if found:
            return found.group(1)
    except OSError:
        pass
    try:
        from importlib.metadata import version as dist_version

        return dist_version("comfyui-segmind-ltx2")
    except Exception:
        return "unknown"


def program_name() -> str:
    """How the user started this command, for the usage line and 'run this to collect' hints."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("")
    if argv0.name == "segmind_ltx2.py":
        return f"python {argv0}"
    if argv0.name in ("segmind-ltx2", "segmind-ltx2.exe"):
        return "segmind-ltx2"
    if argv0.name == "__main__.py" and __package__:
        return f"python -m {__package__.rsplit('.', 1)[0]}"
    return "python segmind_ltx2.py"
