"""Exercises of notebook 08 (error handling): the reference solutions pass; plausible learner mistakes fail with the right hint."""

import random
from dataclasses import dataclass, replace

import pytest

import genserver_lite as gs
from grading_asserts import assert_fails_with_hints, assert_passes


# -- 08.1 · A circuit breaker that sends its own half-open probe ---------------------------------

@dataclass(frozen=True)
class BreakerState:
    threshold: int
    cooldown: float
    probe: object
    status: str = "closed"
    failures: int = 0
    probing: object = None


class Breaker(gs.GenServer):
    """The reference solution, as in solutions/08_error_handling.ipynb."""

    def init(self, opts):
        return ("ok", BreakerState(opts["threshold"], opts["cooldown"], opts["probe"]))

    def handle_call(self, request, from_, s):
        match request:
            case "ask":
                return ("reply", "go" if s.status == "closed" else "rejected", s)
            case "status":
                return ("reply", s.status, s)

    def handle_cast(self, request, s):
        match request:
            case ("result", ok) if s.status == "closed":
                failures = 0 if ok else s.failures + 1
                return ("noreply", self.trip(s) if failures >= s.threshold else replace(s, failures=failures))
            case ("result", _ok):
                return ("noreply", s)

    def handle_info(self, msg, s):
        match msg:
            case "cooldown_over" if s.status == "open":
                _pid, ref = gs.spawn_monitor(s.probe)
                return ("noreply", replace(s, status="half_open", probing=ref))
            case ("DOWN", ref, "process", _pid, reason) if ref is s.probing:
                if reason == "normal":
                    return ("noreply", replace(s, status="closed", failures=0, probing=None))
                return ("noreply", self.trip(s))
        return super().handle_info(msg, s)

    @staticmethod
    def trip(s):
        gs.send_after(gs.self(), "cooldown_over", s.cooldown)
        return replace(s, status="open", failures=0, probing=None)


class NeverHalfOpens(Breaker):
    """Opens, but starts no cool-down timer: open forever."""

    @staticmethod
    def trip(s):
        return replace(s, status="open", failures=0, probing=None)


class ClosesWithoutProbing(Breaker):
    """When the cool-down ends it closes at once, trusting the dependency without asking it."""

    def handle_info(self, msg, s):
        if msg == "cooldown_over":
            return ("noreply", replace(s, status="closed", failures=0))
        return super().handle_info(msg, s)


class PassiveHalfOpen(Breaker):
    """The source's half-open: lets callers through and closes on the first reported success."""

    def handle_call(self, request, from_, s):
        if request == "ask" and s.status == "half_open":
            return ("reply", "go", s)
        return super().handle_call(request, from_, s)

    def handle_cast(self, request, s):
        match request, s.status:
            case ("result", ok), "half_open":
                return ("noreply", replace(s, status="closed", failures=0) if ok else self.trip(s))
        return super().handle_cast(request, s)

    def handle_info(self, msg, s):
        if msg == "cooldown_over":
            return ("noreply", replace(s, status="half_open"))
        return super().handle_info(msg, s)


class InlineProbe(Breaker):
    """Calls the probe inside handle_info: the breaker is blocked while the probe runs."""

    def handle_info(self, msg, s):
        if msg == "cooldown_over":
            try:
                s.probe()
            except Exception:  # noqa: BLE001 - the learner's catch-all
                return ("noreply", self.trip(s))
            return ("noreply", replace(s, status="closed", failures=0))
        return super().handle_info(msg, s)


class LinkedProbe(Breaker):
    """Runs the probe with Task.async_: linked, so a probe that raises takes the breaker down."""

    def handle_info(self, msg, s):
        match msg:
            case "cooldown_over":
                task = gs.Task.async_(s.probe)
                return ("noreply", replace(s, status="half_open", probing=task.ref))
            case (gs.Ref() as ref, _result) if ref is s.probing:
                gs.demonitor(ref, flush=True)
                return ("noreply", replace(s, status="closed", failures=0, probing=None))
        return super().handle_info(msg, s)


BREAKER_TITLES = [c.title for c in gs.grading.get("08.1").checks]


def test_the_reference_breaker_passes_every_check(capsys):
    report = assert_passes("08.1", {"Breaker": Breaker}, capsys)
    assert report.seconds < 2.0


@pytest.mark.parametrize("cls, failing, why", [
    (NeverHalfOpens, BREAKER_TITLES[2:], "why: no probe ran after the 10 s cool-down (the status is 'open')"),
    (ClosesWithoutProbing, BREAKER_TITLES[2:],
     "why: no probe ran after the 10 s cool-down (the status is 'closed')"),
    (PassiveHalfOpen, BREAKER_TITLES[2:],
     "why: no probe ran after the 10 s cool-down (the status is 'half_open')"),
    (InlineProbe, BREAKER_TITLES[2:],
     "why: the probe runs inside the breaker's own process: it blocks the breaker"),
    (LinkedProbe, BREAKER_TITLES[5:], "why: the breaker died with its probe"),
])
def test_a_breaker_mistake_fails_the_right_checks(cls, failing, why, capsys):
    _, out = assert_fails_with_hints("08.1", {"Breaker": cls}, failing, capsys)
    assert why in out


# -- 08.2 · Retry with backoff outside the server -------------------------------------------------

def backoff(retry, base, cap, rng):
    ceiling = min(cap, base * 2 ** (retry - 1))
    return rng.uniform(ceiling / 2, ceiling)


def fetch_with_retry(fetch, key, waits):
    result = fetch(key)
    for wait in waits:
        if result[0] == "ok":
            break
        gs.send_after(gs.self(), "retry", wait)
        gs.receive(lambda m: m == "retry")
        result = fetch(key)
    return result


class Fetcher(gs.GenServer):
    """The reference solution, as in solutions/08_error_handling.ipynb."""

    def init(self, opts):
        tasks = gs.TaskSupervisor.start_link()
        return ("ok", {**opts, "tasks": tasks, "rng": random.Random(), "pending": {}})

    def waits(self, state):
        return [backoff(n, state["base"], state["cap"], state["rng"]) for n in range(1, state["attempts"])]

    def handle_call(self, request, from_, state):
        match request:
            case ("fetch", key):
                task = gs.TaskSupervisor.async_nolink(state["tasks"], fetch_with_retry, state["fetch"], key,
                                                      self.waits(state))
                return ("noreply", {**state, "pending": {**state["pending"], task.ref: from_}})
            case "ping":
                return ("reply", "pong", state)

    def handle_info(self, msg, state):
        pending = state["pending"]
        match msg:
            case (gs.Ref() as ref, result) if ref in pending:
                gs.demonitor(ref, flush=True)
                gs.reply(pending[ref], result)
            case ("DOWN", ref, "process", _pid, reason) if ref in pending:
                gs.reply(pending[ref], ("error", reason))
            case _:
                return super().handle_info(msg, state)
        return ("noreply", {**state, "pending": {k: v for k, v in pending.items() if k != ref}})


class ConstantDelay(Fetcher):
    """Retries outside the server, but always waits `base` seconds: no backoff."""

    def waits(self, state):
        return [state["base"]] * (state["attempts"] - 1)


class RetriesInHandleCall(Fetcher):
    """Waits on timers, but inside handle_call: the server answers nobody meanwhile."""

    def handle_call(self, request, from_, state):
        if request[0] == "fetch":
            return ("reply", fetch_with_retry(state["fetch"], request[1], self.waits(state)), state)
        return super().handle_call(request, from_, state)


def fetch_sleeping(fetch, key, waits):
    result = fetch(key)
    for wait in waits:
        if result[0] == "ok":
            break
        gs.sleep(wait)
        result = fetch(key)
    return result


class SleepsInTask(Fetcher):
    """Retries in a supervised task, but sleeps between attempts: no timer, so a fake clock cannot drive it."""

    def handle_call(self, request, from_, state):
        if request[0] == "fetch":
            task = gs.TaskSupervisor.async_nolink(state["tasks"], fetch_sleeping, state["fetch"], request[1],
                                                  [w / 10 for w in self.waits(state)])
            return ("noreply", {**state, "pending": {**state["pending"], task.ref: from_}})
        return super().handle_call(request, from_, state)


def retry_and_reply(from_, fetch, key, waits):
    gs.reply(from_, fetch_with_retry(fetch, key, waits))


class TaskStart(Fetcher):
    """The source's shape: Task.start replies itself; nobody hears of its crash."""

    def handle_call(self, request, from_, state):
        if request[0] == "fetch":
            gs.Task.start(retry_and_reply, from_, state["fetch"], request[1], self.waits(state))
            return ("noreply", state)
        return super().handle_call(request, from_, state)


class LinkedTask(Fetcher):
    """Retries in a task started with Task.async_: linked, so a fetch that raises takes the server down."""

    def handle_call(self, request, from_, state):
        if request[0] == "fetch":
            task = gs.Task.async_(fetch_with_retry, state["fetch"], request[1], self.waits(state))
            return ("noreply", {**state, "pending": {**state["pending"], task.ref: from_}})
        return super().handle_call(request, from_, state)


FETCHER_TITLES = [c.title for c in gs.grading.get("08.2").checks]


def test_the_reference_fetcher_passes_every_check(capsys):
    report = assert_passes("08.2", {"Fetcher": Fetcher}, capsys)
    assert report.seconds < 2.0


@pytest.mark.parametrize("cls, failing", [
    (ConstantDelay, [FETCHER_TITLES[2]]),
    (RetriesInHandleCall, FETCHER_TITLES[4:]),
    (TaskStart, [FETCHER_TITLES[5]]),
])
def test_a_fetcher_mistake_fails_the_right_checks(cls, failing, capsys):
    assert_fails_with_hints("08.2", {"Fetcher": cls}, failing, capsys)


@pytest.mark.parametrize("cls, why", [
    (LinkedTask, "why: the Fetcher died with the task whose fetch raised: a linked task (Task.async_) takes "
                 "its owner down; start it with TaskSupervisor.async_nolink"),
    (TaskStart, "why: the caller got no answer within 0.5 s when fetch raised: nobody replied for the task "
                "that crashed"),
])
def test_a_crash_nobody_answers_says_why(cls, why, capsys):
    _, out = assert_fails_with_hints("08.2", {"Fetcher": cls}, [FETCHER_TITLES[5]], capsys)
    assert why in out


def test_a_constant_delay_shows_the_waits(capsys):
    _, out = assert_fails_with_hints("08.2", {"Fetcher": ConstantDelay}, [FETCHER_TITLES[2]], capsys)
    assert "why: the wait before retry 3 was 1.00 s, expected 2 to 4 s (base 1, cap 4); all waits: " \
           "1.00, 1.00, 1.00, 1.00" in out


def test_a_sleeping_retry_loop_is_told_to_use_timers(capsys):
    report, out = assert_fails_with_hints("08.2", {"Fetcher": SleepsInTask},
                                          [FETCHER_TITLES[2], FETCHER_TITLES[4]], capsys)
    assert "why: the wait before retry 1 was 0.00 s, expected 0.5 to 1 s" in out     # no fake time passed
    assert "no retry timer was set within 1 s: wait with gs.send_after, not gs.sleep" in out
