"""The sequence diagram of a trace, drawn with matplotlib (UML's sequence diagram; Kino.Process's ``render_seq_trace``).

One lifeline per process, top to bottom in the order things happened, one
row per arrow or note:

* solid arrows with a filled head are calls, dashed ones their replies; casts
  are teal with an open head, plain messages purple and dotted, timer messages
  orange, system messages (start acks, ``gs.sys``) grey;
* EXIT and DOWN messages and exit signals are red; a crossed end means the
  message was dropped (a reply nobody waited for) or the signal killed;
* a spawn starts a lifeline (dotted above it), an exit ends it with a cross,
  red for a crash;
* the bars on a lifeline show the process busy handling a message, from the
  moment it took it out of its mailbox (a gap after the arrow means the
  message waited in the mailbox);
* notes show links, monitors, timeouts and supervisor events; the left
  margin shows the time since the trace started.

Long traces wrap into side-by-side columns of ``rows`` rows, ``columns`` per
figure; past that they paginate (``page=2``...). Labels come from
:mod:`.labels`, positions from :mod:`.model`, so the figure and
``trace.to_mermaid()`` show the same arrows.
"""

from __future__ import annotations

import math

from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Rectangle

from .model import Message, Note, Signal, model_of
from .style import HIGHLIGHT, KIND_STYLE, NOTE_STYLE, VizFigure, new_figure, png

__all__ = ["sequence_diagram", "page_count", "png_bytes"]

_ROW_IN = 0.34      # inches per row
_COL_IN = 1.9       # inches per lifeline


def _model(trace):
    return model_of(trace)


def page_count(trace, *, rows: int = 30, columns: int = 2) -> int:
    """How many pages :func:`sequence_diagram` needs for this trace."""
    n = len(_model(trace).items)
    return max(1, math.ceil(n / (rows * columns)))


def png_bytes(trace) -> bytes:
    """The first page of the diagram as PNG (the fallback a Trace shows outside JupyterLab)."""
    return png(sequence_diagram(trace))


def _check(rows, columns, page):
    for name, v in (("rows", rows), ("columns", columns)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if page is not None and (isinstance(page, bool) or not isinstance(page, int) or page < 1):
        raise ValueError(f"page must be a positive int (1 is the first page), got {page!r}")


def sequence_diagram(trace, *, page: int | None = None, rows: int = 30, columns: int = 2,
                     highlight: int | None = None, times: bool = True) -> VizFigure:
    """Draw a trace as a sequence diagram; returns a matplotlib Figure.

    Args:
        trace: a :class:`~genserver_lite.trace.Trace`.
        page: which page of a long trace (1-based); by default the page that
            holds ``highlight``, else the first.
        rows: rows per column; columns: columns per page (the wrap at ~50 messages).
        highlight: the ``seq`` of one event to highlight (the TraceStepper's cursor).
        times: show the time since the trace started in the left margin.

    Raises:
        ValueError: a bad ``rows``/``columns``/``page``, or a page past the last.
    """
    _check(rows, columns, page)
    model = _model(trace)
    n_items = len(model.items)
    per_page = rows * columns
    pages = max(1, math.ceil(n_items / per_page))
    hl_pos = model.position(highlight) if highlight is not None else None
    if page is None:
        page = 1 if hl_pos is None else min(pages, int(max(hl_pos, 0) // per_page) + 1)
    if page > pages:
        raise ValueError(f"page {page} does not exist: this trace has {pages} page(s)")
    first = (page - 1) * per_page
    last = min(n_items, first + per_page)
    spans = [(r, min(r + rows, last)) for r in range(first, max(last, first + 1), rows)]
    n_part = max(1, len(model.pids))
    col_w = max(3.2, _COL_IN * n_part + 2.5)
    height = _ROW_IN * (max(b - a for a, b in spans) + 3) + 1.2
    fig = new_figure(col_w * len(spans), height)
    fig.subplots_adjust(left=0.02, right=0.98, top=1 - 0.55 / height, bottom=0.85 / height,
                        wspace=0.04)
    axes = fig.subplots(1, len(spans), squeeze=False)[0]
    acts = model.activations()
    kinds = set()
    for ax, (r0, r1) in zip(axes, spans):
        kinds |= _draw_column(ax, model, r0, r1, acts, hl_pos, highlight, times)
    title = (f"{len(model.participants)} processes, {len(model.messages)} messages"
             + (f" - page {page} of {pages} (pass page=N for the others)" if pages > 1 else ""))
    fig.suptitle(title, fontsize=9, color="#424242", y=1 - 0.12 / height, va="top")
    _legend(fig, kinds, col_w * len(spans))
    return fig


def _draw_column(ax, model, r0, r1, acts, hl_pos, highlight, times) -> set:
    n = max(1, len(model.pids))
    x_of = {pid: i for i, pid in enumerate(model.pids)}
    ax.set_xlim(-1.0, n + 0.45)     # room right of the last lifeline for self-arrows and exit notes
    ax.set_ylim(max(r1, r0 + 1) - 0.3, r0 - 1.7)
    ax.axis("off")
    top, bottom = r0 - 0.9, max(r1, r0 + 1) - 0.5
    if r0 > 0:
        ax.text(-0.97, r0 - 1.55, "(continued)", fontsize=7, color="#9e9e9e", va="top")
    for pid, name in zip(model.pids, model.participants):
        x = x_of[pid]
        born, died = model.lifeline(pid)
        a, b = max(top, born), min(bottom, died)
        if born > top:
            ax.plot([x, x], [top, min(born, bottom)], color="#d0d0d0", lw=1, ls=":", zorder=1)
        if a < b:
            ax.plot([x, x], [a, b], color="#9e9e9e", lw=1.1, zorder=1)
        ax.text(x, r0 - 1.2, name, ha="center", va="center", fontsize=9, fontweight="bold",
                color="#212121", zorder=5,
                bbox=dict(boxstyle="round,pad=0.35", fc="#e3eaf6", ec="#3b5b9a", lw=1))
    for pid, b, e in acts:
        if e < r0 - 0.5 or b > r1 - 0.5 or pid not in x_of:
            continue
        y0, y1 = max(b - 0.25, r0 - 0.5), min(e + 0.25, r1 - 0.5)
        ax.add_patch(Rectangle((x_of[pid] - 0.045, y0), 0.09, y1 - y0, fc="#fff3c4",
                               ec="#b08800", lw=0.8, zorder=2, gid="activation"))
    if hl_pos is not None and r0 - 0.5 <= hl_pos < r1 - 0.5:
        ax.axhspan(hl_pos - 0.42, hl_pos + 0.42, color=HIGHLIGHT, alpha=0.45, zorder=0,
                   gid="highlight")
    kinds = set()
    for item in model.items[r0:r1]:
        y = item.row
        if times:
            ax.text(-0.97, y, _fmt_time(item.time), fontsize=6.5, color="#9e9e9e", va="center")
        if type(item) is Note:
            _note(ax, item, x_of, y)
            continue
        hot = highlight is not None and (item.seq == highlight or (
            type(item) is Message and item.received is not None and item.received.seq == highlight))
        kinds.add(_arrow(ax, item, x_of, y, hot, highlight))
    return kinds


def _fmt_time(t: float) -> str:
    return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"


def _arrow(ax, item, x_of, y, hot: bool, highlight) -> str:
    xs, xr = x_of[item.sender], x_of[item.receiver]
    if type(item) is Signal:
        key = "signal" if item.effect == "killed" else "dropped"
        gid = "signal"
    else:
        key = "dropped" if (item.dropped or item.lost) else item.kind
        gid = f"message:{item.kind}"
    colour, ls, head, _ = KIND_STYLE.get(key, KIND_STYLE["info"])
    lw = 2.6 if hot else 1.3
    if xs == xr:        # a message to itself: a loop on the right of its lifeline
        patch = FancyArrowPatch((xs + 0.05, y - 0.18), (xs + 0.05, y + 0.18),
                                connectionstyle="arc3,rad=-1.6", arrowstyle=head, mutation_scale=11,
                                color=colour, lw=lw, ls=ls, zorder=4, gid=gid)
        tx, ha = xs + 0.3, "left"
    else:
        d = 0.05 if xr > xs else -0.05
        patch = FancyArrowPatch((xs + d, y), (xr - d, y), arrowstyle=head, mutation_scale=12,
                                color=colour, lw=lw, ls=ls, shrinkA=0, shrinkB=0, zorder=4, gid=gid)
        tx, ha = (xs + xr) / 2, "center"
    ax.add_patch(patch)
    crossed = (type(item) is Signal and item.effect == "killed") or (
        type(item) is Message and (item.dropped or item.lost))
    if crossed:
        ax.plot([xr], [y], marker="x", ms=7, mew=2, color="#c62828", zorder=6)
    if hot and type(item) is Message and item.received is not None and item.received.seq == highlight:
        ax.plot([xr], [y], marker="o", ms=9, mfc="none", mec="#f57f17", mew=2, zorder=6)
    ax.text(tx, y - 0.1, item.label, ha=ha, va="bottom", fontsize=7.8, color=colour, zorder=5,
            fontweight="bold" if hot else "normal", gid="label",
            bbox=dict(boxstyle="square,pad=0.05", fc="white", ec="none", alpha=0.8))
    return key


def _note(ax, note: Note, x_of, y) -> None:
    xs = [x_of[p] for p in note.over if p in x_of]
    if not xs:
        return
    x = (min(xs) + max(xs)) / 2
    fc, ec, tc = NOTE_STYLE.get(note.style, NOTE_STYLE["drop"])
    dying = note.style in ("exit", "crash")
    if dying:               # beside the cross that ends the lifeline
        tx, ha = x + 0.12, "left"
    else:                   # centred, but clear of the time column
        half = 0.016 * len(note.text) * 1.9 / _COL_IN
        tx, ha = max(x, -0.45 + half), "center"
    ax.text(tx, y, note.text, ha=ha, va="center", fontsize=7.3, color=tc, zorder=5,
            gid=f"note:{note.style}",
            bbox=dict(boxstyle="round,pad=0.28", fc=fc, ec=ec, lw=0.9))
    if note.style == "spawn" and note.child in x_of:
        xc = x_of[note.child]
        ax.add_patch(FancyArrowPatch((x, y + 0.2), (xc, y + 0.2), arrowstyle="->",
                                     mutation_scale=9, color="#9e9e9e", lw=0.9, ls=":", zorder=3,
                                     gid="spawn"))
    if dying:
        colour = "#c62828" if note.style == "crash" else "#757575"
        ax.plot([xs[0]], [y], marker="X", ms=10, color=colour, zorder=6)


def _legend(fig, kinds: set, width: float) -> None:
    order = [k for k in KIND_STYLE if k in kinds]
    if not order:
        return
    handles = [Line2D([0], [0], color=KIND_STYLE[k][0], ls=KIND_STYLE[k][1], lw=1.6,
                      label=KIND_STYLE[k][3]) for k in order]
    fig.legend(handles=handles, loc="lower center", ncol=max(1, min(len(handles), int(width / 2.4))), fontsize=7.5,
               frameon=False, bbox_to_anchor=(0.5, 0.0))
