"""Restarts over time: crashes, restarts, siblings taken down, the intensity window filling up (OTP's restart intensity, drawn).

``gs.viz.restart_timeline(trace_or_sup)`` has two panels sharing the time axis:

* **top**, one row per child: a red cross where it crashed (grey for a
  normal exit), a green triangle where it was restarted, an orange square
  where its supervisor's strategy shut it down because a sibling crashed
  (joined to that crash by a dotted line), and a shaded band while it was
  down; a red vertical line where the supervisor reached its intensity and
  gave up (escalation);
* **bottom**, one line per supervisor: how many restarts its window of
  ``max_seconds`` holds at each moment, against the ``max_restarts`` limit.
  One more than the limit and the supervisor shuts down.

The source is a :class:`~genserver_lite.trace.Trace` (its supervisor
events, times from the timer clock, so a ``FakeClock`` gives exact
seconds) or a live supervisor (its ``describe()["history"]``, nested
supervisors included). A restart is counted, as the supervisor counts it,
at each ``exited`` event whose action is ``restart`` or ``escalate``.
"""

from __future__ import annotations

from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import offset_copy

from .._kernel import Pid
from .labels import reason_text
from .model import child_id_text
from .style import VizFigure, new_figure

__all__ = ["restart_timeline", "collect", "window_counts"]


def _normal(reason) -> bool:
    if type(reason) is str:
        return reason in ("normal", "shutdown")
    return type(reason) is tuple and len(reason) == 2 and reason[0] == "shutdown"


def collect(source, limits: dict | None = None):
    """``(events, sups, origin)``: ``[(sup label, event dict)]`` in order, ``{label: (max_restarts, max_seconds) or None}``."""
    limits = dict(limits or {})
    events, sups = [], {}
    if hasattr(source, "model") and hasattr(source, "events"):      # a Trace
        model = source.model
        live = {}
        for ev in model.sup_events:
            label = model.name(ev.pid)
            if label not in sups:
                sups[label] = _limits(ev.data, label, limits, ev.pid, live)
            events.append((label, ev.data))
        origin = source.clock0 if source.clock0 is not None else (
            events[0][1]["time"] if events else 0.0)
        return events, sups, origin
    from .tree import snapshot
    tree = snapshot(source)

    def walk(node):
        label = str(node.get("name") or node.get("module"))
        sups[label] = limits.get(label, (node["max_restarts"], node["max_seconds"]))
        for ev in node["history"]:
            events.append((label, ev))
        for c in node["children"]:
            if c.get("tree"):
                walk(c["tree"])
    walk(tree)
    events.sort(key=lambda e: e[1]["time"])
    origin = events[0][1]["time"] if events else 0.0
    return events, sups, origin


def _limits(ev: dict, label: str, limits: dict, pid, live: dict):
    if label in limits:
        return limits[label]
    if "max_restarts" in ev and "max_seconds" in ev:
        return (ev["max_restarts"], ev["max_seconds"])
    if type(pid) is Pid and pid._proc.alive:
        from ..supervisor import Supervisor
        try:
            d = Supervisor.describe(pid)
            return (d["max_restarts"], d["max_seconds"])
        except Exception:   # noqa: BLE001 - it died meanwhile: limits unknown, said in the figure
            return None
    return None


def window_counts(times: list[float], max_seconds: float) -> tuple[list[float], list[int]]:
    """The number of restarts inside ``[t - max_seconds, t]`` as a step function: ``(xs, counts)``."""
    points = sorted(set(times) | {t + max_seconds for t in times})
    xs, ys = [], []
    for x in points:
        xs.append(x)
        ys.append(sum(1 for t in times if x - max_seconds <= t <= x))
    return xs, ys


def restart_timeline(source, *, limits: dict | None = None, title: str | None = None) -> VizFigure:
    """Draw restarts over time for a trace or a live supervisor; returns a Figure.

    Args:
        source: a Trace, or a supervisor's pid or name.
        limits: ``{supervisor label: (max_restarts, max_seconds)}`` for
            supervisors whose limits the source cannot tell (one that died
            before the picture is drawn, when its events do not carry them).
    """
    events, sups, origin = collect(source, limits)
    key_of, rows, names = _rows(events, many=len(sups) > 1)
    n_rows = max(1, len(rows))
    fig = new_figure(9.0, 0.45 * n_rows + 0.7 * max(1, len(sups)) + 2.6)
    top_h = 0.45 * n_rows + 0.5
    bottom_h = 0.7 * max(1, len(sups)) + 0.6
    gs_ = fig.add_gridspec(2, 1, height_ratios=[top_h, bottom_h], hspace=0.35,
                           left=0.16, right=0.97, top=0.9, bottom=0.12)
    ax, ax2 = fig.add_subplot(gs_[0]), None
    ax2 = fig.add_subplot(gs_[1], sharex=ax)
    row_of = {key: i for i, key in enumerate(rows)}
    times = [ev["time"] - origin for _, ev in events] or [0.0]
    span = max(times) - min(times) or 1.0
    _draw_children(ax, events, key_of, row_of, origin, span)
    ax.set_yticks(range(n_rows), names if rows else ["(no supervisor events)"], fontsize=8)
    ax.set_ylim(n_rows - 0.4, -0.6)
    ax.grid(axis="x", color="#eeeeee")
    ax.tick_params(labelbottom=False)
    _draw_window(ax2, events, sups, origin, span)
    unit = "seconds"
    if span < 1.0:      # a real-time run is over in milliseconds
        unit = "milliseconds"
        ax2.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v * 1000:g}"))
    ax2.set_xlabel(f"{unit} (timer clock) since " + ("the trace started" if hasattr(source, "model")
                                                    else "the first event"), fontsize=8)
    ax.set_xlim(min(times) - 0.06 * span, max(times) + 0.12 * span)
    ax.legend(handles=_legend(), loc="upper center", bbox_to_anchor=(0.5, 1.0), ncol=5,
              fontsize=7, frameon=False, borderaxespad=-2.2)
    fig.suptitle(title or "Restarts over time", fontsize=10, y=0.995, va="top")
    return fig


def _rows(events, many: bool):
    """One row per child: ``(key_of, rows, names)``.

    A child is its supervisor's label and its id; children that share an id
    (a DynamicSupervisor's, all started from one spec, as in OTP) are told
    apart by the child record each event names, and shown as ``id #1``,
    ``id #2`` in the order they first appear. A restarted child keeps its row.
    """
    serials: dict = {}       # (label, id) -> the child records seen under it, in order
    for label, ev in events:
        if ev["id"] is not None:
            seen = serials.setdefault((label, ev["id"]), [])
            if ev.get("child") not in seen:
                seen.append(ev.get("child"))

    def key_of(label, ev):
        seen = serials.get((label, ev["id"]))
        if seen is None:
            return None
        return (label, ev["id"], ev.get("child") if len(seen) > 1 else None)
    rows, names = [], []
    for label, ev in events:
        key = key_of(label, ev)
        if key is not None and key not in rows:
            rows.append(key)
            seen = serials[(label, ev["id"])]
            text = child_id_text(ev["id"]) + (f" #{seen.index(key[2]) + 1}" if len(seen) > 1 else "")
            names.append(f"{label} / {text}" if many else text)
    return key_of, rows, names


def _draw_children(ax, events, key_of, row_of, origin, span) -> None:
    later = offset_copy(ax.transData, fig=ax.figure, x=8, units="points")   # a restart at the crash's time
    down_since: dict = {}
    taking_down: dict = {}       # (sup, sibling id) -> the crash's (x, row)
    for label, ev in events:
        x = ev["time"] - origin
        key = key_of(label, ev)
        row = row_of.get(key)
        kind, reason = ev["event"], ev["reason"]
        if kind == "intensity_reached":
            ax.axvline(x, color="#c62828", lw=2, zorder=1, gid="escalation")
            left = x - origin_x(events, origin) > 0.6 * span
            ax.text(x, -0.55, f" {label}: intensity reached, escalates " if left else
                    f" {label}: intensity reached, escalates", color="#c62828", fontsize=7.5,
                    va="top", ha="right" if left else "left", fontweight="bold")
            continue
        if row is None:
            continue
        if kind == "exited":
            abnormal = not _normal(reason)
            ax.plot([x], [row], marker="X", ms=11 if ev["action"] == "escalate" else 9,
                    color="#c62828" if abnormal else "#9e9e9e", ls="none", zorder=4,
                    gid="crash" if abnormal else "exit")
            ax.annotate(reason_text(reason)[:24], (x, row), xytext=(0, 8), textcoords="offset points",
                        ha="center", fontsize=6.5, color="#b71c1c" if abnormal else "#757575")
            down_since[key] = x
            for sib in ev.get("siblings", []):
                taking_down[(label, sib)] = (x, row)
        elif kind == "terminated":
            cause = taking_down.pop((label, ev["id"]), None)
            ax.plot([x], [row], marker="s", ms=7, ls="none", zorder=4,
                    color="#ef6c00" if cause else "#9e9e9e", gid="taken_down" if cause else "terminated")
            if cause is not None:
                ax.plot([cause[0], x], [cause[1], row], color="#ef6c00", lw=1, ls=":", zorder=2)
            down_since[key] = x
        elif kind in ("restarted", "started"):
            if kind == "restarted":
                ax.plot([x], [row], marker="^", ms=9, color="#2e7d32", ls="none", zorder=4,
                        gid="restart", transform=later)
            else:
                ax.plot([x], [row], marker="o", ms=5, color="#9e9e9e", ls="none", zorder=3, gid="start")
            since = down_since.pop(key, None)
            if since is not None:
                ax.plot([since, x], [row, row], color="#ffcdd2", lw=7, solid_capstyle="butt", zorder=1)
        elif kind == "start_failed":
            ax.plot([x], [row], marker="o", ms=8, mfc="none", mec="#c62828", mew=2, ls="none",
                    zorder=4, gid="start_failed")
        elif kind == "deleted":
            ax.plot([x], [row], marker="D", ms=6, color="#757575", ls="none", zorder=4)
    end = max((ev["time"] - origin for _, ev in events), default=0.0) + 0.1 * span
    for key, since in down_since.items():
        row = row_of.get(key)
        if row is not None:
            ax.plot([since, end], [row, row], color="#eeeeee", lw=7, solid_capstyle="butt", zorder=1)


def origin_x(events, origin) -> float:
    return min((ev["time"] - origin for _, ev in events), default=0.0)


def _draw_window(ax, events, sups, origin, span) -> None:
    colours = ["#1f3a93", "#7b1fa2", "#00897b", "#ef6c00"]
    unknown = []
    top = 1
    for i, (label, lim) in enumerate(sups.items()):
        times = [ev["time"] - origin for lab, ev in events
                 if lab == label and ev["event"] == "exited" and ev["action"] in ("restart", "escalate")]
        colour = colours[i % len(colours)]
        if lim is None:
            unknown.append(label)
            xs = sorted(times)
            ax.step([0.0, *xs], list(range(len(xs) + 1)), where="post", color=colour, lw=1.6,
                    label=f"{label}: restarts so far (limits unknown)")
            top = max(top, len(xs) + 1)
            continue
        max_restarts, max_seconds = lim
        xs, ys = window_counts(times, max_seconds)
        end = max(xs[-1] if xs else 0.0, max((ev["time"] - origin for _, ev in events), default=0))
        ax.step([min(0.0, *xs) if xs else 0.0, *xs, end], [0, *ys, ys[-1] if ys else 0], where="post",
                color=colour, lw=1.8, label=f"{label}: restarts within {max_seconds:g} s", gid="window")
        ax.axhline(max_restarts, color=colour, ls="--", lw=1, alpha=0.8)
        over = [(x, y) for x, y in zip(xs, ys) if y > max_restarts]
        if over:
            ax.plot([over[0][0]], [over[0][1]], marker="o", ms=8, color="#c62828", zorder=5,
                    gid="over_limit")
        ax.text(1.0, max_restarts, f" max_restarts={max_restarts}", transform=ax.get_yaxis_transform(),
                fontsize=7, color=colour, va="bottom", ha="right")
        top = max(top, max_restarts + 1, max(ys, default=0))
    ax.set_ylim(-0.2, top + 0.8)
    ax.set_ylabel("in window", fontsize=8)
    ax.grid(axis="x", color="#eeeeee")
    if sups:
        ax.legend(fontsize=7, loc="upper left", frameon=False)
    if unknown:
        ax.text(0.99, 0.02, "limits unknown for " + ", ".join(unknown) + " (pass limits=...)",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="#757575")


def _legend() -> list:
    return [
        Line2D([], [], marker="X", color="#c62828", ls="none", label="crashed"),
        Line2D([], [], marker="^", color="#2e7d32", ls="none", label="restarted"),
        Line2D([], [], marker="s", color="#ef6c00", ls="none", label="taken down by strategy"),
        Line2D([], [], color="#ffcdd2", lw=6, label="down"),
        Line2D([], [], color="#c62828", lw=2, label="intensity reached"),
    ]
