"""The report: each metric's medians, same-run ratios, targets and verdict; the table and the JSON.

A ratio is always genserver_lite's figure over another's, taken repetition
by repetition and then the median (see :mod:`benchmarks.stats`). For a
"higher is better" metric (throughput) a ratio above 1 is good; for every
other metric a ratio below 1 is.

The targets are those of the benchmarks issue and of the runtime issue's
"Speed" paragraph; "ahead of Pykka" applies wherever Pykka has a figure.
A metric whose figures are missing (a module not written yet) reports
``n/a`` and neither passes nor fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .stats import median, median_ratio

__all__ = ["Metric", "Target", "METRICS", "evaluate", "table", "combine", "to_json"]


@dataclass(frozen=True)
class Target:
    """``gs / against`` must be ``<= limit`` (``most``) or ``>= limit`` (``least``).

    ``against`` is a system ("bare", "pykka") or another genserver_lite
    metric (its figure from the same repetition); ``limit=None`` with
    ``against="pykka"`` means "ahead of Pykka".
    """

    against: str
    limit: float | None = None
    most: bool = True

    def text(self, ref_label: str = "") -> str:
        if self.limit is None:
            return "ahead of pykka"
        who = ref_label or self.against
        return f"{'≤' if self.most else '≥'} {self.limit:g}× {who}"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool = False
    ref: str | None = None              # a gs metric this one is also divided by (same rep)
    targets: tuple = ()
    why: str = ""                       # where its target comes from, or what it shows


_AHEAD = Target("pykka")

METRICS = (
    Metric("call_p50", "call p50", "µs", targets=(Target("bare", 1.5), _AHEAD)),
    Metric("call_p99", "call p99", "µs", targets=(Target("bare", 2.0), _AHEAD)),
    Metric("call_cpu", "call CPU", "µs", targets=(_AHEAD,)),
    Metric("cast_rate", "cast throughput", "msg/s", higher_is_better=True,
           targets=(Target("pykka", 2.0, most=False),)),
    Metric("cast_cpu", "cast CPU/msg", "µs", targets=(Target("bare", 10.0), _AHEAD)),
    Metric("cast_send", "cast CPU/msg, sender only", "µs", targets=(_AHEAD,)),
    Metric("start_cpu", "start_link CPU", "µs", targets=(Target("bare", 2.0), _AHEAD)),
    Metric("stop_cpu", "stop CPU", "µs", targets=(_AHEAD,)),
    Metric("alive_rss", "10k alive: RSS/server", "KB", targets=(Target("bare", 1.5), _AHEAD)),
    Metric("alive_call", "10k alive: call each", "µs", targets=(_AHEAD,)),
    Metric("alive_start", "10k alive: start each", "µs", targets=(_AHEAD,)),
    Metric("restart", "restart latency", "µs", ref="call_p50",
           targets=(Target("call_p50", 10.0),),
           why="crash -> next successful call, crash reports formatted; no supervisor in Pykka "
               "or bare threads"),
    Metric("restart_quiet", "restart latency, no logging", "µs", ref="call_p50",
           why="the same with the genserver_lite logger disabled: the runtime's own work"),
    Metric("lookup", "Registry lookup", "µs", ref="call_p50", targets=(_AHEAD,),
           why="bare: dict under a lock; pykka: ActorRegistry.get_by_urn"),
    Metric("trace_off", "call p50, tracing off", "µs",
           why="measured beside tracing on, same server"),
    Metric("trace_on", "call p50, tracing on", "µs", ref="trace_off",
           why="no target: what recording every event costs"),
)

_BY_KEY = {m.key: m for m in METRICS}


@dataclass
class Verdict:
    metric: Metric
    values: dict                    # system -> per-rep figures
    medians: dict                   # system -> median
    ratios: dict                    # "bare" / "pykka" / ref key -> median per-rep ratio
    checks: list = field(default_factory=list)   # (target text, ratio, passed)
    note: str = ""

    @property
    def passed(self) -> bool | None:
        """True if every target passed, False if one failed, None if nothing could be checked."""
        known = [ok for _, _, ok in self.checks if ok is not None]
        if not known:
            return None
        return all(known)


def _ratio(metric: Metric, results, against: str) -> float | None:
    gs_vals = results.get(metric.key, "gs")
    if against in results.systems:
        other = results.get(metric.key, against)
    else:
        other = results.get(against, "gs")
    return median_ratio(gs_vals, other)


def evaluate(results) -> list[Verdict]:
    """Medians, ratios and target checks for every metric measured (or noted missing)."""
    out = []
    for m in METRICS:
        if m.key not in results.values and m.key not in results.notes:
            continue
        values = {s: results.get(m.key, s) for s in results.systems}
        medians = {s: median(v) for s, v in values.items()}
        ratios = {}
        for against in ("bare", "pykka") + ((m.ref,) if m.ref else ()):
            ratios[against] = _ratio(m, results, against)
        v = Verdict(m, values, medians, ratios, note=results.notes.get(m.key, ""))
        for t in m.targets:
            r = ratios.get(t.against)
            ref_label = _BY_KEY[t.against].label if t.against in _BY_KEY else ""
            if r is None:
                ok = None
            elif t.limit is None:
                ok = r > 1.0 if m.higher_is_better else r < 1.0
            else:
                ok = r <= t.limit if t.most else r >= t.limit
            v.checks.append((t.text(ref_label), r, ok))
        out.append(v)
    return out


def _num(x, unit: str = "") -> str:
    if x is None:
        return "n/a"
    if unit == "msg/s":
        return f"{x / 1e3:,.0f}k"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


def _x(r) -> str:
    return "" if r is None else f"{r:.2f}×"


def _verdict_word(ok) -> str:
    return "n/a" if ok is None else "PASS" if ok else "FAIL"


def _render(header: list, rows: list, markdown: bool) -> list[str]:
    if markdown:
        out = ["| " + " | ".join(header) + " |",
               "|" + "|".join("---" if i == 0 else "---:" if i < len(header) - 1 else "---"
                              for i in range(len(header))) + "|"]
        return out + ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    fmt = lambda r: "  ".join(str(c).ljust(w) if i in (0, len(r) - 1) else str(c).rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    line = fmt(header)
    return [line, "-" * len(line)] + [fmt(r) for r in rows]


def table(verdicts: list[Verdict], markdown: bool = False) -> str:
    """The table of one run: medians, same-run ratios, targets and PASS/FAIL per metric."""
    header = ["metric", "unit", "bare", "pykka", "gs", "gs/bare", "gs/pykka", "gs/ref",
              "target: result"]
    rows = []
    for v in verdicts:
        m = v.metric
        checks = "; ".join(f"{text}: {_verdict_word(ok)}" for text, _, ok in v.checks)
        if v.note:
            checks += f" ({v.note})"
        rows.append([m.label, "k msg/s" if m.unit == "msg/s" else m.unit,
                     *(_num(v.medians.get(s), m.unit) for s in ("bare", "pykka", "gs")),
                     _x(v.ratios.get("bare")), _x(v.ratios.get("pykka")),
                     _x(v.ratios.get(m.ref)) if m.ref else "", checks or "(no target)"])
    lines = _render(header, rows, markdown)
    refs = [f"{v.metric.label} over {_BY_KEY[v.metric.ref].label}" for v in verdicts if v.metric.ref]
    failed = [v.metric.label for v in verdicts if v.passed is False]
    lines += ["", "Figures are medians over repetitions; ratios are medians of per-repetition "
                  "ratios (same run). gs/ref: " + "; ".join(refs) + ".",
              f"{sum(1 for v in verdicts if v.passed)} metrics meet every target, {len(failed)} "
              f"miss one" + (f": {', '.join(failed)}." if failed else ".")]
    return "\n".join(lines)


def combine(docs: list[dict], markdown: bool = True) -> str:
    """The targets judged on the median of several runs' same-run ratios (the issue's rule: 3 runs).

    ``docs`` are the JSON documents ``--json`` wrote, one per run.
    """
    if not docs:
        raise ValueError("combine needs the JSON of at least one run")
    by_key = [{m["key"]: m for m in d["metrics"]} for d in docs]
    header = ["metric", "target"] + [f"run {i + 1}" for i in range(len(docs))] + ["median", "result"]
    rows, failed = [], []
    for m in METRICS:
        if not any(m.key in runs for runs in by_key):
            continue
        for t in m.targets:
            ref_label = _BY_KEY[t.against].label if t.against in _BY_KEY else ""
            per_run = [runs.get(m.key, {}).get("ratios", {}).get(t.against) for runs in by_key]
            mid = median(per_run)
            if mid is None:
                ok = None
            elif t.limit is None:
                ok = mid > 1.0 if m.higher_is_better else mid < 1.0
            else:
                ok = mid <= t.limit if t.most else mid >= t.limit
            if ok is False:
                failed.append(f"{m.label} ({t.text(ref_label)})")
            rows.append([m.label, t.text(ref_label), *(_x(r) or "n/a" for r in per_run),
                         _x(mid) or "n/a", _verdict_word(ok)])
    lines = _render(header, rows, markdown)
    lines += ["", f"Each cell is genserver_lite's same-run ratio (gs / the target's reference); "
                  f"the verdict is on the median of the {len(docs)} runs. "
                  f"{len(failed)} target(s) missed" + (": " + "; ".join(failed) + "." if failed else ".")]
    return "\n".join(lines)


def to_json(verdicts: list[Verdict], results, params, facts: dict, elapsed_s: float) -> str:
    """Every figure of the run: per-repetition values, medians, ratios, targets, machine facts."""
    doc = {
        "machine": facts,
        "params": params.as_dict(),
        "elapsed_s": round(elapsed_s, 2),
        "systems": results.systems,
        "metrics": [{
            "key": v.metric.key, "label": v.metric.label, "unit": v.metric.unit,
            "higher_is_better": v.metric.higher_is_better, "ref": v.metric.ref,
            "values": v.values, "median": v.medians, "ratios": v.ratios,
            "targets": [{"target": text, "ratio": r, "pass": ok} for text, r, ok in v.checks],
            "pass": v.passed, "note": v.note, "about": v.metric.why,
        } for v in verdicts],
        "failed": [v.metric.key for v in verdicts if v.passed is False],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)
