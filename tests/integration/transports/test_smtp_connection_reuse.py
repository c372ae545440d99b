"""The SMTP transport reuses a thread's connection without a NOOP before each email, and
reopens one found closed before anything was handed over."""

import socket
from datetime import UTC, datetime

import pytest

from cadence.core.errors import TransientDeliveryError
from cadence.delivery.compose import OutgoingEmail, compose
from cadence.transports import smtp
from cadence.transports.smtp import SmtpTransport
from tests.integration.smtp_sink import smtp_sink

pytestmark = pytest.mark.integration


def _email(touch_id: int) -> OutgoingEmail:
    return OutgoingEmail(
        touch_id=touch_id,
        message_id=f"<cadence.{touch_id}.test@brightwave.example>",
        sender_name="Alex Rivera",
        sender_email="alex@brightwave.example",
        recipient_name="Ann Lee",
        recipient_email=f"ann{touch_id}@acme.example",
        subject="Quick idea",
        body="Hi Ann,\n\nOne line.\n",
        date=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        unsubscribe_url="https://cadence.test/unsubscribe/t",
        unsubscribe_mailto="mailto:unsubscribe@brightwave.example?subject=unsubscribe",
    )


def _kill_connection(transport: SmtpTransport) -> None:
    """What a server's idle timeout or a network blip leaves behind: a dead socket."""
    client = transport._local.client
    client.sock.shutdown(socket.SHUT_RDWR)


def test_emails_in_a_row_share_one_session() -> None:
    with smtp_sink() as (sink, url):
        transport = SmtpTransport.from_url(url)
        for touch_id in range(1, 6):
            transport.send(compose(_email(touch_id)))
        transport.close()
    assert [r.rcpt_tos for r in sink.received] == [[f"ann{i}@acme.example"] for i in range(1, 6)]
    assert sink.sessions == 1
    assert sink.noops == 0  # a connection used moments ago is not checked first


def test_a_connection_closed_since_its_last_email_is_reopened_and_the_email_sent() -> None:
    with smtp_sink() as (sink, url):
        transport = SmtpTransport.from_url(url)
        transport.send(compose(_email(1)))
        _kill_connection(transport)
        transport.send(compose(_email(2)))  # no error: nothing had been handed over
        transport.close()
    assert [r.rcpt_tos for r in sink.received] == [["ann1@acme.example"], ["ann2@acme.example"]]
    assert sink.sessions == 2


def test_an_idle_connection_is_checked_and_a_dead_server_is_a_transient_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(smtp, "IDLE_CHECK_SECONDS", 0.0)  # every reuse counts as idle
    with smtp_sink() as (sink, url):
        transport = SmtpTransport.from_url(url)
        transport.send(compose(_email(1)))
        _kill_connection(transport)
        transport.send(compose(_email(2)))  # the NOOP finds it dead; a new session sends
        transport.send(compose(_email(3)))  # idle again: checked with a NOOP, which it answers
        assert sink.noops == 1
    with pytest.raises(TransientDeliveryError, match="cannot reach"):
        transport.send(compose(_email(4)))  # the server is gone: retry later, not a halt
    assert len(sink.received) == 3
