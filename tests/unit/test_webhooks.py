"""Standard Webhooks v1: the published test vector and rotation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.webhooks import WebhookVerificationError, sign, signature_headers, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = datetime.fromtimestamp(1614265330, UTC)
BODY = b'{"test": 2432232314}'


def test_signature_matches_the_standard_webhooks_test_vector() -> None:
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_rotation_sends_one_signature_per_secret_and_either_verifies() -> None:
    other = "whsec_ZGVtby1vdXRsZXQtc2lnbmluZy1zZWNyZXQtMzJieXQ="
    now = datetime.now(UTC)
    headers = signature_headers([SECRET, other], MSG_ID, now, BODY)
    assert headers["webhook-id"] == MSG_ID
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(SECRET, BODY, headers)
    verify(other, BODY, headers)


def test_tampered_body_fails_verification() -> None:
    headers = signature_headers([SECRET], MSG_ID, datetime.now(UTC), BODY)
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, b'{"test": 1}', headers)
