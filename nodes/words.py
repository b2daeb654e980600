"""The core's errors in ComfyUI's words: what the user can do (core.errors.Action) said as
a ComfyUI user does it: queue the graph, a widget's name, a place in ComfyUI's Settings."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypeVar

from ..core.errors import SegmindError, words_from

NODE_WORDS: dict[str, str] = {
    "retry": "queue again",
    "run_again": "queue the same graph again",
    "run_original": "queue the original graph",
    "output_folder": "choose another output folder (start ComfyUI with --output-directory)",
    "find_request_id": "pick one in 'recorded_job', or copy it from the Segmind jobs panel or a node's summary",
    "spend_limits": "ComfyUI Settings > Segmind > spend limits",
    "api_key": "ComfyUI Settings > Segmind",
    "shared_store": "ComfyUI Settings > Segmind > Team (the team's Redis)",
}


node_words = words_from(NODE_WORDS)  # a field is named as its widget: 'seed'


def node_text(exc: BaseException) -> str:
    """An error's message in ComfyUI's words (for the routes' answers to the ComfyUI page)."""
    return exc.worded(node_words) if isinstance(exc, SegmindError) else str(exc)


def in_node_words(exc: BaseException) -> BaseException:
    """The same error, its message now in ComfyUI's words (ComfyUI shows str(exc))."""
    if isinstance(exc, SegmindError) and exc.actions:
        exc.args = (exc.worded(node_words),)
    return exc


F = TypeVar("F", bound=Callable[..., Any])


def speaks_node_words(fn: F) -> F:
    """A node's FUNCTION whose errors reach ComfyUI in ComfyUI's words."""
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except SegmindError as exc:
                raise in_node_words(exc)
        return run_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SegmindError as exc:
            raise in_node_words(exc)
    return run  # type: ignore[return-value]
