"""Frozen multinomial linear heads: fitted coefficients as plain arrays, applied without sklearn."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["LinearHead", "softmax"]


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


@dataclass(frozen=True, eq=False)
class LinearHead:
    """``P(class | x) = softmax(x @ coef + intercept)`` with ``coef`` of shape ``(n_features, n_classes)``."""

    coef: np.ndarray
    intercept: np.ndarray

    @classmethod
    def from_estimator(cls, estimator) -> LinearHead:
        """Copy the coefficients of a fitted multinomial ``sklearn.linear_model.LogisticRegression``."""
        coef = np.asarray(estimator.coef_, dtype=np.float32)
        if coef.shape[0] != 3:
            raise ValueError(f"expected a 3-class model, got coef_ of shape {coef.shape}")
        return cls(np.ascontiguousarray(coef.T), np.asarray(estimator.intercept_, dtype=np.float32))

    def logits(self, X) -> np.ndarray:
        """``X @ coef + intercept`` as a dense float64 ``(n, n_classes)`` array."""
        z = X @ self.coef
        z = z.toarray() if sp.issparse(z) else np.asarray(z)
        return z.astype(np.float64) + self.intercept

    def logits_of_nonzeros(
        self, n: int, rows: np.ndarray, cols: np.ndarray, values: np.ndarray
    ) -> np.ndarray:
        """Compute :meth:`logits` of the ``n``-row sparse matrix given by its non-zeros in CSR order.

        The products are accumulated in the same order and precision as scipy's float32 product, so the two
        agree bit for bit.
        """
        z = np.zeros((n, self.coef.shape[1]), dtype=np.float32)
        np.add.at(z, rows, self.coef[cols] * values[:, None])
        return z.astype(np.float64) + self.intercept

    def scaled(self, factor: float) -> LinearHead:
        """Return the head with logits multiplied by ``factor`` (temperature scaling: ``factor = 1 / T``)."""
        return LinearHead(
            (self.coef * factor).astype(np.float32), (self.intercept * factor).astype(np.float32)
        )

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``."""
        return softmax(self.logits(X))

    def sparse_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Arrays for ``np.savez``: only the rows (features) with a non-zero coefficient."""
        rows = np.flatnonzero(np.any(self.coef != 0, axis=1)).astype(np.int32)
        return {
            f"{prefix}_rows": rows,
            f"{prefix}_values": self.coef[rows],
            f"{prefix}_intercept": self.intercept,
            f"{prefix}_shape": np.asarray(self.coef.shape, dtype=np.int64),
        }

    @classmethod
    def from_sparse_arrays(cls, arrays, prefix: str) -> LinearHead:
        """Inverse of :meth:`sparse_arrays`."""
        coef = np.zeros(tuple(arrays[f"{prefix}_shape"]), dtype=np.float32)
        coef[arrays[f"{prefix}_rows"]] = arrays[f"{prefix}_values"]
        return cls(coef, np.asarray(arrays[f"{prefix}_intercept"], dtype=np.float32))
