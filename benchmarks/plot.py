"""The plot: genserver_lite's same-run cost ratios, against bare threads, Pykka, and itself.

Every bar is a *cost* ratio, genserver_lite over the other, so shorter is
better everywhere: for throughput (higher is better) the ratio is inverted
into time per message. The x axis is logarithmic and centred on 1 (equal
cost); a target is drawn as a tick on its bar's row, and the bar is green
when the metric's targets *on that panel* pass, red when one fails, grey
when the panel holds none of its targets.
"""

from __future__ import annotations

__all__ = ["plot"]

_PASS, _FAIL, _NONE = "#2e7d32", "#c62828", "#9e9e9e"
_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)


def _bars(verdicts, against: str):
    """(label, cost ratio, target ticks, colour) for each metric with a ratio against ``against``."""
    rows = []
    for v in verdicts:
        r = v.ratios.get(against)
        if r is None or (against not in ("bare", "pykka") and v.metric.ref != against):
            continue
        inv = v.metric.higher_is_better
        cost = 1.0 / r if inv else r
        limits, oks = [], []
        for t, (_, _, ok) in zip(v.metric.targets, v.checks):
            if t.against == against:
                oks.append(ok)
                if t.limit is not None:
                    limits.append(1.0 / t.limit if inv else t.limit)
        oks = [ok for ok in oks if ok is not None]
        colour = _NONE if not oks else _PASS if all(oks) else _FAIL
        label = v.metric.label
        if against not in ("bare", "pykka"):
            label = f"{label} / {_ref_label(verdicts, against)}"
        rows.append((label, cost, limits, colour))
    return rows


def plot(verdicts, path: str, title: str = "") -> None:
    """Write the ratios of ``verdicts`` (from :func:`benchmarks.report.evaluate`) as a PNG at ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    panels = [("bare", "genserver_lite / bare threads"), ("pykka", "genserver_lite / Pykka")]
    refs = list(dict.fromkeys(v.metric.ref for v in verdicts if v.metric.ref))
    data = [(_bars(verdicts, key), name) for key, name in panels]
    data.append(([row for ref in refs for row in _bars(verdicts, ref)],
                 "genserver_lite against itself, same run"))
    data = [(rows, name) for rows, name in data if rows]
    heights = [max(1.5, 0.42 * len(rows) + 0.9) for rows, _ in data]
    fig, axes = plt.subplots(len(data), 1, figsize=(8.5, sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (rows, name) in zip(axes[:, 0], data):
        labels = [label for label, *_ in rows]
        y = range(len(rows))
        costs = [c for _, c, _, _ in rows]
        ax.barh(list(y), costs, color=[col for *_, col in rows], height=0.6)
        for i, (_, cost, limits, _) in enumerate(rows):
            ax.text(cost * 1.05, i, f"{cost:.2f}×", va="center", fontsize=8)
            for lim in limits:
                ax.plot([lim, lim], [i - 0.4, i + 0.4], color="black", lw=2)
        ax.set_xscale("log")
        marks = costs + [lim for *_, lims, _ in rows for lim in lims]
        lo, hi = min(marks + [0.5]) / 1.6, max(marks + [2.0]) * 2.6
        ax.set_xlim(lo, hi)
        ticks = [t for t in _TICKS if lo <= t <= hi]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"{t:g}×" for t in ticks], fontsize=8)
        ax.axvline(1.0, color="black", lw=0.8, ls="--")
        ax.set_yticks(list(y))
        ax.set_yticklabels(labels, fontsize=9)
        ax.invert_yaxis()
        ax.set_title(name + "  (cost ratio, shorter is better; | = target)", fontsize=10)
    fig.suptitle(title or "genserver_lite benchmarks: same-run ratios (median of repetitions)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.975))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _ref_label(verdicts, ref_key: str) -> str:
    for v in verdicts:
        if v.metric.key == ref_key:
            return v.metric.label
    return ref_key
