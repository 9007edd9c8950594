"""Settings for every service, read from environment variables (and an optional ``.env`` file).

All variables carry the ``RAYSVC_`` prefix except Ray's own ``RAY_ADDRESS`` (and ``RAY_AUTH_MODE`` /
``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH``, which Ray itself reads).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, computed_field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services import SERVICES

RayMode = Literal["embedded", "client", "driver"]


class Settings(BaseSettings):
    """Platform settings (one set for the four services; each reads what it needs)."""

    model_config = SettingsConfigDict(
        env_prefix="RAYSVC_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    # --- where work runs -------------------------------------------------------------------------
    ray_address: str | None = Field(
        default=None,
        validation_alias=AliasChoices("RAY_ADDRESS", "RAYSVC_RAY_ADDRESS"),
        description="unset: embedded local Ray; ray://host:10001: Ray Client; auto or host:6379: join as a driver",
    )
    ray_num_cpus: int | None = Field(
        default=None, ge=1, description="CPUs of the embedded Ray (default: all)"
    )
    ray_connect_timeout_s: float = Field(default=60.0, gt=0)
    ray_reconnect_interval_s: float = Field(default=5.0, gt=0)
    jobs_address: str | None = Field(
        default=None, description="Ray Jobs API (dashboard) URL; default: the connected cluster's dashboard"
    )
    job_driver_selector: dict[str, str] = Field(
        default_factory=dict,
        description='Ray label selector for batch job drivers (JSON), e.g. {"ray.io/node-group": "!headgroup"} '
        "runs them on workers, where a head restart under GCS fault tolerance leaves them running; empty: the head",
    )
    job_cluster_lost_after_s: float = Field(
        default=120.0,
        gt=0,
        description="a job driver whose Ray cluster is unreachable this long records the cause and exits 3 "
        "(longer than Ray's 60 s wait for a restarting GCS, so a fault-tolerant head restart is survived)",
    )

    # --- data and results ------------------------------------------------------------------------
    data_dir: Path = Field(default=Path("data"), description="datasets (the seed's CSV formats)")
    results_dir: Path = Field(default=Path(".raysvc/results"), description="batch job results, shared")
    models_dir: Path | None = Field(default=None, description="extra sentiment model versions")
    auto_generate_data: bool = Field(default=True, description="generate the project's datasets if missing")

    # --- services --------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    sentiment_port: int = SERVICES["sentiment"]
    garch_port: int = SERVICES["garch"]
    portfolio_port: int = SERVICES["portfolio"]
    intraday_port: int = SERVICES["intraday"]
    sentiment_url: str = f"http://127.0.0.1:{SERVICES['sentiment']}"
    garch_url: str = f"http://127.0.0.1:{SERVICES['garch']}"
    http_timeout_s: float = Field(default=30.0, gt=0, description="timeout of calls between services")

    # --- authentication --------------------------------------------------------------------------
    api_keys_file: Path | None = Field(
        default=None,
        description="API key store (JSON of SHA-256 hashes, see services.core.auth); set: every route but the "
        "probes, /metrics and the API docs needs `Authorization: Bearer <key>`; unset: authentication off",
    )

    # --- limits ----------------------------------------------------------------------------------
    max_body_bytes: int = Field(default=20_000_000, gt=0, description="larger request bodies get 413")
    max_texts: int = Field(default=10_000, gt=0, description="texts per scoring request")
    max_text_chars: int = Field(default=5_000, gt=0)
    max_grid: int = Field(default=20_000, gt=0, description="parameter combinations per sweep request")
    max_inline_rows: int = Field(default=500_000, gt=0, description="rows of inline series or bars")
    chunks_per_cpu: int = Field(default=2, ge=1, description="Ray chunks per CPU when work is split")

    # --- logging and metrics ---------------------------------------------------------------------
    metrics: bool = Field(
        default=True, description="Prometheus metrics on /metrics and the request metrics middleware"
    )
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("ray_address", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ray_mode(self) -> RayMode:
        """How this process reaches Ray, derived from ``RAY_ADDRESS``."""
        if self.ray_address is None or self.ray_address == "local":
            return "embedded"
        if self.ray_address.startswith("ray://"):
            return "client"
        return "driver"

    def port_of(self, service: str) -> int:
        """The configured port of ``service``."""
        return int(getattr(self, f"{service}_port"))


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
