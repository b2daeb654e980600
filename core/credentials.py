"""Where the Segmind key comes from, and how it is kept out of everything else.

Order: the SEGMIND_API_KEY environment variable, then the key file
`<ComfyUI user folder>/segmind/api_key` (ComfyUI/user/segmind/api_key on a default
install). That folder sits beside, not inside, the per-user `user/default/` tree that
ComfyUI serves over /userdata, so the front end can never read the file back."""
from __future__ import annotations

import os
import re
from pathlib import Path

ENV_VAR = "SEGMIND_API_KEY"
KEY_DIR_NAME = "segmind"
KEY_FILE_NAME = "api_key"

# Segmind keys look like SG_...; used to scrub any key-shaped text, not only ours.
_KEY_PATTERN = re.compile(r"SG_[A-Za-z0-9_\-]{6,}")


def key_file_path(user_dir: str | os.PathLike) -> Path:
    return Path(user_dir) / KEY_DIR_NAME / KEY_FILE_NAME


def load_api_key(user_dir: str | os.PathLike | None) -> tuple[str | None, str | None]:
    """Return (key, source) with source "env" or "file"; (None, None) when unset."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return env, "env"
    if user_dir is not None:
        path = key_file_path(user_dir)
        try:
            # utf-8-sig: Windows Notepad starts the file with a byte-order mark.
            text = path.read_text(encoding="utf-8-sig").strip()
        except (FileNotFoundError, NotADirectoryError):
            text = ""
        except (OSError, UnicodeDecodeError) as exc:
            raise _unreadable(path, exc) from None
        if text:
            return text, "file"
    return None, None


def _unreadable(path: Path, exc: BaseException) -> Exception:
    from .errors import KeyFileUnreadableError

    why = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (
        getattr(exc, "strerror", None) or type(exc).__name__).lower()
    return KeyFileUnreadableError(
        f"The Segmind API key file {path} cannot be read ({why}). Make it a plain text file "
        f"this user can read, or delete it and save the key again under Settings > Segmind, "
        f"or set the environment variable {ENV_VAR} instead.")


def require_api_key(user_dir: str | os.PathLike | None) -> str:
    """The key, or a MissingAPIKeyError naming both places it can come from."""
    from .errors import MissingAPIKeyError

    key, source = load_api_key(user_dir)
    where = str(key_file_path(user_dir)) if user_dir is not None else "<ComfyUI>/user/segmind/api_key"
    if key:
        if not _header_safe(key):
            # Sent as is, it would fail inside the HTTP library (a raw traceback, or
            # "could not reach Segmind" after every retry). The key itself is not shown.
            origin = f"the environment variable {ENV_VAR}" if source == "env" else f"the file {where}"
            raise MissingAPIKeyError(
                f"The Segmind API key in {origin} contains spaces, line breaks or non-ASCII "
                "characters, which a key cannot have: put only the key (SG_...) there, on one line.")
        return key
    raise MissingAPIKeyError(
        "No Segmind API key found. Set the environment variable SEGMIND_API_KEY before "
        f"starting ComfyUI, or put the key in the file {where} (or enter it under "
        "Settings > Segmind in ComfyUI). Get a key at https://www.segmind.com (API keys).")


def validate_key_text(key: str) -> str:
    """Strip and sanity-check a key typed by the user; raises InvalidInputError."""
    from .errors import InvalidInputError

    key = (key or "").strip()
    if not key:
        raise InvalidInputError("The API key is empty: paste your Segmind key (it starts with SG_).")
    if not _header_safe(key):
        raise InvalidInputError("The API key contains spaces, control or non-ASCII characters: paste only the key itself.")
    if not (8 <= len(key) <= 256):
        raise InvalidInputError("That does not look like a Segmind API key (expected 8 to 256 characters, starting with SG_).")
    return key


def _header_safe(key: str) -> bool:
    """Printable ASCII without spaces: what an HTTP header value can carry unchanged."""
    return key.isascii() and key.isprintable() and not any(c.isspace() for c in key)


def save_api_key(user_dir: str | os.PathLike, key: str) -> Path:
    """Write the key to its file with owner-only rights (0600, folder 0700)."""
    key = validate_key_text(key)
    path = key_file_path(user_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path.parent, 0o700)
    except OSError:
        pass
    # Create with 0600 from the start so the key is never world-readable, even briefly.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key.encode("utf-8"))
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def delete_api_key(user_dir: str | os.PathLike) -> bool:
    try:
        key_file_path(user_dir).unlink()
        return True
    except FileNotFoundError:
        return False


def redact(text: str, key: str | None = None) -> str:
    """Remove the key (and anything key-shaped) from text bound for a message or log."""
    if not text:
        return text
    if key:
        text = text.replace(key, "***")
    return _KEY_PATTERN.sub("SG_***", text)
