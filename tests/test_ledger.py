"""The spend ledger (core/ledger.py), the spend limits (core/spend_limits.py), the
reservations of jobs in flight shared by every process (core/reservations.py), the spend
check (core/spend_check.py) and the credits memo and check (core/credits.py)."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from pack_loader import pack_module

ledger_mod = pack_module("core.ledger")
limits_mod = pack_module("core.spend_limits")
spend = pack_module("core.spend_check")
credits_mod = pack_module("core.credits")
errors = pack_module("core.errors")
Ledger = ledger_mod.Ledger
SpendLimits = limits_mod.SpendLimits

KEY = "SG_ledgerkey0123456789ab"
CLIP = 0.455


@pytest.fixture(autouse=True)
def _fresh_state():
    credits_mod.reset_credits()
    yield
    credits_mod.reset_credits()


def entry(rid: str, cost: float | None = CLIP, **over) -> dict:
    base = {"request_id": rid, "model": "ltx-2-19b-i2v", "cost": cost, "estimate": CLIP, "fingerprint": "f" * 64,
            "prompt": "a fox", "width": 720, "height": 1280, "num_frames": 181, "fps": 24, "seed": 42,
            "clip": None, "run_id": None, "source": "comfyui"}
    base.update(over)
    return base


def set_limits(user: Path, per_day=None, per_run=None) -> None:
    SpendLimits(per_day=per_day, per_run=per_run).save(user)


# --------------------------------------------------------------------------- the ledger


def test_record_and_spend_today_since_and_entries(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    now = time.time()
    led.record(entry("a", cost=0.40, time=now - 30))
    led.record(entry("b", cost=None, time=now - 20))           # no cost reported: its estimate counts
    led.record(entry("old", cost=1.0, time=now - 3 * 86400))   # three days ago
    assert led.spent_today() == pytest.approx(0.40 + CLIP)
    assert led.spent_since(now - 25) == pytest.approx(CLIP)
    assert led.spent_since(0) == pytest.approx(1.40 + CLIP)
    assert [e.request_id for e in led.entries()] == ["b", "a", "old"]  # newest first
    assert [e.request_id for e in led.entries(limit=1)] == ["b"]
    lines = ledger_mod.ledger_path(tmp_path).read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["source"] == "comfyui" for line in lines)
    assert led.spent_in_session() == pytest.approx(1.40 + CLIP)  # all three written by this process


def test_a_job_recorded_twice_counts_once_with_its_latest_line(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    led.record(entry("r1", cost=None))    # at acceptance: the estimate only
    led.record(entry("r1", cost=0.30))    # once Segmind reported the cost
    assert led.spent_today() == pytest.approx(0.30)
    assert [e.cost for e in led.entries()] == [0.30]


def test_the_ledger_never_holds_a_key_nor_a_non_finite_number(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    led.record(entry("r1", cost=float("nan"), prompt=f"a fox {KEY}", api_key=KEY, estimate=float("inf"),
                     width=float("nan")))
    raw = ledger_mod.ledger_path(tmp_path).read_bytes()
    assert KEY.encode() not in raw and b"NaN" not in raw and b"Infinity" not in raw
    line = json.loads(raw)
    assert line["cost"] is None and "api_key" not in line and line["width"] is None
    assert line["estimate"] == pytest.approx(CLIP)  # recomputed from the request's size


def test_damaged_lines_are_set_aside(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    led.record(entry("good", cost=0.25))
    with open(ledger_mod.ledger_path(tmp_path), "a", encoding="utf-8") as fh:
        fh.write("{not json\n")
        fh.write(json.dumps({"time": "yesterday", "cost": 5}) + "\n")
        fh.write(json.dumps({"time": time.time(), "cost": "lots"}) + "\n")
        fh.write(json.dumps({"time": time.time(), "cost": 1, "request_id": 12}) + "\n")
        fh.write("[" * 100_000 + "\n")
    led.record(entry("also-good", cost=0.5))
    assert led.spent_today() == pytest.approx(0.75)
    assert {e.request_id for e in led.entries()} == {"good", "also-good"}


def test_a_ledger_that_cannot_be_written_does_not_fail_the_paid_run(tmp_path: Path) -> None:
    (tmp_path / "segmind").write_text("a file where the folder should be")
    Ledger(tmp_path).record(entry("r1"))  # logged, not raised
    assert Ledger(tmp_path).entries() == []


# --------------------------------------------------------------------------- limits file


def test_limits_round_trip_and_no_file_means_no_limit(tmp_path: Path) -> None:
    assert SpendLimits.load(tmp_path) == SpendLimits(None, None)
    set_limits(tmp_path, per_day=5, per_run=1.5)
    assert SpendLimits.load(tmp_path) == SpendLimits(5.0, 1.5)
    assert json.loads(limits_mod.limits_path(tmp_path).read_text()) == {"per_day": 5.0, "per_run": 1.5}


@pytest.mark.parametrize("content", ["{broken", '"five"', '{"per_day": -1}', '{"per_day": "NaN"}',
                                     '{"per_run": true}'])
def test_a_damaged_limits_file_refuses_runs_with_a_message(tmp_path: Path, content: str) -> None:
    path = limits_mod.limits_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(errors.LimitsFileError) as info:
        spend.check_spend(tmp_path, "run", [CLIP])
    assert str(path) in str(info.value)
    assert errors.Action.CHANGE_SETTING("spend_limits") in info.value.actions
    assert spend.reserved_total(tmp_path) == 0


@pytest.mark.parametrize("raw", [-1, "abc", float("nan"), float("inf"), True, 2e6])
def test_parse_limit_refuses_nonsense(raw) -> None:
    with pytest.raises(errors.InvalidInputError, match="US dollars"):
        limits_mod.parse_limit("per_day", raw)


def test_parse_limit_empty_means_none() -> None:
    assert limits_mod.parse_limit("per_day", None) is None
    assert limits_mod.parse_limit("per_day", "  ") is None
    assert limits_mod.parse_limit("per_day", "2.5") == 2.5


# --------------------------------------------------------------------------- check_spend


def test_no_limits_let_everything_through(tmp_path: Path) -> None:
    Ledger(tmp_path).record(entry("r", cost=100.0))
    spend.check_spend(tmp_path, "run", [CLIP] * 8)


def test_per_day_limit_refuses_with_the_limit_the_amounts_and_where_to_change_it(tmp_path: Path) -> None:
    set_limits(tmp_path, per_day=1.4)
    led = Ledger(tmp_path)
    led.record(entry("today", cost=1.0))
    led.record(entry("yesterday", cost=9.0, time=time.time() - 2 * 86400))  # another day: not counted
    with pytest.raises(errors.SpendLimitError) as info:
        spend.check_spend(tmp_path, "run", [CLIP])
    msg = str(info.value)
    assert "per day" in msg and "$1.40" in msg and "$1.00" in msg and "$0.455" in msg
    assert errors.Action.CHANGE_SETTING("spend_limits") in info.value.actions
    assert str(limits_mod.limits_path(tmp_path)) in msg
    assert "before any upload" in msg
    assert isinstance(info.value, errors.SegmindError)
    spend.check_spend(tmp_path, "run", [0.40])  # exactly at the limit is allowed


def test_per_run_limit_refuses_a_batch_whole_and_reserves_nothing(tmp_path: Path) -> None:
    set_limits(tmp_path, per_run=1.0)
    with pytest.raises(errors.SpendLimitError) as info:
        spend.check_spend(tmp_path, "p1", [CLIP, CLIP, CLIP])
    assert "per run" in str(info.value) and "$1.00" in str(info.value) and "3 clips" in str(info.value)
    assert spend.reserved_total(tmp_path) == 0
    spend.check_spend(tmp_path, "p1", [CLIP, CLIP])  # two fit: the refused batch left no trace


def test_per_run_limit_adds_up_the_nodes_of_one_run_only(tmp_path: Path) -> None:
    set_limits(tmp_path, per_run=1.0)
    spend.check_spend(tmp_path, "p1", [CLIP])
    spend.check_spend(tmp_path, "p1", [CLIP])
    with pytest.raises(errors.SpendLimitError, match="already reserved"):
        spend.check_spend(tmp_path, "p1", [CLIP])
    spend.check_spend(tmp_path, "p2", [CLIP])  # another queued run starts at zero


def test_reservations_of_jobs_in_flight_count_against_the_day(tmp_path: Path) -> None:
    set_limits(tmp_path, per_day=1.0)
    (a,) = spend.check_spend(tmp_path, "a", [CLIP])
    spend.check_spend(tmp_path, "b", [CLIP])
    with pytest.raises(errors.SpendLimitError, match="still running"):
        spend.check_spend(tmp_path, "c", [CLIP])
    spend.release(tmp_path, a)  # failed before acceptance: not paid
    spend.check_spend(tmp_path, "c", [CLIP])


def test_settling_a_paid_job_moves_it_from_reserved_to_the_ledger(tmp_path: Path) -> None:
    set_limits(tmp_path, per_day=1.0, per_run=0.6)
    (handle,) = spend.check_spend(tmp_path, "a", [CLIP])
    assert Ledger(tmp_path).record(entry("job-a", cost=CLIP, run_id="a"))
    assert spend.reserved_total(tmp_path) == pytest.approx(CLIP)  # recording alone moves nothing
    spend.settle(tmp_path, handle, "job-a")
    spend.settle(tmp_path, handle, "job-a")  # the same job again: settled once
    Ledger(tmp_path).record(entry("job-a", cost=CLIP, run_id="a"))
    assert spend.reserved_total(tmp_path) == 0
    with pytest.raises(errors.SpendLimitError, match="per run"):
        spend.check_spend(tmp_path, "a", [CLIP])  # still counted in its run's total
    spend.check_spend(tmp_path, "b", [CLIP])   # 0.455 spent + 0.455 reserved: fits
    with pytest.raises(errors.SpendLimitError):
        spend.check_spend(tmp_path, "c", [CLIP])


def test_concurrent_checks_never_pass_the_limit_together(tmp_path: Path) -> None:
    set_limits(tmp_path, per_day=2.0)
    passed, refused = [], []
    barrier = threading.Barrier(8)

    def one(n: int) -> None:
        barrier.wait()
        try:
            spend.check_spend(tmp_path, f"run{n}", [CLIP])
            passed.append(n)
        except errors.SpendLimitError:
            refused.append(n)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(passed) == 4 and len(refused) == 4  # 4 x 0.455 = 1.82 <= 2.0 < 5 x 0.455


@pytest.mark.parametrize("amounts", [[float("nan")], [-1.0], ["x"]])
def test_bad_amounts_are_refused(tmp_path: Path, amounts) -> None:
    with pytest.raises(errors.InvalidInputError):
        spend.check_spend(tmp_path, "run", amounts)


# --------------------------------------------------------------------------- credits


def test_check_credits_refuses_before_paying() -> None:
    credits_mod.check_credits(None, [CLIP])            # unknown: the service decides
    credits_mod.check_credits(float("nan"), [CLIP])
    credits_mod.check_credits(1.0, [CLIP, CLIP])
    with pytest.raises(errors.InsufficientCreditsError) as info:
        credits_mod.check_credits(0.5, [CLIP, CLIP])
    msg = str(info.value)
    assert "$0.50" in msg and "$0.91" in msg.replace("$0.910", "$0.91") and "2 clips" in msg and "Top up" in msg


class CountingClient:
    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls = 0

    def credits(self):
        self.calls += 1
        return self.answer


def test_credits_are_reused_for_a_minute_and_free_credits_count() -> None:
    client = CountingClient({"credits": 3.5, "free-credits": 0.5})
    assert credits_mod.refresh_credits(client) == pytest.approx(4.0)
    assert credits_mod.refresh_credits(client) == pytest.approx(4.0)
    assert client.calls == 1  # each call spends one request of the budget
    assert credits_mod.refresh_credits(client, max_age=0) == pytest.approx(4.0) and client.calls == 2
    assert credits_mod.known_credits() == pytest.approx(4.0)


def test_credits_left_is_unknown_when_the_call_fails() -> None:
    class Failing:
        def credits(self):
            raise errors.SegmindNetworkError("unreachable")

    assert credits_mod.credits_left(Failing()) is None


def test_note_credits_ignores_non_finite_values() -> None:
    credits_mod.note_credits(float("inf"))
    assert credits_mod.known_credits() is None
    credits_mod.note_credits("12.5")
    assert credits_mod.known_credits() == 12.5


def test_guard_before_paying_gives_the_reservation_back_when_credits_are_short(tmp_path: Path) -> None:
    set_limits(tmp_path, per_day=1.0)
    with pytest.raises(errors.InsufficientCreditsError):
        spend.guard_before_paying(tmp_path, "p1", [CLIP, CLIP], CountingClient({"credits": 0.5}))
    assert spend.reserved_total(tmp_path) == 0
    spend.guard_before_paying(tmp_path, "p2", [CLIP], CountingClient({"credits": 0.5}))  # reused credits: 0.5
    assert spend.reserved_total(tmp_path) == pytest.approx(CLIP)
    with pytest.raises(errors.SpendLimitError):  # the limit is checked first, with no credits call
        spend.guard_before_paying(tmp_path, "p3", [CLIP, CLIP], None)


def test_two_paid_requests_answered_with_the_same_request_id_both_count(tmp_path: Path, fault_row) -> None:
    # Issue 19 item 11: a service that reuses a request id for another paid job. One job's two
    # lines (accepted, then landed with its cost) still count once.
    led = Ledger(tmp_path)
    led.record(entry("same-id", cost=None, fingerprint="a" * 64))
    led.record(entry("same-id", cost=0.3, fingerprint="a" * 64))
    led.record(entry("same-id", cost=0.4, fingerprint="b" * 64))
    assert led.spent_today() == pytest.approx(0.7)
    assert len(led.entries()) == 2
    fault_row("Two different paid requests answered with the same request id",
              "spend ledger (core/ledger.py), today's spend and the per-day limit",
              "Both count (a job is its request id and its request's fingerprint); before, the second "
              "hid the first and today's spend showed one.")
