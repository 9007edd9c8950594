"""Portfolio service: skfolio optimisation, risk metrics, efficient frontiers and walk-forward backtests."""
