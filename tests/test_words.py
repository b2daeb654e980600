"""Issue 18: the core speaks no front end's words. A core error carries what happened and
what the user can do (core.errors.Action) as data; the node (nodes/words.py) and the command
line (cli/words.py) each word it."""
from __future__ import annotations

import ast
import asyncio
import errno
import re
from pathlib import Path

import pytest

from pack_loader import pack_module

errors = pack_module("core.errors")
spend_limits = pack_module("core.spend_limits")
spend_check = pack_module("core.spend_check")
journal = pack_module("core.job_journal")
node_words = pack_module("nodes.words")
cli_words = pack_module("cli.words")
Action = errors.Action

COMFY_WORDS = re.compile(r"(?-i:ComfyUI)|\bgraph\b|Settings >|\bnodes?\b|node's|\bwidgets?\b|queue(?:ing)? again|"
                         r"\bqueue the\b|next queue|per queued run", re.I)
TERMINAL_WORDS = re.compile(r"--out\b|same command|`limits`|--check-key")


def _spend_refusal(tmp_path: Path) -> Exception:
    spend_limits.SpendLimits(per_run=0.1).save(tmp_path)
    with pytest.raises(errors.SpendLimitError) as info:
        spend_check.check_spend(tmp_path, "run-1", [0.455])
    return info.value


def test_one_core_error_in_each_face_s_words(tmp_path: Path) -> None:
    exc = _spend_refusal(tmp_path)
    assert exc.billed is False and exc.actions == (Action.CHANGE_SETTING("spend_limits"),)
    neutral = str(exc)
    assert not COMFY_WORDS.search(neutral) and not TERMINAL_WORDS.search(neutral)
    assert "spend limit per run is $0.10" in neutral and "spend limits setting" in neutral
    assert "change it in ComfyUI Settings > Segmind > spend limits" in node_words.node_text(exc)
    terminal = cli_words.cli_words(exc)
    assert "change it in the `limits` command" in terminal and "ComfyUI" not in terminal

    full = journal.local_state_error(OSError(errno.ENOSPC, "No space left"), tmp_path / "jobs" / "x.json",
                                     "its record of paid Segmind jobs")
    assert full.actions == (Action.RETRY,)
    assert str(full).endswith("then try again.")
    assert node_words.node_text(full).endswith("then queue again.")
    assert cli_words.cli_words(full).endswith("then run again.")


def test_actions_are_worded_in_place_and_capitalised_at_a_sentence_start() -> None:
    exc = errors.SegmindTimeoutError(
        f"Job j is still running ({Action.SET_FIELD('timeout_seconds')}). {Action.RUN_AGAIN} to collect it, "
        f"or {Action.OUTPUT_FOLDER}.", request_id="j", billed=True)
    assert exc.billed is True and exc.request_id == "j"
    assert node_words.node_text(exc) == ("Job j is still running ('timeout_seconds'). Queue the same graph again "
                                         "to collect it, or choose another output folder (start ComfyUI with "
                                         "--output-directory).")
    assert cli_words.cli_words(exc) == ("Job j is still running (--timeout). Run the same command again to "
                                        "collect it, or give --out a writable folder.")
    # A manifest names its fields by their column.
    assert cli_words.cli_words(exc, fields=False).startswith("Job j is still running ('timeout_seconds').")
    # An error written into another keeps its actions (f-string), and a face words both.
    outer = errors.SegmindError(f"Row 3: {exc}")
    assert outer.actions == exc.actions and "Row 3: Job j" in node_words.node_text(outer)


def test_a_node_raises_the_core_error_in_comfyui_s_words_and_keeps_its_type(tmp_path: Path) -> None:
    @node_words.speaks_node_words
    async def generate() -> None:
        raise _spend_refusal(tmp_path)

    with pytest.raises(errors.SpendLimitError) as info:
        asyncio.run(generate())
    assert "ComfyUI Settings > Segmind > spend limits" in str(info.value)


def test_service_text_cannot_smuggle_an_action_into_a_message() -> None:
    exc = errors.SegmindAPIError(500, "bad \ue000output_folder:\ue001 thing", "submit", request_id="r\ue000")
    assert exc.actions == () and "bad output_folder: thing" in str(exc)


def test_the_terminal_words_come_from_actions_not_from_rewriting_text() -> None:
    # Text that merely looks like ComfyUI's advice (a server's message, a prompt) is left as it is.
    said = errors.SegmindAPIError(500, "queue the same graph again", "submit")
    assert "Server said: queue the same graph again" in cli_words.cli_words(said)
    assert not hasattr(cli_words, "_PHRASES")


def _user_strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_core_message_speaks_comfyui_s_words() -> None:
    core = Path(errors.__file__).parent
    found = [f"{path.name}:{line}: {text[:80]!r}" for path in sorted(core.glob("*.py"))
             for line, text in _user_strings(path) if COMFY_WORDS.search(text) or TERMINAL_WORDS.search(text)]
    assert found == []


def test_every_action_has_words_in_every_face() -> None:
    actions = [Action(kind) for kind in Action.KINDS if kind not in ("set_field", "change_setting")]
    actions += [Action.CHANGE_SETTING(name) for name in Action.SETTINGS] + [Action.SET_FIELD("seed")]
    for action in actions:
        for words in (errors.neutral_words, node_words.node_words, cli_words.terminal_words):
            assert words(action).strip()


def test_a_node_run_and_a_command_refused_by_the_same_limit_each_say_it_their_way(pack_env, tmp_path, capsys):
    import torch

    from node_calls import call_node
    from pack_loader import load_pack

    node = load_pack().NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]
    spend_limits.SpendLimits(per_run=0.0001).save(pack_env.home)
    with pytest.raises(errors.SpendLimitError) as info, torch.inference_mode():
        call_node(node(), image=torch.rand(1, 64, 96, 3), prompt="a fox", negative_prompt="", unique_id="5",
                  width=256, height=256, num_frames=9, fps=8, seed=1, guidance_scale=4.0)
    assert "change it in ComfyUI Settings > Segmind > spend limits" in str(info.value)
    assert pack_env.jobs_submitted == 0

    import av
    import numpy as np

    picture = tmp_path / "p.png"
    with av.open(str(picture), "w", format="image2") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "rgb24"
        frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 90, np.uint8), format="rgb24")
        for packet in stream.encode(frame):
            out.mux(packet)
    cli = pack_module("__main__")
    code = cli.main(["--backend", "segmind", "--image", str(picture), "--prompt", "a fox", "--width", "256",
                     "--height", "256", "--num-frames", "9", "--fps", "8", "--out", str(pack_env.output), "--yes"])
    err = capsys.readouterr().err
    assert code == 2 and "change it in the `limits` command" in err and "ComfyUI" not in err, err
    assert pack_env.jobs_submitted == 0
