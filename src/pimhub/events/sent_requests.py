"""The request each attempt of a delivery sent, rebuilt for operators: the log keeps the
event, the endpoint and each attempt's time, not the raw request, and the rest follows from
them (the body as the dispatcher shapes it, the Standard Webhooks headers, the signature with
the secrets that were signing at that moment)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pimhub.events.deliveries import AttemptRecord
from pimhub.events.endpoints import WebhookEndpoint
from pimhub.events.ports import StoredSecrets
from pimhub.events.signing import secret_bytes, signed_headers


@dataclass(frozen=True, slots=True)
class SentRequest:
    attempt_id: int
    url: str
    headers: dict[str, str]
    body: bytes
    # False when the attempt predates the last rotation: the secret before the previous one
    # may have signed as well, and it is no longer known.
    signature_complete: bool


def sent_requests(
    endpoint: WebhookEndpoint,
    secrets: StoredSecrets,
    decrypt: Callable[[str], str],
    event_id: str,
    body: bytes,
    attempts: Sequence[AttemptRecord],
) -> list[SentRequest]:
    """One rebuilt request per attempt of a webhook delivery (not for connectors)."""
    found = []
    for attempt in attempts:
        keys, complete = _keys_at(endpoint, secrets, decrypt, attempt.attempted_at)
        stamp = int(attempt.attempted_at.timestamp())
        headers = signed_headers(keys, event_id, stamp, body)
        found.append(SentRequest(attempt.id, endpoint.spec.url, headers, body, complete))
    return found


def _keys_at(
    endpoint: WebhookEndpoint,
    secrets: StoredSecrets,
    decrypt: Callable[[str], str],
    at: datetime,
) -> tuple[list[bytes], bool]:
    rotated = endpoint.secret_rotated_at
    if rotated is None or at >= rotated or secrets.previous_sealed is None:
        return secrets.signing_keys(decrypt, at), True
    return [secret_bytes(decrypt(secrets.previous_sealed))], False
