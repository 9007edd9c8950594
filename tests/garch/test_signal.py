"""The regime signal against an independent loop over the documented definition."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from services.core.errors import DomainError
from services.garch.engine import regime_signal


def _reference(r, origins, f, rw, sw, thr):
    """Straight loop: realised variance, premium, its trailing std, thresholds."""
    prem = np.full(origins.size, np.nan)
    for i, t in enumerate(origins):
        if t - rw + 1 >= 0:
            rv = np.var(r[t - rw + 1 : t + 1], ddof=1)
            prem[i] = (f[i] - rv) / rv
    z = np.full(origins.size, np.nan)
    for i in range(sw - 1, origins.size):
        z[i] = prem[i] / np.std(prem[i - sw + 1 : i + 1], ddof=1)
    sig = np.where(z > thr, 1, np.where(z < -thr, -1, 0))
    return prem, z, sig


def test_signal_equals_reference_loop():
    rng = np.random.default_rng(11)
    r = rng.standard_normal(600) * 0.02
    origins = np.arange(100, 600)
    f = 0.0004 * np.exp(rng.standard_normal(origins.size) * 0.5)
    sig = regime_signal(r, origins, f, realized_window=60, std_window=40, threshold=1.0)
    prem, z, s = _reference(r, origins, f, 60, 40, 1.0)
    assert_allclose(sig.premium, prem, rtol=1e-10)
    assert_allclose(sig.zscore, z, rtol=1e-8, equal_nan=True)
    assert_array_equal(sig.signal, s)
    assert {-1, 0, 1} <= set(sig.signal.tolist())


def test_bad_parameters():
    with pytest.raises(DomainError) as err:
        regime_signal(np.zeros(10), np.arange(5), np.ones(5), threshold=0)
    assert err.value.field == "threshold"
