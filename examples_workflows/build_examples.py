"""Writes every example workflow in both formats from one description each, so the UI
file (drag and drop into ComfyUI) and the API file (POST /prompt) cannot drift apart.

    .venv/bin/python examples_workflows/build_examples.py

Widget order and types come from the pack's own INPUT_TYPES and from the stock ComfyUI
catalogue ../shared/comfyui/object_info.json (next to the repository). Re-run it after
a node's inputs change; tests/test_examples.py fails until then."""
from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OBJECT_INFO = REPO.parent / "shared" / "comfyui" / "object_info.json"
PACK_ID = "comfyui-segmind-ltx2"  # the Comfy Registry id (pyproject [project].name)
FRONTEND_VERSION = "1.27.10"
COMFY_VERSION = "0.3.64"
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}

I2V_PROMPT = ("The camera slowly pushes in as a light breeze moves the grass and leaves; "
              "birds chirp and a soft wind blows.")


@dataclass
class Node:
    id: int
    type: str
    col: int
    row: int
    values: dict[str, Any] = field(default_factory=dict)  # widget values that differ from defaults
    links: dict[str, tuple[int, int]] = field(default_factory=dict)  # input -> (node id, output slot)
    title: str | None = None


EXAMPLES: dict[str, tuple[str, list[Node]]] = {
    "i2v_basic": ("Picture -> Segmind LTX-2 -> video file, plus the audio on its own", [
        Node(1, "LoadImage", 0, 0, {"image": "example.png"}),
        Node(2, "SegmindLTX2ImageToVideo", 1, 0, {"prompt": I2V_PROMPT}, {"image": (1, 0)}),
        Node(3, "SaveVideo", 2, 0, {"filename_prefix": "segmind_ltx2/i2v"}, {"video": (2, 4)}),
        Node(4, "SaveAudio", 2, 1, {"filename_prefix": "segmind_ltx2/i2v_audio"}, {"audio": (2, 1)}),
    ]),
    "sd_first_frame": ("A local Stable Diffusion checkpoint paints the first frame, LTX-2 animates it", [
        Node(1, "CheckpointLoaderSimple", 0, 0, {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}),
        Node(2, "CLIPTextEncode", 1, 0, {"text": "a lighthouse on a rocky coast at sunset, waves, "
                                                 "cinematic photo, golden light"}, {"clip": (1, 1)},
             title="Positive prompt"),
        Node(3, "CLIPTextEncode", 1, 1, {"text": "blurry, low quality, watermark, text"}, {"clip": (1, 1)},
             title="Negative prompt"),
        Node(4, "EmptyLatentImage", 1, 2, {"width": 512, "height": 768}),
        Node(5, "KSampler", 2, 0, {"seed": 1234, "steps": 25, "cfg": 7.0, "sampler_name": "dpmpp_2m",
                                    "scheduler": "karras"},
             {"model": (1, 0), "positive": (2, 0), "negative": (3, 0), "latent_image": (4, 0)}),
        Node(6, "VAEDecode", 3, 0, {}, {"samples": (5, 0), "vae": (1, 2)}),
        Node(7, "SegmindLTX2ImageToVideo", 4, 0,
             {"prompt": "Waves crash against the rocks and the lighthouse beam sweeps across the sky; "
                        "the sound of surf and seagulls."}, {"image": (6, 0)}),
        Node(8, "SaveVideo", 5, 0, {"filename_prefix": "segmind_ltx2/sd_first_frame"}, {"video": (7, 4)}),
    ]),
    "frames_post_process": ("The clip's frames go through a core image step, then back together with its audio", [
        Node(1, "LoadImage", 0, 0, {"image": "example.png"}),
        Node(2, "SegmindLTX2ImageToVideo", 1, 0, {"prompt": I2V_PROMPT}, {"image": (1, 0)}),
        Node(3, "ImageSharpen", 2, 0, {"sharpen_radius": 1, "sigma": 1.0, "alpha": 0.5}, {"image": (2, 0)}),
        Node(4, "CreateVideo", 3, 0, {}, {"images": (3, 0), "fps": (2, 2), "audio": (2, 1)}),
        Node(5, "SaveVideo", 4, 0, {"filename_prefix": "segmind_ltx2/sharpened"}, {"video": (4, 0)}),
    ]),
    "i2v_batch": ("An image batch becomes one clip per picture: the outputs are lists, SaveVideo saves each", [
        Node(1, "LoadImage", 0, 0, {"image": "example.png"}),
        Node(2, "ImageFlip", 1, 1, {"flip_method": "y-axis: horizontally"}, {"image": (1, 0)}),
        Node(3, "ImageBatch", 2, 0, {}, {"image1": (1, 0), "image2": (2, 0)}),
        Node(4, "SegmindLTX2ImageToVideo", 3, 0, {"prompt": I2V_PROMPT, "batch_mode": "every picture"},
             {"image": (3, 0)}),
        Node(5, "SaveVideo", 4, 0, {"filename_prefix": "segmind_ltx2/batch"}, {"video": (4, 4)}),
    ]),
    "t2v_basic": ("Text only -> Segmind LTX-2 Text to Video -> video file", [
        Node(1, "SegmindLTX2TextToVideo", 0, 0,
             {"prompt": "A paper boat drifts down a rain-filled street gutter, close-up, splashing water "
                        "and distant thunder."}),
        Node(2, "SaveVideo", 1, 0, {"filename_prefix": "segmind_ltx2/t2v"}, {"video": (1, 4)}),
    ]),
    "pro_i2v": ("Picture -> Segmind LTX-2 Pro (1080p and up, 6-10 s) -> video file", [
        Node(1, "LoadImage", 0, 0, {"image": "example.png"}),
        Node(2, "SegmindLTX2ProImageToVideo", 1, 0, {"prompt": I2V_PROMPT}, {"image": (1, 0)}),
        Node(3, "SaveVideo", 2, 0, {"filename_prefix": "segmind_ltx2/pro"}, {"video": (2, 4)}),
    ]),
    "fast_t2v": ("Text only -> Segmind LTX-2 Fast, a quick draft -> video file", [
        Node(1, "SegmindLTX2FastTextToVideo", 0, 0,
             {"prompt": "A paper boat drifts down a rain-filled street gutter, close-up, splashing water "
                        "and distant thunder."}),
        Node(2, "SaveVideo", 1, 0, {"filename_prefix": "segmind_ltx2/fast"}, {"video": (1, 4)}),
    ]),
    "join_clips": ("Two Fast clips joined into one, with sound -> video file", [
        Node(1, "SegmindLTX2FastTextToVideo", 0, 0,
             {"prompt": "A paper boat drifts down a rain-filled street gutter; splashing water."}),
        Node(2, "SegmindLTX2FastTextToVideo", 0, 1,
             {"prompt": "The paper boat sails out into a calm pond under a clearing sky; birdsong."}),
        Node(3, "SegmindLTX2JoinClips", 1, 0, {}, {"video_1": (1, 4), "video_2": (2, 4)}),
        Node(4, "SaveVideo", 2, 0, {"filename_prefix": "segmind_ltx2/joined"}, {"video": (3, 4)}),
    ]),
    # With backend = offline preview on both nodes it runs free (a Fast stand-in clip of 200
    # frames, its seconds 2-5 tinted, their sound a higher tone).
    "retake": ("A Fast clip with seconds 2-5 made again by Segmind LTX-2 Retake -> video file", [
        Node(1, "SegmindLTX2FastTextToVideo", 0, 0,
             {"prompt": "A paper boat drifts down a rain-filled street gutter; splashing water."}),
        Node(2, "SegmindLTX2Retake", 1, 0,
             {"start_time": 2.0, "duration": 3.0, "mode": "replace_audio_and_video",
              "prompt": "A small frog jumps onto the paper boat and croaks."},
             {"video": (1, 4)}),
        Node(3, "SaveVideo", 2, 0, {"filename_prefix": "segmind_ltx2/retake"}, {"video": (2, 4)}),
    ]),
}


def node_definitions() -> dict[str, dict]:
    """class_type -> {"inputs": [(name, type, opts, optional)], "outputs": [(name, type)]}."""
    sys.path.insert(0, str(REPO / "tests"))
    from pack_loader import load_pack

    catalogue = json.loads(OBJECT_INFO.read_text(encoding="utf-8"))
    defs = {}
    for name, entry in catalogue.items():
        defs[name] = _definition(entry["input"], entry.get("input_order"), entry["output"], entry["output_name"])
    for name, cls in load_pack().NODE_CLASS_MAPPINGS.items():
        defs[name] = _definition(cls.INPUT_TYPES(), None, list(cls.RETURN_TYPES), list(cls.RETURN_NAMES))
    return defs


def _definition(inputs: dict, order: dict | None, out_types: list, out_names: list) -> dict:
    rows = []
    for section in ("required", "optional"):
        spec = inputs.get(section) or {}
        for name in (order or {}).get(section, list(spec)):
            raw_type, opts = spec[name][0], (spec[name][1] if len(spec[name]) > 1 else {})
            if isinstance(raw_type, list):
                raw_type, opts = "COMBO", {**opts, "options": raw_type}
            rows.append((name, raw_type, opts, section == "optional"))
    return {"inputs": rows, "outputs": list(zip(out_names, out_types))}


def _default(kind: str, opts: dict) -> Any:
    if "default" in opts:
        return opts["default"]
    if kind == "COMBO":
        return (opts.get("options") or [""])[0]
    return {"STRING": "", "BOOLEAN": False, "INT": 0, "FLOAT": 0.0}[kind]


def build(nodes: list[Node], defs: dict[str, dict]) -> tuple[dict, dict]:
    api: dict[str, Any] = {}
    ui_nodes: list[dict] = []
    links: list[list] = []
    out_links: dict[tuple[int, int], list[int]] = {}
    for n in nodes:
        d = defs[n.type]
        unknown = set(n.values) | set(n.links)
        unknown -= {row[0] for row in d["inputs"]}
        if unknown:
            raise SystemExit(f"{n.type} has no input(s) {sorted(unknown)}")
        api_inputs: dict[str, Any] = {}
        ui_inputs: list[dict] = []
        widgets: list[Any] = []
        for name, kind, opts, optional in d["inputs"]:
            link = n.links.get(name)
            link_id = None
            if link is not None:
                src = next(x for x in nodes if x.id == link[0])
                link_id = len(links) + 1
                links.append([link_id, link[0], link[1], n.id, None, defs[src.type]["outputs"][link[1]][1]])
                out_links.setdefault(link, []).append(link_id)
                api_inputs[name] = [str(link[0]), link[1]]
            if kind in WIDGET_TYPES:
                value = n.values.get(name, _default(kind, opts))
                widgets.append(value)
                if opts.get("control_after_generate"):
                    widgets.append("fixed")  # the front end's extra value; "fixed" never re-bills on re-queue
                if opts.get("image_upload"):
                    widgets.append("image")  # the upload button's value, as the front end saves it
                if link is None:
                    api_inputs[name] = value
                else:
                    ui_inputs.append({"name": name, "type": kind, "widget": {"name": name}, "link": link_id})
            else:
                entry = {"name": name, "type": kind, "link": link_id}
                if optional:
                    entry["shape"] = 7
                ui_inputs.append(entry)
        for i, entry in enumerate(ui_inputs):  # the target slot is the input's index on the node
            if entry["link"] is not None:
                links[entry["link"] - 1][4] = i
        props = {"Node name for S&R": n.type, "cnr_id": "comfy-core", "ver": COMFY_VERSION}
        if n.type.startswith("SegmindLTX2"):
            props = {"Node name for S&R": n.type, "cnr_id": PACK_ID, "ver": "0.1.0"}
        ui_node = {"id": n.id, "type": n.type, "pos": [40 + 420 * n.col, 60 + 320 * n.row],
                   "size": [380, 260], "flags": {}, "order": 0, "mode": 0, "inputs": ui_inputs,
                   "outputs": [], "properties": props, "widgets_values": widgets}
        if n.title:
            ui_node["title"] = n.title
        ui_nodes.append(ui_node)
        api[str(n.id)] = {"class_type": n.type, "inputs": api_inputs, "_meta": {"title": n.title or n.type}}
    for n, ui_node in zip(nodes, ui_nodes):
        ui_node["outputs"] = [{"name": name, "type": kind, "slot_index": slot, "links": out_links.get((n.id, slot))}
                              for slot, (name, kind) in enumerate(defs[n.type]["outputs"])]
    for order, ui_node in enumerate(_execution_order(nodes)):
        next(x for x in ui_nodes if x["id"] == ui_node)["order"] = order
    ui = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{PACK_ID}/{nodes[0].type}/{len(nodes)}")),
          "revision": 0, "last_node_id": max(n.id for n in nodes), "last_link_id": len(links),
          "nodes": ui_nodes, "links": links, "groups": [], "config": {},
          "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}, "frontendVersion": FRONTEND_VERSION},
          "version": 0.4}
    return ui, api


def _execution_order(nodes: list[Node]) -> list[int]:
    done: list[int] = []
    while len(done) < len(nodes):
        for n in nodes:
            if n.id not in done and all(src in done for src, _ in n.links.values()):
                done.append(n.id)
    return done


def main() -> None:
    defs = node_definitions()
    for name, (_, nodes) in EXAMPLES.items():
        ui, api = build(nodes, defs)
        (HERE / f"{name}.json").write_text(json.dumps(ui, indent=2) + "\n", encoding="utf-8")
        (HERE / f"{name}.api.json").write_text(json.dumps(api, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {name}.json and {name}.api.json")


if __name__ == "__main__":
    main()
