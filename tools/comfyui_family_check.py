"""Issue 20's proof, run in a real ComfyUI against the local Segmind stand-in.

Starts the stand-in (tests/fake_segmind.py) in this process and ComfyUI (0.3.64 or later,
this pack in custom_nodes) pointed at it, then queues API-format graphs through /prompt and
reads /history and the saved MP4s:

  Pro Image to Video and Fast Text to Video: one job each, a re-queue bills nothing;
  Retake of a 181-frame clip: the same length and size back, one job;
  Extend by 2 segments: one VIDEO, length = the sum less the overlap, audio to the end;
  Join of three clips: plays through (frames and sound of all three).

    /work/venv/bin/python tools/comfyui_family_check.py --comfyui /path/to/ComfyUI \\
        --python /path/to/ComfyUI/venv/bin/python [--write]

Prints a Markdown table and exits non-zero when a check fails. Only 127.0.0.1 is used."""
from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tools"))
from comfyui_harness import (Comfy, append_results, comfyui_version, missed, png, stand_in_env,  # noqa: E402
                             start_comfy, stop, table, wait_ready)
from fake_segmind import FakeSegmind  # noqa: E402


def probe(path: Path) -> dict[str, Any]:
    """Frames decoded, size, rate and seconds of sound of an MP4 (PyAV)."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(v))
        info = {"frames": frames, "size": (v.codec_context.width, v.codec_context.height),
                "fps": float(v.average_rate or 0)}
    with av.open(str(path)) as c:
        if c.streams.audio:
            a = c.streams.audio[0]
            samples = sum(f.samples for f in c.decode(a))
            info["audio_seconds"] = samples / a.codec_context.sample_rate
        else:
            info["audio_seconds"] = 0.0
    info["seconds"] = info["frames"] / info["fps"] if info["fps"] else 0.0
    return info


def save(node_id: str, source: str, prefix: str, output: int = 4) -> dict:
    return {node_id: {"class_type": "SaveVideo", "inputs": {"video": [source, output], "filename_prefix": prefix,
                                                            "format": "auto", "codec": "auto"}}}


def saved_mp4(output_dir: Path, prefix: str) -> Path | None:
    found = sorted(output_dir.glob(prefix + "*.mp4"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--comfyui", type=Path, required=True, help="the ComfyUI folder (main.py)")
    ap.add_argument("--python", default=sys.executable, help="the Python of ComfyUI's environment")
    ap.add_argument("--port", type=int, default=8197)
    ap.add_argument("--only", default="", help="comma list of scenarios to run (pro,fast,retake,extend,join)")
    ap.add_argument("--write", action="store_true", help="append the table to bench/results.md")
    args = ap.parse_args()
    if not (args.comfyui / "main.py").is_file():
        ap.error(f"--comfyui {args.comfyui}: no main.py there")

    tag = uuid.uuid4().hex[:6]  # fresh prompts each run: nothing comes from an earlier run's cache
    scratch = Path(f"/tmp/segmind_family_{tag}")
    out_dir, in_dir, user_dir = scratch / "output", scratch / "input", scratch / "user"
    for d in (out_dir, in_dir, user_dir):
        d.mkdir(parents=True)
    png(in_dir / "family.png", 64, 48, 5)

    rows: list[tuple[str, str, str]] = []
    failures: list[str] = []
    with FakeSegmind() as fake:
        log = scratch / "comfyui.log"
        proc = start_comfy(args.python, args.comfyui, args.port, stand_in_env(fake), log,
                           user=user_dir, output=out_dir, inputs=in_dir)
        try:
            comfy = Comfy(f"http://127.0.0.1:{args.port}")
            classes = set(wait_ready(comfy, proc, log, seconds=180, path="/object_info"))

            def row(name: str, ok: bool, time_text: str, result: str) -> None:
                rows.append((name, time_text, result + (", ok" if ok else ", FAILED")))
                if not ok:
                    failures.append(name)

            def run_twice(name: str, graph: dict, save_id: str, prefix: str, expect_jobs: int,
                          check: Callable[[dict[str, Any]], tuple[bool, str]]) -> None:
                b0 = fake.jobs_submitted
                took, item = comfy.run(graph)
                jobs = fake.jobs_submitted - b0
                mp4 = saved_mp4(out_dir, prefix)
                if item["status"]["status_str"] != "success" or mp4 is None:
                    msgs = json.dumps(item["status"].get("messages", []))[-600:]
                    row(name, False, f"{took:.1f} s", f"run failed: {msgs}")
                    return
                facts = probe(mp4)
                ok, said = check(facts)
                # The same graph again, saved under another prefix so ComfyUI's own cache does
                # not answer: the pack's cache or records must, for nothing.
                again = json.loads(json.dumps(graph))
                again[save_id]["inputs"]["filename_prefix"] = prefix + "_again"
                b1 = fake.jobs_submitted
                took2, item2 = comfy.run(again)
                requeue = fake.jobs_submitted - b1
                # And once more after ComfyUI dropped its own cache (/free, then one small prompt
                # for the worker to act on it): every node runs again, the pack's records answer.
                comfy.call("/free", {"free_memory": True})
                comfy.run({"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1,
                                                                          "color": 0}},
                           "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}})
                again[save_id]["inputs"]["filename_prefix"] = prefix + "_fresh"
                b2 = fake.jobs_submitted
                took3, item3 = comfy.run(again)
                fresh = fake.jobs_submitted - b2
                ok = (ok and jobs == expect_jobs and requeue == 0 and fresh == 0
                      and item2["status"]["status_str"] == "success" and item3["status"]["status_str"] == "success")
                row(name, ok, f"{took:.1f} s (re-queue {took2:.1f} s; with ComfyUI's cache dropped {took3:.1f} s)",
                    f"{jobs} job(s) billed (expected {expect_jobs}), re-queue billed {requeue}, "
                    f"re-run with ComfyUI's cache dropped billed {fresh}; {said}")

            want = {s for s in args.only.split(",") if s} or {"pro", "fast", "retake", "extend", "join"}

            if "pro" in want:
                graph = {"1": {"class_type": "LoadImage", "inputs": {"image": "family.png"}},
                         "2": {"class_type": "SegmindLTX2ProImageToVideo",
                               "inputs": {"image": ["1", 0], "prompt": f"pro {tag}", "duration": 6,
                                          "resolution": "1080p", "generate_audio": True, "fps": "not sent",
                                          "force_rerun": False, "backend": "segmind", "batch_mode": "one picture",
                                          "batch_index": 0}},
                         **save("3", "2", f"family/{tag}_pro")}
                run_twice("Pro Image to Video", graph, "3", f"family/{tag}_pro", 1,
                          lambda f: (f["frames"] > 0 and f["audio_seconds"] > 0,
                                     f"{f['frames']} frames {f['size'][0]}x{f['size'][1]}, {f['audio_seconds']:.2f} s sound"))

            if "fast" in want:
                graph = {"1": {"class_type": "SegmindLTX2FastTextToVideo",
                               "inputs": {"prompt": f"fast {tag}", "duration": 6, "resolution": "1080p",
                                          "generate_audio": True, "force_rerun": False, "backend": "segmind"}},
                         **save("2", "1", f"family/{tag}_fast")}
                run_twice("Fast Text to Video", graph, "2", f"family/{tag}_fast", 1,
                          lambda f: (f["frames"] > 0, f"{f['frames']} frames {f['size'][0]}x{f['size'][1]}"))

            if "retake" in want and "SegmindLTX2Retake" in classes:
                scenario_retake(comfy, fake, out_dir, tag, row, run_twice)
            elif "retake" in want:
                row("Retake", False, "-", "no SegmindLTX2Retake node loaded")

            if "extend" in want and "SegmindLTX2Extend" in classes:
                scenario_extend(comfy, fake, out_dir, tag, row, run_twice)
            elif "extend" in want:
                row("Extend", False, "-", "no SegmindLTX2Extend node loaded")

            if "join" in want:
                graph: dict = {}
                for k in range(3):
                    graph[str(10 + k)] = {"class_type": "SegmindLTX2FastTextToVideo",
                                          "inputs": {"prompt": f"join part {k} {tag}", "duration": 6,
                                                     "resolution": "1080p", "generate_audio": True,
                                                     "force_rerun": False, "backend": "segmind"}}
                graph["20"] = {"class_type": "SegmindLTX2JoinClips",
                               "inputs": {"video_1": ["10", 4], "video_2": ["11", 4], "video_3": ["12", 4],
                                          "on_mismatch": "refuse", "drop_first_frame_of_next": False}}
                graph.update(save("21", "20", f"family/{tag}_join"))

                def check_join(f: dict[str, Any]) -> tuple[bool, str]:
                    return (f["frames"] > 0 and abs(f["audio_seconds"] - f["seconds"]) < 0.1,
                            f"{f['frames']} frames ({f['seconds']:.2f} s), sound {f['audio_seconds']:.2f} s")
                for k in range(3):
                    graph.update(save(str(30 + k), str(10 + k), f"family/{tag}_part{k}"))
                run_twice("Join of three clips", graph, "21", f"family/{tag}_join", 3, check_join)
                part_facts = [probe(p) for k in range(3) if (p := saved_mp4(out_dir, f"family/{tag}_part{k}"))]
                joined = saved_mp4(out_dir, f"family/{tag}_join")
                if joined and len(part_facts) == 3:
                    f = probe(joined)
                    total = sum(p["frames"] for p in part_facts)
                    row("Join: length of the three", f["frames"] == total, "-",
                        f"joined {f['frames']} frames = {' + '.join(str(p['frames']) for p in part_facts)}")
        finally:
            stop([proc])

    version = comfyui_version(args.comfyui)
    text = (f"#### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: the LTX-2 family in a real ComfyUI {version} "
            f"through /prompt, against the stand-in\n\n"
            f"Requests the stand-in saw in all: {json.dumps(fake.counts)}\n\n"
            + table(("scenario", "time", "result"), rows) + missed(failures, "Failed"))
    print("\n" + text)
    if args.write:
        append_results("### comfyui-family: issue 20 in a real ComfyUI", "tools/comfyui_family_check.py", text)
    return 1 if failures else 0


def scenario_retake(comfy: Comfy, fake: FakeSegmind, out_dir: Path, tag: str, row: Callable, run_twice: Callable) -> None:
    """A 181-frame clip (64x48, 24 fps, with sound) in ComfyUI's input folder, through core Load
    Video (a VIDEO from a node that is not the pack's) -> Retake (seconds 2-5, both) -> Save
    Video: one job, the same length and size back; re-queued and re-run for nothing. Then the
    same clip sent inline: the storage switched to refuse video, another section (one more job)."""
    from clip_samples import make_clip

    in_dir = out_dir.parent / "input"
    make_clip(in_dir / f"retake_{tag}.mp4", frames=181, fps=24, width=64, height=48)
    # Another clip for the inline run: the first one's upload is remembered by its content.
    make_clip(in_dir / f"retake_{tag}_b.mp4", frames=181, fps=24, width=64, height=48, first_tag=5)
    source = probe(in_dir / f"retake_{tag}.mp4")

    def graph(start: float, prefix: str, name: str = f"retake_{tag}.mp4") -> dict:
        return {"1": {"class_type": "LoadVideo", "inputs": {"file": name}},
                "2": {"class_type": "SegmindLTX2Retake",
                      "inputs": {"video": ["1", 0], "start_time": start, "duration": 3.0,
                                 "prompt": f"retake {tag}", "mode": "replace_audio_and_video",
                                 "force_rerun": False, "backend": "segmind"}},
                **save("3", "2", prefix)}

    def same_shape(f: dict[str, Any]) -> tuple[bool, str]:
        ok = f["frames"] == source["frames"] == 181 and f["size"] == source["size"] and f["audio_seconds"] > 7
        return ok, (f"{f['frames']} frames {f['size'][0]}x{f['size'][1]} back from {source['frames']} frames "
                    f"{source['size'][0]}x{source['size'][1]}, {f['audio_seconds']:.2f} s sound")

    uploads = fake.counts.get("uploads", 0)
    run_twice("Retake of a 181-frame clip (storage upload)", graph(2.0, f"family/{tag}_retake"), "3",
              f"family/{tag}_retake", 1, same_shape)
    row("Retake: the clip uploaded once", fake.counts.get("uploads", 0) - uploads == 1, "-",
        f"{fake.counts.get('uploads', 0) - uploads} upload(s)")
    fake.video_upload = False
    try:
        sent = len(fake.requests_log)
        run_twice("Retake, the clip inline (storage refuses video)",
                  graph(4.0, f"family/{tag}_retake_inline", f"retake_{tag}_b.mp4"), "3",
                  f"family/{tag}_retake_inline", 1, same_shape)
        inline = [r[3].get("video_uri", "")[:22] for r in fake.requests_log[sent:]
                  if r[0] == "POST" and r[1].endswith("/ltx-retake-video")]
        row("Retake: the clip sent as a data URI", inline == ["data:video/mp4;base64,"], "-", f"video_uri {inline}")
    finally:
        fake.video_upload = True


def scenario_extend(comfy: Comfy, fake: FakeSegmind, out_dir: Path, tag: str, row: Callable, run_twice: Callable) -> None:
    """Image to Video (9 frames at 8 fps) continued by Extend: 2 segments of 9 frames bill 2
    jobs (3 with the clip), and the VIDEO has 9 + 2 x 8 frames (each segment's first frame is
    the previous last frame, shown once) with sound to its end; then a third line added to
    the prompts pays for that segment only."""
    clip = {"prompt": f"extend source {tag}", "negative_prompt": "", "width": 256, "height": 256, "num_frames": 9,
            "fps": 8, "seed": 1, "guidance_scale": 4.0, "force_rerun": False, "backend": "segmind"}
    segment = {"model": "ltx-2-19b-i2v", "negative_prompt": "", "num_frames": 9, "seed": 1, "guidance_scale": 4.0,
               "duration": 6, "resolution": "1080p", "generate_audio": True, "fps": "not sent",
               "force_rerun": False, "backend": "segmind"}

    def graph(prompts: list[str], prefix: str) -> dict:
        return {"1": {"class_type": "LoadImage", "inputs": {"image": "family.png"}},
                "2": {"class_type": "SegmindLTX2ImageToVideo", "inputs": {"image": ["1", 0], **clip}},
                "3": {"class_type": "SegmindLTX2Extend",
                      "inputs": {"video": ["2", 4], "prompts": "\n".join(prompts), **segment}},
                **save("4", "3", prefix)}

    lines = [f"the deer looks up {tag}", f"the deer walks off {tag}"]

    def check(f: dict[str, Any], segments: int = 2) -> tuple[bool, str]:
        want = 9 + segments * 8
        return (f["frames"] == want and f["audio_seconds"] >= f["seconds"] - 0.05,
                f"{f['frames']} frames (9 + {segments} x 9 less {segments} repeated first frames = {want}) "
                f"{f['size'][0]}x{f['size'][1]}, {f['seconds']:.2f} s, sound {f['audio_seconds']:.2f} s")

    run_twice("Extend by 2 segments", graph(lines, f"family/{tag}_extend"), "4", f"family/{tag}_extend", 3, check)
    b0 = fake.jobs_submitted
    took, item = comfy.run(graph([*lines, f"the meadow is empty {tag}"], f"family/{tag}_third"))
    jobs = fake.jobs_submitted - b0
    mp4 = saved_mp4(out_dir, f"family/{tag}_third")
    ok, said = check(probe(mp4), 3) if mp4 else (False, "no clip saved")
    row("Extend: a third line added", ok and jobs == 1 and item["status"]["status_str"] == "success",
        f"{took:.1f} s", f"{jobs} job(s) billed (expected 1: segments 1 and 2 reused from the cache); {said}")


if __name__ == "__main__":
    sys.exit(main())
