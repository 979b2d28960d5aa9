"""The tree of domain errors.

    CatalogError                     base of everything the domain raises on purpose
      InvalidInput                   input that cannot be accepted; carries FieldErrors
        ValidationFailed             object values break the class definition
        InvalidClassDefinition       a class definition is malformed
        InvalidQuery                 a filter, sort or cursor cannot be understood
        NulCharacter                 text holding U+0000, which no text may hold (PostgreSQL
                                     cannot store it, so it is refused everywhere)
        PayloadTooLarge              a request body or upload over its size limit
        UnsupportedMediaType         a file whose content is not a type the hub accepts
        BodyTimeout                  a request body that stopped arriving
      NotFound                       a class, object, version or key does not exist
        UnknownClass
        ObjectNotFound
        VersionNotFound
        AssetNotFound
        UnknownTransition            a class's workflow has no transition of that name
      Conflict                       the request is well formed but collides with state
        DuplicateKey                 business key or unique field already taken
        StaleVersion                 the write names a version that is no longer current
        PreconditionFailed           If-Match / If-None-Match do not hold for the object
        WriteConflict                another transaction changed the same rows at the same
                                     time; `retryable`: the whole write may simply run again
        StillReferenced              delete refused while other objects point at the target
          AssetInUse                 delete of an asset that objects still use
        HasVariants                  delete of a parent refused while it has variants
        IncompatibleClassChange      a class change would break stored objects
        ClassInUse                   delete of a class that still has objects
        InvalidTransition            a workflow transition that does not leave the object's
                                     current state (names the state and what is open)
        PublishedByWorkflow          a write that sets `published` on a class whose
                                     workflow decides it (names the transitions that do)
      Unauthorized / Forbidden       authentication and authorisation failures
        TransitionForbidden          the key holds none of the scopes a transition needs
      Unavailable                    a service the hub needs cannot answer now; the same
                                     request later may succeed (`retry_after` seconds)
        StoreUnavailable             the asset blob store (S3 unreachable or throttling,
                                     a full or failing disk)

The API maps each class to an HTTP status and a stable problem `type` in api/errors.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one input location; `field` is a dotted path such as `name.de`."""

    field: str
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


QUOTED_CHARS = 100


def quoted(text: str) -> str:
    """What the caller sent, as a message quotes it: at most QUOTED_CHARS characters, so a
    name of 20,000 characters does not come back whole in every refusal."""
    return text if len(text) <= QUOTED_CHARS else f"{text[:QUOTED_CHARS]}..."


class CatalogError(Exception):
    """Base of all deliberate domain errors."""

    code = "catalog-error"
    title = "Catalog error"
    # True where the error is a lost race that running the same unit of work again resolves.
    retryable = False

    def __init__(self, detail: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: list[FieldError] = list(errors)


class InvalidInput(CatalogError):
    code = "invalid-input"
    title = "Invalid input"


class ValidationFailed(InvalidInput):
    code = "validation-failed"
    title = "Validation failed"


class InvalidClassDefinition(InvalidInput):
    code = "invalid-class-definition"
    title = "Invalid class definition"


class InvalidQuery(InvalidInput):
    code = "invalid-query"
    title = "Invalid query"


class NulCharacter(InvalidInput):
    code = "nul-character"
    title = "NUL character"


class PayloadTooLarge(InvalidInput):
    code = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(InvalidInput):
    code = "unsupported-media-type"
    title = "Unsupported media type"


class BodyTimeout(InvalidInput):
    code = "request-timeout"
    title = "Request body timed out"


class NotFound(CatalogError):
    code = "not-found"
    title = "Not found"


class UnknownClass(NotFound):
    code = "unknown-class"
    title = "Unknown class"


class ObjectNotFound(NotFound):
    code = "object-not-found"
    title = "Object not found"

    @classmethod
    def named(cls, class_name: str, value: object, by: str = "key") -> ObjectNotFound:
        """The one wording, in REST and GraphQL alike, for an object that is missing or
        hidden from the caller: the two must read the same, or the answer tells them apart."""
        return cls(f"no {class_name} with {by} '{value}'")


class VersionNotFound(NotFound):
    code = "version-not-found"
    title = "Version not found"


class AssetNotFound(NotFound):
    code = "asset-not-found"
    title = "Asset not found"


class UnknownTransition(NotFound):
    code = "unknown-transition"
    title = "Unknown transition"


class Conflict(CatalogError):
    code = "conflict"
    title = "Conflict"


class DuplicateKey(Conflict):
    code = "duplicate-key"
    title = "Duplicate key"


class StaleVersion(Conflict):
    code = "stale-version"
    title = "Stale version"

    def __init__(self, detail: str, current_version: int) -> None:
        super().__init__(detail)
        self.current_version = current_version


class PreconditionFailed(Conflict):
    """A conditional write's condition (If-Match, If-None-Match) does not hold."""

    code = "precondition-failed"
    title = "Precondition failed"


class WriteConflict(Conflict):
    """Another transaction wrote the same rows at the same time: a lost race between a check
    and a write, a deadlock, or a serialization failure. Nothing was kept, and running the
    whole unit of work again is safe; the catalog service does so before giving up."""

    code = "write-conflict"
    title = "Concurrent write conflict"
    retryable = True


class StillReferenced(Conflict):
    code = "still-referenced"
    title = "Object is still referenced"


class AssetInUse(StillReferenced):
    code = "asset-in-use"
    title = "Asset is still used"


class HasVariants(Conflict):
    code = "has-variants"
    title = "Object still has variants"


class IncompatibleClassChange(Conflict):
    code = "incompatible-class-change"
    title = "Incompatible class change"


class ClassInUse(Conflict):
    code = "class-in-use"
    title = "Class still has objects"


class Unauthorized(CatalogError):
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(CatalogError):
    code = "forbidden"
    title = "Forbidden"


class TransitionForbidden(Forbidden):
    code = "transition-forbidden"
    title = "Transition forbidden"


class InvalidTransition(Conflict):
    code = "invalid-transition"
    title = "Invalid transition"


class PublishedByWorkflow(Conflict):
    code = "published-by-workflow"
    title = "Published by workflow"


class SecretUnreadable(CatalogError):
    """A stored secret (webhook, inbound source, broker or connector credentials) that the
    secret key in use cannot decrypt: the key changed. The server's configuration is wrong,
    so no retry helps (a 500, api/errors.py) until the operator restores the key."""

    code = "secret-key-mismatch"
    title = "Secret key mismatch"


class Unavailable(CatalogError):
    """A service the hub depends on cannot answer now. Not `retryable` in-process (that
    means a lost race, run again at once); the client may retry after `retry_after`
    seconds."""

    code = "service-unavailable"
    title = "Service unavailable"
    retry_after = 5


class StoreUnavailable(Unavailable):
    """The asset blob store: S3 unreachable or throttling, a full or failing disk. The
    same problem code as an exhausted database pool; the detail names the store."""
