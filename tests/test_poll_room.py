"""Polls use the room the shared window really has (bench/bench_team.py's second minute):
three processes on one user folder, 8 jobs each, 50 requests a minute, on a simulated clock.
When two processes' jobs have finished, the third's waiting jobs must not go on keeping a
reserve and a poll floor for 24 jobs (the others' last word before they went quiet) and
wait most of a minute with the window's room unused."""
from __future__ import annotations

from typing import Any

import pytest

from pack_loader import pack_module
from runtimes import Clock

request_budget = pack_module("core.request_budget")
budget_store = pack_module("core.budget_store")
poll_schedule = pack_module("core.poll_schedule")
runtime_mod = pack_module("core.runtime")

PER_MINUTE = 50
JOBS = 8


def team(tmp_path, clock: Clock) -> list[Any]:
    """Three processes' runtimes, each with its jobs' board, one budget file between them."""
    path = tmp_path / "budget" / "acct.json"
    runtimes: list[Any] = []
    for n in range(3):
        budget = request_budget.RequestBudget(
            PER_MINUTE, clock=clock, sleep=clock.advance, store=budget_store.FileBudgetStore(path, clock),
            active_jobs=lambda n=n: runtimes[n].board.waiting())
        runtime = runtime_mod.Runtime(budget=budget)
        runtime.polls = poll_schedule.PollSchedule(clock=clock)
        runtimes.append(runtime)
    return runtimes


def sent_in_window(tmp_path, clock: Clock) -> int:
    import json

    sent = json.loads((tmp_path / "budget" / "acct.json").read_text())["sent"].values()
    return sum(1 for t in sent if t > clock.now - (60.0 + request_budget.WINDOW_MARGIN))


def minute_one(tmp_path, clock: Clock) -> tuple[list[Any], list[list[Any]]]:
    """Every job uploads and submits: 48 of the 50 requests at once."""
    runtimes = team(tmp_path, clock)
    jobs = [[rt.board.add(node_id=None, prompt_id=None, label=f"clip {n}.{k}", estimate_usd=0.1, width=256,
                          height=256, num_frames=9) for k in range(JOBS)] for n, rt in enumerate(runtimes)]
    for rt, mine in zip(runtimes, jobs):
        for _ in mine:
            rt.budget().acquire("call")  # upload
        for job in mine:
            rt.budget().acquire("call")  # submit
            rt.board.update(job, state="queued")
    return runtimes, jobs


def poll(rt: Any, mine: list[Any]) -> None:
    for job in mine:
        rt.budget().acquire("poll")
        rt.board.update(job, state="processing")


def fetch_and_download(rt: Any, mine: list[Any]) -> None:
    """Done at the poll: the process's fetches go together (its threads send them), then the
    clips download and the process goes quiet."""
    for _ in mine:
        rt.budget().acquire("call")
    for job in mine:
        rt.board.update(job, state="downloading")
        rt.board.update(job, state="done")


def just_after_a_turn(runtime: Any, clock: Clock) -> None:
    """Move the clock to just after this thread's turn (the first phase: on the floor's grid),
    so a job that just polled waits for its next turn a whole floor away."""
    floor = runtime.budget().poll_floor()
    clock.advance(floor - clock.now % floor + 0.5)


def test_the_second_minute_is_not_held_for_jobs_other_processes_finished(tmp_path):
    """bench_team's shared run: two processes' clips were done at their first poll and are
    downloading; the third's polls must go in that same minute, not wait for the next."""
    clock = Clock()
    runtimes, jobs = minute_one(tmp_path, clock)
    start = clock.now
    for rt, mine in zip(runtimes[:2], jobs[:2]):
        poll(rt, mine)
        fetch_and_download(rt, mine)
    third = runtimes[2]
    poll(third, jobs[2])
    # 8 jobs really wait: reserve 8, so polls have 42 of the 50; the window holds 32 + 8.
    assert clock.now - start < 61, (f"the third process's polls waited {clock.now - start - 60:.0f} s past the "
                                    "minute for a reserve kept for the others' finished jobs")
    assert sent_in_window(tmp_path, clock) == 40
    fetch_and_download(third, jobs[2])  # the reserve held room for every fetch: no wait
    assert clock.now - start < 61
    assert sent_in_window(tmp_path, clock) == 48  # never past the plan: no 429


def test_a_sleeping_job_polls_in_the_room_others_left_not_a_minute_later(tmp_path):
    """24 jobs wait (55.6 s each between polls); then two processes' 16 jobs end. A clip of the
    third done meanwhile must be looked at within its new share, not most of a minute later
    while the window stays half empty."""
    clock = Clock()
    runtimes, jobs = minute_one(tmp_path, clock)
    for rt, mine in zip(runtimes, jobs):
        poll(rt, mine)  # still processing at the first look
    third = runtimes[2]
    assert third.budget().active_jobs() == 3 * JOBS
    just_after_a_turn(third, clock)
    assert sent_in_window(tmp_path, clock) == 24  # 24 polls: the window is half empty

    def sleep(seconds: float) -> None:
        if not ended:  # while this job sleeps, the other processes' jobs end (cancelled)
            for rt, mine in zip(runtimes[:2], jobs[:2]):
                for job in mine:
                    rt.board.update(job, state="cancelled")
            ended.append(True)
        clock.advance(seconds)

    ended: list[bool] = []
    budget = third.budget()
    start = clock.now
    gap = third.polls.gap(elapsed=30.0, expected=30.0, first=1.0, longest=15.0, budget=budget)
    assert gap > 50  # its turn is a floor (24 jobs) away
    third.polls.sleep(gap, elapsed=30.0, expected=30.0, sleep=sleep)
    budget.acquire("poll")
    waited = clock.now - start
    # Now 8 jobs really wait: reserve 8, polls have 42 of the 50 and the window holds 24;
    # each job's share is one poll per 60.25 * 8 / 42 = 11.5 s.
    assert waited <= 13.0, f"a finished clip waited {waited:.1f} s for its poll with the window half empty"
    fetch_at = clock.now
    budget.acquire("call")  # its result fetch goes at once: the reserve held its room
    assert clock.now == fetch_at
    assert sent_in_window(tmp_path, clock) == 26


def test_while_every_job_still_waits_each_keeps_its_share_of_the_polls(tmp_path):
    """Nobody left: the 24 jobs' floor stands (the polls of 24 jobs fit in the budget only so)."""
    clock = Clock()
    runtimes, jobs = minute_one(tmp_path, clock)
    for rt, mine in zip(runtimes, jobs):
        poll(rt, mine)
    third = runtimes[2]
    budget = third.budget()
    assert budget.active_jobs() == 3 * JOBS and budget.poll_floor() > 50
    just_after_a_turn(third, clock)

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        for rt in runtimes[:2]:  # their jobs sleep too, and look at the store as they do
            rt.budget().look_again()

    start = clock.now
    gap = third.polls.gap(elapsed=30.0, expected=30.0, first=1.0, longest=15.0, budget=budget)
    third.polls.sleep(gap, elapsed=30.0, expected=30.0, sleep=sleep)
    assert gap > 50 and clock.now - start >= gap - 0.01  # no early poll: no room beyond the 24 jobs' share


def stores(kind: str, tmp_path, request) -> tuple[Any, Any]:
    if kind == "file":
        path = tmp_path / "acct.json"
        return budget_store.FileBudgetStore(path), budget_store.FileBudgetStore(path)
    import redis

    budget_redis = pack_module("core.budget_redis")
    shared_store = pack_module("core.shared_store")
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = shared_store.key_prefix("SG_pollroom0123456789abcdef")
    return budget_redis.RedisBudgetStore(client, prefix), budget_redis.RedisBudgetStore(client, prefix)


@pytest.mark.parametrize("kind", ["file", "redis"])
def test_a_participant_says_its_jobs_ended_without_sending_anything(kind, tmp_path, request):
    """The shared stores (a user folder's file, the team's real Redis): report() writes this
    participant's waiting jobs and reads the others', and sends nothing."""
    one, two = stores(kind, tmp_path, request)
    assert one.admit(50, 60.0, 8).stamp
    assert two.report(3, 60.0) == 8
    assert one.report(0, 60.0) == 3  # its jobs ended: it keeps no room for them any more
    assert two.report(3, 60.0) == 0
    assert two.admit(2, 60.0, 3).stamp and two.admit(2, 60.0, 3).stamp is None  # reports sent nothing
