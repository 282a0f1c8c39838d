"""The look shared by every picture: colours and line styles per message kind and status, and the figure class.

Figures are plain ``matplotlib.figure.Figure`` objects drawn on the Agg
canvas, never through pyplot: nothing is left in pyplot's global list, a
figure shows exactly once in Jupyter (through ``_repr_png_``), and tests run
headless without choosing a backend.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["KIND_STYLE", "NOTE_STYLE", "STATUS_COLOUR", "VizFigure", "new_figure", "png"]

# kind -> (colour, linestyle, arrowstyle, legend text)
KIND_STYLE = {
    "call":   ("#1f3a93", "-", "-|>", "call (waits for a reply)"),
    "reply":  ("#1f3a93", "--", "-|>", "reply"),
    "result": ("#1f3a93", "--", "-|>", "task result"),
    "cast":   ("#00897b", "-", "->", "cast (no reply)"),
    "info":   ("#7b1fa2", ":", "->", "plain message (info)"),
    "timer":  ("#ef6c00", "-.", "->", "timer message"),
    "system": ("#8d8d8d", "-", "-|>", "system (start ack, gs.sys)"),
    "exit":   ("#c62828", "-", "-|>", "EXIT message"),
    "down":   ("#c62828", "--", "-|>", "DOWN message"),
    "signal": ("#c62828", "-", "-|>", "exit signal"),
    "dropped": ("#9e9e9e", "--", "-", "dropped / lost"),
}

# note style -> (face colour, edge colour, text colour)
NOTE_STYLE = {
    "spawn":     ("#f5f5f5", "#9e9e9e", "#424242"),
    "link":      ("#f5f5f5", "#bdbdbd", "#616161"),
    "unlink":    ("#f5f5f5", "#bdbdbd", "#616161"),
    "monitor":   ("#f5f5f5", "#bdbdbd", "#616161"),
    "exit":      ("#eeeeee", "#757575", "#424242"),
    "crash":     ("#ffebee", "#c62828", "#b71c1c"),
    "timeout":   ("#fff8e1", "#f9a825", "#6d4c00"),
    "drop":      ("#fafafa", "#9e9e9e", "#616161"),
    "sup":       ("#e8f5e9", "#2e7d32", "#1b5e20"),
    "sup_alert": ("#fff3e0", "#e65100", "#bf360c"),
}

STATUS_COLOUR = {   # face, edge
    "running":    ("#d9f2d9", "#2e7d32"),
    "restarting": ("#ffe0b2", "#e65100"),
    "terminated": ("#eeeeee", "#9e9e9e"),
    "ignored":    ("#fafafa", "#bdbdbd"),
    "supervisor": ("#dbe8ff", "#3b5b9a"),
}

HIGHLIGHT = "#ffeb3b"


class VizFigure(Figure):
    """A matplotlib Figure that Jupyter shows as a PNG (and only once)."""

    def _repr_png_(self) -> bytes:
        return png(self)


def new_figure(width: float, height: float) -> VizFigure:
    """A figure of ``width`` x ``height`` inches on an Agg canvas."""
    fig = VizFigure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()
