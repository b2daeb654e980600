"""Issue 22, part B: a team's records in one Redis (core/team_stores.py and what it chooses):
the flight lock with a lease, spend reservations and per-day totals, the ledger with its
machine, the jobs of every machine, and Redis down (refused before paying, or this machine's
files with a warning and a write-back). Two "machines" are two user folders (two processes
where it matters) on one real Redis and one stand-in."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pack_loader import pack_module
from redis_server import closed_port_url

shared_store = pack_module("core.shared_store")
team_stores = pack_module("core.team_stores")
team_lock = pack_module("core.team_lock")
lifecycle = pack_module("core.lifecycle")
image_encode = pack_module("core.image_encode")
errors = pack_module("core.errors")
collect = pack_module("core.collect")
spend_limits = pack_module("core.spend_limits")
ledger_mod = pack_module("core.ledger")
flight_lock = pack_module("core.flight_lock")
REPO = Path(__file__).resolve().parent.parent
BODY = {"prompt": "two machines", "negative_prompt": "", "width": 256, "height": 256, "num_frames": 9, "fps": 8,
        "seed": 1, "guidance_scale": 4.0}


pytestmark = pytest.mark.usefixtures("no_team_setting")


@pytest.fixture
def team(pack_env, redis_url, monkeypatch, tmp_path):
    """The stand-in, one real Redis set for this process, and two machines' folders."""
    monkeypatch.setenv(shared_store.REDIS_URL_ENV, redis_url)
    pack_env.redis_url = redis_url
    pack_env.machines = {name: (tmp_path / name / "user", tmp_path / name / "output") for name in ("a", "b")}
    return pack_env


def picture(seed: int = 0) -> Any:
    import numpy as np

    rgb = ((np.arange(48 * 64 * 3) + seed) % 251).astype(np.uint8).reshape(48, 64, 3)
    return image_encode.encode_image(rgb)


def request(prompt: str = "two machines", seed: int = 0) -> Any:
    return lifecycle.GenerationRequest(model="ltx-2-19b-i2v", image=picture(seed), body={**BODY, "prompt": prompt})


def run_as(team: Any, machine: str, monkeypatch: pytest.MonkeyPatch, req: Any) -> Any:
    """One clip made on `machine` (this process, that machine's folders)."""
    monkeypatch.setenv(shared_store.MACHINE_ENV, f"machine-{machine}")
    home, out = team.machines[machine]
    return lifecycle.run_on_segmind(req, user_dir=home, output_dir=out)


def every_key_and_value(url: str) -> list[bytes]:
    import redis

    client = redis.Redis.from_url(url)
    out: list[bytes] = []
    for key in client.scan_iter(count=1000):
        out.append(key)
        kind = client.type(key)
        if kind == b"string":
            out.append(client.get(key) or b"")
        elif kind == b"hash":
            for f, v in client.hgetall(key).items():
                out += [f, v]
        elif kind == b"zset":
            out += [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == b"set":
            out += list(client.smembers(key))
        elif kind == b"list":
            out += client.lrange(key, 0, -1)
    return out


# --------------------------------------------------------------------------- two processes, one request

CHILD = Path(__file__).resolve().parent / "request_child.py"


def start_machine(team: Any, name: str, ready: Path, count: int, **env: str) -> subprocess.Popen:
    home, out = team.machines[name]
    child_env = {**os.environ, shared_store.REDIS_URL_ENV: team.redis_url, shared_store.MACHINE_ENV: f"machine-{name}",
                 **env}
    return subprocess.Popen([sys.executable, str(CHILD), str(home), str(out), str(ready), str(count), name,
                             json.dumps(BODY)],
                            env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_machines_queueing_the_same_request_bill_one_job_and_both_get_the_clip(team, tmp_path):
    """The defect "the same request queued on both is billed twice": two processes with
    separate user folders (no shared lock file, cache or journal) and one Redis."""
    team.generation_seconds = 0.5
    team.fault("upload", delay=0.3, times=2)  # both are on the wire before either is accepted
    ready = tmp_path / "ready"
    ready.mkdir()
    procs = [start_machine(team, name, ready, 2) for name in ("a", "b")]
    answers = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [a[1][-3000:] for a in answers]
    results = [json.loads(a[0].strip().splitlines()[-1]) for a in answers]
    assert team.jobs_submitted == 1
    assert results[0]["request_id"] == results[1]["request_id"]
    for result, (name, (home, out)) in zip(results, team.machines.items()):
        path = Path(result["path"])
        assert path.is_file() and path.resolve().is_relative_to(out.resolve()) and path.read_bytes()[4:8] == b"ftyp"
    # One paid job in the team's ledger, with the machine that paid it; the key nowhere in Redis.
    client = shared_store.redis_client(team.redis_url)
    prefix = shared_store.key_prefix(team.api_key)
    lines = [json.loads(v) for v in client.hgetall(f"{prefix}ledger").values()]
    assert [line["request_id"] for line in lines] == [results[0]["request_id"]]
    assert lines[0]["machine"] in ("machine-a", "machine-b") and lines[0]["cost"] is not None
    assert not any(team.api_key.encode() in item or b"testkey0123456789" in item
                   for item in every_key_and_value(team.redis_url))


_HOLDER = r"""
import sys, time
sys.path.insert(0, {tests!r})
from pack_loader import pack_module
from redis_server import closed_port_url
stores = pack_module("core.team_stores").record_stores(sys.argv[1])
lock = stores.flight_lock("f" * 64)
lock.acquire(lambda: None)
print("held", flush=True)
time.sleep(600)
"""


def test_a_killed_holder_gives_the_lock_up_after_its_lease(team, monkeypatch, tmp_path):
    lease = 3.0
    monkeypatch.setenv(team_lock.LEASE_ENV, str(lease))
    home_a, _ = team.machines["a"]
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER.format(tests=str(REPO / "tests")), str(home_a)],
                              env={**os.environ, team_lock.LEASE_ENV: str(lease)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        home_b, _ = team.machines["b"]
        lock = team_stores.record_stores(home_b).flight_lock("f" * 64)
        # Held (and renewed past its lease) while the holder lives...
        with pytest.raises(flight_lock.LockWaitExpired):
            lock.acquire(lambda: None, deadline=time.monotonic() + lease + 1)
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        killed = time.monotonic()
        # ...given up within the lease once it is killed: the next run proceeds.
        lock.acquire(lambda: None, deadline=killed + lease + 10)
        assert time.monotonic() - killed < lease + 5  # a loaded machine's slack; never "held for ever"
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)


def test_a_machine_killed_after_paying_leaves_its_job_to_the_next_which_collects_it(team, monkeypatch, tmp_path):
    """The holder is killed (SIGKILL) once its job is accepted (billed): after the lease the
    other machine takes the lock, finds the paid job in the team's ledger and collects its
    clip from Segmind by request id: one job billed, not two."""
    monkeypatch.setenv(team_lock.LEASE_ENV, "1")
    team.generation_seconds = 1.0
    ready = tmp_path / "ready"
    ready.mkdir()
    holder = start_machine(team, "a", ready, 1, **{team_lock.LEASE_ENV: "1"})
    ledger_key = f"{shared_store.key_prefix(team.api_key)}ledger"
    client = shared_store.redis_client(team.redis_url)
    try:
        # Killed once the acceptance is recorded (the team's ledger has its request id); killed
        # with the answer still on the wire, no machine could know what was paid.
        deadline = time.monotonic() + 60
        while not client.hlen(ledger_key) and holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert team.jobs_submitted == 1 and client.hlen(ledger_key) == 1, holder.communicate()[1][-3000:]
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
    clip = run_as(team, "b", monkeypatch, lifecycle.GenerationRequest(
        model="ltx-2-19b-i2v", image=_child_picture(), body=dict(BODY)))
    assert team.jobs_submitted == 1
    assert clip.path.is_file() and clip.from_cache


def _child_picture() -> Any:
    import numpy as np

    rgb = (np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)
    return image_encode.encode_image(rgb)


# --------------------------------------------------------------------------- per-day limit, jobs of every machine


def test_a_per_day_limit_holds_across_two_machines(team, monkeypatch):
    """The defect "each machine's per-day limit counts only its own spend"."""
    home_a, _ = team.machines["a"]
    home_b, _ = team.machines["b"]
    run_as(team, "a", monkeypatch, request("first"))
    spent = ledger_mod.Ledger(home_a).spent_today()
    assert spent > 0 and team.jobs_submitted == 1
    estimate = pack_module("core.params").estimate_cost(BODY, "ltx-2-19b-i2v")
    for home in (home_a, home_b):  # the same limit on both: room for what a spent, not one clip more
        spend_limits.SpendLimits(per_day=spent + estimate / 2).save(home)
    uploads = team.counts["uploads"]
    with pytest.raises(errors.SpendLimitError) as info:
        run_as(team, "b", monkeypatch, request("second", seed=1))
    assert "per day" in str(info.value)
    assert team.jobs_submitted == 1 and team.counts["uploads"] == uploads


def test_the_jobs_of_both_machines_are_listed_with_their_machine(team, monkeypatch, capsys):
    run_as(team, "a", monkeypatch, request("made on a"))
    run_as(team, "b", monkeypatch, request("made on b", seed=1))
    home_b, out_b = team.machines["b"]
    jobs = {j.prompt: j.machine for j in collect.recorded_jobs(home_b, out_b)}
    assert jobs == {"made on a": "machine-a", "made on b": "machine-b"}
    routes = pack_module("routes")
    past = routes.jobs_payload(home_b, out_b)["past"]
    assert {p["prompt"]: p["machine"] for p in past} == jobs
    cli_jobs = pack_module("cli.jobs")
    cli_jobs.list_jobs(home_b, out_b, "segmind-ltx2", as_json=False)
    text = capsys.readouterr().out
    assert "on machine-a" in text and "on machine-b" in text
    # The team's spend today is both machines'.
    spend = routes.spend_payload(home_b)
    assert spend["today"] == pytest.approx(sum(ledger_mod.Ledger(h).spent_today() for h, _ in team.machines.values()))
    assert not any(team.api_key.encode() in item for item in every_key_and_value(team.redis_url))


# --------------------------------------------------------------------------- Redis down


def test_redis_down_with_refuse_pays_nothing(team, monkeypatch):
    monkeypatch.setenv(shared_store.REDIS_URL_ENV, closed_port_url())
    with pytest.raises(shared_store.SharedStoreDown) as info:
        run_as(team, "a", monkeypatch, request())
    assert "nothing was paid" in str(info.value) and info.value.billed is False
    assert team.jobs_submitted == 0 and team.counts["uploads"] == 0
    # The jobs tab says so too: today's team spend is unknown, not $0.
    spend = pack_module("routes").spend_payload(team.machines["a"][0])
    assert spend["today"] is None and "cannot be reached" in spend["limits_error"]


def test_redis_down_with_local_runs_warns_and_writes_back_when_it_returns(team, monkeypatch, caplog):
    url = team.redis_url
    monkeypatch.setenv(shared_store.REDIS_URL_ENV, closed_port_url())
    monkeypatch.setenv(shared_store.WHEN_DOWN_ENV, "local")
    with caplog.at_level(logging.WARNING):
        clip = run_as(team, "a", monkeypatch, request())
    assert clip.path.is_file() and team.jobs_submitted == 1
    assert "cannot be reached" in caplog.text
    home_a, _ = team.machines["a"]
    assert ledger_mod.Ledger(home_a).find(clip.info.request_id) is not None  # the local record
    client = shared_store.redis_client(url)
    prefix = shared_store.key_prefix(team.api_key)
    assert client.hlen(f"{prefix}ledger") == 0
    # Redis is back: the next look at the team's records writes the line back, once.
    monkeypatch.setenv(shared_store.REDIS_URL_ENV, url)
    team_stores.record_stores(home_a)
    assert not (home_a / "segmind" / "team_outage.json").exists()
    team_stores.note_outage(home_a, 0.0)  # written back again (a second outage): still one job
    team_stores.record_stores(home_a)
    lines = [json.loads(v) for v in client.hgetall(f"{prefix}ledger").values()]
    assert [line["request_id"] for line in lines] == [clip.info.request_id]
    assert lines[0]["cost"] is not None
    # ...and the other machine's per-day check now counts it.
    home_b, _ = team.machines["b"]
    assert team_stores.record_stores(home_b).ledger.spent_today() == pytest.approx(
        ledger_mod.Ledger(home_a).spent_today())


def test_another_machines_job_is_collected_by_its_id_with_its_recorded_fields(team, monkeypatch):
    clip = run_as(team, "a", monkeypatch, request("collect me"))
    home_b, out_b = team.machines["b"]
    monkeypatch.setenv(shared_store.MACHINE_ENV, "machine-b")
    got = collect.collect_clip(clip.info.request_id, user_dir=home_b, output_dir=out_b)
    assert got.source == "segmind" and got.path.is_file() and team.jobs_submitted == 1
    assert got.provenance["request_id"] == clip.info.request_id
    assert got.provenance["fields"]["prompt"] == "collect me" and got.provenance["cost"] == clip.info.cost


# --------------------------------------------------------------------------- a lease lost before paying (review)


def test_a_lease_lost_while_uploading_stops_before_paying(team, monkeypatch):
    """This machine's lease ran out while its upload was slow (Redis out of reach from here
    past the lease), and another machine took the request's lock: this one stops before the
    submit, so the request is not paid twice; nothing of this run is billed."""
    client = shared_store.redis_client(team.redis_url)
    upload = lifecycle.upload_once

    def slow_upload(*args: Any, **kwargs: Any) -> Any:
        url = upload(*args, **kwargs)
        for name in client.scan_iter(match="*:lock"):  # the lease ran out; another machine holds it now
            client.set(name, "another-machines-token", px=30000)
        return url

    monkeypatch.setattr(lifecycle, "upload_once", slow_upload)
    with pytest.raises(team_lock.TeamLockLost) as info:
        run_as(team, "a", monkeypatch, request())
    assert info.value.billed is False and "before paying" in str(info.value)
    assert team.jobs_submitted == 0
    assert team_stores.record_stores(team.machines["a"][0]).reservations.in_flight() == 0  # released


@pytest.mark.parametrize("value", ["abc", "0.1", "nan"])
def test_a_lease_setting_that_cannot_be_used_says_what_to_set(team, monkeypatch, value):
    monkeypatch.setenv(team_lock.LEASE_ENV, value)
    with pytest.raises(errors.InvalidInputError) as info:
        run_as(team, "a", monkeypatch, request())
    assert team_lock.LEASE_ENV in str(info.value) and team.jobs_submitted == 0 and team.counts["uploads"] == 0


# --------------------------------------------------------------------------- the team's Redis emptied (review)


def test_a_per_day_limit_holds_after_the_teams_redis_is_emptied(team, monkeypatch):
    """The defect "a Redis emptied (no persistence, FLUSHALL, an empty replica) reads every
    machine's spend today as 0": the next paid job's check writes this machine's lines back
    first, and the other machine's check counts them too."""
    home_a, _ = team.machines["a"]
    run_as(team, "a", monkeypatch, request("first"))
    spent = ledger_mod.Ledger(home_a).spent_today()
    estimate = pack_module("core.params").estimate_cost(BODY, "ltx-2-19b-i2v")
    for home, _ in team.machines.values():
        spend_limits.SpendLimits(per_day=spent + estimate / 2).save(home)
    shared_store.redis_client(team.redis_url).flushall()  # emptied, no outage noted anywhere
    for machine, seed in (("a", 1), ("b", 2)):
        with pytest.raises(errors.SpendLimitError) as info:
            run_as(team, machine, monkeypatch, request("second", seed=seed))
        assert "per day" in str(info.value)
    assert team.jobs_submitted == 1
    lines = [json.loads(v) for v in shared_store.redis_client(team.redis_url).hgetall(
        f"{shared_store.key_prefix(team.api_key)}ledger").values()]
    assert len(lines) == 1 and lines[0]["machine"] == "machine-a"


def test_a_machines_job_is_collected_by_another_after_a_redis_restart_once_it_ran_again(
        team, redis_server, monkeypatch):
    clip = run_as(team, "a", monkeypatch, request("collect me"))
    redis_server.restart()  # no persistence: the team's ledger and flight records are gone
    home_a, _ = team.machines["a"]
    monkeypatch.setenv(shared_store.MACHINE_ENV, "machine-a")
    team_stores.record_stores(home_a)  # machine a runs again (its next job's first look)
    home_b, out_b = team.machines["b"]
    monkeypatch.setenv(shared_store.MACHINE_ENV, "machine-b")
    got = collect.collect_clip(clip.info.request_id, user_dir=home_b, output_dir=out_b)
    assert got.source == "segmind" and got.path.is_file() and team.jobs_submitted == 1
    assert got.provenance["fields"]["prompt"] == "collect me" and got.provenance["cost"] == clip.info.cost
    jobs = {j.prompt: j.machine for j in collect.recorded_jobs(home_b, out_b)}
    assert jobs == {"collect me": "machine-a"}


def test_a_line_that_failed_to_reach_redis_is_written_back_as_soon_as_it_answers(team, monkeypatch):
    """The defect "Redis fails as a paid line is copied, then the reservation is settled there":
    the other machines under-counted that job until this machine's next job. Now the copy's
    failure is an outage, written back as soon as Redis answers, with no new job."""
    team_ledger = pack_module("core.team_ledger")
    monkeypatch.setattr(team_stores, "WRITE_BACK_EVERY", 0.05, raising=False)
    mirror = team_ledger.mirror_line
    failed = []
    away = [True]  # every copy of this run's lines fails; the reservation's settling does not

    def failing(*args: Any, **kwargs: Any) -> bool:
        if away[0]:
            failed.append(True)
            import redis

            raise redis.exceptions.ConnectionError("Redis went away for a moment")
        return mirror(*args, **kwargs)

    monkeypatch.setattr(team_ledger, "mirror_line", failing)
    run_as(team, "a", monkeypatch, request())
    assert failed and team.jobs_submitted == 1
    away[0] = False  # Redis answers again
    home_a, _ = team.machines["a"]
    home_b, _ = team.machines["b"]
    spent = ledger_mod.Ledger(home_a).spent_today()
    deadline = time.monotonic() + 10
    seen = 0.0
    while time.monotonic() < deadline:  # machine b looks; machine a runs no other job
        seen = team_stores.record_stores(home_b).ledger.spent_today()
        # The job's lines are written back in order (accepted at the estimate, then booked
        # at the charge): b may look between the two.
        if seen == pytest.approx(spent):
            break
        time.sleep(0.02)
    assert seen == pytest.approx(spent) and spent > 0
    assert team_stores.record_stores(home_b).reservations.in_flight() == 0
