"""Structured logs: the event name plus fields, as text or JSON lines, exceptions rendered."""

import json
import logging

from core.logs import EventFormatter, configure_logging


def _record(**extra):
    record = logging.LogRecord("pool", logging.INFO, __file__, 1, "pool.tick", None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_text_format_shows_event_and_fields():
    line = EventFormatter().format(_record(instances=3, pool="default"))
    assert "pool.tick" in line
    assert "instances=3" in line
    assert "pool='default'" in line


def test_json_format_is_one_object_per_line():
    payload = json.loads(EventFormatter(as_json=True).format(_record(instances=3)))
    assert payload["event"] == "pool.tick"
    assert payload["instances"] == 3
    assert payload["level"] == "INFO"


def test_exceptions_are_rendered_not_swallowed():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = _record()
        record.exc_info = sys.exc_info()
    assert "RuntimeError: boom" in EventFormatter().format(record)
    assert "RuntimeError: boom" in json.loads(EventFormatter(as_json=True).format(record))["exc"]


def test_configure_logging_replaces_handlers(capsys):
    configure_logging("WARNING")
    configure_logging("INFO")
    logging.getLogger("x").info("hello.event", extra={"n": 1})
    assert len(logging.getLogger().handlers) == 1
    assert "hello.event n=1" in capsys.readouterr().err


def test_a_request_per_second_is_not_logged_at_info_but_is_at_debug(capsys):
    configure_logging("INFO")
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1/api/v1/instances/")
    logging.getLogger("httpx").warning("retrying.event")
    shown = capsys.readouterr().err
    assert "instances" not in shown
    assert "retrying.event" in shown
    configure_logging("DEBUG")
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1/api/v1/instances/")
    assert "instances" in capsys.readouterr().err


LATER_TESTS = """
import logging

from core.logs import configure_logging


def test_a_program_sets_up_its_logs_under_capsys(capsys):
    configure_logging("INFO")


def test_a_later_record_finds_an_open_stream(capsys):
    logging.getLogger("mail.log").info("Peer: %r", ("127.0.0.1", 25))
    assert "Logging error" not in capsys.readouterr().err
"""


def test_logs_set_up_in_one_test_do_not_outlive_its_closed_stderr(pytester):
    pytester.makeconftest("from tests.conftest import _root_logger_kept  # noqa: F401\n")
    pytester.makepyfile(test_later=LATER_TESTS)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
