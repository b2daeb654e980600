"""What the real-ComfyUI checks in tools/ share: the stand-in's environment for ComfyUI, a
ComfyUI started and waited for, stopped, its version, and the graphs' small pieces
(`Comfy` drives /prompt and /history; `png`, `load`, `i2v`, `save_video` build inputs and nodes).

Run with any Python (no third-party imports); the checks put tests/ and tools/ on sys.path."""
from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import time
import urllib.request
import uuid
import zlib
from pathlib import Path
from typing import Any, Iterable

REPO = Path(__file__).resolve().parent.parent
I2V = "SegmindLTX2ImageToVideo"
SMALL = {"width": 256, "height": 256, "num_frames": 9, "fps": 8, "seed": 1, "guidance_scale": 4.0,
         "negative_prompt": ""}


def png(path: Path, width: int, height: int, seed: int) -> None:
    """A small distinct RGB picture, written without any imaging library."""
    rows = b"".join(b"\x00" + bytes(((x * (seed + 3) + y * 7 + seed * 41) % 256) for x in range(width)
                                    for _ in range(3)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Comfy:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client_id = uuid.uuid4().hex

    def call(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     headers={"Content-Type": "application/json"} if data else {})
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def queue(self, graph: dict) -> str:
        answer = self.call("/prompt", {"prompt": graph, "client_id": self.client_id})
        if answer.get("node_errors"):
            raise SystemExit(f"ComfyUI refused the graph: {answer['node_errors']}")
        return answer["prompt_id"]

    def wait(self, prompt_id: str, limit: float = 600) -> dict:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            hist = self.call(f"/history/{prompt_id}")
            if prompt_id in hist and hist[prompt_id].get("status", {}).get("completed") is not None:
                item = hist[prompt_id]
                if item["status"].get("status_str") in ("success", "error"):
                    return item
            time.sleep(0.1)
        raise SystemExit(f"prompt {prompt_id} did not finish in {limit} s")

    def run(self, graph: dict) -> tuple[float, dict]:
        start = time.monotonic()
        item = self.wait(self.queue(graph))
        return time.monotonic() - start, item


def i2v(node_id: str, prompt: str, image: list, **extra: Any) -> dict:
    return {node_id: {"class_type": I2V, "inputs": {"image": image, "prompt": prompt, **SMALL, **extra}}}


def save_video(node_id: str, source: str, prefix: str) -> dict:
    return {node_id: {"class_type": "SaveVideo", "inputs": {"video": [source, 4], "filename_prefix": prefix,
                                                            "format": "auto", "codec": "auto"}}}


def load(node_id: str, name: str) -> dict:
    return {node_id: {"class_type": "LoadImage", "inputs": {"image": name}}}


def stand_in_env(fake: Any, **extra: str) -> dict[str, str]:
    """This process's environment with the pack pointed at the stand-in (`fake`), plus `extra`."""
    return {**os.environ, "SEGMIND_API_BASE": fake.api_base, "SEGMIND_STORAGE_BASE": fake.storage_base,
            "SEGMIND_API_KEY": fake.api_key, **extra}


def start_comfy(python: str, comfyui: Path, port: int, env: dict[str, str], log: Path, *,
                user: Path | None = None, output: Path | None = None, inputs: Path | None = None) -> subprocess.Popen:
    """ComfyUI on 127.0.0.1:`port` (CPU), its output into `log`, in a session of its own (for stop());
    the folders given are made first (ComfyUI refuses a --user-directory that does not exist)."""
    argv = [python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port)]
    for flag, folder in (("--user-directory", user), ("--input-directory", inputs), ("--output-directory", output)):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            argv += [flag, str(folder)]
    with open(log, "w") as out:  # the child keeps its own copy of the handle
        return subprocess.Popen(argv, cwd=comfyui, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_ready(comfy: Comfy, proc: subprocess.Popen, log: Path, *, deadline: float | None = None,
               seconds: float = 240, path: str = "/object_info/" + I2V, name: str = "ComfyUI") -> Any:
    """Wait until `comfy` answers `path` (by default: the pack's nodes are loaded) and return the
    answer; stop the check when `proc` ended or the time (a monotonic `deadline`, else `seconds`
    from now) ran out."""
    deadline = time.monotonic() + seconds if deadline is None else deadline
    while True:
        try:
            return comfy.call(path)
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"{name} did not start; see {log}")
            time.sleep(1)


def stop(procs: Iterable[subprocess.Popen]) -> None:
    """Stop each ComfyUI started by start_comfy, with what it started."""
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass


def comfyui_version(comfyui: Path) -> str:
    version = comfyui / "comfyui_version.py"
    return version.read_text().split('"')[1] if version.is_file() else "unknown version"


def append_results(heading: str, tool: str, text: str) -> None:
    """Add `text` under `heading` in bench/results.md (the heading made, naming `tool`, if missing)."""
    results = REPO / "bench" / "results.md"
    body = results.read_text(encoding="utf-8") if results.is_file() else ""
    if heading not in body:
        body = body.rstrip("\n") + f"\n\n{heading}\n\nWritten by {tool} --write.\n"
    results.write_text(body.rstrip("\n") + "\n\n" + text, encoding="utf-8")


def table(columns: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A Markdown table of `rows` under `columns`."""
    columns = list(columns)
    return ("| " + " | ".join(columns) + " |\n" + "|" + " --- |" * len(columns) + "\n"
            + "".join("| " + " | ".join(row) + " |\n" for row in rows))


def missed(failures: list[str], word: str = "Missed") -> str:
    """The line naming the checks that failed, after a blank line; nothing when none did."""
    return f"\n{word}: {', '.join(failures)}\n" if failures else ""


def tidy_up(work: Path, failures: list[str]) -> None:
    """Remove the check's folder when every check passed; else keep it and say where it is."""
    if not failures:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"Logs and folders kept in {work}")
