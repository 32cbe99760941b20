"""Fitting the ranking model: a ridge logistic regression by Newton steps, in plain Python (six weights)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def fit_logistic(
    rows: Sequence[Sequence[float]], labels: Sequence[int], *, ridge: float = 1.0, steps: int = 25
) -> list[float]:
    """Weights for each feature, then the intercept, maximising the penalised likelihood of `labels`."""
    d = len(rows[0]) + 1
    w = [0.0] * d
    xs = [[*r, 1.0] for r in rows]
    for _ in range(steps):
        grad = [-ridge * w[j] if j < d - 1 else 0.0 for j in range(d)]
        hess = [[(ridge if i == j and i < d - 1 else 0.0) for j in range(d)] for i in range(d)]
        for x, y in zip(xs, labels, strict=True):
            z = sum(a * b for a, b in zip(w, x, strict=True))
            p = 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))
            g, h = y - p, p * (1 - p)
            for i in range(d):
                grad[i] += g * x[i]
                hi = hess[i]
                for j in range(i, d):
                    hi[j] += h * x[i] * x[j]
        for i in range(d):
            for j in range(i):
                hess[i][j] = hess[j][i]
        step = _solve(hess, grad)
        w = [a + b for a, b in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-6:
            break
    return w


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (a is small and positive definite)."""
    n = len(b)
    m = [[*row, rhs] for row, rhs in zip(a, b, strict=True)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(c + 1, n):
            f = m[r][c] / m[c][c]
            for k in range(c, n + 1):
                m[r][k] -= f * m[c][k]
    out = [0.0] * n
    for r in range(n - 1, -1, -1):
        out[r] = (m[r][n] - sum(m[r][k] * out[k] for k in range(r + 1, n))) / m[r][r]
    return out
