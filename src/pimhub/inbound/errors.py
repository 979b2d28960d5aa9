"""Errors of the inbound side; they extend the catalog's so the API maps them the same way."""

from __future__ import annotations

from pimhub.catalog.errors import Conflict, InvalidInput, NotFound, Unauthorized, Unavailable


class InvalidSource(InvalidInput):
    code = "invalid-source"
    title = "Invalid inbound source"


class SourceNotFound(NotFound):
    code = "source-not-found"
    title = "Inbound source not found"


class SourceExists(Conflict):
    code = "source-exists"
    title = "Inbound source exists"


class SourceDisabled(Unavailable):
    """The source is switched off: 503 with Retry-After, so that the sender keeps the message
    and tries again rather than dropping it."""

    code = "source-disabled"
    title = "Inbound source disabled"


class MessageUnverified(Unauthorized):
    """The sender could not be verified: a missing or wrong signature, secret or key, or a
    timestamp outside the tolerance. The detail says which."""

    code = "inbound-unverified"
    title = "Inbound message not verified"


class InvalidMessage(InvalidInput):
    """A verified body that cannot be accepted: not JSON, no message id or event type where the
    source reads them, a type the source does not allow, or a JSON Schema violation (each by
    its JSON pointer in `errors`)."""

    code = "invalid-message"
    title = "Invalid inbound message"


class MessageNotFound(NotFound):
    code = "message-not-found"
    title = "Inbound message not found"


class RefusalNotFound(NotFound):
    code = "refusal-not-found"
    title = "Refused feed item not found"


class StoreBusy(Unavailable):
    """Writes of this message kept losing races after every in-process retry: 503 with
    Retry-After, never 409, which a sender reads as "drop the message"."""

    retry_after = 2
