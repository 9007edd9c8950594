"""Probability calibration of the trained models: temperature scaling and the reliability report.

A logistic regression on wide n-gram features is usually over-confident, and a stacked model inherits
its bases' habits. Temperature scaling (Guo et al., 2017) divides the logits by one scalar ``T`` fitted
by maximum likelihood on the out-of-fold probabilities of the training CV, so it changes confidence,
never the arg-max label; it folds into the final linear head (``coef / T``), so scoring costs nothing
more. The report gives what a user of the scores needs to trust them as probabilities: the multi-class
Brier score, the negative log-likelihood, the expected calibration error (ECE) of the top label and the
reliability table (confidence bins against the accuracy observed in each).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

__all__ = ["calibration_report", "fit_temperature", "reliability_plot"]

_EPS = 1e-12


def fit_temperature(proba: np.ndarray, y: np.ndarray) -> float:
    """Return the ``T`` in [0.05, 20] minimising the NLL of ``softmax(log(proba) / T)`` for labels ``y``."""
    logp = np.log(np.clip(proba, _EPS, 1.0))
    rows = np.arange(len(y))

    def nll(log_t: float) -> float:
        return float(-log_softmax(logp / np.exp(log_t), axis=1)[rows, y].mean())

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def calibration_report(y: np.ndarray, proba: np.ndarray, bins: int = 10) -> dict:
    """Brier score, NLL, top-label ECE and the reliability table of ``proba`` against labels ``y``.

    ``brier`` is the mean over texts of ``sum_k (p_k - 1[y = k])^2`` (0 perfect, 2 worst); the table
    has one row per non-empty equal-width bin of the top-label confidence, with that bin's mean
    confidence, accuracy and count.
    """
    y = np.asarray(y)
    proba = np.asarray(proba, dtype=float)
    onehot = np.eye(proba.shape[1])[y]
    conf, pred = proba.max(axis=1), proba.argmax(axis=1)
    correct = (pred == y).astype(float)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        in_bin = which == b
        if not in_bin.any():
            continue
        c, a, n = float(conf[in_bin].mean()), float(correct[in_bin].mean()), int(in_bin.sum())
        ece += n / len(y) * abs(a - c)
        table.append({"bin": [b / bins, (b + 1) / bins], "confidence": c, "accuracy": a, "count": n})
    return {
        "brier": float(((proba - onehot) ** 2).sum(axis=1).mean()),
        "nll": float(-np.log(np.clip(proba[np.arange(len(y)), y], _EPS, 1.0)).mean()),
        "ece": float(ece),
        "reliability": table,
    }


def reliability_plot(report: dict, path, title: str) -> None:
    """Save the reliability curve of a :func:`calibration_report` as a small PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["reliability"]
    fig, ax = plt.subplots(figsize=(4.2, 4.2), dpi=90)
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfect")
    ax.plot(
        [r["confidence"] for r in rows], [r["accuracy"] for r in rows], marker="o", label="model (top label)"
    )
    ax.set(xlim=(0.3, 1), ylim=(0.3, 1), xlabel="confidence", ylabel="accuracy", title=title)
    ax.text(0.32, 0.93, f"Brier {report['brier']:.3f}  ECE {report['ece']:.3f}", fontsize=8)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
