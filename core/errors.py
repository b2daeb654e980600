"""User-facing errors. Every message says what went wrong and what to change.

Messages never contain the API key: the client redacts server text before it
lands here (see credentials.redact)."""
from __future__ import annotations


class SegmindError(Exception):
    """Base class: the message is meant for the ComfyUI user, not a developer."""


class MissingAPIKeyError(SegmindError):
    pass


class KeyFileUnreadableError(MissingAPIKeyError):
    """The key file exists but cannot be read (permissions, a folder, not text)."""


class OutputFolderError(SegmindError):
    """The folder the clip must be saved to cannot be written; raised before anything is paid."""


class InvalidInputError(SegmindError):
    """A node input or request field the service would refuse; raised before sending.

    `field`: the request field at fault, as data, so each face names it its own way (the node
    'num_frames', the command line --num-frames, a manifest its column). `detail`: the rest of
    the sentence after the field's name; without a message the text is "'<field>' <detail>"."""

    def __init__(self, message: str | None = None, *, field: str | None = None,
                 detail: str | None = None) -> None:
        if message is None:
            message = f"'{field}' {detail}" if field else str(detail or "")
        super().__init__(message)
        self.field = field
        self.detail = detail

    def naming(self, name: str) -> str:
        """The message with the field called `name` (a flag, a column); as it is otherwise."""
        return f"{name} {self.detail}" if self.field and self.detail else str(self)


class Cancelled(SegmindError):
    """The user pressed Cancel in ComfyUI; the host turns this into its interruption."""


class SegmindNetworkError(SegmindError):
    """The service could not be reached (DNS, refused, reset, TLS, client time-out)."""


class VideoError(SegmindError):
    """A downloaded or returned video is missing, truncated or not decodable."""


class NotEnoughMemoryError(SegmindError):
    """Decoding would need more memory than the machine has available."""


class SegmindTimeoutError(SegmindError):
    """Our own time limit ran out while a job was still running on Segmind's side."""

    def __init__(self, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


# What the user can do about each documented status (API.md, "Errors and billing").
STATUS_HINTS: dict[int, str] = {
    400: "Segmind rejected the request as invalid: check prompt, width, height, num_frames, fps and guidance_scale against their ranges.",
    401: "The API key is missing or invalid: set SEGMIND_API_KEY or the key file (see the README, 'API key').",
    403: "This key is not allowed to use the model (forbidden): check the key's team and permissions on segmind.com.",
    404: "Segmind does not know this model or request (not found). A finished job's result is kept for one hour only.",
    405: "Segmind refused the HTTP method: the API base URL (SEGMIND_API_BASE) probably points at the wrong server.",
    406: "Not enough Segmind credits (or a team spend cap was reached): top up your credits on segmind.com, then queue again.",
    410: "Segmind has retired this model (gone): update the node pack.",
    422: "Segmind reports that the generation failed.",
    429: "Rate limited by Segmind (the free tier allows 5 requests a minute): wait a minute, then queue again.",
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
            text += f" Server said: {server_message}"
        if request_id:
            text += f" (request id {request_id})"
        super().__init__(text)


class SegmindJobFailed(SegmindAPIError):
    """The async job ended with status FAILED (HTTP 422 on the status call)."""


class SpendLimitError(SegmindError):
    """A run would pass a spend limit (per day or per queued run); refused before any upload."""


class InsufficientCreditsError(SegmindError):
    """The credits left on the Segmind account are below the run's estimate; refused before paying."""


class LimitsFileError(SegmindError):
    """The spend limits file cannot be read; runs are refused until it is fixed (fail closed)."""


class LocalStateError(SegmindError, OSError):
    """The pack's own files cannot be used: its cache or job journal under ComfyUI's user
    folder (unreadable, a file where a folder belongs, a full disk), or a cached clip being
    placed in the output folder. Also an OSError, so a caller that carries on past a failed
    best-effort write (caching a clip that is already saved) still carries on."""


class CachedClipDamagedError(SegmindError):
    """A clip in the result cache no longer decodes; it was removed, and the next queue is billed."""


class UnknownJobError(SegmindError):
    """A request id that neither the result cache nor Segmind (within its hour) knows."""
