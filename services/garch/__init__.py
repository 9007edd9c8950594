"""GARCH volatility service (port 8006): `arch` fits, rolling out-of-sample forecasts, model selection."""
