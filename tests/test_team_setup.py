"""A team Redis set up wrong (issue 22's review): the redis package missing, an address that
cannot be used, a wrong or missing password, a read-only replica, a Redis Cluster. Each is
said plainly, saying what to change, before anything is uploaded or paid, from the core (what
the nodes run), the routes and the command line; never an HTTP 500, never the password."""
from __future__ import annotations

import sys
from typing import Any

import pytest

from pack_loader import pack_module

shared_store = pack_module("core.shared_store")
lifecycle = pack_module("core.lifecycle")
errors = pack_module("core.errors")
image_encode = pack_module("core.image_encode")
BODY = {"prompt": "set up wrong", "negative_prompt": "", "width": 256, "height": 256, "num_frames": 9, "fps": 8,
        "seed": 1, "guidance_scale": 4.0}


@pytest.fixture(autouse=True)
def _no_team_left(monkeypatch):
    for name in (shared_store.REDIS_URL_ENV, shared_store.WHEN_DOWN_ENV):
        monkeypatch.delenv(name, raising=False)
    shared_store.forget_clients()
    yield
    shared_store.forget_clients()


def request() -> Any:
    import numpy as np

    rgb = (np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)
    return lifecycle.GenerationRequest(model="ltx-2-19b-i2v", image=image_encode.encode_image(rgb), body=dict(BODY))


def refused_before_paying(env: Any, expect: str, when_down: str = "refuse") -> str:
    """A paid run refuses with a message containing `expect`, nothing uploaded or paid; the
    routes answer (no 500) with the same message; returns the message."""
    import os

    os.environ[shared_store.WHEN_DOWN_ENV] = when_down
    with pytest.raises(errors.SegmindError) as info:
        lifecycle.run_on_segmind(request(), user_dir=env.home, output_dir=env.output)
    text = str(info.value)
    assert expect in text and info.value.billed is False, text
    assert env.jobs_submitted == 0 and env.counts["uploads"] == 0
    routes = pack_module("routes")
    team = routes.team_payload(env.home)
    assert expect in team["text"], team
    jobs = routes.jobs_payload(env.home, env.output)  # the jobs tab: answers, says why
    assert expect in jobs["team"]["text"] and expect in jobs["spend"]["limits_error"]
    return text


def test_missing_redis_package_says_pip_install_before_paying(pack_env, monkeypatch):
    monkeypatch.setenv(shared_store.REDIS_URL_ENV, "redis://:s3cret@127.0.0.1:6379/0")
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis fails, as in a ComfyUI without it
    monkeypatch.setitem(sys.modules, "redis.exceptions", None)
    text = refused_before_paying(pack_env, "pip install redis")
    assert "requirements.txt" in text and "s3cret" not in text
    # "local" is for Redis being down, not for a setup to fix: refused too.
    refused_before_paying(pack_env, "pip install redis", when_down="local")


def test_missing_redis_package_in_the_command_line(pack_env, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "redis", None)
    main = pack_module("__main__").main
    assert main(["--redis", "redis://127.0.0.1:6379/0", "--check-key"]) == 2
    err = capsys.readouterr().err
    assert "pip install redis" in err and "Traceback" not in err


@pytest.mark.parametrize("url", ["redis://host:notaport/0", "redis://host:6379/notadb", "redis://:pw@[::1/0"])
def test_an_address_that_cannot_be_used_says_what_to_give(pack_env, monkeypatch, url):
    monkeypatch.setenv(shared_store.REDIS_URL_ENV, url)
    text = refused_before_paying(pack_env, "redis://host:6379/0")
    assert "pw@" not in text


@pytest.fixture(scope="module")
def odd_servers() -> Any:
    """redis-servers set up as a team might find them: with a password, a read-only replica,
    a Redis Cluster node."""
    import socket

    from redis_server import RedisServer, require_real_redis

    with socket.socket() as s:  # the cluster bus's port (by default the port + 10000, maybe past 65535)
        s.bind(("127.0.0.1", 0))
        bus = str(s.getsockname()[1])
    try:
        servers = {"password": RedisServer("--requirepass", "s3cret"),
                   "replica": RedisServer("--replicaof", "127.0.0.1", "1"),
                   "cluster": RedisServer("--cluster-enabled", "yes", "--cluster-port", bus)}
    except FileNotFoundError as exc:  # no redis-server: skipped on a developer's machine, failed in CI
        if require_real_redis():
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    yield servers
    for server in servers.values():
        server.stop()


def _with(url: str, password: str) -> str:
    return url.replace("redis://", f"redis://:{password}@")


def test_a_wrong_password_says_to_fix_it(pack_env, monkeypatch, odd_servers):
    monkeypatch.setenv(shared_store.REDIS_URL_ENV, _with(odd_servers["password"].url, "wrong"))
    text = refused_before_paying(pack_env, "password")
    assert "wrong@" not in text and "cannot be reached" not in text
    refused_before_paying(pack_env, "password", when_down="local")  # a setup to fix, not an outage


def test_a_missing_password_says_to_give_one(pack_env, monkeypatch, odd_servers):
    monkeypatch.setenv(shared_store.REDIS_URL_ENV, odd_servers["password"].url)
    refused_before_paying(pack_env, "password")


def test_the_right_password_works(pack_env, monkeypatch, odd_servers):
    monkeypatch.setenv(shared_store.REDIS_URL_ENV, _with(odd_servers["password"].url, "s3cret"))
    assert shared_store.team_redis(pack_env.home) is not None
    assert shared_store.team_status(pack_env.home).store == "redis"


def test_a_read_only_replica_says_to_give_the_primary(pack_env, monkeypatch, odd_servers):
    monkeypatch.setenv(shared_store.REDIS_URL_ENV, odd_servers["replica"].url)
    refused_before_paying(pack_env, "read-only")


def test_a_redis_cluster_says_to_give_one_server(pack_env, monkeypatch, odd_servers):
    monkeypatch.setenv(shared_store.REDIS_URL_ENV, odd_servers["cluster"].url)
    refused_before_paying(pack_env, "Redis Cluster")


def test_a_managed_redis_refusing_info_is_used(pack_env, monkeypatch, redis_url):
    """INFO is only looked at to tell a Redis Cluster; a managed Redis that refuses it to this
    user (or renamed it away) is used all the same."""
    import redis

    redis.Redis.from_url(redis_url).acl_setuser("team", enabled=True, passwords=["+pw"], keys=["*"],
                                                commands=["+@all", "-info"])
    monkeypatch.setenv(shared_store.REDIS_URL_ENV, redis_url.replace("redis://", "redis://team:pw@"))
    assert shared_store.team_redis(pack_env.home) is not None


@pytest.mark.parametrize("answer,said", [("OOM command not allowed when used memory > 'maxmemory'.", "maxmemory"),
                                         ("MISCONF Redis is configured to save RDB snapshots", "disk")])
def test_a_redis_that_refuses_writes_says_why(pack_env, monkeypatch, redis_url, answer, said):
    """Full (maxmemory), or unable to save to its disk: said as such, not as "not reachable"."""
    monkeypatch.setenv(shared_store.REDIS_URL_ENV, redis_url)
    client = shared_store.redis_client(redis_url)
    real = client.pipeline

    def refusing(*args, **kwargs):
        pipe = real(*args, **kwargs)
        pipe.set = lambda *a, **k: pipe.execute_command("EVAL", f"return redis.error_reply({answer!r})", 0)
        return pipe

    monkeypatch.setattr(client, "pipeline", refusing)
    with pytest.raises(shared_store.SharedStoreSetupError) as info:
        shared_store.team_redis(pack_env.home)
    assert said in str(info.value) and info.value.billed is False
