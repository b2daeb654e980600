"""The team setting (core/shared_store.py): where it is read, what a bad one says, and a
Redis that is down refused before anything is paid, or fallen back from when chosen."""
from __future__ import annotations

import json

import pytest

from pack_loader import pack_module
from redis_server import closed_port_url

store = pack_module("core.shared_store")
errors = pack_module("core.errors")


pytestmark = pytest.mark.usefixtures("no_team_setting")


def test_no_setting_means_this_machines_files(tmp_path):
    assert store.team_settings(tmp_path) == store.TeamSettings()
    assert store.team_redis(tmp_path) is None


def test_saved_setting_is_read_and_env_wins(tmp_path, monkeypatch):
    store.save_team_settings(tmp_path, "redis://10.0.0.5:6379/0", "local")
    assert json.loads((tmp_path / "segmind" / "team.json").read_text())["when_redis_down"] == "local"
    assert store.team_settings(tmp_path).redis_url == "redis://10.0.0.5:6379/0"
    monkeypatch.setenv(store.REDIS_URL_ENV, "redis://other:6379/1")
    assert store.team_settings(tmp_path) == store.TeamSettings("redis://other:6379/1", "local")


@pytest.mark.parametrize("url,when", [("http://x:6379", "refuse"), ("redis://x:6379", "sometimes")])
def test_bad_settings_say_what_to_change(tmp_path, url, when):
    with pytest.raises(errors.InvalidInputError) as info:
        store.save_team_settings(tmp_path, url, when)
    assert "redis://host:6379/0" in str(info.value) or "'refuse' or 'local'" in str(info.value)


def test_password_never_shown():
    shown = store.shown_url("redis://:s3cret@db.example:6380/2")
    assert "s3cret" not in shown and "db.example:6380" in shown


def test_account_tag_is_not_the_key():
    key = "SG_abcdef0123456789"
    assert key not in store.key_prefix(key) and store.account_tag(key) != store.account_tag(key + "x")


def test_down_refuses_or_falls_back(tmp_path, monkeypatch):
    monkeypatch.setenv(store.REDIS_URL_ENV, closed_port_url(password="pw"))
    with pytest.raises(store.SharedStoreDown) as info:
        store.team_redis(tmp_path)
    assert info.value.billed is False and "pw" not in str(info.value) and "nothing was paid" in str(info.value)
    monkeypatch.setenv(store.WHEN_DOWN_ENV, "local")
    assert store.team_redis(tmp_path) is None


def test_real_redis_is_used(tmp_path, monkeypatch, redis_url):
    monkeypatch.setenv(store.REDIS_URL_ENV, redis_url)
    client = store.team_redis(tmp_path)
    assert client is not None and client.ping()


@pytest.mark.parametrize("url,secret", [("redis://:p#ss/w?rd@db:6379/0", ["ss/w", "w?rd", "p#"]),
                                        ("redis://db:6379/0?password=s3cret", ["s3cret"]),
                                        ("redis://user:pa@ss@db:6379/0", ["pa@", "pa"]),
                                        ("unix://:s3cret@/run/redis.sock?db=0", ["s3cret"])])
def test_a_password_never_shown_however_it_is_written(url, secret):
    """A password with characters a URL reserves (#, /, ?, @: redis-py would not read it
    either, but the message must not show its rest) or given as ?password=: never shown."""
    shown = store.shown_url(url)
    assert not any(s in shown for s in secret), shown
    assert "db" in shown or "redis.sock" in shown


def test_redis_down_with_local_is_warned_once_per_outage(tmp_path, monkeypatch, caplog, redis_url):
    """The jobs tab looks at the stores every few seconds: Redis down is one warning for the
    outage, not one per look; it is warned again after Redis answered in between."""
    import logging

    dead = closed_port_url()
    monkeypatch.setenv(store.WHEN_DOWN_ENV, "local")
    monkeypatch.setenv(store.REDIS_URL_ENV, dead)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert store.team_redis(tmp_path) is None
    assert caplog.text.count("cannot be reached") == 1
    caplog.clear()
    monkeypatch.setenv(store.REDIS_URL_ENV, redis_url)
    assert store.team_redis(tmp_path) is not None
    monkeypatch.setenv(store.REDIS_URL_ENV, dead)
    with caplog.at_level(logging.WARNING):
        store.team_redis(tmp_path)
    assert caplog.text.count("cannot be reached") == 1


def test_the_saved_address_with_its_password_is_readable_by_its_owner_only(tmp_path):
    """team.json may hold the Redis password: written owner-only (0600), as the key file is,
    never through a link planted at its temporary name."""
    import os
    import stat

    if os.name == "nt":
        pytest.skip("POSIX file modes")
    folder = tmp_path / "segmind"
    folder.mkdir()
    os.chmod(folder, 0o755)  # a user folder made readable by others (the key from the environment)
    planted = tmp_path / "elsewhere.txt"
    (folder / "team.tmp").symlink_to(planted)
    store.save_team_settings(tmp_path, "redis://:s3cret@db:6379/0", "refuse")
    assert stat.S_IMODE(os.stat(folder / "team.json").st_mode) & 0o077 == 0
    assert not planted.exists()
    assert store.team_settings(tmp_path).redis_url == "redis://:s3cret@db:6379/0"
