"""Draw the course's schematic figures into notebooks/figures/ as SVG.

    python tools/figures.py [OUTPUT_DIR]        # default: notebooks/figures

Each figure is one small function that draws on a fresh matplotlib figure. The output is
byte-stable: SVG ids come from a fixed salt and no date is written, so running the script
again changes nothing unless a drawing changed (tests/tools/test_figures.py checks exactly that).
Colours mean the same thing in every figure: blue for values flowing forward, red for
gradients flowing backward, orange for the part the text is talking about, green for
learned parameters.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Polygon, Rectangle  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "notebooks" / "figures"

FORWARD = "#2b6cb0"  # values, forward pass
GRAD = "#c53030"  # gradients, backward pass
ACCENT = "#dd6b20"  # what the text points at
PARAM = "#2f855a"  # learned parameters
INK = "#222222"
LIGHT = {FORWARD: "#dbe8f6", GRAD: "#f8dada", ACCENT: "#fde3cc", PARAM: "#d7eedf", INK: "#eeeeee"}
WINDOWS = ["#dd6b20", "#2b6cb0", "#2f855a", "#805ad5"]  # one colour per window / block

STYLE = {
    "svg.hashsalt": "minidl-figures",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 11,
    "mathtext.fontset": "dejavusans",
}


def canvas(width: float, height: float, xlim: tuple, ylim: tuple):
    """A figure with one axis-free panel whose data units are laid out by hand."""
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def box(ax, x, y, w, h, text="", color=INK, fill=None, size=11, rounded=True, **kw):
    """A box centred at (x, y) with centred text."""
    style = "round,pad=0.02,rounding_size=0.12" if rounded else "square,pad=0"
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle=style,
            lw=1.4,
            ec=color,
            fc=fill if fill is not None else LIGHT.get(color, "white"),
        )
    )
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=size, color=INK, **kw)


def node(ax, x, y, text, color=INK, r=0.32, size=12):
    """A circle centred at (x, y) with centred text."""
    ax.add_patch(Circle((x, y), r, lw=1.4, ec=color, fc=LIGHT.get(color, "white")))
    ax.text(x, y, text, ha="center", va="center", fontsize=size, color=INK)


#: how an arrow looks unless a call says otherwise, in ``FancyArrowPatch``'s keywords
ARROW_STYLE = {"arrowstyle": "-|>", "mutation_scale": 13, "lw": 1.5, "linestyle": "-"}


def arrow(ax, start, end, color=INK, shrink=0.0, rad=0.0, **style):
    """An arrow from start to end (data coordinates), shortened by ``shrink`` points at both
    ends and bent by ``rad``; ``style`` overrides ``ARROW_STYLE`` (``lw=1.2``, ``linestyle="--"``,
    ``arrowstyle="<|-|>"``)."""
    ends = {"shrinkA": shrink, "shrinkB": shrink, "connectionstyle": f"arc3,rad={rad}"}
    ax.add_patch(FancyArrowPatch(start, end, color=color, **ends, **{**ARROW_STYLE, **style}))


def grid(ax, x0, y0, values, cell=0.5, colors=None, size=10, edge="#666666"):
    """A table of numbers with its top-left corner at (x0, y0); colors[i][j] fills a cell."""
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            fc = colors[i][j] if colors is not None and colors[i][j] else "white"
            ax.add_patch(Rectangle((x0 + j * cell, y0 - (i + 1) * cell), cell, cell, lw=0.8, ec=edge, fc=fc))
            ax.text(
                x0 + (j + 0.5) * cell,
                y0 - (i + 0.5) * cell,
                str(v),
                ha="center",
                va="center",
                fontsize=size,
                color=INK,
            )


def outline(ax, x0, y0, rows, cols, cell, color, lw=2.5):
    """A thick frame around rows x cols cells whose top-left corner is (x0, y0)."""
    ax.add_patch(
        Rectangle((x0, y0 - rows * cell), cols * cell, rows * cell, lw=lw, ec=color, fc="none", zorder=5)
    )


# ----------------------------------------------------------------------------- chapter 2


def neuron():
    """One neuron: weighted sum of the inputs plus a bias, then the activation."""
    fig, ax = canvas(7.2, 3.3, (-0.6, 9.6), (-0.4, 4.2))
    ys = [3.3, 1.9, 0.5]
    for k, y in enumerate(ys, start=1):
        node(ax, 0.3, y, f"$x_{k}$", FORWARD)
        arrow(ax, (0.62, y), (4.15, 1.9 + (y - 1.9) * 0.18), INK, shrink=0)
        ax.text(2.1, y + (1.9 - y) * 0.45 + 0.22, f"$w_{k}$", color=PARAM, fontsize=12, ha="center")
    ax.text(
        -0.1, -0.25, "inputs $x \\in \\mathbb{R}^D$ (here $D = 3$)", ha="left", fontsize=10, color=FORWARD
    )
    node(ax, 4.6, 1.9, "$\\Sigma$", INK, r=0.45, size=15)
    node(ax, 4.6, 3.6, "$b$", PARAM, r=0.3)
    arrow(ax, (4.6, 3.3), (4.6, 2.35))
    ax.text(4.6, 0.95, "$z = x^\\top w + b$", ha="center", fontsize=11)
    arrow(ax, (5.05, 1.9), (6.2, 1.9))
    box(ax, 6.75, 1.9, 1.1, 0.9, "$\\phi$", INK, size=15)
    ax.text(6.75, 0.95, "activation", ha="center", fontsize=10)
    arrow(ax, (7.3, 1.9), (8.45, 1.9))
    node(ax, 8.85, 1.9, "$a$", FORWARD)
    ax.text(8.85, 0.95, "$a = \\phi(z)$", ha="center", fontsize=11)
    ax.text(2.1, 4.0, "weights (learned)", ha="center", fontsize=10, color=PARAM)
    return fig


# ----------------------------------------------------------------------------- chapter 3


def computational_graph():
    """f = (x + y) z with forward values above the edges and gradients below."""
    fig, ax = canvas(7.6, 3.8, (-0.8, 10.0), (-1.1, 4.0))
    pos = {"x": (0.4, 3.1), "y": (0.4, 1.3), "z": (0.4, -0.2), "+": (3.4, 2.2), "*": (6.6, 1.2)}
    for name in "xyz":
        node(ax, *pos[name], f"${name}$", FORWARD)
    node(ax, *pos["+"], "$+$", INK, size=15)
    node(ax, *pos["*"], "$\\times$", INK, size=15)
    node(ax, 9.2, 1.2, "$f$", FORWARD)

    def edge(a, b, value, grad, label_at=0.5):
        arrow(ax, a, b, INK, shrink=17)
        (ax_, ay), (bx, by) = a, b
        length = math.hypot(bx - ax_, by - ay)
        nx, ny = -(by - ay) / length, (bx - ax_) / length
        mx, my = ax_ + (bx - ax_) * label_at, ay + (by - ay) * label_at
        angle = math.degrees(math.atan2(by - ay, bx - ax_))
        for text, sign, color in ((value, 1, FORWARD), (grad, -1, GRAD)):
            ax.text(
                mx + sign * 0.27 * nx,
                my + sign * 0.27 * ny,
                text,
                ha="center",
                va="center",
                color=color,
                fontsize=11,
                rotation=angle,
                rotation_mode="anchor",
            )

    edge(pos["x"], pos["+"], "$x = 3$", "$2$", 0.45)
    edge(pos["y"], pos["+"], "$y = -1$", "$2$", 0.45)
    edge(pos["+"], pos["*"], "$q = 2$", "$\\partial f/\\partial q = z = 2$", 0.5)
    edge(pos["z"], pos["*"], "$z = 2$", "$\\partial f/\\partial z = q = 2$", 0.5)
    edge(pos["*"], (9.2, 1.2), "$f = 4$", "$1$", 0.5)
    ax.text(3.4, 2.75, "local: $1, 1$", ha="center", fontsize=9, color=INK)
    ax.text(6.6, 1.75, "local: $z, q$", ha="center", fontsize=9, color=INK)
    arrow(ax, (8.9, 3.6), (1.2, 3.6), GRAD, lw=1.2, linestyle="--")
    ax.text(
        5.0, 3.75, "backward pass: gradients, chain rule", ha="center", va="bottom", color=GRAD, fontsize=10
    )
    arrow(ax, (1.2, -0.85), (8.9, -0.85), FORWARD, lw=1.2, linestyle="--")
    ax.text(5.0, -0.95, "forward pass: values", ha="center", va="top", color=FORWARD, fontsize=10)
    return fig


# ----------------------------------------------------------------------------- chapter 5


def dropout():
    """The same network at inference (every unit) and in one training step (units dropped)."""
    fig, ax = canvas(8.0, 3.7, (-0.5, 13.5), (-1.9, 4.6))
    sizes = [3, 5, 5, 2]
    dropped = {(1, 1), (1, 3), (1, 4), (2, 0), (2, 2)}

    def layer_y(n, k):
        return 1.75 + (k - (n - 1) / 2) * 0.85

    def draw(x0, drop):
        xs = [x0 + 1.65 * i for i in range(len(sizes))]
        for i in range(len(sizes) - 1):
            for a in range(sizes[i]):
                for b in range(sizes[i + 1]):
                    if (i, a) in drop or (i + 1, b) in drop:
                        continue
                    ax.plot(
                        [xs[i], xs[i + 1]],
                        [layer_y(sizes[i], a), layer_y(sizes[i + 1], b)],
                        color="#999999",
                        lw=0.8,
                        zorder=1,
                    )
        for i, n in enumerate(sizes):
            for k in range(n):
                off = (i, k) in drop
                ax.add_patch(
                    Circle(
                        (xs[i], layer_y(n, k)),
                        0.25,
                        lw=1.3,
                        zorder=2,
                        ec="#bbbbbb" if off else (FORWARD if i in (0, 3) else INK),
                        fc="white" if off else LIGHT[FORWARD if i in (0, 3) else INK],
                    )
                )
                if off:
                    ax.plot(
                        [xs[i] - 0.17, xs[i] + 0.17],
                        [layer_y(n, k) - 0.17, layer_y(n, k) + 0.17],
                        color=GRAD,
                        lw=1.6,
                        zorder=3,
                    )
                    ax.plot(
                        [xs[i] - 0.17, xs[i] + 0.17],
                        [layer_y(n, k) + 0.17, layer_y(n, k) - 0.17],
                        color=GRAD,
                        lw=1.6,
                        zorder=3,
                    )
        return xs

    xs = draw(0.3, set())
    ax.text((xs[0] + xs[-1]) / 2, 4.15, "inference: every unit, $y = x$", ha="center", fontsize=11)
    xs = draw(7.7, dropped)
    ax.text(
        (xs[0] + xs[-1]) / 2, 4.15, "one training step: a random thinned network", ha="center", fontsize=11
    )
    ax.text(
        (xs[0] + xs[-1]) / 2,
        -0.5,
        "each hidden unit dropped with probability $p$,\n"
        "survivors scaled by $1/(1-p)$;\nthe next step draws a new mask",
        ha="center",
        va="top",
        fontsize=9,
        color=GRAD,
    )
    ax.text(
        2.75,
        -0.5,
        "no mask, no rescaling\n(inverted dropout)",
        ha="center",
        va="top",
        fontsize=9,
        color="#555555",
    )
    return fig


# ----------------------------------------------------------------------------- chapter 7


def conv_sliding_window():
    """A 3 x 3 filter slides over a 5 x 5 input; each position gives one output number."""
    fig, ax = canvas(8.0, 3.6, (-0.6, 12.4), (-1.2, 4.5))
    c = 0.6
    colors = [[LIGHT[ACCENT] if 0 <= i <= 2 and 1 <= j <= 3 else None for j in range(5)] for i in range(5)]
    grid(ax, 0, 3.2, [[""] * 5 for _ in range(5)], c, colors)
    outline(ax, 1 * c, 3.2, 3, 3, c, ACCENT)
    ax.text(1.5, -0.1, "input $x$: $H = W = 5$", ha="center", va="top", fontsize=10)
    ax.text(
        1.9,
        -0.55,
        "window for $(i, j) = (0, 1)$; dotted: the next",
        ha="center",
        va="top",
        fontsize=9,
        color=ACCENT,
    )
    ax.add_patch(
        Rectangle((2 * c, 3.2 - 3 * c), 3 * c, 3 * c, lw=1.4, ec=ACCENT, fc="none", ls=":", zorder=5)
    )

    ax.text(4.35, 2.1, "$\\odot$", ha="center", va="center", fontsize=20)
    wk = [
        ["$w_{00}$", "$w_{01}$", "$w_{02}$"],
        ["$w_{10}$", "$w_{11}$", "$w_{12}$"],
        ["$w_{20}$", "$w_{21}$", "$w_{22}$"],
    ]
    grid(ax, 5.0, 3.0, wk, 0.7, [[LIGHT[PARAM]] * 3 for _ in range(3)], size=9)
    ax.text(6.05, 0.55, "filter $W$: $K = 3$", ha="center", va="top", fontsize=10, color=PARAM)
    ax.text(7.75, 2.1, "$\\rightarrow$", ha="center", va="center", fontsize=20)
    ax.text(7.75, 2.55, "sum $+\\,b$", ha="center", va="bottom", fontsize=9)
    out_colors = [[LIGHT[ACCENT] if (i, j) == (0, 1) else None for j in range(3)] for i in range(3)]
    grid(ax, 8.5, 3.0, [[""] * 3 for _ in range(3)], 0.7, out_colors)
    outline(ax, 8.5 + 0.7, 3.0, 1, 1, 0.7, ACCENT)
    ax.text(9.85, 3.05, "$y_{0,1}$", ha="left", va="bottom", fontsize=10, color=ACCENT)
    arrow(ax, (1.5, 3.25), (9.45, 3.05), ACCENT, lw=1.3, rad=-0.18)
    ax.text(5.5, 4.2, "dot product of window and filter", ha="center", va="bottom", fontsize=9, color=ACCENT)
    ax.text(9.55, 0.55, "output $y$: $O = \\frac{H + 2P - K}{S} + 1 = 3$", ha="center", va="top", fontsize=10)
    ax.text(9.55, 0.05, "($P = 0$, $S = 1$)", ha="center", va="top", fontsize=9)
    return fig


def im2col():
    """im2col on a 4 x 4 image with a 2 x 2 kernel: every window becomes a column."""
    fig, ax = canvas(9.0, 3.9, (-0.3, 13.6), (-1.6, 4.3))
    c = 0.6
    image = [[4 * i + j for j in range(4)] for i in range(4)]
    shown = {(0, 0): WINDOWS[0], (0, 1): WINDOWS[1], (2, 2): WINDOWS[2]}
    grid(ax, 0, 3.2, image, c)
    for (i, j), col in shown.items():
        outline(ax, j * c, 3.2 - i * c, 2, 2, c, col, lw=2.4)
    ax.text(1.2, 0.55, "image $4 \\times 4$, kernel $2 \\times 2$", ha="center", va="top", fontsize=10)
    ax.text(1.2, 0.1, "9 windows (3 shown)", ha="center", va="top", fontsize=9)
    ax.text(3.15, 1.95, "$\\rightarrow$", ha="center", va="center", fontsize=22)

    cols = [
        [(wi + u) * 4 + (wj + v) for wi in range(3) for wj in range(3)] for u in range(2) for v in range(2)
    ]
    colors = [[None] * 9 for _ in range(4)]
    for (i, j), col in shown.items():
        column = 3 * i + j
        for r in range(4):
            colors[r][column] = (
                LIGHT[FORWARD] if col == FORWARD else (LIGHT[ACCENT] if col == ACCENT else LIGHT[PARAM])
            )
    x0 = 3.8
    grid(ax, x0, 3.2, cols, c, colors)
    for (i, j), col in shown.items():
        outline(ax, x0 + (3 * i + j) * c, 3.2, 4, 1, c, col, lw=2.2)
    for j in range(9):
        ax.text(x0 + (j + 0.5) * c, 3.3, str(j), ha="center", va="bottom", fontsize=8, color="#666666")
    ax.text(x0 + 4.5 * c, 3.75, "window number", ha="center", va="bottom", fontsize=8, color="#666666")
    ax.text(x0 - 0.1, 3.3, "$(u, v)$", ha="right", va="bottom", fontsize=8, color="#666666")
    for r, (u, v) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        ax.text(
            x0 - 0.1,
            3.2 - (r + 0.5) * c,
            f"$({u},{v})$",
            ha="right",
            va="center",
            fontsize=8,
            color="#666666",
        )
    ax.text(
        x0 + 4.5 * c,
        0.55,
        "cols: $C K_H K_W \\times N O_H O_W = 4 \\times 9$",
        ha="center",
        va="top",
        fontsize=10,
    )

    ax.text(
        x0 + 2.7,
        -0.35,
        "$Y = W_{\\mathrm{2d}}\\;\\mathrm{cols}$:   "
        "$(F, 4) \\;@\\; (4, 9) \\;\\rightarrow\\; (F, 9) \\;\\rightarrow\\;$ "
        "reshape $(F, 3, 3)$",
        ha="center",
        va="top",
        fontsize=11,
    )
    ax.text(
        x0 + 2.7,
        -1.0,
        "one matrix product computes every output position at once",
        ha="center",
        va="top",
        fontsize=9,
        color="#555555",
    )
    return fig


def maxpool_routing():
    """2 x 2 max pooling forward (keep the maximum) and backward (route the gradient to it)."""
    fig, ax = canvas(9.2, 2.7, (-0.3, 15.2), (0.1, 4.6))
    c = 0.65
    fmap = [[1, 3, 2, 1], [9, 4, 0, 8], [5, 6, 1, 2], [0, 3, 7, 4]]
    win = [[WINDOWS[(i // 2) * 2 + (j // 2)] for j in range(4)] for i in range(4)]
    light = {
        WINDOWS[0]: LIGHT[ACCENT],
        WINDOWS[1]: LIGHT[FORWARD],
        WINDOWS[2]: LIGHT[PARAM],
        WINDOWS[3]: "#e9e1f7",
    }
    argmax = {(0, 0): (1, 0), (0, 1): (1, 3), (1, 0): (2, 1), (1, 1): (3, 2)}
    fills = [[light[win[i][j]] if (i, j) in argmax.values() else None for j in range(4)] for i in range(4)]
    grid(ax, 0, 3.6, fmap, c, fills)
    for bi in range(2):
        for bj in range(2):
            outline(ax, bj * 2 * c, 3.6 - bi * 2 * c, 2, 2, c, WINDOWS[bi * 2 + bj], lw=2.2)
    ax.text(1.3, 4.0, "forward: input", ha="center", va="bottom", fontsize=10, color=FORWARD)
    arrow(ax, (2.85, 2.3), (4.05, 2.3), FORWARD)
    ax.text(3.45, 2.45, "max", ha="center", va="bottom", fontsize=9, color=FORWARD)
    pooled = [[9, 8], [6, 7]]
    grid(
        ax,
        4.2,
        2.95,
        pooled,
        c,
        [[light[WINDOWS[0]], light[WINDOWS[1]]], [light[WINDOWS[2]], light[WINDOWS[3]]]],
    )
    ax.text(4.85, 3.35, "output", ha="center", va="bottom", fontsize=10, color=FORWARD)

    ax.plot([6.45, 6.45], [0.2, 4.4], color="#bbbbbb", lw=1)

    g = [["$g_1$", "$g_2$"], ["$g_3$", "$g_4$"]]
    grid(
        ax, 7.0, 2.95, g, c, [[light[WINDOWS[0]], light[WINDOWS[1]]], [light[WINDOWS[2]], light[WINDOWS[3]]]]
    )
    ax.text(7.65, 3.35, "$dY$", ha="center", va="bottom", fontsize=10, color=GRAD)
    arrow(ax, (8.55, 2.3), (9.75, 2.3), GRAD)
    ax.text(9.15, 2.45, "route", ha="center", va="bottom", fontsize=9, color=GRAD)
    names = {v: g[k[0]][k[1]] for k, v in argmax.items()}
    dx = [[names.get((i, j), "0") for j in range(4)] for i in range(4)]
    grid(ax, 9.9, 3.6, dx, c, fills)
    for bi in range(2):
        for bj in range(2):
            outline(ax, 9.9 + bj * 2 * c, 3.6 - bi * 2 * c, 2, 2, c, WINDOWS[bi * 2 + bj], lw=2.2)
    ax.text(11.2, 4.0, "backward: $dX$", ha="center", va="bottom", fontsize=10, color=GRAD)
    ax.text(3.2, 0.75, "each window keeps its largest value", ha="center", va="top", fontsize=10)
    ax.text(
        10.4, 0.75, "its gradient goes to that pixel, 0 to the others", ha="center", va="top", fontsize=10
    )
    ax.text(
        12.95,
        2.3,
        "average pooling\nwould give each\npixel $g/4$",
        ha="left",
        va="center",
        fontsize=9,
        color="#555555",
    )
    return fig


# ----------------------------------------------------------------------------- chapter 12


def lstm_cell():
    """One LSTM step: gates f, i, o and candidate g from [x_t, h_{t-1}]; c and h updated."""
    fig, ax = canvas(8.4, 4.6, (-1.4, 12.2), (-1.3, 6.0))
    ax.add_patch(
        FancyBboxPatch(
            (0.2, 0.1),
            9.6,
            5.0,
            boxstyle="round,pad=0.05,rounding_size=0.3",
            lw=1.2,
            ec="#999999",
            fc="#fafafa",
        )
    )
    top, mid, bottom = 4.4, 2.3, 0.7
    # cell state line
    ax.text(-0.35, top, "$c_{t-1}$", ha="right", va="center", fontsize=12, color=ACCENT)
    arrow(ax, (-0.3, top), (2.15, top), ACCENT, lw=2.2)
    node(ax, 2.5, top, "$\\times$", ACCENT, r=0.33, size=13)
    arrow(ax, (2.85, top), (5.15, top), ACCENT, lw=2.2)
    node(ax, 5.5, top, "$+$", ACCENT, r=0.33, size=13)
    arrow(ax, (5.85, top), (11.1, top), ACCENT, lw=2.2)
    ax.text(11.15, top, "$c_t$", ha="left", va="center", fontsize=12, color=ACCENT)
    ax.text(
        3.9,
        top + 0.42,
        "cell state: only $\\times f$ and $+$ along it",
        ha="center",
        va="bottom",
        fontsize=9,
        color=ACCENT,
    )
    # inputs
    ax.text(-0.35, bottom, "$h_{t-1}$", ha="right", va="center", fontsize=12, color=FORWARD)
    ax.plot([-0.3, 7.5], [bottom, bottom], color=FORWARD, lw=1.6)
    ax.text(1.0, -0.95, "$x_t$", ha="center", va="center", fontsize=12, color=FORWARD)
    arrow(ax, (1.0, -0.7), (1.0, bottom - 0.05), FORWARD, arrowstyle="-")
    ax.plot([1.0], [bottom], marker="o", color=FORWARD, ms=4)
    gates = [
        (2.5, "$\\sigma$", "$f_t$", "forget"),
        (4.0, "$\\sigma$", "$i_t$", "input"),
        (5.5, "$\\tanh$", "$g_t$", "candidate"),
        (7.5, "$\\sigma$", "$o_t$", "output"),
    ]
    for x, fn, name, word in gates:
        ax.plot([x], [bottom], marker="o", color=FORWARD, ms=4)
        arrow(ax, (x, bottom), (x, mid - 0.35), FORWARD)
        box(ax, x, mid, 1.0, 0.7, fn, PARAM, size=12)
        ax.text(x + 0.55, mid - 0.55, name, ha="left", va="center", fontsize=11)
        ax.text(x, mid - 0.62, word, ha="center", va="top", fontsize=8, color="#555555")
    # forget gate -> x on the cell line
    arrow(ax, (2.5, mid + 0.35), (2.5, top - 0.33), INK)
    # input gate and candidate multiply, then add
    node(ax, 4.75, 3.35, "$\\times$", INK, r=0.27, size=12)
    arrow(ax, (4.0, mid + 0.35), (4.58, 3.15), INK)
    arrow(ax, (5.5, mid + 0.35), (4.92, 3.15), INK)
    arrow(ax, (4.95, 3.55), (5.3, top - 0.3), INK)
    # output: tanh(c_t) times o_t
    box(ax, 8.8, 3.45, 1.0, 0.6, "$\\tanh$", INK, size=11)
    arrow(ax, (8.8, top), (8.8, 3.75), ACCENT)
    ax.plot([8.8], [top], marker="o", color=ACCENT, ms=4)
    node(ax, 8.8, 2.3, "$\\times$", INK, r=0.27, size=12)
    arrow(ax, (8.8, 3.15), (8.8, 2.57), INK)
    arrow(ax, (8.0, mid), (8.53, mid), INK)
    ax.plot([8.8, 8.8], [2.03, bottom], color=FORWARD, lw=1.6)
    arrow(ax, (8.8, bottom), (11.1, bottom), FORWARD, lw=1.6)
    ax.text(11.15, bottom, "$h_t$", ha="left", va="center", fontsize=12, color=FORWARD)
    arrow(ax, (10.3, bottom), (10.3, 5.6), FORWARD, lw=1.4)
    ax.text(10.45, 5.6, "$h_t$ (output)", ha="left", va="center", fontsize=10, color=FORWARD)
    ax.text(
        6.2,
        -0.95,
        "every gate reads $[x_t,\\ h_{t-1}]$ through its block of "
        "$W_x$, $W_h$, $b$: $[\\,i \\mid f \\mid g \\mid o\\,]$",
        ha="center",
        va="center",
        fontsize=9,
        color=PARAM,
    )
    ax.text(
        6.3, top + 0.42, "$c_t = f_t \\odot c_{t-1} + i_t \\odot g_t$", ha="left", va="bottom", fontsize=9
    )
    ax.text(8.9, 0.45, "$h_t = o_t \\odot \\tanh(c_t)$", ha="left", va="top", fontsize=9)
    return fig


# ----------------------------------------------------------------------------- chapter 17


def autoencoder():
    """Encoder narrows the input to a small code; decoder widens it back; loss compares."""
    fig, ax = canvas(8.0, 3.6, (-0.6, 12.6), (-1.8, 4.1))
    mid = 1.6
    layers = [
        (0.3, 3.0, FORWARD, "$x$\n$D = 784$"),
        (2.0, 1.9, INK, ""),
        (3.7, 1.0, INK, ""),
        (5.7, 0.35, ACCENT, "code $z$\n$k = 2$"),
        (7.7, 1.0, INK, ""),
        (9.4, 1.9, INK, ""),
        (11.1, 3.0, FORWARD, "$\\hat x$\n$D = 784$"),
    ]
    for x, h, col, label in layers:
        ax.add_patch(Rectangle((x - 0.22, mid - h / 2), 0.44, h, lw=1.3, ec=col, fc=LIGHT.get(col, "white")))
        if label:
            ax.text(
                x,
                mid - h / 2 - 0.15,
                label,
                ha="center",
                va="top",
                fontsize=10,
                color=col if col != INK else INK,
            )
    ax.add_patch(
        Polygon(
            [(0.6, mid + 1.5), (5.4, mid + 0.2), (5.4, mid - 0.2), (0.6, mid - 1.5)],
            closed=True,
            fc=LIGHT[PARAM],
            ec=PARAM,
            alpha=0.35,
            lw=0,
        )
    )
    ax.add_patch(
        Polygon(
            [(6.0, mid + 0.2), (10.8, mid + 1.5), (10.8, mid - 1.5), (6.0, mid - 0.2)],
            closed=True,
            fc=LIGHT[PARAM],
            ec=PARAM,
            alpha=0.35,
            lw=0,
        )
    )
    ax.text(3.0, mid + 1.55, "encoder $f$", ha="center", va="bottom", fontsize=11, color=PARAM)
    ax.text(8.4, mid + 1.55, "decoder $g$", ha="center", va="bottom", fontsize=11, color=PARAM)
    for a, b in [(0.52, 1.78), (2.22, 3.48), (3.92, 5.48), (5.92, 7.48), (7.92, 9.18), (9.62, 10.88)]:
        arrow(ax, (a, mid), (b, mid), INK, lw=1.2)
    ax.text(5.7, 2.5, "bottleneck\n$k \\ll D$", ha="center", va="bottom", fontsize=9, color=ACCENT)
    arrow(ax, (11.1, -0.95), (0.3, -0.95), GRAD, lw=1.3, arrowstyle="<|-|>", linestyle="--")
    ax.text(
        5.7,
        -1.1,
        "loss $\\frac{1}{ND}\\sum_n \\| g(f(x_n)) - x_n \\|^2$: the target is the input",
        ha="center",
        va="top",
        fontsize=10,
        color=GRAD,
    )
    return fig


# ----------------------------------------------------------------------------- chapter 18


def gan_loop():
    """The GAN: G makes fakes from noise, D judges real and fake; the two steps alternate."""
    fig, ax = canvas(8.4, 4.0, (-0.4, 13.2), (-1.6, 4.6))
    node(ax, 0.5, 1.0, "$z$", FORWARD, r=0.4)
    ax.text(0.5, 0.35, "noise\n$\\mathcal{N}(0, I)$", ha="center", va="top", fontsize=9)
    arrow(ax, (0.9, 1.0), (2.0, 1.0))
    box(ax, 2.9, 1.0, 1.6, 1.0, "generator\n$G$", PARAM, size=11)
    arrow(ax, (3.7, 1.0), (4.9, 1.0))
    box(ax, 5.7, 1.0, 1.5, 0.8, "fake $G(z)$\nlabel 0", INK, size=10)
    box(ax, 5.7, 3.3, 1.5, 0.8, "real $x$\nlabel 1", FORWARD, size=10)
    ax.text(5.7, 4.0, "training data", ha="center", va="bottom", fontsize=9)
    arrow(ax, (6.45, 1.0), (7.75, 1.95))
    arrow(ax, (6.45, 3.3), (7.75, 2.45))
    box(ax, 8.75, 2.2, 2.0, 1.0, "discriminator\n$D$", PARAM, size=11)
    arrow(ax, (9.75, 2.2), (10.45, 2.2))
    ax.text(11.6, 2.2, "$D(\\cdot) \\in (0, 1)$\n= P(real)", ha="center", va="center", fontsize=10)
    ax.text(11.4, 3.25, "$L_D$: tell real\nfrom fake", ha="center", va="bottom", fontsize=9, color=GRAD)
    ax.text(11.4, 0.9, "$L_G = -\\log D(G(z))$:\nfool $D$", ha="center", va="top", fontsize=9, color=GRAD)
    # discriminator step
    arrow(ax, (10.6, 3.05), (9.2, 2.75), GRAD, linestyle="--", lw=1.3, rad=0.3)
    ax.text(9.6, 3.6, "1. $D$ step: update $D$", ha="center", va="bottom", fontsize=9, color=GRAD)
    # generator step: gradient through D (frozen) into G
    arrow(ax, (10.6, 1.35), (9.0, 1.65), GRAD, linestyle="--", lw=1.3, rad=-0.2)
    arrow(ax, (7.9, 1.6), (3.6, 0.45), GRAD, linestyle="--", lw=1.3, rad=-0.25)
    ax.text(
        6.0,
        -0.75,
        "2. $G$ step: the gradient of $L_G$ passes back through $D$ (not updated) into $G$",
        ha="center",
        va="top",
        fontsize=9,
        color=GRAD,
    )
    ax.text(
        6.0,
        -1.2,
        "solid: samples forward      red dashed: gradients backward",
        ha="center",
        va="top",
        fontsize=8,
        color="#555555",
    )
    return fig


# ----------------------------------------------------------------------------- chapter 9


def transfer():
    """A pretrained body reused under a new head: feature extraction and fine-tuning."""
    fig, ax = canvas(8.6, 3.6, (-0.6, 14.0), (-1.1, 4.3))

    def row(y, body_color, body_text, head_color, head_text, classes, label):
        ax.text(-0.45, y, label, ha="left", va="center", fontsize=9)
        box(ax, 2.6, y, 1.0, 0.8, "image\n$x$", FORWARD, size=9)
        arrow(ax, (3.12, y), (3.75, y))
        for k, name in enumerate(["conv", "pool", "conv", "pool"]):
            box(ax, 4.25 + 1.05 * k, y, 0.9, 0.8, name, body_color, size=9)
        ax.text(5.8, y + 0.6, body_text, ha="center", va="bottom", fontsize=10, color=body_color)
        arrow(ax, (7.9, y), (8.75, y))
        box(ax, 9.45, y, 1.2, 0.8, "features", INK, size=9)
        arrow(ax, (10.07, y), (10.78, y))
        box(ax, 11.6, y, 1.6, 0.8, head_text, head_color, size=9)
        arrow(ax, (12.42, y), (12.95, y))
        ax.text(13.05, y, classes, ha="left", va="center", fontsize=10)

    row(3.2, PARAM, "body $g_{\\theta^*}$", PARAM, "head $h_{\\phi^*}$", "0–4", "pretrained\n(zoo)")
    row(
        0.6,
        ACCENT,
        "same body: frozen, or fine-tuned",
        GRAD,
        "new head $h_\\phi$",
        "5–9",
        "new task,\nfew labels",
    )
    arrow(ax, (5.8, 2.75), (5.8, 1.45), ACCENT, lw=1.6, arrowstyle="-|>", linestyle="--")
    ax.text(5.95, 2.1, "copy $\\theta^*$", ha="left", va="center", fontsize=9, color=ACCENT)
    ax.text(11.6, 2.1, "replaced,\ntrained from random", ha="center", va="center", fontsize=9, color=GRAD)
    ax.text(
        6.8,
        -0.65,
        "feature extraction trains the new head only; fine-tuning then trains "
        "every layer with a small learning rate",
        ha="center",
        va="center",
        fontsize=9,
        color="#555555",
    )
    return fig


def residual_block():
    """A residual block: two conv layers F(x) beside a skip; the sum's gradient goes down both."""
    fig, ax = canvas(8.6, 3.7, (-0.4, 14.2), (-1.6, 4.4))
    y = 1.4
    box(ax, 0.6, y, 1.0, 0.8, "$x$", FORWARD)
    arrow(ax, (1.12, y), (1.85, y), FORWARD)
    box(ax, 3.0, y, 2.2, 0.8, "conv 3x3, BN", PARAM, size=10)
    arrow(ax, (4.12, y), (4.6, y), FORWARD)
    box(ax, 5.2, y, 1.1, 0.8, "ReLU", INK, size=10)
    arrow(ax, (5.77, y), (6.25, y), FORWARD)
    box(ax, 7.4, y, 2.2, 0.8, "conv 3x3, BN", PARAM, size=10)
    ax.text(5.2, y - 0.75, "the block: $F(x)$", ha="center", va="top", fontsize=10, color=PARAM)
    arrow(ax, (8.52, y), (9.48, y), FORWARD)
    node(ax, 9.85, y, "+", ACCENT)
    arrow(ax, (10.2, y), (10.8, y), FORWARD)
    box(ax, 11.4, y, 1.1, 0.8, "ReLU", INK, size=10)
    arrow(ax, (11.97, y), (12.6, y), FORWARD)
    box(ax, 13.2, y, 1.0, 0.8, "$y$", FORWARD)
    # the skip: up from x, along the top, down into the sum
    ax.plot([0.6, 0.6, 9.85, 9.85], [1.82, 3.3, 3.3, 1.75], color=ACCENT, lw=2.0)
    arrow(ax, (9.85, 2.2), (9.85, 1.75), ACCENT, lw=2.0)
    ax.text(
        5.2,
        3.45,
        "shortcut $S(x)$: the identity, or a 1x1 conv (+ BN) when the shape changes",
        ha="center",
        va="bottom",
        fontsize=10,
        color=ACCENT,
    )
    # the gradient
    ax.text(9.85, 0.55, "$dz$", ha="center", va="center", fontsize=11, color=GRAD)
    arrow(ax, (9.5, 0.3), (8.4, 0.3), GRAD, lw=1.4)
    ax.text(7.4, 0.3, "through $F$", ha="center", va="center", fontsize=10, color=GRAD)
    ax.plot([10.2, 10.6, 10.6], [0.55, 0.55, 2.9], color=GRAD, lw=1.4, ls="--")
    arrow(ax, (10.6, 2.9), (10.1, 2.9), GRAD, lw=1.4, linestyle="--")
    ax.text(10.75, 2.55, "$dz$ unchanged\nback to $x$", ha="left", va="center", fontsize=9, color=GRAD)
    ax.text(
        7.0,
        -1.2,
        "$y = \\mathrm{ReLU}(F(x) + S(x))$;   $dx = F^\\top(dz) + S^\\top(dz)$, with "
        "$S^\\top(dz) = dz$ for the identity",
        ha="center",
        va="center",
        fontsize=10,
        color=INK,
    )
    return fig


# ----------------------------------------------------------------------------- chapter 13


def attention_lookup():
    """Attention as a soft lookup: a query scores every key, the softmax of the scores weights
    the values, and the output is their weighted sum."""
    fig, ax = canvas(8.6, 4.2, (-0.6, 13.4), (-0.9, 5.9))
    keys = ["$k_1$", "$k_2$", "$k_3$", "$k_4$"]
    values = ["$v_1$", "$v_2$", "$v_3$", "$v_4$"]
    weights = [0.05, 0.70, 0.20, 0.05]
    box(ax, 0.9, 2.6, 1.3, 0.8, "query $q$", ACCENT, size=11)
    ys = [4.6, 3.3, 2.0, 0.7]
    for y, key, value, w in zip(ys, keys, values, weights):
        box(ax, 3.6, y, 0.9, 0.7, key, FORWARD, size=12)
        arrow(ax, (1.6, 2.6), (3.1, y), ACCENT, lw=1.0, shrink=2)
        ax.text(5.0, y, f"$q \\cdot {key[1:-1]} / \\sqrt{{d}}$", ha="center", va="center", fontsize=10)
        arrow(ax, (6.1, y), (6.7, y), INK, lw=1.0)
        ax.add_patch(Rectangle((6.8, y - 0.3), 1.6 * w / 0.7, 0.6, lw=0.8, ec=ACCENT, fc=LIGHT[ACCENT]))
        ax.text(6.8 + 1.6 * w / 0.7 + 0.1, y, f"{w:.2f}", ha="left", va="center", fontsize=10)
        box(ax, 9.9, y, 0.9, 0.7, value, PARAM, size=12)
        arrow(ax, (10.35, y), (11.6, 2.6), PARAM, lw=0.6 + 4 * w, shrink=2)
    ax.text(7.5, 5.45, "softmax: weights sum to 1", ha="center", va="center", fontsize=10, color=ACCENT)
    ax.text(3.6, 5.45, "keys", ha="center", va="center", fontsize=10, color=FORWARD)
    ax.text(9.9, 5.45, "values", ha="center", va="center", fontsize=10, color=PARAM)
    box(ax, 12.3, 2.6, 1.3, 0.8, "$\\sum_j w_j v_j$", INK, size=11)
    ax.text(
        6.4,
        -0.45,
        "a dictionary returns the value of the one key equal to the query;\n"
        "attention returns a mix of all values, weighted by how well each key matches",
        ha="center",
        va="center",
        fontsize=9,
        color="#555555",
    )
    return fig


def transformer_block():
    """A pre-LN transformer block: x + MHA(LN(x)), then h + MLP(LN(h)), residuals around both."""
    fig, ax = canvas(9.4, 3.0, (-0.7, 15.4), (-1.5, 3.3))
    y = 0.6
    stages = [
        (0.4, 1.2, "$x$\n(N, T, D)", INK),
        (2.5, 1.7, "LayerNorm", FORWARD),
        (4.9, 2.0, "multi-head\nattention", ACCENT),
        (6.9, 0.7, "+", INK),
        (8.8, 1.7, "LayerNorm", FORWARD),
        (11.2, 2.2, "MLP (GELU)\nD → 4D → D", PARAM),
        (13.2, 0.7, "+", INK),
        (14.7, 1.1, "$y$\n(N, T, D)", INK),
    ]
    for x, w, text, color in stages:
        box(ax, x, y, w, 1.0 if w > 0.8 else 0.7, text, color, size=10)
    for (x0, w0, *_), (x1, w1, *_) in zip(stages, stages[1:]):
        arrow(ax, (x0 + w0 / 2, y), (x1 - w1 / 2, y), INK, lw=1.3)
    for start, end, top, label in ((0.4, 6.9, 2.5, "residual: $x$"), (7.6, 13.2, 1.8, "residual: $h$")):
        ax.plot([start, start, end], [y + (0.5 if start < 1 else 0), top, top], color=ACCENT, lw=1.6)
        if start > 1:
            ax.plot([start], [y], marker="o", color=ACCENT, ms=4)  # branches off the arrow
        arrow(ax, (end, top), (end, y + 0.35), ACCENT, lw=1.6)
        ax.text((start + end) / 2, top + 0.12, label, ha="center", va="bottom", fontsize=10, color=ACCENT)
    ax.text(
        4.9,
        -0.75,
        "mixes positions: each query attends to the keys it may see",
        ha="center",
        va="center",
        fontsize=9,
        color="#555555",
    )
    ax.text(11.2, -0.75, "each position on its own", ha="center", va="center", fontsize=9, color="#555555")
    ax.text(
        7.4,
        -1.3,
        "$h = x + \\mathrm{MHA}(\\mathrm{LN}_1(x))$,   $y = h + \\mathrm{MLP}(\\mathrm{LN}_2(h))$",
        ha="center",
        va="center",
        fontsize=10,
    )
    return fig


FIGURES = {
    "neuron": neuron,
    "computational_graph": computational_graph,
    "conv_sliding_window": conv_sliding_window,
    "im2col": im2col,
    "maxpool_routing": maxpool_routing,
    "lstm_cell": lstm_cell,
    "autoencoder": autoencoder,
    "gan_loop": gan_loop,
    "dropout": dropout,
    "transfer": transfer,
    "residual_block": residual_block,
    "attention_lookup": attention_lookup,
    "transformer_block": transformer_block,
}


def write_all(out: Path = OUT) -> list[Path]:
    """Draw every figure into out/NAME.svg; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with plt.rc_context(STYLE):
        for name, draw in FIGURES.items():
            fig = draw()
            path = out / f"{name}.svg"
            fig.savefig(path, format="svg", metadata={"Date": None})
            plt.close(fig)
            written.append(path)
    return written


if __name__ == "__main__":
    for p in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p)
