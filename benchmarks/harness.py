"""The harness: sizes, the interleaved repetition loop, and where the figures go.

One process measures every system. Repetition by repetition, each row runs
its block for every system, the systems taking turns to go first (rotated
each repetition), so slow drift on the shared machine (another engineer's
test run, a CPU frequency change) falls on all of them alike. Between
blocks the harness collects garbage and joins threads left finishing, so
one block's leftovers are not billed to the next.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

from genserver_lite import _threads

__all__ = ["Params", "FULL", "QUICK", "Results", "run", "settle"]


@dataclass(frozen=True)
class Params:
    """How big each block is. Every figure is a median over ``reps`` repetitions."""

    reps: int
    calls: int          # timed round trips per system per repetition
    warmup: int         # untimed calls before each timed block
    casts: int          # one-way messages per block (then one call drains them)
    servers: int        # servers started then stopped per block
    alive: int          # servers alive at once in the scale row (one subprocess per system)
    restarts: int       # supervised crashes per repetition
    keys: int           # entries in the name table of the lookup row
    lookups: int        # lookups per timed batch

    def as_dict(self) -> dict:
        return asdict(self)


FULL = Params(reps=5, calls=10_000, warmup=500, casts=50_000, servers=300, alive=10_000,
              restarts=100, keys=100, lookups=2_000)
QUICK = Params(reps=2, calls=300, warmup=50, casts=2_000, servers=20, alive=200,
               restarts=5, keys=10, lookups=200)


@dataclass
class Results:
    """Per-repetition figures: ``values[metric][system][rep]`` (None where not measured)."""

    reps: int
    systems: list[str]
    values: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)    # metric -> why a figure is missing or special

    def put(self, metric: str, system: str, rep: int, value) -> None:
        per_sys = self.values.setdefault(metric, {s: [None] * self.reps for s in self.systems})
        per_sys[system][rep] = value

    def get(self, metric: str, system: str) -> list:
        return self.values.get(metric, {}).get(system, [None] * self.reps)

    def note(self, metric: str, text: str) -> None:
        self.notes[metric] = text

    @classmethod
    def from_json(cls, doc: dict) -> "Results":
        """The figures of a run saved with ``--json`` (see :func:`benchmarks.report.to_json`)."""
        res = cls(doc["params"]["reps"], list(doc["systems"]))
        for m in doc["metrics"]:
            if any(v is not None for vals in m["values"].values() for v in vals):
                res.values[m["key"]] = {s: list(v) for s, v in m["values"].items()}
            if m.get("note"):
                res.notes[m["key"]] = m["note"]
        return res


def settle(baseline_threads: set, timeout: float = 5.0) -> None:
    """Collect garbage and wait for threads started since ``baseline_threads`` to finish.

    Every row stops what it started, so a thread still alive after
    ``timeout`` seconds is a leak in a row or an adapter: RuntimeError.
    """
    deadline = time.monotonic() + timeout
    stray = [t for t in threading.enumerate()
             if t not in baseline_threads and t is not threading.current_thread()]
    for t in stray:     # ended, or parked by genserver_lite for its next process
        _threads.wait_released(t, max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in stray if not _threads.released(t)]
    if alive:
        raise RuntimeError(f"benchmark threads still running after {timeout} s: {alive}")
    gc.collect()


def run(params: Params, systems: list, rows: list, log=None) -> Results:
    """Run every row for every system, ``params.reps`` times, interleaved; returns the figures.

    ``rows`` are callables ``row(systems_in_order, rep, params, results)``;
    ``log`` (default: stderr) gets one progress line per repetition.
    """
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    results = Results(params.reps, [s.name for s in systems])
    baseline = set(threading.enumerate())
    t_start = time.monotonic()
    try:
        for rep in range(params.reps):
            k = rep % len(systems)
            order = systems[k:] + systems[:k]
            for row in rows:
                row(order, rep, params, results)
                for s in systems:
                    s.settle()
                settle(baseline)
            log(f"  repetition {rep + 1}/{params.reps} done ({time.monotonic() - t_start:.0f} s, "
                f"order {', '.join(s.name for s in order)})")
    finally:
        for s in systems:
            s.close()
        settle(baseline)
    return results
