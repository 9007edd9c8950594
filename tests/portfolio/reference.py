"""skfolio as the reference of the compiled QP (``optimize_compiled``), and the tolerances the tests state.

skfolio solves through CVXPY and Clarabel at Clarabel's default tolerances, and its weights sit up to
~1.7e-3 from the optimum (measured on 160 universes of both datasets; its objective is never better than
the compiled QP's). Solved to tight tolerances (:data:`TIGHT`), skfolio agrees with the compiled QP within
~4e-5. So the tests compare weights with skfolio's default fit at :data:`WEIGHT_ATOL` and the objective
exactly (ours at least as good), and with skfolio's tight fit at :data:`TIGHT_WEIGHT_ATOL`.
"""

from __future__ import annotations

TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12, "tol_ktratio": 1e-10, "max_iter": 500}
"""Clarabel settings for skfolio's ``solver_params``: the optimum, not a point near it."""
WEIGHT_ATOL = 2e-3
"""Weights against skfolio at its default tolerances (the same bound as ``test_program.py``)."""
TIGHT_WEIGHT_ATOL = 1e-4
"""Weights against skfolio solved with :data:`TIGHT`."""
OBJECTIVE_RTOL = 1e-5
"""The optimised measure (volatility of min_variance, Sharpe of max_sharpe) against skfolio's, relative."""
