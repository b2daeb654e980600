"""User-facing errors, as data each face words its own way.

An error holds what happened (plain text, no front end's words), whether it was billed, and
what the user can do: `Action`s (run again, change a field or a setting, choose another
output folder...) that the node (nodes/words.py) and the command line (cli/words.py) each
put in their own words. An Action is written into a message with an f-string,
`f"..., then {Action.RUN_AGAIN}."`: it becomes a marker in the error's text; `str(error)`
is the neutral default wording, `error.worded(words)` a face's. An error written into
another error's f-string (`f"... {exc}"`) keeps its markers.

Messages never contain the API key: the client redacts server text before it lands here
(see credentials.redact), and strips the marker characters from it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, ClassVar

# Private-use characters around an action inside a message (never in text from a service).
_OPEN, _CLOSE = "\ue000", "\ue001"
_MARKER = re.compile(f"{_OPEN}([a-z_]+):([^{_CLOSE}]*){_CLOSE}")


@dataclass(frozen=True)
class Action:
    """Something the user can do about an error, named by the core, worded by each face.
    `kind` is one of the class constants' kinds; `subject` names the field or setting."""
    kind: str
    subject: str = ""

    RETRY: ClassVar["Action"]          # try again later ("queue again" / "run again")
    RUN_AGAIN: ClassVar["Action"]      # the very same request again (collects, never pays twice)
    RUN_ORIGINAL: ClassVar["Action"]   # the request that made a job, to make a new, billed clip
    OUTPUT_FOLDER: ClassVar["Action"]  # choose another output folder
    FIND_REQUEST_ID: ClassVar["Action"]  # where the request ids of recorded jobs are listed
    KINDS: ClassVar[tuple[str, ...]] = ("retry", "run_again", "run_original", "output_folder",
                                        "find_request_id", "set_field", "change_setting")
    SETTINGS: ClassVar[tuple[str, ...]] = ("spend_limits", "api_key", "shared_store")

    @staticmethod
    def SET_FIELD(name: str) -> "Action":  # noqa: N802 (reads like the constants)
        """A request field or node input, named as the face names it ('seed', --seed)."""
        return Action("set_field", name)

    @staticmethod
    def CHANGE_SETTING(name: str) -> "Action":  # noqa: N802
        """Where the user changes one of the pack's settings (one of SETTINGS)."""
        if name not in Action.SETTINGS:
            raise ValueError(f"unknown setting {name!r}")
        return Action("change_setting", name)

    def __format__(self, spec: str) -> str:
        return f"{_OPEN}{self.kind}:{self.subject}{_CLOSE}"

    __str__ = lambda self: self.__format__("")  # noqa: E731


Action.RETRY = Action("retry")
Action.RUN_AGAIN = Action("run_again")
Action.RUN_ORIGINAL = Action("run_original")
Action.OUTPUT_FOLDER = Action("output_folder")
Action.FIND_REQUEST_ID = Action("find_request_id")

Words = Callable[[Action], str]

# The neutral default wording, for a log or a face that has no words of its own.
NEUTRAL_WORDS: dict[str, str] = {
    "retry": "try again",
    "run_again": "run the same request again",
    "run_original": "run the original request again",
    "output_folder": "choose another output folder",
    "find_request_id": "the list of recorded jobs shows them",
    "spend_limits": "the pack's spend limits setting",
    "api_key": "the pack's API key setting",
    "shared_store": "the pack's team setting (SEGMIND_LTX2_REDIS_URL)",
}


def words_from(table: dict[str, str], field: Callable[[str], str] = lambda name: f"'{name}'") -> Words:
    """A face's Words from its phrases (by action kind, and by setting for change_setting)
    and how it names a field."""
    def words(action: Action) -> str:
        if action.kind == "set_field":
            return field(action.subject)
        return table[action.subject if action.kind == "change_setting" else action.kind]
    return words


neutral_words = words_from(NEUTRAL_WORDS)


def actions_in(text: str) -> tuple[Action, ...]:
    """The actions named in a message, in order."""
    return tuple(Action(kind, subject) for kind, subject in _MARKER.findall(text))


def render(text: str, words: Words = neutral_words) -> str:
    """`text` with each action put in `words`, capitalised where it starts a sentence."""
    out: list[str] = []
    last = 0
    for m in _MARKER.finditer(text):
        out.append(text[last:m.start()])
        phrase = words(Action(m.group(1), m.group(2)))
        before = "".join(out).rstrip()
        if phrase and (not before or before[-1] in ".!?"):
            phrase = phrase[0].upper() + phrase[1:]
        out.append(phrase)
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def strip_markers(text: str) -> str:
    """Text from outside (a service, a file) with the marker characters removed."""
    return text.replace(_OPEN, "").replace(_CLOSE, "")


class SegmindError(Exception):
    """Base class: the message is meant for the user, not a developer. `billed`: True when
    the service billed the run the error is about, False when nothing was billed, None when
    not known or not relevant."""

    billed: bool | None = None

    def __init__(self, *args: object, billed: bool | None = None) -> None:
        super().__init__(*args)
        if billed is not None:
            self.billed = billed

    @property
    def text(self) -> str:
        """The message with its action markers (what a face words)."""
        return str(self.args[0]) if self.args else ""

    @property
    def actions(self) -> tuple[Action, ...]:
        return actions_in(self.text)

    def worded(self, words: Words) -> str:
        return render(self.text, words)

    def __str__(self) -> str:
        return render(self.text) if len(self.args) <= 1 else super().__str__()

    def __format__(self, spec: str) -> str:
        return self.text if not spec else format(str(self), spec)


class MissingAPIKeyError(SegmindError):
    pass


class KeyFileUnreadableError(MissingAPIKeyError):
    """The key file exists but cannot be read (permissions, a folder, not text)."""


class OutputFolderError(SegmindError):
    """The folder the clip must be saved to cannot be written; raised before anything is paid."""


class InvalidInputError(SegmindError):
    """An input or request field the service would refuse; raised before sending (billed: never).

    `field`: the request field at fault, as data, so each face names it its own way (the node
    'num_frames', the command line --num-frames, a manifest its column). `detail`: the rest of
    the sentence after the field's name; without a message the text is "<field> <detail>",
    the field written as Action.SET_FIELD so that each face words it."""

    billed = False

    def __init__(self, message: str | None = None, *, field: str | None = None,
                 detail: str | None = None) -> None:
        if message is None:
            message = f"{Action.SET_FIELD(field)} {detail}" if field else str(detail or "")
        super().__init__(message)
        self.field = field
        self.detail = detail

    def naming(self, name: str) -> str:
        """The message with the field called `name` (a flag, a column); as it is otherwise."""
        return f"{name} {self.detail}" if self.field and self.detail else str(self)


class Cancelled(SegmindError):
    """The user pressed Cancel (or interrupted the command); a host turns this into its interruption."""


class SegmindNetworkError(SegmindError):
    """The service could not be reached (DNS, refused, reset, TLS, client time-out)."""


class VideoError(SegmindError):
    """A downloaded or returned video is missing, truncated or not decodable."""


class NotEnoughMemoryError(SegmindError):
    """Decoding would need more memory than the machine has available."""


class SegmindTimeoutError(SegmindError):
    """Our own time limit ran out while a job was still running on Segmind's side."""

    def __init__(self, message: str, request_id: str | None = None, *, billed: bool | None = None) -> None:
        super().__init__(message, billed=billed)
        self.request_id = request_id


_FIELDS_400 = ", ".join(f"{Action.SET_FIELD(n)}" for n in ("prompt", "width", "height", "num_frames", "fps"))

# What the user can do about each documented status (API.md, "Errors and billing").
STATUS_HINTS: dict[int, str] = {
    400: f"Segmind rejected the request as invalid: check {_FIELDS_400} and {Action.SET_FIELD('guidance_scale')} against their ranges.",
    401: "The API key is missing or invalid: set SEGMIND_API_KEY or the key file (see the README, 'API key').",
    403: "This key is not allowed to use the model (forbidden): check the key's team and permissions on segmind.com.",
    404: "Segmind does not know this model or request (not found). A finished job's result is kept for one hour only.",
    405: "Segmind refused the HTTP method: the API base URL (SEGMIND_API_BASE) probably points at the wrong server.",
    406: f"Not enough Segmind credits (or a team spend cap was reached): top up your credits on segmind.com, then {Action.RETRY}.",
    410: "Segmind has retired this model (gone): update the pack.",
    422: "Segmind reports that the generation failed.",
    429: f"Rate limited by Segmind (the free tier allows 5 requests a minute): wait a minute, then {Action.RETRY}.",
    500: "Segmind had an internal server error (this is also what some invalid parameters cause): try again, or change the inputs.",
    502: "Segmind is temporarily unavailable (bad gateway): try again in a minute.",
    503: "Segmind is temporarily unavailable: try again in a minute.",
    504: "Segmind timed out: try again; the default async mode (v2) avoids holding one long request.",
}


class SegmindAPIError(SegmindError):
    """A non-2xx answer from Segmind, carrying the server's own error text."""

    def __init__(self, status: int, server_message: str, stage: str,
                 request_id: str | None = None) -> None:
        self.status = status
        self.server_message = server_message
        self.stage = stage
        self.request_id = request_id
        hint = STATUS_HINTS.get(status, "Unexpected answer from Segmind.")
        text = f"Segmind {stage} failed with HTTP {status}. {hint}"
        if server_message:
            text += f" Server said: {strip_markers(server_message)}"
        if request_id:
            text += f" (request id {strip_markers(request_id)})"
        super().__init__(text)


class SegmindJobFailed(SegmindAPIError):
    """The async job ended with status FAILED (HTTP 422 on the status call)."""


class SpendLimitError(SegmindError):
    """A run would pass a spend limit (per day or per run); refused before any upload."""

    billed = False


class InsufficientCreditsError(SegmindError):
    """The credits left on the Segmind account are below the run's estimate; refused before paying."""

    billed = False


class LimitsFileError(SegmindError):
    """The spend limits file cannot be read; runs are refused until it is fixed (fail closed)."""


class SpendRecordsError(SegmindError):
    """The spend ledger or the reservations of jobs in flight cannot be read or locked, so
    today's spend is unknown; paid runs are refused until it is fixed (fail closed)."""


class LocalStateError(SegmindError, OSError):
    """The pack's own files cannot be used: its cache or job journal under the user
    folder (unreadable, a file where a folder belongs, a full disk), or a cached clip being
    placed in the output folder. Also an OSError, so a caller that carries on past a failed
    best-effort write (caching a clip that is already saved) still carries on."""


class CachedClipDamagedError(SegmindError):
    """A clip in the result cache no longer decodes; it was removed, and the next run is billed."""


class UnknownJobError(SegmindError):
    """A request id that neither the result cache nor Segmind (within its hour) knows."""
