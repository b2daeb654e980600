"""The team's stores in Redis, unit by unit, on fakeredis (fast; the real Redis runs in
test_team_records.py): reservations admitted atomically against a limit, a dead owner's
reservations ending, the ledger keeping each job once (a newer line never replaced by an
older one), the write-back, and the flight lock's exclusivity and release."""
from __future__ import annotations

import threading
import time

import pytest

from pack_loader import pack_module

team_reservations = pack_module("core.team_reservations")
team_ledger = pack_module("core.team_ledger")
team_lock = pack_module("core.team_lock")
ledger_mod = pack_module("core.ledger")
errors = pack_module("core.errors")
flight_lock = pack_module("core.flight_lock")
PREFIX = "segmind-ltx2:0123456789abcdef:"


@pytest.fixture
def client():
    import fakeredis

    return fakeredis.FakeRedis()


def limit_of(total: float):
    def admit(reserved: float, already: float) -> None:
        if reserved + 0.4 > total + 1e-9:
            raise errors.SpendLimitError("over")
    return admit


def test_reservations_are_admitted_atomically_across_stores(client):
    """Eight "machines" (stores on one Redis) race to reserve 0.4 under a limit of 1.0: two pass."""
    stores = [team_reservations.RedisReservations(client, PREFIX, f"m{n}") for n in range(8)]
    passed, refused = [], []
    start = threading.Barrier(len(stores))

    def go(store):
        start.wait()
        try:
            passed.append(store.reserve("run", [0.4], limit_of(1.0)))
        except errors.SpendLimitError:
            refused.append(store)

    threads = [threading.Thread(target=go, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(passed) == 2 and len(refused) == 6
    assert stores[0].in_flight() == pytest.approx(0.8) and stores[0].run_total("run") == pytest.approx(0.8)


def test_release_and_settle_keep_the_promises(client):
    store = team_reservations.RedisReservations(client, PREFIX, "m")
    a, b = store.reserve("run", [0.3, 0.2])
    free = store.reserve(None, [0.1])[0]
    store.settle(a, "req-1")   # billed: out of the in-flight total, still in its run's
    store.release(b)           # unpaid: counts for nothing
    assert store.in_flight() == pytest.approx(0.1) and store.run_total("run") == pytest.approx(0.3)
    store.settle(free, "req-2")  # outside a run: gone
    assert store.in_flight() == 0 and client.hlen(f"{PREFIX}reservations") == 1


def test_a_dead_owners_reservations_end_with_its_lease(client):
    """A machine killed with a reservation: no one renews its sign of life, so once that
    lease is out (here: never set) its reservation counts for nothing and is removed."""
    import json

    store = team_reservations.RedisReservations(client, PREFIX, "m")
    store.reserve("run", [0.2])
    client.hset(f"{PREFIX}reservations", "gone", json.dumps(
        {"id": "gone", "run_id": "run", "amount": 0.5, "machine": "other", "host": "other-host", "pid": 1,
         "owner": "other-host:1:dead", "time": time.time(), "settled": False, "request_id": None}))
    assert store.in_flight() == pytest.approx(0.2)
    store.reserve("run", [0.1])  # the next reservation removes the dead one
    assert client.hlen(f"{PREFIX}reservations") == 2 and not client.hexists(f"{PREFIX}reservations", "gone")


def test_a_live_process_with_this_host_name_elsewhere_keeps_its_reservations(client):
    """Two containers on host networking share a host name but not their processes: a pid
    this one cannot see is not a dead process of this machine. While its owner's lease is
    renewed, its reservation counts (a per-day limit holds across them)."""
    import json
    import socket

    owner = f"{socket.gethostname()}:7:elsewhere"
    client.set(f"{PREFIX}alive:{owner}", "1", ex=60)  # its owner is alive: renewing its lease
    client.hset(f"{PREFIX}reservations", "theirs", json.dumps(
        {"id": "theirs", "run_id": "run", "amount": 0.5, "machine": "gpu-2", "host": socket.gethostname(),
         "pid": 2 ** 22 + 7, "owner": owner, "time": time.time(), "settled": False, "request_id": None}))
    store = team_reservations.RedisReservations(client, PREFIX, "gpu-1")
    store.reserve("run", [0.2])
    assert store.in_flight() == pytest.approx(0.7)


def line(rid: str, t: float, cost: float | None, **kw) -> object:
    return ledger_mod.LedgerLine.from_entry({"time": t, "request_id": rid, "fingerprint": "f" * 64, "cost": cost,
                                             "estimate": 0.1, "model": "ltx-2-19b-i2v", "width": 256,
                                             "height": 256, "num_frames": 9, "prompt": "p", **kw})


def test_the_team_ledger_keeps_each_job_once_and_never_an_older_line(client, tmp_path):
    led = team_ledger.TeamLedger(tmp_path, client, PREFIX, "m-a")
    now = time.time()
    assert led.record(line("r1", now - 5, None))      # accepted: the estimate
    assert led.record(line("r1", now - 1, 0.5))       # landed: the cost
    team_ledger.mirror_line(client, PREFIX, line("r1", now - 5, None))  # a late write-back of the first
    assert led.spent_since(now - 60) == pytest.approx(0.5)
    other = team_ledger.TeamLedger(tmp_path / "b", client, PREFIX, "m-b")
    assert other.spent_today() == pytest.approx(0.5)  # another machine counts it
    assert [(e.request_id, e.extra["machine"]) for e in other.entries()] == [("r1", "m-a")]
    assert other.find("r1").cost == 0.5
    assert len(ledger_mod.Ledger(tmp_path).lines()) == 2  # the local file has both lines too


def test_write_back_is_idempotent(client, tmp_path):
    now = time.time()
    ledger_mod.Ledger(tmp_path).record(line("r1", now - 3, 0.2))
    ledger_mod.Ledger(tmp_path).record(line("r2", now - 2, 0.3))
    for _ in range(2):
        assert team_ledger.write_back(tmp_path, client, PREFIX, now - 60) == 2
    assert client.hlen(f"{PREFIX}ledger") == 2
    assert team_ledger.TeamLedger(tmp_path / "b", client, PREFIX, "b").spent_today() == pytest.approx(0.5)


def test_a_written_back_older_job_never_replaces_the_requests_newer_flight_record(client, tmp_path):
    """The same request paid twice over time: job r-old (this machine, recorded here only while
    Redis was away) and, later, job r-new (another machine). Writing r-old back must leave the
    request's flight record on r-new, the job a waiter collects (r-old may be past Segmind's hour)."""
    now = time.time()
    team_ledger.mirror_line(client, PREFIX, line("r-new", now - 10, 0.5))
    team_ledger.mirror_line(client, PREFIX, line("r-old", now - 4000, 0.5))  # the write-back
    assert team_ledger.flight_record(client, PREFIX, "f" * 64).request_id == "r-new"
    assert client.hlen(f"{PREFIX}ledger") == 2  # both jobs are in the team's ledger


def test_the_key_is_redacted_from_what_goes_to_redis(client, tmp_path):
    key = "not-shaped-like-a-key-42"
    led = team_ledger.TeamLedger(tmp_path, client, PREFIX, "m", key)
    led.record(line("r1", time.time(), 0.1, prompt=f"a prompt with {key} in it"))
    assert key.encode() not in client.hget(f"{PREFIX}ledger", "r1|" + "f" * 64)


def test_the_flight_lock_is_one_holder_and_released_only_by_it(client, tmp_path):
    def lock(folder):
        return team_lock.TeamFlightLock(tmp_path / folder / "locks", "e" * 64, client=client, prefix=PREFIX,
                                        user_dir=tmp_path / folder, refuse_when_down=True)

    first, second = lock("a"), lock("b")
    first.acquire(lambda: None)
    with pytest.raises(flight_lock.LockWaitExpired):
        second.acquire(lambda: None, deadline=time.monotonic() + 0.5)
    first.release()
    second.acquire(lambda: None, deadline=time.monotonic() + 5)
    assert client.get(f"{PREFIX}flight:{'e' * 64}:lock") is not None
    second.release()
    assert client.get(f"{PREFIX}flight:{'e' * 64}:lock") is None


def test_other_machines_live_jobs_are_listed_with_their_machine(client):
    team_board = pack_module("core.team_board")
    job = {"key": "job-1", "node_id": "7", "prompt_id": "p", "label": "a cat", "state": "processing", "started": 1.0}
    team_board.publish_board(client, PREFIX, "gpu-1", [job], process="p1")
    team_board.publish_board(client, PREFIX, "gpu-2", [{**job, "label": "mine"}], process="p2")
    seen = team_board.team_live_jobs(client, PREFIX, process="p2")  # this process's own are not repeated
    assert [(j["label"], j["machine"], j["node_id"]) for j in seen] == [("a cat", "gpu-1", None)]
    assert client.ttl(f"{PREFIX}live:p1") <= team_board.LIVE_TTL  # a process that dies drops off by itself
    team_board.publish_board(client, PREFIX, "gpu-1", [], process="p1")  # nothing live: nothing shown
    assert team_board.team_live_jobs(client, PREFIX, process="p2") == []


def test_live_jobs_are_listed_from_the_teams_index_not_a_scan_of_the_whole_redis(client, monkeypatch):
    """A Redis shared with other applications may hold millions of keys: the jobs tab, asking
    every few seconds, reads the team's own index of publishing processes, never SCANs them
    all; a process that ended drops out of the index."""
    team_board = pack_module("core.team_board")
    job = {"key": "job-1", "label": "a cat", "state": "processing", "started": 1.0}
    team_board.publish_board(client, PREFIX, "gpu-1", [job], process="p1")
    team_board.publish_board(client, PREFIX, "gpu-2", [job], process="p2")
    team_board.publish_board(client, PREFIX, "gpu-2", [], process="p2")  # its jobs ended

    def no_scan(*args, **kwargs):
        raise AssertionError("SCAN of the whole Redis")

    monkeypatch.setattr(client, "scan_iter", no_scan)
    monkeypatch.setattr(client, "scan", no_scan)
    assert [j["machine"] for j in team_board.team_live_jobs(client, PREFIX, process="me")] == ["gpu-1"]
    client.delete(f"{PREFIX}live:p1")  # its lease ran out (the process died)
    assert team_board.team_live_jobs(client, PREFIX, process="me") == []
    assert client.scard(f"{PREFIX}live") == 0


def test_a_reservation_ends_in_the_store_that_made_it(client, tmp_path):
    """Made in Redis, released after the team setting changed (or Redis fell back to files):
    it still leaves Redis, instead of counting against the team's day until it goes stale."""
    spend_check = pack_module("core.spend_check")
    store = team_reservations.RedisReservations(client, PREFIX, "m")
    held, paid = store.reserve("run", [0.3, 0.2])
    spend_check.release(tmp_path, held)      # no team set for tmp_path now
    spend_check.settle(tmp_path, paid, "req")
    assert store.in_flight() == 0 and store.run_total("run") == pytest.approx(0.2)


def test_a_lock_emptied_from_redis_is_taken_again_by_its_holder_not_lost(client, tmp_path):
    """The team's Redis restarted empty (or flushed) while a job held its lock: the holder takes
    it again rather than stopping, and a machine coming later waits for it; a lock another
    machine took meanwhile is still lost."""
    name = f"{PREFIX}flight:{'f' * 64}:lock"

    def lock(folder):
        return team_lock.TeamFlightLock(tmp_path / folder / "locks", "f" * 64, client=client, prefix=PREFIX,
                                        user_dir=tmp_path / folder, refuse_when_down=True)

    holder = lock("a")
    holder.acquire(lambda: None)
    token = client.get(name)
    client.flushall()
    holder.still_ours()
    assert client.get(name) == token
    with pytest.raises(flight_lock.LockWaitExpired):
        lock("b").acquire(lambda: None, deadline=time.monotonic() + 0.3)
    client.set(name, b"another-machines-token")
    with pytest.raises(team_lock.TeamLockLost):
        holder.still_ours()
    holder.release()
