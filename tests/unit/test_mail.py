"""Outgoing mail lands in the outbox as complete .eml files."""

from datetime import UTC, datetime
from email import message_from_bytes

from core.mail import write_outbox


def test_message_is_written_whole_with_headers_and_body(tmp_path):
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    path = write_outbox(
        tmp_path / "outbox", to="a@example.test", subject="Hi", body="Code 1", now=now
    )
    assert path.suffix == ".eml"
    assert [p.suffix for p in path.parent.iterdir()] == [".eml"]  # no temp file left behind
    message = message_from_bytes(path.read_bytes())
    assert message["To"] == "a@example.test"
    assert message["Subject"] == "Hi"
    assert message.get_payload(decode=True).decode().strip() == "Code 1"


def test_two_messages_in_one_second_do_not_overwrite_each_other(tmp_path):
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    first = write_outbox(tmp_path, to="a@example.test", subject="1", body="one", now=now)
    second = write_outbox(tmp_path, to="b@example.test", subject="2", body="two", now=now)
    assert first != second
    assert len(list(tmp_path.glob("*.eml"))) == 2
