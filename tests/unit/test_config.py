"""Settings from the environment: defaults, validation, and secrets a real provider needs."""

from decimal import Decimal

import pytest

from core.config import ProviderKind, get_settings, load_settings
from core.errors import ConfigError

OWN_SECRETS = {"AUDIT_HMAC_SECRET": "an-operator-audit-secret", "COOKIE_KEY": "an-operator-key"}


@pytest.fixture
def own_secrets(monkeypatch):
    """Production values for the two secrets a real provider needs."""
    for name, value in OWN_SECRETS.items():
        monkeypatch.setenv(name, value)


def test_defaults_need_no_keys_and_use_sqlite_and_the_simulator(monkeypatch):
    monkeypatch.delenv("DATABASE_URL")
    settings = load_settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("data/aikings.db")
    assert settings.provider is ProviderKind.SIM
    assert settings.pool_desired_size == 0
    assert settings.pool_idle_timeout_s == 900
    assert settings.pool_lease_max_s == 1800
    assert settings.pool_poll_interval_s == 30


def test_environment_values_are_parsed_and_typed(monkeypatch, own_secrets):
    monkeypatch.setenv("POOL_DAILY_BUDGET_USD", "12.50")
    monkeypatch.setenv("PROVIDER", "static")
    monkeypatch.setenv("STATIC_COMFY_URLS", "http://gpu-a:8188, http://gpu-b:8188")
    settings = load_settings()
    assert settings.pool_daily_budget_usd == Decimal("12.50")
    assert settings.static_comfy_urls == ["http://gpu-a:8188", "http://gpu-b:8188"]


def test_dotenv_file_in_the_working_directory_is_read(tmp_path):
    (tmp_path / ".env").write_text("POOL_DESIRED_SIZE=2\n")
    assert load_settings().pool_desired_size == 2


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("POOL_IDLE_TIMEOUT_S", "soon", "POOL_IDLE_TIMEOUT_S"),
        ("POOL_IDLE_TIMEOUT_S", "5", "POOL_IDLE_TIMEOUT_S"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ("PROVIDER", "aws", "PROVIDER"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
    ],
)
def test_a_bad_value_fails_with_a_message_naming_the_variable(
    monkeypatch, variable, value, expected
):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=expected):
        load_settings()


def test_vast_provider_requires_a_key_and_the_error_never_shows_secrets(monkeypatch):
    monkeypatch.setenv("PROVIDER", "vast")
    monkeypatch.setenv("ADMIN_API_KEY", "super-secret-admin-key")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "VAST_API_KEY" in str(caught.value)
    assert "super-secret-admin-key" not in str(caught.value)


def test_secrets_are_hidden_in_the_settings_repr(monkeypatch, own_secrets):
    monkeypatch.setenv("PROVIDER", "vast")
    monkeypatch.setenv("VAST_API_KEY", "vast-key-123")
    settings = load_settings()
    assert "vast-key-123" not in repr(settings)
    assert settings.vast_api_key is not None
    assert settings.vast_api_key.get_secret_value() == "vast-key-123"


def test_desired_size_cannot_exceed_the_instance_cap(monkeypatch):
    monkeypatch.setenv("POOL_DESIRED_SIZE", "5")
    monkeypatch.setenv("POOL_MAX_INSTANCES", "2")
    with pytest.raises(ConfigError, match="POOL_MAX_INSTANCES"):
        load_settings()


def test_static_provider_requires_urls(monkeypatch, own_secrets):
    monkeypatch.setenv("PROVIDER", "static")
    with pytest.raises(ConfigError, match="STATIC_COMFY_URLS"):
        load_settings()


def test_get_settings_reads_once_and_caches(monkeypatch):
    first = get_settings()
    monkeypatch.setenv("POOL_DESIRED_SIZE", "3")
    assert get_settings() is first


@pytest.mark.parametrize("provider", ["vast", "static"])
@pytest.mark.parametrize(
    ("own", "named"),
    [
        ({}, ["AUDIT_HMAC_SECRET and COOKIE_KEY"]),
        ({"COOKIE_KEY": "an-operator-key"}, ["AUDIT_HMAC_SECRET"]),
        ({"AUDIT_HMAC_SECRET": "an-operator-audit-secret"}, ["COOKIE_KEY"]),
    ],
)
def test_a_real_provider_refuses_the_public_development_secrets(monkeypatch, provider, own, named):
    monkeypatch.setenv("PROVIDER", provider)
    monkeypatch.setenv("VAST_API_KEY", "vast-key-123")
    monkeypatch.setenv("STATIC_COMFY_URLS", "http://gpu-a:8188")
    for name, value in own.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert all(f"needs your own {name}:" in message for name in named), message
    assert "an-operator" not in message and "dev-" not in message  # no value is quoted


def test_a_real_provider_starts_with_its_own_secrets_and_the_simulator_with_the_defaults(
    monkeypatch, own_secrets
):
    monkeypatch.setenv("PROVIDER", "vast")
    monkeypatch.setenv("VAST_API_KEY", "vast-key-123")
    assert load_settings().cookie_key.get_secret_value() == "an-operator-key"
    monkeypatch.delenv("COOKIE_KEY")
    monkeypatch.delenv("AUDIT_HMAC_SECRET")
    monkeypatch.setenv("PROVIDER", "sim")
    assert load_settings().provider is ProviderKind.SIM


def test_links_default_to_localhost_on_the_web_port(monkeypatch):
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("WEB_PORT", "8601")
    assert load_settings().base_url == "http://localhost:8601"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://studio.example.com", "https://studio.example.com"),
        ("https://studio.example.com/", "https://studio.example.com"),
        ("http://10.0.0.5:8501", "http://10.0.0.5:8501"),
    ],
)
def test_public_base_url_is_kept_as_an_origin(monkeypatch, given, kept):
    monkeypatch.setenv("PUBLIC_BASE_URL", given)
    assert load_settings().base_url == kept


@pytest.mark.parametrize(
    "bad",
    [
        "studio.example.com",
        "ftp://studio.example.com",
        "https://",
        "https://studio.example.com/studio",
        "https://studio.example.com/?a=1",
        "https://studio.example.com#top",
        "https://user:pw@studio.example.com",
        "https://studio.example.com:99999",
    ],
)
def test_public_base_url_refuses_anything_but_an_origin(monkeypatch, bad):
    monkeypatch.setenv("PUBLIC_BASE_URL", bad)
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        load_settings()


def test_the_s3_media_store_needs_a_bucket(monkeypatch):
    monkeypatch.setenv("MEDIA_STORE", "s3")
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        load_settings()


def test_s3_keys_go_together_and_never_show(monkeypatch):
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", "very-secret-s3-key")
    with pytest.raises(ConfigError, match="S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY") as caught:
        load_settings()
    assert "very-secret-s3-key" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("S3_ENDPOINT_URL", "minio:9000"),
        ("S3_BUCKET", "Not_A_Bucket"),
        ("S3_PRESIGN_SECONDS", "30"),
        ("MEDIA_STORE", "nfs"),
    ],
)
def test_bad_s3_settings_name_their_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()
