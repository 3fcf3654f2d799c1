"""Every setting of the system, read from the environment or `.env`, validated once.

This module is the only reader of `os.environ`. A bad value fails fast with a message naming
the variable; secrets are `SecretStr`, so they never appear in reprs, logs or error messages.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.errors import ConfigError
from core.proxies import Network, parse_networks

REPO_ROOT = Path(__file__).resolve().parents[1]
# Public development values: anyone can read them here, so they may only sign cookies and
# key the audit chain of the simulator setup (`make run`), never of a real pool.
DEV_AUDIT_HMAC_SECRET = "dev-audit-secret-change-me"
DEV_COOKIE_KEY = "dev-cookie-key-change-me"
DEFAULT_SENDER = "AI KINGS <no-reply@localhost>"


class ProviderKind(StrEnum):
    """Where the pool rents its GPUs."""

    SIM = "sim"
    VAST = "vast"
    STATIC = "static"


class OutputScreenerKind(StrEnum):
    """What judges generated outputs before they are shown or can be public."""

    NUDENET = "nudenet"
    PENDING = "pending"


class MediaStoreKind(StrEnum):
    """Where media files live: this host's disk (`MEDIA_ROOT`) or an S3-compatible bucket."""

    LOCAL = "local"
    S3 = "s3"


class SmtpSecurity(StrEnum):
    """How mail reaches the SMTP relay: STARTTLS upgrade, TLS from the first byte, or plain."""

    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


class DispatchMode(StrEnum):
    """Who runs generations: the leading scheduler's own threads, or worker processes."""

    EMBEDDED = "embedded"
    """The leader claims and runs every job itself (the default; the only mode on SQLite)."""
    WORKERS = "workers"
    """Worker processes (`aikings-worker`) claim the jobs; the leader only reconciles,
    recovers and maintains. PostgreSQL only."""


class Settings(BaseSettings):
    """The validated configuration. Environment variables have the field name upper-cased."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: str = f"sqlite:///{REPO_ROOT / 'data' / 'aikings.db'}"
    media_root: Path = REPO_ROOT / "data" / "media"
    media_store: MediaStoreKind = MediaStoreKind.LOCAL
    """local: files under `MEDIA_ROOT` (one host, or a shared POSIX filesystem); s3: an
    S3-compatible bucket every web, scheduler and worker host reaches (browsers fetch files
    by presigned URL)."""
    s3_bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    s3_endpoint_url: str | None = None
    """MinIO, R2, B2...: their S3 endpoint (`https://<account>.r2.cloudflarestorage.com`);
    unset for AWS S3. Browsers must reach it too: presigned URLs point at it."""
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    """With S3_SECRET_ACCESS_KEY; unset for boto3's own chain (instance role, ~/.aws)."""
    s3_secret_access_key: SecretStr | None = None
    s3_presign_seconds: int = Field(default=900, ge=120, le=7 * 24 * 3600)
    """How long a presigned URL handed to a browser stays valid."""
    data_dir: Path = REPO_ROOT / "data"
    backup_dir: Path = REPO_ROOT / "data" / "backups"
    log_level: str = "INFO"
    log_json: bool = False

    provider: ProviderKind = ProviderKind.SIM
    vast_url: str = "https://console.vast.ai"
    vast_api_key: SecretStr | None = None
    sim_vast_url: str = "http://127.0.0.1:8780"
    sim_api_key: SecretStr = SecretStr("sim-key")
    static_comfy_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    hf_token: SecretStr | None = None
    """Sent by rented instances to huggingface.co for gated models (a read-only token)."""
    civitai_token: SecretStr | None = None
    """Sent by rented instances to civitai.com for community models."""
    civitai_api_url: str = "https://civitai.com"
    """Where the Models page reads a Civitai model version's metadata."""
    huggingface_api_url: str = "https://huggingface.co"
    """Where the Models page reads a Hugging Face file's metadata."""

    admin_api_key: SecretStr | None = None
    audit_hmac_secret: SecretStr = SecretStr(DEV_AUDIT_HMAC_SECRET)
    cookie_key: SecretStr = SecretStr(DEV_COOKIE_KEY)
    starter_credits: int = Field(default=100, ge=0)
    credit_price_usd: Decimal = Field(default=Decimal("0.01"), gt=0)
    reference_price_per_hour_usd: Decimal = Field(default=Decimal("0.50"), gt=0)

    session_ttl_s: int = Field(default=14 * 24 * 3600, ge=300)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_s: int = Field(default=900, ge=1)
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_url: str = "https://api.stripe.com"
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(default=40_000_000, ge=1_000_000)
    max_video_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    """The largest MP4 a user may upload into their gallery."""
    alert_webhook_url: str | None = None
    smtp_host: str | None = None
    """The mail relay; without it mail is written to `<DATA_DIR>/outbox` as .eml files."""
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    """Default: 587 for STARTTLS, 465 for TLS, 25 for none."""
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = DEFAULT_SENDER
    smtp_security: SmtpSecurity = SmtpSecurity.STARTTLS
    smtp_timeout_s: float = Field(default=20.0, gt=0, le=300)
    # nudenet: every output is screened by the packaged detector; pending: no detector,
    # every output waits for a moderator (either way, nothing is public unreviewed).
    output_screener: OutputScreenerKind = OutputScreenerKind.NUDENET

    pool_name: str = Field(default="default", pattern=r"^[a-z0-9-]{1,32}$")
    pool_desired_size: int = Field(default=0, ge=0, le=64)
    pool_max_instances: int = Field(default=4, ge=0, le=64)
    pool_idle_timeout_s: int = Field(default=900, ge=60)
    pool_lease_max_s: int = Field(default=1800, ge=60)
    pool_boot_timeout_s: int = Field(default=900, ge=60)
    pool_poll_interval_s: int = Field(default=30, ge=1, le=600)
    pool_daily_budget_usd: Decimal = Field(default=Decimal("25"), ge=0)
    pool_monthly_budget_usd: Decimal = Field(default=Decimal("300"), ge=0)
    pool_bill_mismatch_alert_usd: Decimal = Field(default=Decimal("1.00"), ge=0)
    """A day whose provider bill differs from our accrual by more than this raises an alert."""

    scheduler_lock_ttl_s: int = Field(default=90, ge=5)
    dispatch_mode: DispatchMode = DispatchMode.EMBEDDED
    worker_threads: int = Field(default=4, ge=1, le=64)
    """Jobs one worker process runs at once (one per leased GPU)."""
    worker_heartbeat_s: float = Field(default=5.0, gt=0, le=60)
    """How often a worker process renews the heartbeat of the jobs it runs."""
    worker_stale_s: int = Field(default=30, ge=3, le=3600)
    """A worker job whose heartbeat is older than this is requeued or refunded by the leader."""
    metrics_port: int = Field(default=9108, ge=0, le=65535)
    retention_days: int = Field(default=90, ge=1)

    web_port: int = Field(default=8501, ge=1, le=65535)
    public_base_url: str | None = None
    """Where browsers reach the web app (`https://studio.example.com`): every link the app
    hands out (share links, Stripe returns, mail) starts with it. Default: `base_url`."""
    webhook_allow_private: bool = False
    """Let webhooks point at loopback or private addresses (tests, a closed network)."""
    api_host: str = "127.0.0.1"
    """Where the HTTP API listens; put it behind the same TLS proxy as the web app."""
    api_port: int = Field(default=8502, ge=0, le=65535)
    """The HTTP API's port (`aikings-api`); 0 leaves it out of `make run`."""
    api_rate_per_minute: int = Field(default=120, ge=1, le=100_000)
    """Requests a minute one API token may make (bursts up to the same number)."""
    trusted_proxies: Annotated[list[Network], NoDecode] = Field(default_factory=list)
    """Reverse proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For`
    names the client for the audit; from any other peer the header is ignored."""

    @field_validator("static_comfy_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_networks(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite://, postgresql:// or postgresql+psycopg://")
        return value

    @field_validator("s3_endpoint_url")
    @classmethod
    def _endpoint_is_a_url(cls, value: str | None) -> str | None:
        if value is not None and (
            urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname
        ):
            raise ValueError("must be a URL such as https://minio.example.com:9000")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _origin_only(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - parsing the port is the check: ValueError when bad
        except ValueError:
            raise ValueError("must be a URL such as https://studio.example.com") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must start with http:// or https:// and name a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry a user name or password")
        if parts.path not in ("", "/") or "?" in value or "#" in value:
            raise ValueError("must be scheme and host (and port) only: no path, query or fragment")
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def base_url(self) -> str:
        """Where links point: `PUBLIC_BASE_URL`, or `http://localhost:<WEB_PORT>` without it."""
        return self.public_base_url or f"http://localhost:{self.web_port}"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @model_validator(mode="after")
    def _provider_has_what_it_needs(self) -> Settings:
        if self.provider is ProviderKind.VAST and self.vast_api_key is None:
            raise ValueError("PROVIDER=vast needs VAST_API_KEY")
        if self.provider is ProviderKind.STATIC and not self.static_comfy_urls:
            raise ValueError("PROVIDER=static needs STATIC_COMFY_URLS (comma-separated)")
        if self.media_store is MediaStoreKind.S3 and self.s3_bucket is None:
            raise ValueError("MEDIA_STORE=s3 needs S3_BUCKET")
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError(
                "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together: set both or neither"
            )
        if (self.smtp_user is None) != (self.smtp_password is None):
            raise ValueError("SMTP_USER and SMTP_PASSWORD go together: set both or neither")
        if self.dispatch_mode is DispatchMode.WORKERS and self.database_url.startswith("sqlite"):
            raise ValueError(
                "DISPATCH_MODE=workers needs PostgreSQL (DATABASE_URL=postgresql://...): "
                "with SQLite the scheduler runs every job itself"
            )
        if self.worker_stale_s <= 2 * self.worker_heartbeat_s:
            raise ValueError("WORKER_STALE_S must exceed twice WORKER_HEARTBEAT_S")
        if self.pool_desired_size > self.pool_max_instances:
            raise ValueError("POOL_DESIRED_SIZE cannot exceed POOL_MAX_INSTANCES")
        if self.provider is not ProviderKind.SIM:
            public = [
                name
                for name, secret, dev_value in (
                    ("AUDIT_HMAC_SECRET", self.audit_hmac_secret, DEV_AUDIT_HMAC_SECRET),
                    ("COOKIE_KEY", self.cookie_key, DEV_COOKIE_KEY),
                )
                if secret.get_secret_value() == dev_value
            ]
            if public:
                raise ValueError(
                    f"PROVIDER={self.provider.value} needs your own {' and '.join(public)}: "
                    "the development default is public (set a long random value)"
                )
        return self


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; raise ConfigError naming each bad variable.

    `overrides` are raw values, validated like the environment's (hence `Any`). The message
    quotes the variable and the rule, never the value, so secrets stay out of it.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
