"""LTX-2 Retake (`ltx-retake-video`): the descriptor, the node run against the stand-in (one
job billed, a re-queue billing nothing, the clip's length and size kept), every refusal before
paying or uploading, the clip sent by storage upload or as a data URI, collecting a Retake
job by its request id, and the free offline backend."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from clip_samples import make_clip
from node_calls import call_node
from pack_loader import load_pack, pack_module

pack = load_pack()
models = pack_module("core.models")
params = pack_module("core.params")
errors = pack_module("core.errors")
comfy_host = pack_module("comfy_host")
RETAKE = pack.NODE_CLASS_MAPPINGS["SegmindLTX2Retake"]
PATH = "ltx-retake-video"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("retake_clips")
    return {"181": make_clip(folder / "clip181.mp4", frames=181, fps=24, width=64, height=48),
            "181b": make_clip(folder / "clip181b.mp4", frames=181, fps=24, width=64, height=48, first_tag=5),
            "72": make_clip(folder / "clip72.mp4", frames=72, fps=24, width=64, height=48)}


def video(path: Path) -> Any:
    return comfy_host.video_from_file(path)


def submits(env: Any) -> list[dict]:
    return [r[3] for r in env.requests_log if r[0] == "POST" and r[1] == f"/v2/{PATH}"]


def uploads(env: Any) -> list[dict]:
    return [r[3] for r in env.requests_log if r[0] == "POST" and r[1] == "/upload-asset"]


def clip_of(out: dict, env: Any) -> Path:
    image = out["ui"]["images"][0]
    return Path(env.output) / image["subfolder"] / image["filename"]


def streams(clip: Path) -> tuple[int, tuple[int, int], float, bool]:
    with av.open(str(clip)) as container:
        vs = container.streams.video[0]
        return (sum(1 for _ in container.decode(video=0)), (vs.width, vs.height), float(vs.average_rate),
                bool(container.streams.audio))


def retake(path: Path, **more: Any) -> dict:
    inputs = dict(video=video(path), start_time=2.0, duration=3.0, prompt="the cat turns its head",
                  mode="replace_video", unique_id="5")
    return call_node(RETAKE(), **{**inputs, **more})


def test_the_descriptor_uses_the_services_names_and_values():
    m = models.MODELS[PATH]
    assert [f.name for f in m.fields] == ["video_uri", "start_time", "duration", "prompt", "mode"]
    assert m.field("video_uri").media == "video" and m.takes("video")
    assert m.field("duration").minimum == 2.0 and m.field("start_time").minimum == 0.0
    assert m.field("mode").choices == ("replace_audio_and_video", "replace_video", "replace_audio")
    assert m.price.rule == models.FLAT and not m.price.confirmed and m.price.usd == pytest.approx(0.791)
    assert params.estimate_cost({"duration": 5.0}, PATH) == pytest.approx(0.791)
    assert m.rendered({}) is None  # the clip comes back at the input's size: nothing to estimate


def test_a_retake_bills_one_job_keeps_length_and_size_and_a_requeue_bills_nothing(pack_env, clips):
    out = retake(clips["181"])
    frames, audio, fps, count, _ = out["result"]
    assert count == 181 and tuple(frames.shape[1:3]) == (48, 64) and fps == pytest.approx(24.0)
    assert streams(clip_of(out, pack_env))[:3] == (181, (64, 48), 24.0)
    assert audio["waveform"].shape[-1] > 0
    assert pack_env.jobs_submitted == 1
    sent = submits(pack_env)
    assert len(sent) == 1
    assert {k: v for k, v in sent[0].items() if k != "video_uri"} == {
        "start_time": 2.0, "duration": 3.0, "prompt": "the cat turns its head", "mode": "replace_video"}
    assert sent[0]["video_uri"].startswith(pack_env.storage_base + "/assets/")  # the storage took the MP4
    summary = out["ui"]["segmind"][0]
    assert summary["estimate"] == pytest.approx(0.791) and summary["from_cache"] is False
    assert summary["cost"] == pytest.approx(0.791)

    again = retake(clips["181"])
    assert again["ui"]["segmind"][0]["from_cache"] is True and again["result"][3] == 181
    assert pack_env.jobs_submitted == 1 and len(submits(pack_env)) == 1 and len(uploads(pack_env)) == 1


def test_another_clip_with_the_same_fields_is_another_paid_job(pack_env, clips):
    retake(clips["181"])
    retake(clips["181b"])
    assert pack_env.jobs_submitted == 2 and len(uploads(pack_env)) == 2


def test_provenance_names_the_input_clip_never_its_bytes(pack_env, clips):
    out = retake(clips["181"])
    record = json.loads(clip_of(out, pack_env).with_suffix(".json").read_text(encoding="utf-8"))
    assert record["model"] == PATH and record["fields"]["mode"] == "replace_video"
    assert record["input_clip"]["frame_count"] == 181 and len(record["input_clip"]["sha256"]) == 64
    assert len(json.dumps(record)) < 5000


def test_a_storage_that_refuses_video_gets_the_clip_inline(pack_env, clips):
    pack_env.video_upload = False
    out = retake(clips["181"], mode="replace_audio_and_video")
    assert out["result"][3] == 181 and pack_env.jobs_submitted == 1
    sent = submits(pack_env)
    assert len(sent) == 1 and sent[0]["video_uri"].startswith("data:video/mp4;base64,")
    assert len(uploads(pack_env)) == 1  # tried once, refused (400, unbilled)
    # The refusal is remembered: the next clip goes inline at once.
    retake(clips["181b"])
    assert len(uploads(pack_env)) == 1 and pack_env.jobs_submitted == 2


@pytest.mark.parametrize("case, inputs, words", [
    ("short", {"clip": "72"}, "72 frames; Retake needs at least 73"),
    ("past the end", {"start_time": 7.6}, "past the clip's end"),
    ("too little left", {"start_time": 6.5}, "under Retake's 2 s"),
    ("short section", {"duration": 1.5}, "at least 2 s"),
    ("mode", {"mode": "replace_everything"}, "pick audio, video or both"),
])
def test_refusals_bill_nothing_and_upload_nothing(pack_env, clips, case, inputs, words):
    inputs = dict(inputs)
    clip = clips[inputs.pop("clip", "181")]
    with pytest.raises(errors.InvalidInputError, match=words):
        retake(clip, **inputs)
    assert pack_env.jobs_submitted == 0 and uploads(pack_env) == [] and submits(pack_env) == []


def test_a_clip_too_big_to_send_is_refused_before_anything(pack_env, clips, monkeypatch):
    rules = pack_module("core.retake_rules")
    monkeypatch.setattr(rules, "INLINE_LIMIT_BYTES", 1000)
    with pytest.raises(errors.InvalidInputError, match="Trim the clip"):
        retake(clips["181"])
    assert pack_env.jobs_submitted == 0 and uploads(pack_env) == [] and submits(pack_env) == []


def test_a_retake_job_is_collected_by_its_request_id(pack_env, clips):
    out = retake(clips["181"])
    rid = out["ui"]["segmind"][0]["request_id"]
    for cached in (Path(pack_env.home) / "segmind" / "cache").glob("*.mp4"):
        cached.unlink()  # not in the cache: fetched from Segmind again, unbilled
    clip_of(out, pack_env).unlink()
    collect = pack_module("core.collect")
    got = collect.collect_clip(rid, user_dir=pack_env.home, output_dir=pack_env.output)
    assert streams(got.path)[:2] == (181, (64, 48))
    assert got.source == "segmind" and got.provenance["model"] == PATH and pack_env.jobs_submitted == 1
    # The Collect Job node, by the same id: from the cache now, never paying.
    import asyncio

    node = pack.NODE_CLASS_MAPPINGS["SegmindLTX2CollectJob"]()
    collected = asyncio.run(node.collect(request_id=rid, unique_id="9"))
    assert collected["result"][3] == 181 and pack_env.jobs_submitted == 1


def test_the_offline_backend_is_free_and_keeps_the_clip_shape(pack_env, clips):
    out = retake(clips["181"], backend="offline preview", mode="both")
    assert out["result"][3] == 181 and out["ui"]["segmind"][0]["cost"] == 0.0
    assert streams(clip_of(out, pack_env))[:2] == (181, (64, 48))
    assert pack_env.jobs_submitted == 0 and pack_env.requests_log == []


def test_the_spend_limit_refuses_a_retake_before_the_clip_is_uploaded(pack_env, clips):
    limits = pack_module("core.spend_limits")
    limits.SpendLimits(per_day=0.5, per_run=None).save(pack_env.home)  # under one retake's $0.791
    with pytest.raises(errors.SpendLimitError):
        retake(clips["181"])
    assert pack_env.jobs_submitted == 0 and uploads(pack_env) == [] and submits(pack_env) == []


def test_a_storage_answering_413_is_not_retried_inline(pack_env, clips):
    """The inline body would be as large as the upload's: the error says so, nothing is billed."""
    pack_env.max_body_bytes = 10_000
    with pytest.raises(errors.SegmindAPIError, match="413.*trim it"):
        retake(clips["181"])
    assert pack_env.jobs_submitted == 0 and submits(pack_env) == []


def test_v1_sends_the_clip_too(pack_env, clips):
    out = retake(clips["181"], options={"api_mode": "sync (v1)", "timeout_seconds": 300})
    assert out["result"][3] == 181 and pack_env.jobs_submitted == 1
    sync = [r[3] for r in pack_env.requests_log if r[0] == "POST" and r[1] == f"/v1/{PATH}"]
    assert len(sync) == 1 and sync[0]["video_uri"].startswith("http")


def test_the_example_workflow_runs_free_with_the_offline_backend(pack_env):
    """examples_workflows/retake.api.json as ComfyUI would run it with backend = offline preview
    on both nodes (it ships with segmind, as every example): the Fast stand-in's VIDEO into
    Retake; nothing is sent."""
    from pack_loader import PACK_ROOT

    graph = json.loads((PACK_ROOT / "examples_workflows" / "retake.api.json").read_text(encoding="utf-8"))
    fast, node = graph["1"], graph["2"]
    assert fast["inputs"]["backend"] == node["inputs"]["backend"] == "segmind"
    fast["inputs"]["backend"] = node["inputs"]["backend"] = "offline preview"
    made = call_node(pack.NODE_CLASS_MAPPINGS[fast["class_type"]](), **fast["inputs"], unique_id="1")
    inputs = {k: v for k, v in node["inputs"].items() if k != "video"}
    out = call_node(pack.NODE_CLASS_MAPPINGS[node["class_type"]](), video=made["result"][4], **inputs, unique_id="2")
    assert out["result"][3] == made["result"][3] == 200
    assert tuple(out["result"][0].shape[1:3]) == tuple(made["result"][0].shape[1:3])
    frames = out["result"][0]
    # Seconds 2-5 tinted magenta (red above green), the rest as the Fast clip made it.
    tint = (frames[:, :, :, 0] - frames[:, :, :, 1]).mean(dim=(1, 2))
    before = (made["result"][0][:, :, :, 0] - made["result"][0][:, :, :, 1]).mean(dim=(1, 2))
    assert float((tint - before)[60:120].min()) > 0.1 and float((tint - before)[:45].abs().max()) < 0.05
    assert pack_env.requests_log == [] and pack_env.jobs_submitted == 0


def test_the_jobs_tab_lists_a_retake_live_and_recorded(pack_env, clips, runtime):
    out = retake(clips["181"])
    rid = out["ui"]["segmind"][0]["request_id"]
    live = [j for j in runtime.board.snapshot() if j.get("request_id") == rid]
    assert len(live) == 1 and live[0]["state"] == "done"
    assert (live[0]["width"], live[0]["height"], live[0]["num_frames"]) == (64, 48, 181)  # the input's shape
    assert live[0]["estimate_usd"] == pytest.approx(0.791) and live[0]["label"] == "the cat turns its head"
    untitled = retake(clips["181b"], prompt="")["ui"]["segmind"][0]["request_id"]
    assert [j["label"] for j in runtime.board.snapshot() if j.get("request_id") == untitled] == ["LTX-2 Retake"]
    recorded = pack_module("core.collect").recorded_jobs(pack_env.home, pack_env.output)
    job = next(j for j in recorded if j.request_id == rid)
    assert job.model == PATH and job.cost == pytest.approx(0.791)


def test_the_estimate_learns_a_retakes_real_charge(pack_env, clips):
    """One price per retake: a retake charged above the quote raises the next one's estimate,
    whatever its section."""
    learned = pack_module("core.learned_estimate")
    history = learned.ChargeHistory.load(pack_env.home)
    first = history.estimate(PATH, {"start_time": 0.0, "duration": 2.0})
    assert first.amount == pytest.approx(0.791) and "quoted price per clip (unconfirmed)" in first.basis()
    pack_env.prices[PATH] = 0.95
    retake(clips["181"])
    again = learned.ChargeHistory.load(pack_env.home).estimate(PATH, {"start_time": 1.0, "duration": 5.0})
    assert again.amount == pytest.approx(0.95) and "Segmind charged $0.950 for one" in again.basis()


class _VideoInMemory:
    """A VIDEO made in memory (as Create Video's): no file, written out on request."""

    def __init__(self, source: Path) -> None:
        self._data = source.read_bytes()

    def save_to(self, path: str) -> None:
        Path(path).write_bytes(self._data)


class _VideoStream:
    """A VIDEO whose source is a stream (as an upload held in memory)."""

    def __init__(self, source: Path) -> None:
        import io

        self._stream = io.BytesIO(source.read_bytes())

    def get_stream_source(self) -> Any:
        return self._stream


@pytest.mark.parametrize("make", [_VideoInMemory, _VideoStream])
def test_a_video_from_any_node_is_taken(pack_env, clips, make):
    out = call_node(RETAKE(), video=make(clips["181"]), start_time=1.0, duration=2.0, prompt="", mode="replace_audio",
                    unique_id="6")
    assert out["result"][3] == 181 and pack_env.jobs_submitted == 1
    # The same clip by another way is the same request: nothing more to pay.
    again = retake(clips["181"], start_time=1.0, duration=2.0, prompt="", mode="replace_audio")
    assert again["ui"]["segmind"][0]["from_cache"] is True and pack_env.jobs_submitted == 1


def test_a_clip_that_is_not_an_mp4_is_refused_before_anything(pack_env, clips, tmp_path):
    mkv = tmp_path / "clip.mkv"
    with av.open(str(clips["181"])) as src, av.open(str(mkv), "w", format="matroska") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    with pytest.raises(errors.InvalidInputError, match="not an MP4.*Save it as MP4 first"):
        retake(mkv)
    assert pack_env.requests_log == []


def test_no_video_connected_says_what_to_connect(pack_env):
    with pytest.raises(errors.InvalidInputError, match="Connect a VIDEO"):
        call_node(RETAKE(), video=None, start_time=0.0, duration=2.0, prompt="", mode="replace_video", unique_id="7")


class _VideoFromComponents:
    """As ComfyUI 0.3.64's Create Video VIDEO: save_to opens its target with PyAV (so a path
    names the format), and the base class's get_stream_source saves into a BytesIO, from
    which PyAV cannot tell the format: it raises ValueError."""

    def __init__(self, source: Path) -> None:
        self._source = source

    def save_to(self, path: Any) -> None:
        with av.open(str(self._source)) as src, av.open(path, mode="w") as out:
            streams = {s.index: out.add_stream_from_template(s) for s in (src.streams.video[0], *src.streams.audio)}
            for packet in src.demux():
                if packet.dts is not None and packet.stream.index in streams:
                    packet.stream = streams[packet.stream.index]
                    out.mux(packet)

    def get_stream_source(self) -> Any:
        import io

        buffer = io.BytesIO()
        self.save_to(buffer)
        buffer.seek(0)
        return buffer


def test_a_video_from_create_video_is_taken(pack_env, clips):
    """Failed before: its get_stream_source raised 'Could not determine output format'."""
    out = call_node(RETAKE(), video=_VideoFromComponents(clips["181"]), start_time=1.0, duration=2.0, prompt="",
                    mode="replace_video", backend="offline preview", unique_id="8")
    assert out["result"][3] == 181
