"""Statistics and meters: percentiles, medians, same-run ratios, CPU time, RSS, machine facts.

Every figure the benchmarks print is a median over repetitions, and every
ratio is the median of the *per-repetition* ratios: the two systems of a
ratio ran seconds apart in the same repetition, so a burst of noise on this
shared machine moves both sides of a ratio, not one.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import statistics
import sys
import time

__all__ = [
    "percentile", "median", "ratio_of_medians", "median_ratio", "cpu_ns", "rss_bytes",
    "machine_facts", "loadavg",
]

cpu_ns = time.process_time_ns      # CPU of every thread of this process (CLOCK_PROCESS_CPUTIME_ID)

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def percentile(samples, q: float) -> float:
    """The ``q``-quantile (0..1) of ``samples`` by the nearest-rank method (no interpolation)."""
    if not samples:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be between 0 and 1, got {q!r}")
    xs = sorted(samples)
    rank = max(1, math.ceil(round(q * len(xs), 9)))    # ceil(q * n); round: 0.99 * 100 is not 99.0
    return xs[min(rank, len(xs)) - 1]


def median(values) -> float | None:
    """The median of the values that are not None, or None if there are none."""
    xs = [v for v in values if v is not None]
    return statistics.median(xs) if xs else None


def median_ratio(nums, dens) -> float | None:
    """The median over repetitions of ``nums[i] / dens[i]`` (pairs with a None or 0 are skipped)."""
    return median(n / d for n, d in zip(nums, dens) if n is not None and d)


def ratio_of_medians(nums, dens) -> float | None:
    """``median(nums) / median(dens)``, for figures that were not measured in pairs."""
    n, d = median(nums), median(dens)
    return n / d if n is not None and d else None


def rss_bytes() -> int:
    """This process's resident set size now, from ``/proc/self/statm`` (Linux).

    Falls back to ``getrusage``'s peak RSS elsewhere, which only grows: good
    enough for "start N, measure", not for "start, stop, measure".
    """
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def loadavg() -> tuple[float, float, float] | None:
    """The 1, 5 and 15 minute load averages, or None where the OS has none."""
    try:
        return os.getloadavg()
    except OSError:
        return None


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def machine_facts() -> dict:
    """What the figures depend on: CPUs, Python, library versions and the kernel's thread limits."""
    from importlib.metadata import PackageNotFoundError, version

    def ver(dist):
        try:
            return version(dist)
        except PackageNotFoundError:
            return None

    facts = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "genserver_lite": ver("genserver-lite"),
        "pykka": ver("pykka"),
        "switch_interval_s": sys.getswitchinterval(),
        "loadavg": loadavg(),
    }
    for key, path in (("vm.max_map_count", "/proc/sys/vm/max_map_count"),
                      ("kernel.threads-max", "/proc/sys/kernel/threads-max"),
                      ("kernel.pid_max", "/proc/sys/kernel/pid_max")):
        raw = _read(path)
        facts[key] = int(raw) if raw and raw.isdigit() else None
    soft, _hard = resource.getrlimit(resource.RLIMIT_STACK)
    facts["stack_rlimit_kb"] = soft // 1024 if soft > 0 else None
    return facts
