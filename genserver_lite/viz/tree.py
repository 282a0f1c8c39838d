"""The supervision tree of a running supervisor, as a figure and as Mermaid (Kino.Process's ``sup_tree``, with status).

``gs.viz.supervision_tree(sup)`` draws the supervisor and its children,
nested supervisors included, left to right in start order (the order
``rest_for_one`` counts "the rest" in):

* a supervisor's box shows its name, kind, strategy and how many restarts
  its intensity window holds (``restarts 1/3 in 5 s``);
* a child's box shows its id (a class by its name), its registered name,
  its status (running green, restarting orange, terminated grey, ignored
  pale) and how many times it was restarted (``restarted 2x``);
* the last restart is highlighted: the child that exited in red, the
  siblings its strategy took down with it in orange.

``gs.viz.supervision_mermaid(sup)`` gives the same tree as a Mermaid
flowchart. Both read :func:`snapshot`, which calls ``describe`` on each
supervisor, from the caller's process.
"""

from __future__ import annotations

from .._kernel import Pid
from ..errors import Exit
from .labels import reason_text
from .mermaid import tree_mermaid
from .model import child_id_text
from .style import STATUS_COLOUR, VizFigure, new_figure

__all__ = ["snapshot", "supervision_tree", "supervision_mermaid", "last_restart"]


def snapshot(sup, *, depth: int = 6) -> dict:
    """``describe(sup)`` with each child's registered name and, for a supervisor child, its own tree.

    Accepts a supervisor's pid or name (or an earlier snapshot, returned as is).

    Raises:
        NoProc: no supervisor is alive there.
        TypeError: it is alive but not a supervisor.
    """
    if isinstance(sup, dict) and "children" in sup:
        return sup
    from ..supervisor import Supervisor
    pid = sup if type(sup) is Pid else None
    if pid is not None and pid._proc.behaviour not in ("Supervisor", "DynamicSupervisor"):
        raise TypeError(f"{sup!r} is not a supervisor (it runs {pid._proc.label!r})")
    tree = Supervisor.describe(sup)
    for child in tree["children"]:
        cpid = child["pid"]
        child["name"] = cpid._proc.name if type(cpid) is Pid else None
        if child["type"] == "supervisor" and type(cpid) is Pid and depth > 1:
            try:
                child["tree"] = snapshot(cpid, depth=depth - 1)
            except Exit:            # it died between the two describes: shown by its status
                child["tree"] = None
    return tree


def supervision_mermaid(sup) -> str:
    """The supervision tree as Mermaid ``flowchart`` text."""
    return tree_mermaid(snapshot(sup))


def last_restart(tree: dict) -> dict | None:
    """The newest ``exited`` event of a supervisor's history that restarted or escalated, or None."""
    for ev in reversed(tree.get("history", [])):
        if ev["event"] == "exited" and ev["action"] in ("restart", "escalate"):
            return ev
    return None


class _Layout:
    """A tidy top-down layout: leaves on consecutive columns, a parent above its children's middle."""

    def __init__(self, tree: dict):
        self.nodes = []       # (x, depth, kind, payload, parent index); kind sup | subsup | child
        self.next_x = 0.0
        self.place("sup", tree, 0, None)

    def place(self, kind: str, node: dict, depth: int, parent) -> float:
        index = len(self.nodes)
        self.nodes.append(None)
        tree = node if kind == "sup" else node.get("tree")
        kids = tree["children"] if kind != "child" and tree is not None else []
        xs = [self.place("subsup" if c.get("tree") else "child", c, depth + 1, index) for c in kids]
        if xs:
            x = (xs[0] + xs[-1]) / 2
        else:
            x, self.next_x = self.next_x, self.next_x + 1.0
        self.nodes[index] = (x, depth, kind, node, parent)
        return x


def _sup_text(tree: dict) -> str:
    title = tree.get("name") or tree.get("module") or tree["kind"]
    return (f"{title}\n{tree['kind']} · {tree['strategy']}\n"
            f"restarts {len(tree['restarts'])}/{tree['max_restarts']} in {tree['max_seconds']:g} s")


def _child_text(child: dict) -> str:
    label = child_id_text(child["id"])
    lines = [label]
    if child.get("name") and child["name"] != label:
        lines.append(f"({child['name']})")
    status = child["status"]
    if child["restarts"]:
        status += f" · restarted {child['restarts']}x"
    lines.append(status)
    return "\n".join(lines)


def supervision_tree(sup, *, title: str | None = None) -> VizFigure:
    """Draw a supervision tree (a supervisor's pid or name, or a :func:`snapshot`); returns a Figure."""
    tree = snapshot(sup)
    layout = _Layout(tree)
    leaves = max(1.0, layout.next_x)
    depth = max(n[1] for n in layout.nodes) + 1
    fig = new_figure(max(4.5, 2.1 * leaves + 0.6), 1.25 * depth + 1.2)
    ax = fig.add_axes([0.01, 0.12, 0.98, 0.8])
    ax.set_xlim(-0.6, leaves - 0.4)
    ax.set_ylim(depth - 0.4, -0.6)
    ax.axis("off")
    hot = _hot_ids(tree)
    for x, d, kind, node, parent in layout.nodes:
        if parent is not None:
            px, pd = layout.nodes[parent][0], layout.nodes[parent][1]
            status = node.get("status", "running")
            ax.plot([px, px, x, x], [pd + 0.28, pd + 0.5, pd + 0.5, d - 0.3], color="#9e9e9e",
                    lw=1.2, ls="--" if status != "running" else "-", zorder=1)
    for x, d, kind, node, parent in layout.nodes:
        if kind == "sup":
            _box(ax, x, d, _sup_text(node), "supervisor", bold=True, gid="node:supervisor")
            continue
        sub = node.get("tree") if kind == "subsup" else None
        owner = layout.nodes[parent]
        owner_tree = owner[3] if owner[2] == "sup" else owner[3].get("tree")
        edge = hot.get((id(owner_tree), node["id"]))
        if sub is not None:
            face = "supervisor" if node["status"] == "running" else node["status"]
            cid = child_id_text(node["id"])
            sub_name = str(sub.get("name") or sub.get("module"))
            _box(ax, x, d, _sup_text(sub) + (f"\nid {cid}" if cid != sub_name else ""), face, bold=True,
                 edge=edge, gid="node:supervisor")
        else:
            _box(ax, x, d, _child_text(node), node["status"], edge=edge,
                 gid=f"node:{node['status']}")
    caption = _caption(tree)
    fig.text(0.5, 0.03, caption, ha="center", va="bottom", fontsize=8, color="#424242")
    fig.suptitle(title or f"Supervision tree of {tree.get('name') or tree.get('module')}",
                 fontsize=10, y=0.985, va="top")
    return fig


def _hot_ids(tree: dict) -> dict:
    """``{(id(parent describe), child id): colour}`` for the last restart of every supervisor."""
    out = {}

    def walk(node):
        ev = last_restart(node)
        if ev is not None:
            out[(id(node), ev["id"])] = "#c62828"
            for sib in ev["siblings"]:
                out[(id(node), sib)] = "#ef6c00"
        for c in node["children"]:
            if c.get("tree"):
                walk(c["tree"])
    walk(tree)
    return out


def _caption(tree: dict) -> str:
    ev = last_restart(tree)
    if ev is None:
        return "children left to right in start order"
    text = f"last restart: {child_id_text(ev['id'])} exited ({reason_text(ev['reason'])})"
    if ev["siblings"]:
        text += f"; {tree['strategy']} took down " + ", ".join(child_id_text(s) for s in ev["siblings"])
    return text + "   (red: exited, orange: taken down with it)"


def _box(ax, x, y, text, status, *, bold=False, edge=None, gid=None):
    fc, ec = STATUS_COLOUR.get(status, STATUS_COLOUR["terminated"])
    lw = 1.2
    if edge is not None:
        ec, lw = edge, 2.8
    ax.text(x, y, text, ha="center", va="center", fontsize=8.2, zorder=3, gid=gid,
            fontweight="bold" if bold else "normal",
            color="#616161" if status in ("terminated", "ignored") else "#212121",
            bbox=dict(boxstyle="round,pad=0.45", fc=fc, ec=ec, lw=lw,
                      ls="--" if status in ("restarting", "ignored") else "-"))
