"""Settings from the environment (prefix PIMHUB_) or a .env file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIMHUB_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("pimhub-data"), description="Where the SQLite database lives")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file in data_dir"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    languages: list[str] = Field(["en", "de", "fr"], description="Accepted content languages")
    default_language: str = "en"
    log_level: str = "INFO"
    log_json: bool = True
    telemetry: bool = Field(
        False,
        description="FastAPI's native OpenTelemetry tracing and metrics, exported through the "
        "globally configured providers. Off by default: its per-request check alone costs "
        "more than a point read.",
    )
    public_url: str | None = Field(None, description="Base URL shown to users")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'pimhub.db').resolve()}"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
