"""Issue 19 item 7: every text from the service is redacted before it is stored or shown,
and bounded. A hostile stand-in echoes the key in its request ids, or sends huge ones."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import torch

from fake_segmind import make_mp4
from node_calls import call_node
from pack_loader import load_pack, pack_module

pack = load_pack()
NODE = pack.NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]
routes = pack_module("routes")
provenance = pack_module("core.provenance")
SMALL = dict(width=256, height=256, num_frames=9, fps=8, seed=7, guidance_scale=4.0)


def run_node() -> dict:
    with torch.inference_mode():
        return call_node(NODE(), image=torch.rand(1, 64, 96, 3), prompt="a red fox runs", negative_prompt="blurry",
                         unique_id="5", **SMALL)


def everything_stored_and_shown(env, out: dict) -> list[tuple[str, str]]:
    """(where, text) of every place a request id lands: the node's summary, the jobs route,
    the ledger, the cache records, the journal, the clip's provenance (JSON and MP4 tag)."""
    texts = [("node summary", json.dumps(out["ui"]["segmind"])),
             ("/segmind/jobs", json.dumps(routes.jobs_payload(env.home, env.output)))]
    for path in sorted(Path(env.home).rglob("*")) + sorted(Path(env.output).rglob("*.json")):
        if path.is_file() and path.suffix in (".json", ".jsonl"):
            texts.append((str(path.relative_to(path.parents[1])), path.read_text(encoding="utf-8")))
    preview = out["ui"]["images"][0]
    mp4 = env.output / preview["subfolder"] / preview["filename"]
    texts.append(("MP4 comment tag", json.dumps(provenance.read_provenance(mp4))))
    return texts


def test_a_service_that_echoes_the_key_in_its_request_id_never_gets_it_stored_or_shown(pack_env, fault_row):
    key = pack_env.api_key
    pack_env.request_ids = lambda: f"job-{key}-{uuid.uuid4().hex[:8]}"
    out = run_node()
    assert out["ui"]["segmind"][0]["frame_count"] == 9  # polled with the id as sent: the clip landed
    places = everything_stored_and_shown(pack_env, out)
    assert len(places) >= 5
    for where, text in places:
        assert key not in text and key[3:] not in text, where
    assert out["ui"]["segmind"][0]["request_id"].startswith("job-***")
    fault_row("The service echoes the key in its v2 request id (job-SG_...)",
              "submit answer -> node summary, /segmind/jobs, ledger, cache record, provenance",
              "The id is redacted (job-***-...) before it is stored or shown; polling uses the id as sent, "
              "kept in memory only. Before, the raw key reached the summary, the jobs route and the records.")


def test_a_huge_request_id_is_stored_bounded(pack_env, fault_row):
    pack_env.request_ids = lambda: "r" * 50_000  # within the stand-in's URL limit
    out = run_node()
    assert out["ui"]["segmind"][0]["frame_count"] == 9
    for where, text in everything_stored_and_shown(pack_env, out):
        assert "r" * 201 not in text, where
    fault_row("A 50,000-character v2 request id",
              "submit answer -> summary, ledger, cache record, provenance",
              "Stored and shown cut to 200 characters; polling uses the whole id. Before, stored whole.")


def test_provenance_keeps_every_field_bounded(tmp_path: Path, fault_row):
    clip = tmp_path / "clip.mp4"
    make_mp4(clip, 64, 64, 3, 8)
    meta = provenance.provenance_meta("m", {"prompt": "p" * 1_000_000, "list": list(range(100_000))},
                                      request_id="x" * 1_000_000, cost=0.1, note={str(i): i for i in range(10_000)})
    provenance.write_provenance(clip, meta)
    found = provenance.read_provenance(clip)
    assert found["fields"]["prompt"].startswith("p" * 100)
    assert len(provenance.provenance_json_path(clip).read_text(encoding="utf-8")) < 100_000
    assert len(found["request_id"]) <= provenance.MAX_TEXT + 3
    assert len(found["fields"]["list"]) <= provenance.MAX_ITEMS and len(found["note"]) <= provenance.MAX_ITEMS
    fault_row("A 1,000,000-character field (request id, prompt) and a 100,000-item list",
              "provenance (MP4 comment tag and the JSON beside the clip)",
              "Each text is cut to 10,000 characters and each list or mapping to 200 entries; before, stored whole.")
