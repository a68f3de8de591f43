"""E-mail over TLS against a real aiosmtpd server holding a certificate from a CA made in the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from robutler_monitoring.plugin.alerts.senders import make_sender
from robutler_monitoring.plugin.config.schema import EmailConfig
from tests.support.receivers import SmtpServer, smtp_server
from tests.support.tls import Certs, make_certs

from .helpers import CTX, firing, plan

PASSWORD = "hunter2-Sm7p-s3cret"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"))


def _email(
    smtp: SmtpServer, tls: str, ca_file: Path, password: str = PASSWORD, **extra: Any
) -> dict[str, Any]:
    return {
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "username": "alerts@example.com",
        "password": password,
        "recipients": ["ops@example.com"],
        "tls": tls,
        "ca_file": str(ca_file),
        "timeout": 10,
        **extra,
    }


def _send(email: dict[str, Any]) -> str | None:
    [channel] = plan(email=email).channels
    return make_sender(channel, CTX).send(firing("email"))


def _assert_delivered(smtp: SmtpServer) -> None:
    [mail] = smtp.wait_for(1)
    assert smtp.logins == ["alerts@example.com"]
    assert mail.recipients == ["ops@example.com"]
    assert mail.message["Subject"] == "[FIRING] error rate 12% > 5% on robutler@host.example:8000"
    assert PASSWORD not in mail.message.as_string()


@pytest.mark.slow
def test_starttls_logs_in_after_tls_and_delivers(certs: Certs) -> None:
    with smtp_server(("alerts@example.com", PASSWORD), starttls=certs) as smtp:
        assert _send(_email(smtp, "starttls", certs.ca_file)) is None
        _assert_delivered(smtp)


@pytest.mark.slow
def test_implicit_tls_delivers(certs: Certs) -> None:
    with smtp_server(("alerts@example.com", PASSWORD), implicit_tls=certs) as smtp:
        assert _send(_email(smtp, "ssl", certs.ca_file)) is None
        _assert_delivered(smtp)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_untrusted_certificate_is_refused_before_the_password_is_sent(
    certs: Certs, tmp_path: Path, mode: str
) -> None:
    other_ca = make_certs(tmp_path, ca_name="some other CA").ca_file
    tls = {"starttls": certs} if mode == "starttls" else {"implicit_tls": certs}
    with smtp_server(("alerts@example.com", PASSWORD), **tls) as smtp:
        reason = _send(_email(smtp, mode, other_ca))
        assert smtp.logins == [] and smtp.inbox == []
    assert reason is not None and "CERTIFICATE_VERIFY_FAILED" in reason
    assert PASSWORD not in reason


@pytest.mark.slow
def test_host_name_is_checked_against_the_certificate(certs: Certs) -> None:
    with smtp_server(("alerts@example.com", PASSWORD), implicit_tls=certs) as smtp:
        email = _email(smtp, "ssl", certs.ca_file)
        email["smtp_host"] = "127.0.0.2"  # not in the certificate (nothing listens there either way)
        reason = _send(email)
        assert smtp.logins == []
    assert reason is not None and PASSWORD not in reason


@pytest.mark.slow
def test_wrong_password_over_tls_is_reported_without_it(certs: Certs) -> None:
    with smtp_server(("alerts@example.com", PASSWORD), starttls=certs) as smtp:
        reason = _send(_email(smtp, "starttls", certs.ca_file, password="not-" + PASSWORD))
        assert smtp.logins == [] and smtp.inbox == []
    assert reason == "SMTP login refused (535)"


@pytest.mark.slow
def test_server_without_starttls_gets_no_password(certs: Certs) -> None:
    with smtp_server(("alerts@example.com", PASSWORD)) as smtp:
        reason = _send(_email(smtp, "starttls", certs.ca_file))
        assert smtp.logins == [] and smtp.inbox == []
    assert reason is not None and "STARTTLS" in reason


def test_ca_file_that_cannot_be_read_is_refused_at_load(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ValidationError) as err:
        EmailConfig.model_validate({"smtp_host": "mail.example.com", "ca_file": str(missing)})
    [e] = err.value.errors()
    assert e["loc"] == ("ca_file",) and str(missing) in e["msg"]
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ValidationError, match=r"junk\.pem"):
        EmailConfig.model_validate({"smtp_host": "mail.example.com", "ca_file": str(junk)})
