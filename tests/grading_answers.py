"""Answers the grader's own tests submit for chapter 3's ``weight_norm_backward`` (2 points).

The attack, limit and runner tests replace that exercise's cell with a right answer, a
hostile one or a broken one; the right answer is written out here once.
"""

WN_DEF = "def weight_norm_backward(dy, x, v, g):\n"
# a right answer's body: n the column norms of v, u = v / n, W = g u
WN_BODY = (
    "    n = (v * v).sum(axis=0) ** 0.5\n"
    "    u = v / n\n"
    "    dg = (x.T @ dy * u).sum(axis=0)\n"
    "    return dy @ (g * u).T, g * (x.T @ dy - dg * u) / n, dg, dy.sum(axis=0)\n"
)
GOOD_WN = WN_DEF + WN_BODY
