"""The only module that touches ComfyUI's own modules: output and user folders,
interruption, progress bar and text, VIDEO objects, the prompt server's route table and
the addresses it listens on.
Outside ComfyUI (CLI, tests) every function degrades to a plain-Python fallback."""
from __future__ import annotations

import html
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from .core.errors import Cancelled

log = logging.getLogger(__name__)


def _module(name: str) -> Any:
    """ComfyUI's module when running inside ComfyUI, which has loaded it before any pack;
    None otherwise. Never imports: importing ComfyUI's `server` from a CLI run (or at the
    wrong moment) would cost ~0.3 s and start half a server."""
    return sys.modules.get(name)


def _import(name: str) -> Any:
    """A ComfyUI module that may not be loaded yet (only called while a node runs)."""
    if "comfy" not in sys.modules:  # not inside ComfyUI: do not import a same-named package
        return None
    try:
        return importlib.import_module(name)
    except Exception:  # an older or broken host: fall back
        return None


def _call(module_name: str, attr: str, *args: Any) -> Any:
    fn = getattr(_module(module_name), attr, None)
    return fn(*args) if callable(fn) else None


def output_directory() -> Path:
    found = _call("folder_paths", "get_output_directory")
    return Path(found or os.environ.get("SEGMIND_LTX2_OUTPUT") or Path.cwd() / "output")


def input_directory() -> Path | None:
    """ComfyUI's input folder; None outside ComfyUI."""
    found = _call("folder_paths", "get_input_directory")
    return Path(found) if found else None


def temp_directory() -> Path | None:
    """ComfyUI's temp folder; None outside ComfyUI."""
    found = _call("folder_paths", "get_temp_directory")
    return Path(found) if found else None


def _running_item() -> Any:
    """The queue item ComfyUI is executing: (number, prompt_id, prompt, extra_data, outputs...).
    ComfyUI runs one prompt at a time; anything else (an older or newer host) gives None."""
    server = getattr(_module("server"), "PromptServer", None)
    queue = getattr(getattr(server, "instance", None), "prompt_queue", None)
    running = getattr(queue, "currently_running", None)
    if not isinstance(running, dict) or len(running) != 1:
        return None
    item = next(iter(running.values()))
    return item if isinstance(item, (tuple, list)) and len(item) > 2 else None


def running_prompt() -> dict | None:
    """The API-format graph being executed (what a PROMPT hidden input holds). ComfyUI hands
    IS_CHANGED no PROMPT, so this is how it learns which outputs the graph consumes."""
    item = _running_item()
    return item[2] if item is not None and isinstance(item[2], dict) else None


def current_prompt_id() -> str | None:
    """The id of the queued run being executed, or None outside ComfyUI."""
    item = _running_item()
    return str(item[1]) if item is not None and item[1] is not None else None


def consumed_outputs(prompt: Any, node_id: str | None) -> frozenset[int] | None:
    """The output slots of node `node_id` that some node of the API-format `prompt` takes as
    an input; None when either is unknown (then every output must be produced)."""
    if not isinstance(prompt, dict) or node_id is None or str(node_id) not in prompt:
        return None
    used: set[int] = set()
    for node in prompt.values():
        inputs = node.get("inputs") if isinstance(node, dict) else None
        for value in (inputs.values() if isinstance(inputs, dict) else ()):
            if (isinstance(value, list) and len(value) == 2 and str(value[0]) == str(node_id)
                    and isinstance(value[1], int)):
                used.add(value[1])
    return frozenset(used)


def user_directory() -> Path:
    """ComfyUI's user folder (ComfyUI/user); outside ComfyUI ~/.config/segmind-ltx2."""
    found = _call("folder_paths", "get_user_directory")
    if found:
        return Path(found)
    return Path(os.environ.get("SEGMIND_LTX2_HOME") or Path.home() / ".config" / "segmind-ltx2")


def is_interrupted() -> bool:
    """True once the user pressed Cancel; does not clear ComfyUI's flag."""
    mm = _module("comfy.model_management")
    fn = getattr(mm, "processing_interrupted", None)
    return bool(fn()) if callable(fn) else False


def raise_interrupted(cause: Cancelled) -> None:
    """Raise ComfyUI's own interruption so the run shows as cancelled, not failed; outside
    ComfyUI re-raise `cause`. Its message (say, where a cancelled v1 clip will land) goes
    to the log first, since ComfyUI shows no text for an interruption."""
    if str(cause) != "Cancelled by the user.":
        log.warning("Segmind LTX-2: %s", cause)
    mm = _module("comfy.model_management")
    throw = getattr(mm, "throw_exception_if_processing_interrupted", None)
    if callable(throw):
        throw()  # raises and clears the flag when it is set
    exc = getattr(mm, "InterruptProcessingException", None)
    if isinstance(exc, type) and issubclass(exc, BaseException):
        raise exc()
    raise cause


class NodeProgress:
    """Progress bar and status text on one node (ComfyUI's ProgressBar and progress-text
    channel); silently does nothing where the host lacks either."""

    def __init__(self, node_id: str | None, total: int = 1000) -> None:
        self.node_id = node_id
        self.total = total
        bar_cls = getattr(_module("comfy.utils"), "ProgressBar", None)
        self._bar = bar_cls(total, node_id=node_id) if bar_cls is not None and node_id is not None else None
        server = getattr(_module("server"), "PromptServer", None)
        instance = getattr(server, "instance", None)
        self._send_text = getattr(instance, "send_progress_text", None) if node_id is not None else None
        self.last_text = ""

    def bar(self, value: float) -> None:
        if self._bar is None:
            return
        try:
            self._bar.update_absolute(max(0, min(self.total, int(value))), self.total)
        except Exception as exc:
            # ComfyUI's progress hook raises its interruption on Cancel and clears the flag. On
            # a worker thread that would cut off a paid download mid-file and hide the Cancel
            # from the node's other clips: put the flag back, and let the pack's own Cancel
            # checks stop the work where it is safe to.
            mm = _module("comfy.model_management")
            if isinstance(exc, getattr(mm, "InterruptProcessingException", ())):
                mm.interrupt_current_processing(True)
            else:  # a progress bar must never fail a paid run
                log.debug("Segmind: progress bar update failed (%s)", exc)

    def text(self, message: str) -> None:
        if message == self.last_text:
            return
        self.last_text = message
        if callable(self._send_text):
            try:
                # The front end inserts this text as HTML: escape server-sourced text.
                self._send_text(html.escape(message, quote=False), self.node_id)
            except Exception:  # a closed websocket must not fail a paid run
                pass


class FileVideo:
    """Stand-in for ComfyUI's VideoFromFile outside ComfyUI: just the file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)

    def get_stream_source(self) -> str:
        return self.path


def video_from_file(path: str | os.PathLike) -> Any:
    """ComfyUI's native VIDEO object over the MP4, so core SaveVideo and previews work."""
    impl = _import("comfy_api.input_impl")
    cls = getattr(impl, "VideoFromFile", None)
    return cls(str(path)) if cls is not None else FileVideo(path)


def route_table() -> Any:
    """The prompt server's route table (PromptServer.instance.routes), where a pack adds its
    routes before ComfyUI builds its app; None outside ComfyUI."""
    server = getattr(_module("server"), "PromptServer", None)
    return getattr(getattr(server, "instance", None), "routes", None)


def listen_addresses() -> list[str]:
    """The addresses ComfyUI listens on (its --listen, comma-separated; 127.0.0.1 by
    default); [] outside ComfyUI."""
    args = getattr(_module("comfy.cli_args"), "args", None)
    listen = getattr(args, "listen", None)
    if not isinstance(listen, str):
        return []
    return [a.strip() for a in listen.split(",") if a.strip()]
