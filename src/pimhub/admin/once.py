"""One-time form tokens: a form whose answer shows something once (a new key's or endpoint's
secret) or that must not act twice (a rotation) carries a fresh token; sending the same form
again (a reload of the answer, a double click) finds the token used and does nothing.

Kept in this process; past FORM_TOKENS the oldest are forgotten.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from threading import Lock

from starlette.datastructures import FormData

from pimhub.catalog.errors import Conflict

FORM_TOKENS = 10_000  # forms remembered as sent (per store), oldest forgotten first
FIELD = "form_token"


class FormAlreadySent(Conflict):
    code = "form-already-sent"
    title = "This form was already sent"


def new_token() -> str:
    """A fresh token for one form shown."""
    return secrets.token_urlsafe(16)


def token_of(form: FormData) -> str:
    """The form's token ('' without one); a file or a NUL in its place counts as none."""
    value = form.get(FIELD)
    if not isinstance(value, str) or "\x00" in value:
        return ""
    return value[:64]


class SentForms:
    """Tokens of forms already sent, with what each made."""

    PENDING = "(being made)"

    def __init__(self) -> None:
        self._sent: OrderedDict[str, str] = OrderedDict()
        self._lock = Lock()

    def reserve(self, token: str) -> str | None:
        """Marks `token` as in use; returns what it was used for if it already was."""
        with self._lock:
            earlier = self._sent.get(token)
            if earlier is None:
                self._sent[token] = self.PENDING
                while len(self._sent) > FORM_TOKENS:
                    self._sent.popitem(last=False)
            return earlier

    def record(self, token: str, made: str) -> None:
        with self._lock:
            self._sent[token] = made

    def release(self, token: str) -> None:
        """The form was refused: the user fixes it and sends the same form again."""
        with self._lock:
            self._sent.pop(token, None)
