"""The command line as a new user meets it, in a subprocess: a copy of the repository in a
folder with another name (dots and spaces included), the README's first command on the
picture the repository ships, no torch (nor OpenCV, nor Pillow) importable; and the pack
inside a ComfyUI tree, where the clips go to ComfyUI/output, never custom_nodes/output."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pack_loader import PACK_ROOT, pack_module

video_decode = pack_module("core.video_decode")

EXAMPLE = Path("examples_workflows") / "example.png"
SMALL = ["--width", "256", "--height", "448", "--num-frames", "9", "--fps", "12"]
# Imports that must not be needed: setting sys.modules[name] = None makes `import name` fail.
_BLOCK = "import sys\nfor m in ('torch', 'cv2', 'PIL'):\n    sys.modules[m] = None\n"


def copy_pack(dest: Path) -> Path:
    shutil.copytree(PACK_ROOT, dest, ignore=shutil.ignore_patterns(
        ".git", ".ci-venv", ".venv", "tests", "bench", "docs", "__pycache__", ".pytest_cache", "output",
        "node_modules", "*.egg-info", "build"))
    return dest


def clean_env(home: Path) -> dict[str, str]:
    """No SEGMIND_* settings, no PYTHONPATH, a private home: what a new user has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGMIND")}
    env.update(PYTHONPATH="", HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
    return env


def launch(script: Path, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python segmind_ltx2.py ARGS` with torch, cv2 and PIL made unimportable."""
    code = (_BLOCK + "import runpy\n"
            f"sys.argv = [{str(script)!r}, *{args!r}]\n"
            f"runpy.run_path({str(script)!r}, run_name='__main__')\n")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_first_command_works_in_a_fresh_clone_with_any_name_and_no_torch(tmp_path):
    clone = copy_pack(tmp_path / "my clone.v2 (copy)")
    assert (clone / EXAMPLE).stat().st_size < 200_000  # the shipped picture stays small
    run = launch(Path("segmind_ltx2.py"), ["--image", str(EXAMPLE), "--prompt", "the lake ripples", *SMALL],
                 cwd=clone, env=clean_env(tmp_path))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    folder = clone / "output" / "segmind_ltx2"
    (mp4,) = folder.glob("*.mp4")
    assert mp4.with_suffix(".wav").is_file()
    summary = json.loads((folder / f"{mp4.stem}.summary.json").read_text())
    info = video_decode.probe_video(mp4)
    assert (info.width, info.height, info.frame_count, info.fps) == (256, 448, 9, 12.0)
    assert info.has_audio and summary["audio_channels"] == 2 and summary["cost"] == 0
    assert str(mp4) in run.stdout


def test_version_and_help_from_a_clone(tmp_path):
    clone = copy_pack(tmp_path / "clone")
    env = clean_env(tmp_path)
    version = launch(Path("segmind_ltx2.py"), ["--version"], cwd=clone, env=env)
    assert version.returncode == 0 and version.stdout.startswith("python segmind_ltx2.py 0.")
    helped = launch(clone / "segmind_ltx2.py", ["--help"], cwd=tmp_path, env=env)
    assert helped.returncode == 0 and "--max-cost" in helped.stdout and "--manifest" in helped.stdout


@pytest.fixture
def comfyui(tmp_path) -> Path:
    """A ComfyUI tree (as far as the pack can tell: main.py, comfy/, custom_nodes/) holding
    the pack under a folder name of its own."""
    root = tmp_path / "ComfyUI"
    (root / "comfy").mkdir(parents=True)
    (root / "main.py").write_text("# ComfyUI\n")
    copy_pack(root / "custom_nodes" / "segmind_pack_renamed")
    return root


def test_inside_comfyui_the_clips_go_to_comfyuis_output_folder(comfyui, tmp_path):
    nodes = comfyui / "custom_nodes"
    env = clean_env(tmp_path)
    script = Path("segmind_pack_renamed") / "segmind_ltx2.py"
    run = launch(script, ["--image", str(Path("segmind_pack_renamed") / EXAMPLE), "--prompt", "x", *SMALL],
                 cwd=nodes, env=env)
    assert run.returncode == 0, run.stderr
    assert len(list((comfyui / "output" / "segmind_ltx2").glob("*.mp4"))) == 1
    assert not (nodes / "output").exists()
    # `python -m <folder>` from custom_nodes, as the README said before: the same place.
    run = subprocess.run([sys.executable, "-m", "segmind_pack_renamed", "--t2v", "--prompt", "x", *SMALL],
                         cwd=nodes, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert len(list((comfyui / "output" / "segmind_ltx2").glob("*.mp4"))) == 2
    assert not (nodes / "output").exists()


def test_the_user_folder_is_comfyuis_whatever_the_current_folder(comfyui, tmp_path):
    """Key, cache and journal in ComfyUI/user: the same command run from anywhere finds the
    same cache (so it never pays twice) and the key saved in ComfyUI's settings."""
    places = pack_module("cli.places")
    pack = comfyui / "custom_nodes" / "segmind_pack_renamed"
    env_keys = ("SEGMIND_LTX2_HOME", "SEGMIND_LTX2_OUTPUT")
    saved = {k: os.environ.pop(k, None) for k in env_keys}
    try:
        assert places.user_directory(pack) == comfyui / "user"
        assert places.output_directory(None, pack, cwd=tmp_path) == comfyui / "output"
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        assert places.output_directory(None, elsewhere, cwd=elsewhere) == elsewhere / "output"
        # A pack installed elsewhere, run from inside a ComfyUI tree: ComfyUI's output all the same.
        assert places.output_directory(None, elsewhere, cwd=comfyui / "custom_nodes") == comfyui / "output"
    finally:
        for k, v in saved.items():
            if v is not None:
                os.environ[k] = v


def test_the_console_entry_point_names_a_real_function():
    """pyproject's [project.scripts] target (used by `pip install -e .`) exists and is the CLI."""
    import tomllib

    target = tomllib.loads((PACK_ROOT / "pyproject.toml").read_text())["project"]["scripts"]["segmind-ltx2"]
    module, func = target.split(":")
    assert module == "comfyui_segmind_ltx2.__main__" and func == "main"
    assert callable(getattr(pack_module("__main__"), func))
    setuptools = tomllib.loads((PACK_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package in setuptools["packages"]:
        sub = package.split(".", 1)[1].replace(".", "/") if "." in package else ""
        assert (PACK_ROOT / sub / "__init__.py").is_file(), package
    assert "comfyui_segmind_ltx2.cli" in setuptools["packages"]


# --------------------------------------------------------------------------- the test suite in a clone

_NOT_THE_REPO = shutil.ignore_patterns(".git", ".ci-venv", ".venv", "__pycache__", ".pytest_cache", "output",
                                       "node_modules", "*.egg-info", "build", "_artifacts")


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", ["my-ltx-pack", "comfyui-segmind-ltx2"])
def test_the_suite_runs_in_a_clone_of_any_name_and_writes_nothing_into_it(tmp_path, name):
    """pytest from a clone whose folder name is not an identifier (the README's install step
    makes `comfyui-segmind-ltx2`): the root's __init__.py is the pack, not a test package.
    The run leaves every file of the clone as it was (no fault table rewritten)."""
    clone = tmp_path / name
    shutil.copytree(PACK_ROOT, clone, ignore=_NOT_THE_REPO)
    before = _files(clone)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": ""}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_core_units.py", "tests/test_pipeline_hardening.py"],
                         cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert _files(clone) == before
