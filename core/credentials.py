"""Where the Segmind key comes from, and how it is kept out of everything else.

Order: the SEGMIND_API_KEY environment variable, then the key file
`<ComfyUI user folder>/segmind/api_key` (ComfyUI/user/segmind/api_key on a default
install). That folder sits beside, not inside, the per-user `user/default/` tree that
ComfyUI serves over /userdata, so the front end can never read the file back."""
from __future__ import annotations

import functools
import os
import re
import secrets
from pathlib import Path

ENV_VAR = "SEGMIND_API_KEY"
KEY_DIR_NAME = "segmind"
KEY_FILE_NAME = "api_key"

# Segmind keys look like SG_...; used to scrub any key-shaped text, not only ours.
_KEY_PATTERN = re.compile(r"SG_[A-Za-z0-9_\-]{6,}")
# Segmind's key alphabet. A key holding anything else is refused when entered or loaded:
# such characters change when a server echoes them JSON-escaped or HTML-escaped, or when
# tags are stripped from an error page, and the changed form would slip past redaction.
_KEY_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")
_ALPHABET_HINT = "only letters, digits, '_' and '-'"


def key_file_path(user_dir: str | os.PathLike) -> Path:
    from .user_folder import UserFolder

    return UserFolder(user_dir).key_file


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
    from .errors import Action, KeyFileUnreadableError

    why = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (
        getattr(exc, "strerror", None) or type(exc).__name__).lower()
    return KeyFileUnreadableError(
        f"The Segmind API key file {path} cannot be read ({why}). Make it a plain text file "
        f"this user can read, or delete it and save the key again ({Action.CHANGE_SETTING('api_key')}), "
        f"or set the environment variable {ENV_VAR} instead.")


def require_api_key(user_dir: str | os.PathLike | None) -> str:
    """The key, or a MissingAPIKeyError naming both places it can come from."""
    from .errors import Action, MissingAPIKeyError

    key, source = load_api_key(user_dir)
    where = str(key_file_path(user_dir)) if user_dir is not None else "<user folder>/segmind/api_key"
    if key:
        if not _header_safe(key):
            # Sent as is, it would fail inside the HTTP library (a raw traceback, or
            # "could not reach Segmind" after every retry). The key itself is not shown.
            origin = f"the environment variable {ENV_VAR}" if source == "env" else f"the file {where}"
            raise MissingAPIKeyError(
                f"The Segmind API key in {origin} contains spaces, line breaks or non-ASCII "
                "characters, which a key cannot have: put only the key (SG_...) there, on one line.")
        if not _KEY_ALPHABET.fullmatch(key):
            origin = f"the environment variable {ENV_VAR}" if source == "env" else f"the file {where}"
            raise MissingAPIKeyError(
                f"The Segmind API key in {origin} contains characters a Segmind key never has "
                f"({_ALPHABET_HINT}): put only the key (SG_...) there, without quotes or other marks.")
        return key
    raise MissingAPIKeyError(
        f"No Segmind API key found. Set the environment variable {ENV_VAR}, or put the key in the "
        f"file {where} ({Action.CHANGE_SETTING('api_key')}). Get a key at https://www.segmind.com "
        "(API keys).")


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
    if not _KEY_ALPHABET.fullmatch(key):
        raise InvalidInputError(f"The API key contains characters a Segmind key never has ({_ALPHABET_HINT}): "
                                "paste only the key itself, without quotes or other marks.")
    return key


def _header_safe(key: str) -> bool:
    """Printable ASCII without spaces: what an HTTP header value can carry unchanged."""
    return key.isascii() and key.isprintable() and not any(c.isspace() for c in key)


def save_api_key(user_dir: str | os.PathLike, key: str) -> Path:
    """Write the key to its file with owner-only rights (write_private)."""
    key = validate_key_text(key)
    path = key_file_path(user_dir)
    write_private(path, key.encode("utf-8"))
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write a secret (the key, an address with its password) with owner-only rights (0600,
    folder 0700), never through a symlink planted at the temporary or the final name: the
    temporary file has a random name and is created exclusively (O_EXCL, which never follows a
    link; O_NOFOLLOW where the system has it), then renamed over the final name (which
    replaces a link, not its target)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path.parent, 0o700)
    except OSError:
        pass
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    for attempt in range(3):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            # Created with 0600 from the start so the secret is never world-readable, even briefly.
            fd = os.open(tmp, flags, 0o600)
            break
        except FileExistsError:  # something already has that name (a link, say): take another
            if attempt == 2:
                raise
    try:
        try:
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def delete_api_key(user_dir: str | os.PathLike) -> bool:
    try:
        key_file_path(user_dir).unlink()
        return True
    except FileNotFoundError:
        return False


def redact(text: str, key: str | None = None) -> str:
    """Remove the key (and anything key-shaped) from text bound for a message or log: the
    key as is, in any case, and in every encoding a server may echo it back in (JSON \\u
    escapes, HTML character references, %-escapes), also split by tags or white space."""
    if not text:
        return text
    if key:
        text = text.replace(key, "***")
        text = _encoded_key_pattern(key).sub("***", text)
    return _KEY_PATTERN.sub("SG_***", text)


_SEPARATOR = r"(?:<[^<>]{0,200}>|\s)*"  # a tag or white space that may split an echoed key


@functools.lru_cache(maxsize=8)
def _encoded_key_pattern(key: str) -> re.Pattern[str]:
    def forms(char: str) -> str:
        code = ord(char)
        alts = [re.escape(char), rf"\\u0*{code:x}", rf"&#0*{code};", rf"&#x0*{code:x};"]
        if code < 256:
            alts.append(rf"%{code:02x}")
        if char == "_":
            alts += ["&lowbar;", "&UnderBar;"]
        return "(?:" + "|".join(alts) + ")"

    return re.compile(_SEPARATOR.join(forms(c) for c in key), re.IGNORECASE)
