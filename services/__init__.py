"""Ray Services: quantitative-finance analytics as HTTP services and batch jobs on a shared Ray cluster."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ray-services")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

SERVICES: dict[str, int] = {"sentiment": 8005, "garch": 8006, "portfolio": 8007, "intraday": 8008}
"""Service name → default HTTP port (the CLI, the settings and the Helm chart use these)."""
