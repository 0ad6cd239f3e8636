"""Who is calling: a partner (API key or Standard Webhooks signature) or an editor.

Every service that authenticates answers the same `401 unauthenticated` problem
(`unauthenticated()`); only the realm and the hint in its detail differ.

API keys and editor tokens are compared by SHA-256 digest (the config stores only
digests, several per partner so keys can be rotated). Partners that sign their
requests send the three Standard Webhooks headers instead of a key; the
signature is checked against each partner's `webhook_secrets`, with the
library's timestamp tolerance guarding against replays.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.config import Editor, NewsroomConfig, Partner
from shared.problems import Problem
from shared.webhooks import WebhookVerificationError, verify

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
READER_HINT = "Send 'Authorization: Bearer <partner API key or editor token>'."


def unauthenticated(detail: str, realm: str) -> Problem:
    """The one 401 of every API: no credentials, or credentials that match nobody."""
    return Problem(
        401,
        "unauthenticated",
        "Not authenticated",
        detail,
        headers={"WWW-Authenticate": f'Bearer realm="{realm}"'},
    )


def bearer_token(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def is_signed(headers: Mapping[str, str]) -> bool:
    return all(headers.get(name) for name in SIGNATURE_HEADERS)


def partner_by_signature(config: NewsroomConfig, body: bytes, headers: Mapping[str, str]) -> Partner | None:
    signed = {name: headers[name] for name in SIGNATURE_HEADERS}
    for partner in config.partners:
        for secret in partner.webhook_secrets:
            try:
                verify(secret, body, signed)
            except (WebhookVerificationError, ValueError):  # ValueError: a malformed secret
                continue
            return partner
    return None


def reader(config: NewsroomConfig, token: str) -> Partner | Editor | None:
    """Who may read story status with this token: its partner, or an editor."""
    return config.partner_for_key(token) or config.editor_for_token(token)


def may_read(caller: Partner | Editor, owner: str | None) -> bool:
    """Editors read every story; a partner only those recorded as its own (`owner`)."""
    return isinstance(caller, Editor) or (owner is not None and owner == caller.id)
