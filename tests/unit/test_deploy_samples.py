"""The deploy samples start real entry points and cover HTTPS, WebSockets and log rotation."""

import configparser
import importlib
import importlib.util
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def _unit(name):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(DEPLOY / "systemd" / name)
    return parser


def _runs_something_that_exists(command):
    command = command.removeprefix("env MALLOC_ARENA_MAX=2 ")
    program = Path(command.split()[0]).name
    if program in SCRIPTS:  # one of our [project.scripts]: its function must be importable
        module, _, function = SCRIPTS[program].partition(":")
        return callable(getattr(importlib.import_module(module), function, None))
    if " -m " in command:
        module = command.split(" -m ", 1)[1].split()[0]
        return importlib.util.find_spec(module) is not None
    script = re.search(r"streamlit run (\S+)", command).group(1)
    return (ROOT / script).is_file()


def test_systemd_units_start_the_web_and_scheduler_entry_points():
    web, scheduler = _unit("aikings-web.service"), _unit("aikings-scheduler.service")
    assert "streamlit run web.py" in web["Service"]["ExecStart"]
    assert "--server.address 127.0.0.1" in web["Service"]["ExecStart"]  # only the proxy is public
    assert "--client.showErrorDetails none" in web["Service"]["ExecStart"]  # no trace shown
    assert web["Service"]["ExecStartPre"].endswith("/.venv/bin/aikings migrate")
    assert scheduler["Service"]["ExecStart"].endswith("/.venv/bin/aikings-scheduler")
    assert _runs_something_that_exists(web["Service"]["ExecStartPre"])
    for unit in (web, scheduler):
        assert _runs_something_that_exists(unit["Service"]["ExecStart"])
        assert unit["Service"]["EnvironmentFile"] == "/etc/aikings.env"
        assert unit["Service"]["Restart"] == "on-failure"
        assert unit["Service"]["Environment"] == "MALLOC_ARENA_MAX=2"
    assert scheduler["Service"]["KillSignal"] == "SIGTERM"  # graceful: jobs finish, lease handed


def test_the_api_unit_starts_the_api_entry_point():
    api = _unit("aikings-api.service")
    assert api["Service"]["ExecStart"].endswith("/.venv/bin/aikings-api")
    assert _runs_something_that_exists(api["Service"]["ExecStart"])
    assert api["Service"]["EnvironmentFile"] == "/etc/aikings.env"
    assert api["Service"]["Environment"] == "MALLOC_ARENA_MAX=2"


def test_procfile_runs_every_process():
    entries = dict(
        line.split(": ", 1) for line in (DEPLOY / "Procfile").read_text().splitlines() if line
    )
    assert set(entries) == {"web", "scheduler", "api"}
    assert all(command.startswith("env MALLOC_ARENA_MAX=2 ") for command in entries.values())
    assert "--client.showErrorDetails none" in entries["web"]
    assert all(_runs_something_that_exists(command) for command in entries.values())


def test_reverse_proxies_terminate_https_and_forward_websockets_to_the_web_port():
    caddy = (DEPLOY / "Caddyfile").read_text()
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "reverse_proxy 127.0.0.1:8501" in caddy and "Strict-Transport-Security" in caddy
    assert "listen 443 ssl" in nginx and "proxy_pass http://127.0.0.1:8501" in nginx
    assert 'proxy_set_header Connection "upgrade"' in nginx
    assert "return 301 https://" in nginx


def test_logs_are_rotated_under_systemd_and_under_a_procfile_runner():
    journald = configparser.ConfigParser()
    journald.read(DEPLOY / "journald" / "aikings.conf")
    assert journald["Journal"]["MaxRetentionSec"] and journald["Journal"]["SystemMaxUse"]
    rule = (DEPLOY / "logrotate" / "aikings").read_text()
    assert re.search(r"^/var/log/aikings/\*\.log \{$", rule, re.M)
    assert re.search(r"^\s+rotate \d+$", rule, re.M) and "copytruncate" in rule


def test_every_registered_program_is_an_importable_function():
    assert {"aikings", "aikings-muses", "aikings-scheduler", "aikings-stripe-webhook"} <= set(
        SCRIPTS
    )
    for name in SCRIPTS:
        assert _runs_something_that_exists(f"/opt/aikings/.venv/bin/{name}"), name
