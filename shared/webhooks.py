"""Standard Webhooks v1 signing and verification (for outlets and signing partners)."""

from __future__ import annotations

from datetime import datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["WebhookVerificationError", "sign", "signature_headers", "verify"]


def sign(secret: str, message_id: str, timestamp: datetime, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}` with the `whsec_` secret."""
    signature: str = Webhook(secret).sign(message_id, timestamp, body.decode())
    return signature


def signature_headers(
    secrets: list[str], message_id: str, timestamp: datetime, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per secret during rotation."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in secrets),
    }


def verify(secret: str, body: bytes, headers: dict[str, str]) -> None:
    """Raise WebhookVerificationError unless one signature matches and the time is fresh."""
    Webhook(secret).verify(body, headers)
