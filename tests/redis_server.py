"""A real Redis for the tests: Debian's redis-server, started by the suite on a free loopback
port with nothing saved to disk (.ci/run installs it). Unit tests that need no real server
use fakeredis instead."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class RedisServer:
    """One redis-server process; `url` is where to reach it. Stop it with stop() (or use it
    as a context manager)."""

    def __init__(self, *args: str) -> None:
        """`args`: more redis-server options (a password, a replica, Cluster mode)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not installed (apt-get install redis-server; .ci/run does it)")
        self._dir = tempfile.mkdtemp(prefix="segmind-redis-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                         "no", "--dir", self._dir, "--daemonize", "no", "--loglevel", "warning", *args]
        self._start()

    def _start(self) -> None:
        self._proc = subprocess.Popen(self._command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self._proc.stderr.read().decode(errors='replace')[:500]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not start listening within 10 s")

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        shutil.rmtree(self._dir, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start it again on the same port: it comes back empty (nothing is saved),
        as a team's Redis without persistence does."""
        self._proc.terminate()
        self._proc.wait(5)
        self._start()

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()

    def __enter__(self) -> "RedisServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def require_real_redis() -> bool:
    """In CI a missing redis-server fails the tests that need it; on a developer's machine
    without it they are skipped with the reason."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (free when asked)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port_url(password: str = "") -> str:
    """A Redis address where no Redis answers: a team's Redis that is down."""
    return f"redis://{f':{password}@' if password else ''}127.0.0.1:{free_port()}/0"
