"""The rows: what each benchmark does, for every system, in one repetition.

A row is a function ``row(systems, rep, params, results)``: it measures each
system in the order given (the harness rotates it every repetition) and
puts one figure per metric and system into ``results``. Units are fixed
here: microseconds (µs), messages per second, kilobytes.

What each row times:

* **call**: ``params.calls`` round trips to one server, each timed on its own
  (``perf_counter_ns``), after ``params.warmup`` untimed ones, in rounds the
  systems take in turn: p50 and p99 latency, and the CPU of the whole
  process per call.
* **cast**: ``params.casts`` one-way messages, then one call that drains them
  (the mailbox is FIFO, so its reply means all were handled): messages per
  second of wall time, CPU per message for the whole process (sender and
  server), and CPU per message in the sending thread alone.
* **start/stop**: ``params.servers`` servers started (``start_link`` for
  genserver_lite), then stopped; CPU per server. Stop includes waiting for
  the threads to end, for every system.
* **lookup**: a name table of ``params.keys`` entries, looked up in batches
  of ``params.lookups``: genserver_lite's ``Registry.lookup``, Pykka's
  ``ActorRegistry.get_by_urn``, a dict under a lock.
* **restart** (genserver_lite only: neither Pykka nor bare threads have a
  supervisor): a supervised, named child crashes (``gs.testing.crash``: an
  exception in its loop, so ``terminate`` runs and the crash is logged);
  the time from sending the crash request until a call by name next
  succeeds; once with the crash reports logged, once with logging off. (Timing from when the crash request *returns* would miss most
  of it: the crashing thread keeps the GIL through its crash and the
  supervisor's restart, so the caller often wakes only after.)
* **trace**: call p50 on one server with ``gs.trace()`` off and on (every
  event kept: the limit is set above what the block records).

The 10,000-servers row lives in :mod:`benchmarks.alive` (it needs a fresh
process per measurement).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import logging
import threading
import time

import genserver_lite as gs
from genserver_lite import _threads

from .stats import cpu_ns, median, percentile
from .systems import MISSING, Echo, Lite, feature

__all__ = ["row_call", "row_cast", "row_start_stop", "row_lookup", "row_restart", "row_trace",
           "timed_calls"]

_pc = time.perf_counter_ns


def timed_calls(call, n: int, warmup: int) -> tuple[list[int], int]:
    """``warmup`` untimed calls, then ``n`` timed ones: (latencies in ns, process CPU ns of the n)."""
    for i in range(warmup):
        call(i)
    samples = [0] * n
    pc = _pc
    gc.collect()
    c0 = cpu_ns()
    for i in range(n):
        t = pc()
        call(i)
        samples[i] = pc() - t
    c1 = cpu_ns()
    if call(-1) != -1:
        raise AssertionError(f"{call!r} did not echo its request")
    return samples, c1 - c0


ROUNDS = 5      # a repetition's calls are split in rounds, the systems taking turns in each


def row_call(systems, rep, p, res) -> None:
    """Call latency and CPU: each system's ``p.calls`` calls, in ``ROUNDS`` interleaved rounds.

    A thread that wakes another on the *other* core pays about twice what it
    pays on its own core. Which one the kernel picks depends on the load
    other programs put on the machine, and sticks to a thread for a while:
    so each round starts a fresh server for every system, and the systems
    take turns, exposing all of them to the same mix.
    """
    samples = {s.name: [] for s in systems}
    cpu = dict.fromkeys(samples, 0)
    per_round = max(1, p.calls // ROUNDS)
    for r in range(ROUNDS):
        for s in systems:
            h = s.start()
            try:
                got, c = timed_calls(s.caller(h), per_round, p.warmup if r == 0 else p.warmup // 10)
            finally:
                s.stop(h)
            samples[s.name] += got
            cpu[s.name] += c
    for s in systems:
        xs = samples[s.name]
        res.put("call_p50", s.name, rep, percentile(xs, 0.50) / 1e3)
        res.put("call_p99", s.name, rep, percentile(xs, 0.99) / 1e3)
        res.put("call_cpu", s.name, rep, cpu[s.name] / len(xs) / 1e3)


def row_cast(systems, rep, p, res) -> None:
    n = p.casts
    for s in systems:
        h = s.start()
        try:
            cast, call = s.caster(h), s.caller(h)
            call(0)
            before = s.handled(h)
            gc.collect()
            t0, c0, s0 = _pc(), cpu_ns(), time.thread_time_ns()
            for i in range(n):
                cast(i)
            s1 = time.thread_time_ns()
            call(0)
            c1, t1 = cpu_ns(), _pc()
            handled = s.handled(h) - before
        finally:
            s.stop(h)
        if handled != n + 1:
            raise AssertionError(f"{s.label}: {handled} of {n} casts and 1 call were handled")
        res.put("cast_rate", s.name, rep, n / ((t1 - t0) / 1e9))
        res.put("cast_cpu", s.name, rep, (c1 - c0) / n / 1e3)
        res.put("cast_send", s.name, rep, (s1 - s0) / n / 1e3)


def _threads_since(before: set) -> list:
    return [t for t in threading.enumerate() if t not in before]


def row_start_stop(systems, rep, p, res) -> None:
    for s in systems:
        s.stop(s.start())          # warm: first-use costs (imports, the shell's identity)
        s.settle()
        before = set(threading.enumerate())
        gc.collect()
        c0 = cpu_ns()
        handles = [s.start() for _ in range(p.servers)]
        c1 = cpu_ns()
        for h in handles:
            s.stop(h)
        for t in _threads_since(before):    # ended, or parked for genserver_lite's next process
            _threads.wait_released(t, 60.0)
        c2 = cpu_ns()
        res.put("start_cpu", s.name, rep, (c1 - c0) / p.servers / 1e3)
        res.put("stop_cpu", s.name, rep, (c2 - c1) / p.servers / 1e3)


def row_lookup(systems, rep, p, res) -> None:
    for s in systems:
        made = s.lookup_table(p.keys)
        if made is None:
            res.note("lookup", f"{s.name}: {MISSING}")
            continue
        lookup, keys, close = made
        try:
            if not lookup(keys[-1]):
                raise AssertionError(f"{s.label}: lookup of {keys[-1]!r} found nothing")
            seq = (keys * (p.lookups // len(keys) + 1))[:p.lookups]
            for key in seq:     # warm
                lookup(key)
            gc.collect()
            batches = []
            for _ in range(10):
                t0 = _pc()
                for key in seq:
                    lookup(key)
                batches.append((_pc() - t0) / len(seq))
        finally:
            close()
        res.put("lookup", s.name, rep, median(batches) / 1e3)


class _LogSink:
    """Route ``genserver_lite`` log records, formatted, into a buffer nobody reads.

    Crash reports are part of what a restart costs (the report is built and
    formatted, traceback included); printing hundreds of them is not.
    """

    def __enter__(self):
        self.logger = logging.getLogger("genserver_lite")
        self.handler = logging.StreamHandler(io.StringIO())
        self.old = self.logger.propagate
        self.logger.addHandler(self.handler)
        self.logger.propagate = False
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.propagate = self.old


def row_restart(systems, rep, p, res) -> None:
    """Supervised restart latency, crash reports logged (``restart``) and logging off (``restart_quiet``).

    The two alternate crash by crash. Logged, the reports (the server's
    crash report with its traceback, the supervisor's) are formatted into a
    buffer, as a stream handler would; quiet, the ``genserver_lite`` logger
    is disabled, which leaves the runtime's own work.
    """
    supervisor = feature("supervisor", "Supervisor")
    if supervisor is None:
        res.note("restart", MISSING)
        res.note("restart_quiet", MISSING)
        return
    if not any(isinstance(s, Lite) for s in systems):
        return
    name = f"bench-restart-{rep}"
    child = {"id": "echo", "start": (functools.partial(Echo.start_link, name=name), (None,)),
             "restart": "permanent"}
    samples = {False: [], True: []}
    logger = logging.getLogger("genserver_lite")
    with _LogSink():
        sup = supervisor.start_link([child], strategy="one_for_one",
                                    max_restarts=10 * p.restarts + 10, max_seconds=3600.0)
        try:
            call = functools.partial(gs.call, name)
            call(0)
            for i in range(2 * p.restarts):
                quiet = bool((i + rep) % 2)
                logger.disabled = quiet
                old = gs.whereis(name)
                t0 = _pc()
                gs.testing.crash(name)
                while True:
                    try:
                        call(i)
                        break
                    except gs.Exit:     # NoProc: not registered again yet; Exit: reached the dying one
                        time.sleep(0)   # let the supervisor have the GIL
                samples[quiet].append(_pc() - t0)
                if gs.whereis(name) is old:
                    raise AssertionError("the call after a crash reached the crashed server")
        finally:
            logger.disabled = False
            gs.stop(sup, "shutdown")
    res.put("restart", "gs", rep, median(samples[False]) / 1e3)
    res.put("restart_quiet", "gs", rep, median(samples[True]) / 1e3)


def row_trace(systems, rep, p, res) -> None:
    """Call p50 with tracing off and on, on one server, in interleaved rounds (as :func:`row_call`)."""
    trace = feature("trace", "trace")
    if trace is None:
        res.note("trace_on", MISSING)
        return
    lite = next((s for s in systems if isinstance(s, Lite)), None)
    if lite is None:
        return
    pid = lite.start()
    samples = {False: [], True: []}
    per_round = max(1, p.calls // ROUNDS)
    limit = 10 * (per_round + p.warmup) + 100      # room for every event: none overflows
    try:
        call = lite.caller(pid)
        for r in range(ROUNDS):
            for on in ((False, True) if (rep + r) % 2 == 0 else (True, False)):
                ctx = trace(limit=limit) if on else contextlib.nullcontext()
                with ctx as t:
                    got, _ = timed_calls(call, per_round, p.warmup if r == 0 else 0)
                if on and (len(t) < 2 * per_round or t.overflow):
                    raise AssertionError(f"tracing on recorded {len(t)} events ({t.overflow} over "
                                         f"the limit) for {per_round} calls")
                samples[on] += got
                del t
    finally:
        lite.stop(pid)
    res.put("trace_off", "gs", rep, percentile(samples[False], 0.50) / 1e3)
    res.put("trace_on", "gs", rep, percentile(samples[True], 0.50) / 1e3)
