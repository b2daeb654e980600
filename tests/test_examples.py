"""Every shipped example workflow, in both formats: node types exist (in the pack, or in
stock ComfyUI 0.3.64's catalogue when ../shared/comfyui/object_info.json is present),
widget values are within range, links join matching types, and the UI file (drag and
drop) and the API file (POST /prompt) describe the same graph."""
from __future__ import annotations

import json
from typing import Any

import pytest

from pack_loader import PACK_ROOT, load_pack

EXAMPLES = PACK_ROOT / "examples_workflows"
OBJECT_INFO = PACK_ROOT.parent / "shared" / "comfyui" / "object_info.json"
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
NAMES = sorted(p.name[:-len(".api.json")] for p in EXAMPLES.glob("*.api.json"))


def _spec(inputs: dict, order: dict | None, outputs: list) -> dict:
    rows = []
    for section in ("required", "optional"):
        spec = inputs.get(section) or {}
        for name in (order or {}).get(section, list(spec)):
            kind, opts = spec[name][0], (spec[name][1] if len(spec[name]) > 1 else {})
            if isinstance(kind, list):
                kind, opts = "COMBO", {**opts, "options": kind}
            rows.append((name, kind, opts))
    required = list((order or {}).get("required", list(inputs.get("required") or {})))
    return {"inputs": rows, "outputs": list(outputs), "required": required}


def _definitions() -> dict[str, dict]:
    defs = {}
    if OBJECT_INFO.is_file():
        for name, e in json.loads(OBJECT_INFO.read_text(encoding="utf-8")).items():
            defs[name] = _spec(e["input"], e.get("input_order"), e["output"])
    for name, cls in load_pack().NODE_CLASS_MAPPINGS.items():
        defs[name] = _spec(cls.INPUT_TYPES(), None, cls.RETURN_TYPES)
    return defs


DEFS = _definitions()


def load(name: str) -> tuple[dict, dict]:
    ui = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    api = json.loads((EXAMPLES / f"{name}.api.json").read_text(encoding="utf-8"))
    return ui, api


def check_value(where: str, kind: str, opts: dict, value: Any) -> None:
    if kind == "COMBO":
        options = opts.get("options") or []
        # Model-file lists are empty in a catalogue taken with no models: any file name goes.
        assert value in options if options else isinstance(value, str), f"{where}: {value!r} not in {options}"
    elif kind == "INT":
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {value!r} is not an INT"
        assert opts.get("min", value) <= value <= opts.get("max", value), f"{where}: {value} out of range"
    elif kind == "FLOAT":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: {value!r} not a FLOAT"
        assert opts.get("min", value) <= value <= opts.get("max", value), f"{where}: {value} out of range"
    elif kind == "STRING":
        assert isinstance(value, str), f"{where}: {value!r} is not a STRING"
    elif kind == "BOOLEAN":
        assert isinstance(value, bool), f"{where}: {value!r} is not a BOOLEAN"


def ui_widget_values(node: dict, d: dict) -> dict[str, Any]:
    """Read widgets_values positionally, as the front end does (with its extra values)."""
    values = list(node["widgets_values"])
    out: dict[str, Any] = {}
    for name, kind, opts in d["inputs"]:
        if kind not in WIDGET_TYPES:
            continue
        assert values, f"node {node['id']} ({node['type']}): widgets_values ends before '{name}'"
        out[name] = values.pop(0)
        if opts.get("control_after_generate"):
            assert values.pop(0) in ("fixed", "increment", "decrement", "randomize")
        if opts.get("image_upload"):
            assert values.pop(0) == "image"
    assert not values, f"node {node['id']} ({node['type']}): extra widgets_values {values}"
    return out


def test_there_are_examples_for_every_case():
    assert {"i2v_basic", "sd_first_frame", "frames_post_process", "t2v_basic"} <= set(NAMES)
    for name in NAMES:
        assert (EXAMPLES / f"{name}.json").is_file(), f"{name}: the UI format file is missing"


@pytest.mark.parametrize("name", NAMES)
def test_ui_file_has_the_front_end_structure(name):
    ui, _ = load(name)
    assert ui["version"] == 0.4 and isinstance(ui["links"], list) and ui["extra"]["frontendVersion"]
    nodes = {n["id"]: n for n in ui["nodes"]}
    assert ui["last_node_id"] == max(nodes) and ui["last_link_id"] == max(link[0] for link in ui["links"])
    for n in ui["nodes"]:
        assert {"id", "type", "pos", "size", "inputs", "outputs", "widgets_values", "properties", "mode",
                "order"} <= set(n), n["id"]
        assert len(n["pos"]) == 2 and len(n["size"]) == 2
    for link in ui["links"]:
        link_id, src, src_slot, dst, dst_slot, kind = link
        assert nodes[dst]["inputs"][dst_slot]["link"] == link_id
        assert link_id in (nodes[src]["outputs"][src_slot]["links"] or [])
    linked = [i["link"] for n in ui["nodes"] for i in n["inputs"] if i["link"] is not None]
    assert sorted(linked) == sorted(link[0] for link in ui["links"])


@pytest.mark.parametrize("name", NAMES)
def test_nodes_exist_and_widget_values_are_in_range(name):
    ui, _ = load(name)
    pack_types = set(load_pack().NODE_CLASS_MAPPINGS)
    for n in ui["nodes"]:
        if n["type"] not in DEFS:
            assert not OBJECT_INFO.is_file(), f"{name}: unknown node type {n['type']}"
            pytest.skip(f"{OBJECT_INFO} is absent: core node types cannot be checked")
        d = DEFS[n["type"]]
        for wname, value in ui_widget_values(n, d).items():
            kind, opts = next((k, o) for nm, k, o in d["inputs"] if nm == wname)
            check_value(f"{name} node {n['id']} {n['type']}.{wname}", kind, opts, value)
    assert any(n["type"] in pack_types for n in ui["nodes"]), f"{name} does not use the pack"


@pytest.mark.parametrize("name", NAMES)
def test_links_join_matching_types(name):
    ui, _ = load(name)
    nodes = {n["id"]: n for n in ui["nodes"]}
    for link_id, src, src_slot, dst, dst_slot, kind in ui["links"]:
        if nodes[src]["type"] not in DEFS or nodes[dst]["type"] not in DEFS:
            continue  # only without the catalogue; the test above reports the skip
        out_type = DEFS[nodes[src]["type"]]["outputs"][src_slot]
        in_name = nodes[dst]["inputs"][dst_slot]["name"]
        in_type = next(k for nm, k, _ in DEFS[nodes[dst]["type"]]["inputs"] if nm == in_name)
        assert out_type == in_type or "*" in (out_type, in_type), \
            f"{name} link {link_id}: {out_type} -> {nodes[dst]['type']}.{in_name} ({in_type})"
        assert kind == out_type


@pytest.mark.parametrize("name", NAMES)
def test_ui_and_api_files_describe_the_same_graph(name):
    ui, api = load(name)
    assert set(api) == {str(n["id"]) for n in ui["nodes"]}
    for n in ui["nodes"]:
        entry = api[str(n["id"])]
        assert entry["class_type"] == n["type"]
        d = DEFS.get(n["type"])
        if d is None:
            continue
        links = {i["name"]: next(link for link in ui["links"] if link[0] == i["link"])
                 for i in n["inputs"] if i["link"] is not None}
        expected: dict[str, Any] = {nm: [str(link[1]), link[2]] for nm, link in links.items()}
        for wname, value in ui_widget_values(n, d).items():
            if wname not in links:
                expected[wname] = value
        assert entry["inputs"] == expected, f"{name} node {n['id']} ({n['type']})"
        missing = set(d["required"]) - set(entry["inputs"])
        assert not missing, f"{name} node {n['id']} ({n['type']}): required input(s) {missing} not set"


def test_every_example_has_a_diagram():
    for name in NAMES:
        png = EXAMPLES / "diagrams" / f"{name}.png"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is missing"
