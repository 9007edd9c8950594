"""Intraday strategy service (port 8008): indicators, signals, compiled backtests, Ray parameter sweeps."""
