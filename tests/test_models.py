"""The model descriptors (core/models.py): the two LTX-2 19B endpoints as data, and everything
that follows from a descriptor — the node's inputs, the command line's flags and manifest
columns, the request body and its checks, the estimate here and in the front end, the
stand-in's checks. A throwaway descriptor shaped like the LTX-2 family's next endpoints
(duration in seconds with choices, a resolution, generate_audio, a video to upload) gets all of
them without a line of code beyond the descriptor."""
from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess

import pytest

from pack_loader import PACK_ROOT, load_pack, pack_module
from node_calls import call_node

pack = load_pack()
models = pack_module("core.models")
params = pack_module("core.params")
errors = pack_module("core.errors")
common = pack_module("nodes.common")
fields_cli = pack_module("cli.fields")
plan = pack_module("cli.plan")
main_mod = pack_module("__main__")
result_cache = pack_module("core.result_cache")


def _tool():
    spec = importlib.util.spec_from_file_location("models_data_tool", PACK_ROOT / "tools" / "models_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _tool()

# A stand-in for LTX-2 Pro (LTX2_FAMILY.md): a picture, duration in seconds among choices, a
# resolution that fixes the size, sound on or off, priced per second by resolution.
PRO_LIKE = models.Model(
    path="test-pro-like",
    title="Pro-like (test)",
    fields=(models.media("image", "image", tooltip="The first frame."), models.PROMPT,
            models.choice("duration", (1, 2), 1, unit="s", tooltip="Seconds of video"),
            models.choice("resolution", ("small", "large"), "small"),
            models.boolean("generate_audio", True)),
    price=models.Price(models.PER_SECOND, usd=0.06, seconds=20.0, per_second=(("small", 0.06), ("large", 0.24)),
                       by="resolution", duration="duration", reference=(("duration", 1),)),
    output=models.Output(sizes=(("small", (320, 192)), ("large", (640, 384))), size_by="resolution", fps=8),
)

# A stand-in for Retake: a video to upload, a section in seconds, a mode; one price per clip.
RETAKE_LIKE = models.Model(
    path="test-retake-like",
    title="Retake-like (test)",
    fields=(models.media("video_uri", "video"), models.number("start_time", 0.0, 0.0, 3600.0),
            models.number("duration", 2.0, 2.0, 20.0, unit="s"), models.text("prompt", ""),
            models.choice("mode", ("replace_audio", "replace_video", "replace_audio_and_video"),
                          "replace_audio_and_video")),
    price=models.Price(models.FLAT, usd=0.791, seconds=38.5),
)


# --------------------------------------------------------------------------- the two endpoints


def test_the_two_endpoints_are_descriptors():
    i2v, t2v = models.MODELS["ltx-2-19b-i2v"], models.MODELS["ltx-2-19b-t2v"]
    assert [f.name for f in i2v.fields] == ["image", "prompt", "negative_prompt", "width", "height",
                                            "num_frames", "fps", "seed", "guidance_scale"]
    assert [f.name for f in t2v.fields] == [f.name for f in i2v.fields][1:]
    assert i2v.takes("image") and not t2v.takes("image")
    assert (t2v.field("width").default, t2v.field("height").default, t2v.field("num_frames").default) == (1280, 768, 161)
    assert i2v.rendered({"width": 720, "height": 1280, "num_frames": 181}) == (736, 1280, 185)
    assert i2v.estimate_cost({"width": 720, "height": 1280, "num_frames": 181}) == pytest.approx(0.455)
    # The T2V page quotes ~$0.416 at its defaults; the shared volume rule gives $0.413 there.
    assert t2v.estimate_cost(t2v.defaults()) == pytest.approx(0.413, abs=0.001)
    with pytest.raises(dataclass_frozen_error()):
        i2v.path = "other"


def dataclass_frozen_error() -> type[Exception]:
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_the_nodes_keep_their_face_exactly():
    """Saved workflows and examples_workflows/*.json load by widget name and position: the
    inputs built from the descriptors are the seed's, in order, with every option."""
    want = json.loads((PACK_ROOT / "tests" / "node_faces.json").read_text(encoding="utf-8"))
    for name, face in want.items():
        got = json.loads(json.dumps(pack.NODE_CLASS_MAPPINGS[name].INPUT_TYPES()))
        assert got == face, name
        for section in face:
            assert list(got[section]) == list(face[section]), (name, section)


def test_a_body_is_the_seeds_body_so_cached_clips_still_match():
    """The request fingerprint (the cache's and journal's key) hashes the body: the same
    values must give the same body, types included, as before the descriptors."""
    body = params.build_body("ltx-2-19b-i2v", {"prompt": " a cat ", "negative_prompt": "blurry",
                                               "width": 720, "guidance_scale": 4})
    assert body == {"prompt": "a cat", "negative_prompt": "blurry", "width": 720, "height": 1280,
                    "num_frames": 181, "fps": 24, "seed": 42, "guidance_scale": 4.0}
    assert isinstance(body["guidance_scale"], float) and isinstance(body["width"], int)
    # The fingerprints the seed's code gave for these requests (printed with it before the change).
    assert result_cache.request_fingerprint("ltx-2-19b-i2v", body, None, "https://api.segmind.com") == \
        "768af39b1e6e739d2d8ce4b83ac23ee77b478e20d185071a31bba7d420a2b04e"
    t2v = params.build_body("ltx-2-19b-t2v", {"prompt": "x"})
    assert result_cache.request_fingerprint("ltx-2-19b-t2v", t2v, None, "https://api.segmind.com") == \
        "bd5fec6bf59ddadda67d33cc1fe433df8c655c9901d23569077c2ff9e4af64ee"


def test_validation_names_the_field_as_data():
    with pytest.raises(errors.InvalidInputError) as exc:
        params.build_body("ltx-2-19b-t2v", {"prompt": "p", "num_frames": 500})
    assert exc.value.field == "num_frames"
    assert str(exc.value) == "'num_frames' is 500, outside Segmind's range 1..400: set it within that range."
    assert exc.value.naming("--num-frames") == "--num-frames is 500, outside Segmind's range 1..400: set it within that range."
    for values, field, words in [({"fps": True}, "fps", "must be a number"), ({"seed": "x"}, "seed", "must be a number"),
                                 ({"width": 720.5}, "width", "whole number"), ({"prompt": " "}, "prompt", "empty")]:
        with pytest.raises(errors.InvalidInputError, match=words) as exc:
            params.build_body("ltx-2-19b-t2v", {"prompt": "p", **values})
        assert exc.value.field == field


def test_the_command_line_names_the_flag_without_rewording_text():
    """The flag comes from the error's field, not from replacing words in its message."""
    exc = errors.InvalidInputError(field="guidance_scale", detail="is 50, outside Segmind's range 1..20.")
    assert fields_cli.field_words(exc) == "--guidance-scale is 50, outside Segmind's range 1..20."
    assert fields_cli.field_words(errors.InvalidInputError("no field here")) == "no field here"


# --------------------------------------------------------------------------- the front end's copy


def test_the_front_ends_copy_of_the_descriptors_is_up_to_date():
    """web/js/models_data.js is generated from core/models.py: this fails until
    `python tools/models_data.py` is run after a descriptor changes."""
    text = tool.render(models, pack.NODE_CLASS_MAPPINGS)
    on_disk = (PACK_ROOT / "web" / "js" / "models_data.js").read_text(encoding="utf-8")
    assert on_disk == text, "web/js/models_data.js is out of date: run python tools/models_data.py"
    assert '"SegmindLTX2ImageToVideo": "ltx-2-19b-i2v"' in text


def test_a_changed_descriptor_makes_the_copy_out_of_date(monkeypatch):
    changed = models.Model(**{**{f: getattr(models.LTX2_19B_I2V, f) for f in
                                 ("path", "title", "fields", "grid", "output", "unconfirmed")},
                              "price": models.Price(models.VOLUME, usd=0.5, seconds=113.31,
                                                    reference=models.LTX2_19B_PRICE.reference)})
    monkeypatch.setitem(models.MODELS, "ltx-2-19b-i2v", changed)
    on_disk = (PACK_ROOT / "web" / "js" / "models_data.js").read_text(encoding="utf-8")
    assert tool.render(models, pack.NODE_CLASS_MAPPINGS) != on_disk


def _requests() -> list[tuple[object, dict]]:
    i2v, t2v = models.LTX2_19B_I2V, models.LTX2_19B_T2V
    sizes = [(720, 1280, 181), (256, 256, 9), (257, 300, 10), (1280, 720, 97), (1280, 1280, 400), (704, 384, 121)]
    out: list[tuple[object, dict]] = [(m, {"width": w, "height": h, "num_frames": n, "fps": 24})
                                      for m in (i2v, t2v) for w, h, n in sizes]
    out += [(PRO_LIKE, {"duration": d, "resolution": r}) for d in (1, 2) for r in ("small", "large")]
    out += [(RETAKE_LIKE, {"duration": 5.0})]
    out += [(models.LTX2_PRO, {"duration": d, "resolution": r}) for d in (6, 10) for r in ("1080p", "2160p")]
    out += [(models.LTX2_PRO, {"duration": 8, "resolution": "1440p", "fps": 50}),
            (models.LTX2_PRO, {"duration": 8, "resolution": "1440p"})]
    out += [(models.LTX2_FAST, {"duration": d, "resolution": r}) for d in (6, 8) for r in ("2k", "1080p", "2160p")]
    return out


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_front_end_estimates_as_the_descriptors_do():
    """web/js/cost.js, given each model's generated data, gives Python's price, run time and
    size for every rule (volume, per second, flat)."""
    cases = [{"model": tool._model_data(m), "values": v} for m, v in _requests()]
    script = ("import { estimateCost } from " + json.dumps((PACK_ROOT / "web" / "js" / "cost.js").as_uri()) + ";\n"
              "const cases = JSON.parse(process.argv[1]);\n"
              "console.log(JSON.stringify(cases.map((c) => estimateCost(c.values, c.model))));")
    done = subprocess.run(["node", "--input-type=module", "-e", script, json.dumps(cases)],
                          capture_output=True, text=True, timeout=60, check=True)
    answers = json.loads(done.stdout)
    for (model, values), js in zip(_requests(), answers):
        where = f"{model.path} {values}"
        assert js["usd"] == pytest.approx(model.estimate_cost(values), rel=1e-12), where
        assert js["runtimeS"] == pytest.approx(model.expected_runtime(values), rel=1e-12), where
        rendered = model.rendered(values)
        if rendered is not None:
            assert [js["renderWidth"], js["renderHeight"], js["renderFrames"]] == list(rendered), where


# --------------------------------------------------------------------------- a new model is a descriptor


def test_a_throwaway_descriptor_gets_node_inputs():
    node = type("ProLikeNode", (common.SegmindVideoNode,), {"MODEL": PRO_LIKE})
    spec = node.INPUT_TYPES()
    assert list(spec["required"]) == ["image", "prompt", "duration", "resolution", "generate_audio"]
    assert spec["required"]["image"] == ("IMAGE", {"tooltip": "The first frame."})
    assert spec["required"]["duration"] == ([1, 2], {"default": 1, "tooltip": "Seconds of video"})
    assert spec["required"]["resolution"] == (["small", "large"], {"default": "small"})
    assert spec["required"]["generate_audio"] == ("BOOLEAN", {"default": True})
    # No width x height box to fit the picture to: the resolution fixes the size.
    assert "fit" not in spec["optional"] and "batch_mode" in spec["optional"] and spec["hidden"] == {"unique_id": "UNIQUE_ID", "prompt_graph": "PROMPT"}
    retake = type("RetakeLikeNode", (common.SegmindVideoNode,), {"MODEL": RETAKE_LIKE}).INPUT_TYPES()
    assert retake["required"]["video_uri"] == ("VIDEO", {})
    assert retake["required"]["duration"] == ("FLOAT", {"default": 2.0, "min": 2.0, "max": 20.0, "step": 0.1,
                                                        "round": 0.01})
    assert "fit" not in retake["optional"] and "batch_mode" not in retake["optional"]


def test_a_throwaway_descriptor_gets_validation_and_an_estimate():
    body = params.build_body(PRO_LIKE, {"prompt": "waves", "duration": "2", "resolution": "large",
                                        "generate_audio": "false"})
    assert body == {"prompt": "waves", "duration": 2, "resolution": "large", "generate_audio": False}
    assert params.estimate_cost(body, PRO_LIKE) == pytest.approx(0.48)
    assert PRO_LIKE.expected_runtime(body) == pytest.approx(40.0)
    assert PRO_LIKE.rendered(body) == (640, 384, 16)  # duration x fps frames
    for values, field, words in [({"duration": 3}, "duration", "choose one of 1, 2"),
                                 ({"resolution": "huge"}, "resolution", "choose one of small, large"),
                                 ({"generate_audio": "maybe"}, "generate_audio", "true or false")]:
        with pytest.raises(errors.InvalidInputError, match=words) as exc:
            params.build_body(PRO_LIKE, {"prompt": "waves", **values})
        assert exc.value.field == field and str(exc.value).startswith(f"'{field}' ")
    with pytest.raises(errors.InvalidInputError, match="outside Segmind's range 2..20") as exc:
        params.build_body(RETAKE_LIKE, {"duration": 1.5}, {"video_uri": "https://x/clip.mp4"})
    assert exc.value.field == "duration"
    assert params.build_body(RETAKE_LIKE, {}, {"video_uri": "data:video/mp4;base64,AAAA"})["video_uri"].startswith("data:")
    assert RETAKE_LIKE.estimate_cost({}) == pytest.approx(0.791)


def test_a_throwaway_descriptor_gets_command_line_flags_and_columns():
    parser = argparse.ArgumentParser()
    fields_cli.add_field_flags(parser, [PRO_LIKE], {})
    args = parser.parse_args(["--duration", "2", "--resolution", "large", "--no-generate-audio"])
    values = fields_cli.flag_values(args, PRO_LIKE)
    assert values == {"duration": 2, "resolution": "large", "generate_audio": False}
    assert params.build_body(PRO_LIKE, {**values, "prompt": "p"})["generate_audio"] is False
    with pytest.raises(SystemExit):
        parser.parse_args(["--duration", "3"])  # argparse refuses a value outside the choices
    assert "one of 1, 2; default 1" in fields_cli.field_help(PRO_LIKE.field("duration"), [PRO_LIKE])
    assert fields_cli.manifest_columns([PRO_LIKE]) == ("image", "prompt", "duration", "resolution",
                                                       "generate_audio", "name")
    assert fields_cli.number_columns([PRO_LIKE]) == ("duration",)


def test_the_command_lines_columns_and_flags_come_from_the_descriptors():
    assert plan.COLUMNS == ("image", "prompt", "negative_prompt", "width", "height", "num_frames", "fps", "seed",
                            "guidance_scale", "duration", "resolution", "generate_audio", "name", "model")
    assert plan.NUMBER_COLUMNS == ("width", "height", "num_frames", "fps", "seed", "guidance_scale", "duration")
    help_text = main_mod._parser("x").format_help()
    assert "--num-frames N" in help_text and "1..400; default 181 (with --t2v 161)" in help_text


def test_a_throwaway_descriptor_gets_a_working_node(pack_env, monkeypatch):
    """Registered like a real model, served by the stand-in (which checks bodies against the
    same descriptor): the node built from it uploads the picture, sends the body, bills one
    job and returns the clip at the size the resolution names."""
    import torch

    monkeypatch.setitem(models.MODELS, PRO_LIKE.path, PRO_LIKE)
    pack_env.models[PRO_LIKE.path] = PRO_LIKE
    node = type("ProLikeNode", (common.SegmindVideoNode,), {"MODEL": PRO_LIKE})
    out = call_node(node(), image=torch.rand(1, 96, 160, 3), prompt="waves", duration=1, resolution="small",
                    generate_audio=False, unique_id="5")
    frames, audio, fps, count, _ = out["result"]
    assert tuple(frames.shape) == (8, 192, 320, 3) and count == 8 and fps == pytest.approx(8.0)
    submit = [r for r in pack_env.requests_log if r[0] == "POST" and r[1] == f"/v2/{PRO_LIKE.path}"]
    assert len(submit) == 1 and pack_env.jobs_submitted == 1
    sent = submit[0][3]
    assert {k: sent[k] for k in ("prompt", "duration", "resolution", "generate_audio")} == \
        {"prompt": "waves", "duration": 1, "resolution": "small", "generate_audio": False}
    assert sent["image"].startswith("http")
    with pytest.raises(errors.InvalidInputError, match="'resolution'"):
        call_node(node(), image=torch.rand(1, 96, 160, 3), prompt="waves", duration=1, resolution="huge",
                  generate_audio=True, unique_id="5")
    assert pack_env.jobs_submitted == 1


def test_the_stand_in_checks_bodies_against_the_descriptors(segmind_env):
    import requests

    headers = {"x-api-key": segmind_env.api_key}

    def submit(path: str, body: dict) -> requests.Response:
        return requests.post(f"{segmind_env.api_base}/v2/{path}", json=body, headers=headers, timeout=10)

    assert submit("ltx-2-19b-t2v", {"prompt": "p", "width": 256, "height": 256, "num_frames": 9}).status_code == 200
    bad = submit("ltx-2-19b-t2v", {"prompt": "p", "num_frames": 401})
    assert bad.status_code == 400 and "num_frames must be an integer between 1 and 400" in bad.text
    assert submit("ltx-2-19b-t2v", {"prompt": "p", "image": "https://x/y.png"}).status_code == 400  # not a T2V field
    assert submit("ltx-2-19b-i2v", {"prompt": "p"}).status_code == 400  # the image is required
    assert submit("no-such-model", {"prompt": "p"}).status_code == 404
    segmind_env.models[RETAKE_LIKE.path] = RETAKE_LIKE
    assert submit(RETAKE_LIKE.path, {"video_uri": "data:video/mp4;base64,AAAA", "duration": 3.0}).status_code == 200
    wrong = submit(RETAKE_LIKE.path, {"video_uri": "data:video/mp4;base64,AAAA", "mode": "replace_all"})
    assert wrong.status_code == 400 and "mode must be one of" in wrong.text
    assert segmind_env.jobs_submitted == 2


def test_a_descriptor_refuses_to_be_inconsistent():
    with pytest.raises(ValueError, match="default"):
        models.choice("duration", (6, 8, 10), 7)
    with pytest.raises(ValueError, match="media"):
        models.Field("clip", models.MEDIA)
    with pytest.raises(ValueError, match="does not have"):
        models.Model(path="x", title="x", fields=(models.PROMPT,),
                     price=models.Price(models.PER_SECOND, 1.0, 1.0, per_second=(("a", 1.0),), by="resolution",
                                        duration="duration"))
