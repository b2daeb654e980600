"""The README and docs/ tell the truth about the repository: every relative link and
#anchor resolves (GitHub's heading slugs), the README stays short, docs/architecture.md
names every module there is and none that is not, the README gives the same test command
as .ci/run, and its first command names files that exist. Each checker is also run on a
small broken copy, so a check that silently passes everything fails here.

Also the stand-in's `animate_uploads` switch, which the README's first screenshot relies on."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import requests

from fake_segmind import FakeSegmind, make_mp4
from pack_loader import PACK_ROOT

README_MAX_LINES = 260
_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_LINK = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""")
_CODE_SPAN = re.compile(r"`[^`]*`")
_MODULE = re.compile(r"^[\w./-]+\.(?:py|js|mjs)$")


# --------------------------------------------------------------------------- helpers


def doc_files(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    out, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line)
    return out


def fenced_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(info string, lines) of every fenced code block, in order."""
    blocks, current, info = [], None, ""
    for line in text.splitlines():
        stripped = line.strip()
        if _FENCE.match(stripped):
            if current is None:
                current, info = [], stripped[3:].strip()
            else:
                blocks.append((info, current))
                current = None
            continue
        if current is not None:
            current.append(line)
    return blocks


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, lower case, everything but letters,
    digits, '_', '-' and spaces dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(path: Path) -> list[str]:
    found = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        line = _CODE_SPAN.sub("", line)
        found += _MD_LINK.findall(line) + _HTML_LINK.findall(line)
    return found


def broken_links(files: list[Path], root: Path) -> list[str]:
    """Every relative link or #anchor in `files` that does not resolve, as 'file: target'."""
    problems = []
    for path in files:
        for target in links(path):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
                continue
            where, _, anchor = target.partition("#")
            dest = (path.parent / where).resolve() if where else path
            name = f"{path.relative_to(root)}: {target}"
            if not dest.exists():
                problems.append(f"{name} (no such file)")
            elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
                problems.append(f"{name} (no heading with that anchor)")
    return problems


def pack_modules(root: Path) -> list[str]:
    """Every module the architecture page must name."""
    names = [p.relative_to(root).as_posix() for d in ("core", "cli", "nodes")
             for p in sorted((root / d).glob("*.py"))]
    names += [p.relative_to(root).as_posix() for p in sorted((root / "web" / "js").glob("*.js"))]
    return names + [n for n in ("__init__.py", "__main__.py", "comfy_host.py", "routes.py", "segmind_ltx2.py")
                    if (root / n).is_file()]


def architecture_problems(root: Path) -> list[str]:
    text = (root / "docs" / "architecture.md").read_text(encoding="utf-8")
    spans = {s.strip("`") for line in prose_lines(text) for s in _CODE_SPAN.findall(line)}
    named = {s for s in spans if _MODULE.match(s)}
    problems = [f"{m} is not named (as `{m}`)" for m in pack_modules(root) if m not in named]
    problems += [f"`{m}` is named but does not exist" for m in sorted(named) if not (root / m).is_file()]
    # The diagram: a path must exist, and a bare file name must be one of the pack's modules.
    basenames = {Path(m).name for m in pack_modules(root)}
    for _, lines in fenced_blocks(text):
        for token in re.findall(r"[\w./-]+\.(?:py|js)\b", "\n".join(lines)):
            if "/" in token and not (root / token).is_file():
                problems.append(f"the diagram names {token}, which does not exist")
            elif "/" not in token and token not in basenames:
                problems.append(f"the diagram names {token}, which is no module of the pack")
    return problems


def ci_test_command(root: Path) -> str:
    lines = (root / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    marker = next(i for i, line in enumerate(lines) if line.strip() == "# The README's test command:")
    return next(line.strip() for line in lines[marker + 1:] if line.strip() and not line.startswith("#"))


def bash_commands(path: Path) -> list[str]:
    return [line.strip() for info, lines in fenced_blocks(path.read_text(encoding="utf-8"))
            if info in ("bash", "sh", "shell", "console") for line in lines if line.strip()]


# --------------------------------------------------------------------------- the real docs


def test_every_relative_link_and_anchor_resolves() -> None:
    assert broken_links(doc_files(PACK_ROOT), PACK_ROOT) == []


def test_the_readme_is_short() -> None:
    lines = (PACK_ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"


def test_the_architecture_page_names_every_module_and_only_real_ones() -> None:
    assert architecture_problems(PACK_ROOT) == []


def test_the_readme_gives_the_test_command_ci_runs() -> None:
    command = ci_test_command(PACK_ROOT)
    assert command == "python -m pytest -n 2 --dist loadfile && node --test tests/js/"
    commands = bash_commands(PACK_ROOT / "README.md")
    assert command in commands and "bash .ci/run" in commands


def test_the_readme_first_command_is_the_fresh_clone_command_on_shipped_files() -> None:
    first = bash_commands(PACK_ROOT / "README.md")[0].split()
    assert first[:2] == ["python3", "segmind_ltx2.py"], first
    assert (PACK_ROOT / first[1]).is_file()
    image = first[first.index("--image") + 1]
    assert (PACK_ROOT / image).is_file() and "--backend" not in first  # the free offline default


def test_the_readme_sets_up_a_virtual_environment_on_every_system_before_the_first_command() -> None:
    text = (PACK_ROOT / "README.md").read_text(encoding="utf-8")
    try_it = text[text.index("## Try it"):text.index("## Install")]
    assert "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt" in try_it
    assert "py -m venv .venv" in try_it and r".venv\Scripts\python -m pip install -r requirements.txt" in try_it
    assert "bash .ci/run" in try_it


def test_the_repository_url_placeholder_is_said_once_and_no_command_needs_it() -> None:
    text = (PACK_ROOT / "README.md").read_text(encoding="utf-8")
    assert len(re.findall(r"<[^<>]*repository URL[^<>]*>", text)) <= 1
    assert not any("repository URL" in c for c in bash_commands(PACK_ROOT / "README.md"))


def test_the_output_folder_is_ignored_by_git() -> None:
    lines = (PACK_ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "/output/" in lines or "output/" in lines


def test_the_cpu_build_of_torch_is_explained_where_it_is_pinned() -> None:
    index = "https://download.pytorch.org/whl/cpu"
    assert index in (PACK_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert index in (PACK_ROOT / "docs" / "development.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the checkers catch breakage


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_broken_links_and_anchors_are_found(tmp_path: Path) -> None:
    _write(tmp_path / "docs" / "a.md", "# Title\n\n## The job journal: resuming (v2)\n\n## Same\n\n## Same\n")
    readme = _write(tmp_path / "README.md", "\n".join([
        "[ok](docs/a.md) [ok](docs/a.md#the-job-journal-resuming-v2) [ok](docs/a.md#same-1) [ok](#top)",
        "# Top", '<img src="docs/missing.png">', "[gone](docs/b.md)", "[bad anchor](docs/a.md#resuming)",
        "[web](https://example.com/x) `[not a link](nowhere.md)`", "```", "[in code](nowhere.md)", "```",
        "![picture](docs/a.md#same-2)", ""]))
    problems = broken_links([readme, tmp_path / "docs" / "a.md"], tmp_path)
    assert problems == ["README.md: docs/missing.png (no such file)", "README.md: docs/b.md (no such file)",
                        "README.md: docs/a.md#resuming (no heading with that anchor)",
                        "README.md: docs/a.md#same-2 (no heading with that anchor)"]


def test_a_missing_or_invented_module_is_found(tmp_path: Path) -> None:
    for name in ("core/params.py", "core/pipeline.py", "cli/run.py", "nodes/common.py", "web/js/cost.js",
                 "routes.py"):
        _write(tmp_path / name, "")
    _write(tmp_path / "docs" / "architecture.md", "\n".join([
        "`core/params.py` `cli/run.py` `nodes/common.py` `web/js/cost.js` `routes.py` `core/gone.py`",
        "```", "nodes/common.py -> pipeline.py -> core/ghost.py -> phantom.py", "```", ""]))
    assert architecture_problems(tmp_path) == [
        "core/pipeline.py is not named (as `core/pipeline.py`)",
        "`core/gone.py` is named but does not exist",
        "the diagram names core/ghost.py, which does not exist",
        "the diagram names phantom.py, which is no module of the pack"]


def test_the_test_command_is_read_from_ci_run(tmp_path: Path) -> None:
    _write(tmp_path / ".ci" / "run", "set -e\n# The README's test command:\npython -m pytest -x\n")
    assert ci_test_command(tmp_path) == "python -m pytest -x"


# --------------------------------------------------------------------------- the stand-in's animate_uploads


def _png(width: int, height: int) -> bytes:
    """Left half red, right half blue, a green band along the top, as PNG bytes (PyAV)."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, : width // 2, 0] = 230
    rgb[:, width // 2:, 2] = 230
    rgb[: height // 8] = (0, 230, 0)
    buf = io.BytesIO()
    with av.open(buf, "w", format="image2pipe") as out:
        stream = out.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())
    return buf.getvalue()


def _frames(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]


def _clip_of_upload(server: FakeSegmind, picture: bytes) -> bytes:
    import base64

    key = {"x-api-key": server.api_key}
    data_url = "data:image/png;base64," + base64.b64encode(picture).decode()
    upload = requests.post(f"{server.storage_base}/upload-asset", json={"data_urls": [data_url]}, headers=key,
                           timeout=10).json()
    body = {"prompt": "p", "image": upload["file_urls"][0], "width": 256, "height": 256, "num_frames": 9, "fps": 8}
    job = requests.post(f"{server.api_base}/v2/ltx-2-19b-i2v", json=body, headers=key, timeout=10).json()
    for _ in range(server.polls_until_done + 1):
        requests.get(job["status_url"], headers=key, timeout=10)
    url = requests.get(job["response_url"], headers=key, timeout=10).json()["output"]
    return requests.get(url, timeout=30).content


def test_animate_uploads_shows_the_uploaded_picture_zooming() -> None:
    picture = _png(96, 64)  # wider than the square clip: cropped to cover it
    with FakeSegmind(animate_uploads=True) as server:
        frames = _frames(_clip_of_upload(server, picture))
    first, last = frames[0], frames[-1]
    assert len(frames) == 9 and first.shape == (256, 256, 3)
    left, right = first[64:, :100].mean(axis=(0, 1)), first[64:, -100:].mean(axis=(0, 1))
    assert left[0] > 180 and left[2] < 60 and right[2] > 180 and right[0] < 60  # red | blue, centred

    def green_rows(frame: np.ndarray) -> int:
        return int(((frame[..., 1] > 150) & (frame[..., 0] < 100)).mean(axis=1).__gt__(0.5).sum())

    # The whole picture's height fits the first frame (the band: 1/8 of 256 rows); the zoom
    # then crops into it, so the band is cut down by the last frame.
    assert 28 <= green_rows(first) <= 36 and green_rows(last) < green_rows(first) - 4


def test_without_the_switch_the_clip_is_the_test_pattern() -> None:
    with FakeSegmind() as server:
        first = _frames(_clip_of_upload(server, _png(96, 64)))[0]
    assert first[:, :100, 0].mean() < 150  # the pattern's red grows with x: dark at the left
    assert make_mp4(None, 64, 64, 2, 8) == make_mp4(None, 64, 64, 2, 8, picture=None)


def test_animate_uploads_flag_on_the_command_line() -> None:
    script = PACK_ROOT / "tests" / "fake_segmind.py"
    proc = subprocess.Popen([sys.executable, str(script), "--port", "0", "--animate-uploads"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert "clips show the uploaded picture" in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_fault_tables_in_docs_hold_every_row_the_tests_record(tmp_path) -> None:
    """The rows a run records (written to a path of the test's own with --fault-matrix) are
    rows of docs/fault-matrix.md: the page is the tests' output, not hand-edited. Checked on
    a quick selection of both tables' tests; tools/write_fault_matrix.py rewrites the page."""
    from fault_rows import TABLES, table_rows

    out = tmp_path / "rows.md"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--fault-matrix={out}",
                          "tests/test_pipeline_hardening.py", "tests/test_billing_faults.py", "-k",
                          "test_pipeline_hardening or test_submit_refused"],
                         cwd=PACK_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    written, page = out.read_text(encoding="utf-8"), (PACK_ROOT / "docs" / "fault-matrix.md").read_text(encoding="utf-8")
    for table in TABLES:
        rows, documented = table_rows(written, table), set(table_rows(page, table))
        assert rows, f"no {table.name} rows recorded"
        missing = [r for r in rows if r not in documented]
        assert not missing, f"docs/fault-matrix.md lacks these {table.name} rows " \
                            f"(run python tools/write_fault_matrix.py): {missing}"
