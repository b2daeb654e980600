"""Where the records a team shares live: this machine's user folder (files every process
using that folder shares), or, when a Redis address is set, one Redis for many machines.

The setting: SEGMIND_LTX2_REDIS_URL (the command line's --redis sets it for its process),
else `<user>/segmind/team.json` (written by the Settings panel through routes.py). What to
do when that Redis cannot be reached: SEGMIND_LTX2_WHEN_REDIS_DOWN, else team.json's
`when_redis_down`: "refuse" (the default: nothing is paid while the team's records are out
of reach) or "local" (this machine's own records, with a warning; written back later).

The API key never goes to Redis: keys there are namespaced by `account_tag`, a one-way
digest, so two accounts sharing one Redis share nothing."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from .errors import Action, InvalidInputError, SegmindError
from .user_folder import UserFolder

log = logging.getLogger(__name__)

REDIS_URL_ENV = "SEGMIND_LTX2_REDIS_URL"
WHEN_DOWN_ENV = "SEGMIND_LTX2_WHEN_REDIS_DOWN"
MACHINE_ENV = "SEGMIND_LTX2_MACHINE"
WHEN_DOWN_CHOICES = ("refuse", "local")
KEY_ROOT = "segmind-ltx2"
CONNECT_SECONDS = 2.0  # how long a look for the team's Redis may take before it counts as down


class SharedStoreDown(SegmindError):
    """The team's Redis cannot be reached and the setting says to refuse: nothing was paid."""
    billed = False


class SharedStoreSetupError(InvalidInputError):
    """The team's Redis is set but cannot be used as set: the redis package is missing, the
    address cannot be read, the password is wrong or missing, it is a read-only replica or a
    Redis Cluster. Said before anything is paid, whatever when_redis_down says ("local" is for
    an outage, not for a setup to fix), with what to change."""
    billed = False


@dataclass(frozen=True)
class TeamSettings:
    redis_url: str = ""          # "" = no team store: this machine's files only
    when_down: str = "refuse"    # one of WHEN_DOWN_CHOICES

    @property
    def shared(self) -> bool:
        return bool(self.redis_url)


def shown_url(url: str) -> str:
    """The address with anything that may be a password masked, fit for messages, logs and the
    panel: all before the last "@" after the scheme (a password may hold #, / or ?, which a
    URL parser would read as the rest of the address), and the query's values
    (redis-py reads ?password=)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "(an address that cannot be read)" if "@" in url or "?" in url else url
    if "@" in rest:
        rest = "***@" + rest[rest.rindex("@") + 1:]
    where, query, params = rest.partition("?")
    if query:
        where += "?" + "&".join(f"{p.partition('=')[0]}=***" for p in params.split("&"))
    return f"{scheme}://{where}"


def _address_problem(url: str) -> str | None:
    """What is wrong with a Redis address as redis-py would read it, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # a port that is not a number raises here
    except ValueError:
        return "cannot be read"
    if parts.scheme not in ("redis", "rediss", "unix"):
        return "is not a Redis address"
    db = parts.path.strip("/") if parts.scheme != "unix" else ""
    if db and not db.isdigit():
        return f"names the database {db!r}, which is not a number"
    return None


def _checked(url: str, when_down: str, where: str) -> TeamSettings:
    url = url.strip()
    problem = _address_problem(url) if url else None
    if problem:
        raise SharedStoreSetupError(f"The Redis address in {where}, {shown_url(url)!r}, {problem}: give one like "
                                    f"redis://host:6379/0 (or rediss:// for TLS, redis://:password@host:6379/0 "
                                    f"with a password), or leave it empty; {Action.CHANGE_SETTING('shared_store')}.")
    when_down = (when_down or "refuse").strip().lower()
    if when_down not in WHEN_DOWN_CHOICES:
        raise InvalidInputError(f"What to do when Redis is down, in {where}, is {when_down!r}: set it to "
                                f"'refuse' or 'local'; {Action.CHANGE_SETTING('shared_store')}.")
    return TeamSettings(url, when_down)


def team_settings(user_dir: "str | os.PathLike[str] | None") -> TeamSettings:
    """The team setting in force: the environment first, then the user folder's team.json."""
    saved: dict[str, Any] = {}
    if user_dir is not None:
        path = UserFolder(user_dir).team
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            saved = raw if isinstance(raw, dict) else {}
        except (FileNotFoundError, NotADirectoryError):  # no file (or no folder): no team setting saved
            pass
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"The team setting file {path} cannot be read ({exc.__class__.__name__}): "
                                    f"save it again, or delete it; {Action.CHANGE_SETTING('shared_store')}.") from None
    url = os.environ.get(REDIS_URL_ENV)
    when = os.environ.get(WHEN_DOWN_ENV)
    where = REDIS_URL_ENV if url is not None else "team.json"
    return _checked(url if url is not None else str(saved.get("redis_url") or ""),
                    when if when is not None else str(saved.get("when_redis_down") or "refuse"), where)


def saved_redis_url(user_dir: "str | os.PathLike[str]") -> str:
    """The address saved in team.json (not the environment's): what Settings keeps when only
    the choice for Redis being down is changed (the page never holds the password)."""
    try:
        raw = json.loads(UserFolder(user_dir).team.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(raw.get("redis_url") or "") if isinstance(raw, dict) else ""


def save_team_settings(user_dir: "str | os.PathLike[str]", redis_url: str, when_down: str) -> TeamSettings:
    """Write team.json (checked first); the Settings panel's route calls this."""
    from .credentials import write_private  # the address may hold a password: owner-only, as the key

    settings = _checked(redis_url, when_down, "the team setting")
    write_private(UserFolder(user_dir).team, json.dumps(
        {"redis_url": settings.redis_url, "when_redis_down": settings.when_down}).encode("utf-8"))
    return settings


def account_tag(api_key: str) -> str:
    """A one-way name for the account, so the key itself never reaches Redis."""
    return hashlib.sha256(f"{KEY_ROOT}:{api_key}".encode()).hexdigest()[:16]


def key_prefix(api_key: str) -> str:
    """Every Redis key of this account starts with this."""
    return f"{KEY_ROOT}:{account_tag(api_key)}:"


def _pid_space() -> str:
    """This host name plus, on Linux, its pid namespace: where a pid names the same process
    (two containers on host networking share a host name, not their processes)."""
    host = socket.gethostname()
    try:
        return f"{host}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:  # not Linux: the host name alone
        return host


PID_SPACE = _pid_space()
# This process among every process of the team (reservations' owner, the live jobs' publisher).
PROCESS = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def keep_doing(slot: tuple[Any, ...], name: str, every: float, act: Callable[[], None]) -> None:
    """`act()` now and then every `every` seconds, on one daemon thread per `slot` until the
    clients are forgotten (a changed address; a test's end): a lease kept alive, the live jobs
    published, an outage's lines written back. A failure (Redis away) is logged and tried
    again next time."""
    with _keepers_lock:
        kept = _keepers.get(slot)
        if kept is not None and kept[0].is_alive():
            return
        stop = threading.Event()

        def run() -> None:
            while not stop.is_set():
                try:
                    act()
                except Exception as exc:
                    log.debug("Segmind: %s failed this time (%s).", name, exc)
                stop.wait(every)

        thread = threading.Thread(target=run, daemon=True, name=f"segmind-{name}")
        _keepers[slot] = (thread, stop)
        thread.start()


def stop_keepers(wait: float = 3.0) -> None:
    """Stop every keeper thread and wait for each to finish what it is doing, so none of them
    writes into a store it was not started for (another address; the next test's Redis)."""
    with _keepers_lock:
        kept = list(_keepers.values())
        _keepers.clear()
    for _, stop in kept:
        stop.set()
    for thread, _ in kept:
        if thread is not threading.current_thread():
            thread.join(wait)


_keepers: dict[tuple[Any, ...], tuple[threading.Thread, threading.Event]] = {}
_keepers_lock = threading.Lock()


def machine_name() -> str:
    """How this machine is named in shared records (SEGMIND_LTX2_MACHINE, else the host name)."""
    return (os.environ.get(MACHINE_ENV) or socket.gethostname() or "this machine").strip()[:64]


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
PROBE_KEY = f"{KEY_ROOT}:probe"  # written (and expiring) by each look: a read-only Redis says so


def redis_client(url: str) -> Any:
    """One redis-py client (with its connection pool) per address, per process. Raises
    SharedStoreSetupError when redis-py is not installed."""
    try:
        import redis  # only when a team store is set: most users never load it
    except ImportError:
        raise SharedStoreSetupError(
            f"A team Redis is set ({shown_url(url)}), but the Python package redis is not installed in the "
            f"Python that runs this pack ({sys.executable}): install it with \"{sys.executable} -m pip install "
            f"redis\" (pip install redis; it is in the pack's requirements.txt) and start it again, or clear "
            f"the address; {Action.CHANGE_SETTING('shared_store')}.") from None

    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=CONNECT_SECONDS,
                                          socket_connect_timeout=CONNECT_SECONDS, health_check_interval=30)
            _clients[url] = client
        return client


def _setup_message(url: str, exc: "BaseException | str") -> str | None:
    """What to change when Redis answers but not as the pack needs, or None (it is down)."""
    from redis import exceptions as e

    text = str(exc)
    where = f"The team's Redis at {shown_url(url)}"
    fix = Action.CHANGE_SETTING("shared_store")
    if isinstance(exc, e.AuthenticationError) or "NOAUTH" in text or "WRONGPASS" in text:
        return (f"{where} refused the password {'in' if '@' in url or 'password=' in url else 'missing from'} its address: "
                f"give the right one, as redis://:password@host:6379/0 (or redis://user:password@... for an "
                f"ACL user); {fix}. Nothing was sent and nothing was paid.")
    if isinstance(exc, e.ReadOnlyError):
        return (f"{where} answers read-only (a replica): give the address of the primary, which takes "
                f"writes; {fix}. Nothing was sent and nothing was paid.")
    if isinstance(exc, e.NoPermissionError):
        return (f"{where} does not let this user write keys or run scripts (NOPERM): give a user that may "
                f"(keys {KEY_ROOT}:*, EVAL and EVALSHA); {fix}. Nothing was sent and nothing was paid.")
    if text.startswith(("MOVED", "ASK ", "CLUSTERDOWN", "CROSSSLOT")) or isinstance(exc, e.ClusterError):
        return (f"{where} is a Redis Cluster, which the pack does not use (one admission touches several "
                f"keys): give the address of one Redis server, or a primary with replicas; {fix}. Nothing "
                f"was sent and nothing was paid.")
    if text.startswith("OOM") or isinstance(exc, e.OutOfMemoryError):
        return (f"{where} is full (maxmemory) and refuses writes: give it more memory or free some; {fix}. "
                f"Nothing was sent and nothing was paid.")
    if text.startswith("MISCONF"):
        return (f"{where} refuses writes because it cannot save to its disk (MISCONF): fix its disk or its "
                f"save setting; {fix}. Nothing was sent and nothing was paid.")
    if isinstance(exc, e.ResponseError):
        return (f"{where} answers, but refused what the pack needs ({type(exc).__name__}): it needs Redis 5 "
                f"or later, one server (not Redis Cluster), taking writes; {fix}. Nothing was sent and "
                f"nothing was paid.")
    return None


def look(client: Any, url: str) -> bool:
    """Whether the team's Redis answers (at most CONNECT_SECONDS) and takes writes: False when
    it cannot be reached. Raises SharedStoreSetupError when it answers but cannot be used as
    set (a wrong password, a read-only replica, a Redis Cluster: see _setup_message)."""
    from redis.exceptions import RedisError

    try:
        pipe = client.pipeline(transaction=False)
        pipe.ping()
        pipe.info("cluster")
        pipe.set(PROBE_KEY, "1", px=10000)
        ping, cluster, wrote = pipe.execute(raise_on_error=False)
    except (RedisError, OSError) as exc:  # not reached at all, or the password refused on connecting
        ping = cluster = wrote = exc
    if isinstance(cluster, dict) and str(cluster.get("cluster_enabled", "0")) == "1":
        raise SharedStoreSetupError(_setup_message(url, "CLUSTERDOWN cluster_enabled:1"))
    # INFO's own refusal (renamed away or not allowed by a managed Redis) says nothing: a
    # Cluster shows in the write too (MOVED, CLUSTERDOWN).
    for answer in (ping, wrote):
        if isinstance(answer, BaseException):
            message = _setup_message(url, answer)
            if message is not None:
                raise SharedStoreSetupError(message)
            return False
    return True


def down_message(settings: TeamSettings) -> str:
    return (f"The team's Redis at {shown_url(settings.redis_url)} cannot be reached, so nothing was sent "
            f"and nothing was paid. Start it or fix the address, or choose to fall back to this machine's "
            f"own records when it is down; {Action.CHANGE_SETTING('shared_store')}.")


def team_redis(user_dir: "str | os.PathLike[str] | None") -> Any | None:
    """The team's Redis client, checked to answer; None when no address is set, or when it is
    down and the setting says to fall back to this machine's records (a warning is logged).
    Raises SharedStoreDown when it is down and the setting says to refuse, SharedStoreSetupError
    when it is set up wrong (whatever the setting: see there)."""
    settings = team_settings(user_dir)
    if not settings.shared:
        return None
    client = redis_client(settings.redis_url)  # SharedStoreSetupError: redis-py missing
    if look(client, settings.redis_url):  # SharedStoreSetupError: answers, but not usable as set
        _warned_down.clear()  # the next outage is warned again
        return client
    if settings.when_down == "refuse":
        raise SharedStoreDown(down_message(settings))
    if settings.redis_url not in _warned_down:  # once per outage, not per look (the jobs tab looks often)
        _warned_down.add(settings.redis_url)
        log.warning("Segmind LTX-2: the team's Redis at %s cannot be reached; using this machine's own "
                    "records until it returns.", shown_url(settings.redis_url))
    return None


_warned_down: set[str] = set()


@dataclass(frozen=True)
class TeamStatus:
    """Which store the team's records are in now, for the Settings panel, the jobs tab and
    the command line's --check-key. Never the address's password (`redis_url` is shown_url)."""
    store: str             # "files", "redis", "files (redis down)" or "refused (redis down)"
    text: str              # one neutral sentence saying so
    redis_url: str         # shown_url of the address in force, "" when none
    when_down: str
    from_env: bool         # SEGMIND_LTX2_REDIS_URL is set: it wins over team.json
    team_file: str

    def as_dict(self) -> dict[str, Any]:
        return {"store": self.store, "text": self.text, "redis_url": self.redis_url,
                "when_redis_down": self.when_down, "from_env": self.from_env, "team_file": self.team_file}


def team_status(user_dir: "str | os.PathLike[str]") -> TeamStatus:
    """Where the request budget (and the team's other records) are kept now: looks at the
    team's Redis (at most CONNECT_SECONDS) without logging a warning. Raises
    SharedStoreSetupError (what to change) when it is set up wrong."""
    settings = team_settings(user_dir)
    team_file = str(UserFolder(user_dir).team)
    from_env = os.environ.get(REDIS_URL_ENV) is not None
    if not settings.shared:
        return TeamStatus("files", f"Shared through this machine's user folder ({UserFolder(user_dir).root}): "
                          "every process using it shares one request budget; no team Redis is set.",
                          "", settings.when_down, from_env, team_file)
    shown = shown_url(settings.redis_url)
    if look(redis_client(settings.redis_url), settings.redis_url):  # raises SharedStoreSetupError
        return TeamStatus("redis", f"Shared through the team's Redis at {shown} (account records, request "
                          "budget), reachable.", shown, settings.when_down, from_env, team_file)
    if settings.when_down == "local":
        return TeamStatus("files (redis down)", f"The team's Redis at {shown} cannot be reached: this machine's "
                          "own records are used until it answers.", shown, settings.when_down, from_env, team_file)
    return TeamStatus("refused (redis down)", f"The team's Redis at {shown} cannot be reached: nothing is paid "
                      "until it answers (or choose to fall back to this machine's records).",
                      shown, settings.when_down, from_env, team_file)


def forget_clients() -> None:
    """Drop the cached clients and stop the threads that use them (tests; a changed address)."""
    stop_keepers()
    _warned_down.clear()
    with _clients_lock:
        for client in _clients.values():
            try:
                client.close()
            except Exception:
                pass
        _clients.clear()


__all__ = ["REDIS_URL_ENV", "WHEN_DOWN_ENV", "MACHINE_ENV", "SharedStoreDown", "SharedStoreSetupError", "look", "TeamSettings", "team_settings",
           "save_team_settings", "shown_url", "account_tag", "key_prefix", "machine_name", "PROCESS", "PID_SPACE", "keep_doing", "stop_keepers", "redis_client",
           "team_redis", "forget_clients", "TeamStatus", "team_status", "saved_redis_url"]
