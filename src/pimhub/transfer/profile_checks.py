"""What an import profile must be before it is saved: a name, a cron expression that has a
next time, a source that can be fetched without leaking anything, and known options. Each
problem is named by its path, all of them at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from croniter import CroniterBadDateError, CroniterError, croniter

from pimhub.catalog.batch import WriteMode
from pimhub.catalog.errors import FieldError
from pimhub.events.destinations import blocked_address
from pimhub.transfer.fetching import check_headers, is_url
from pimhub.transfer.importer import OnError
from pimhub.transfer.sources import Format

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
MAX_CRON = 128
# Five fields (m h dom mon dow) or a name; croniter also takes seconds and years, which a
# nightly import has no use for and which make "never again" schedules possible.
CRON_NAMES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
DOCUMENT_KEYS = frozenset({"name", "source", "mapping", "cron", "class", "options", "enabled"})
_OPTION_CHOICES: dict[str, type[StrEnum]] = {
    "mode": WriteMode,
    "onError": OnError,
    "format": Format,
}
_TEXT_OPTIONS = frozenset({"delimiter", "encoding", "recordPath", "sheet"})


def check_name(name: str, errors: list[FieldError]) -> None:
    if not NAME.match(name):
        errors.append(FieldError("name", "a-z first, then a-z, 0-9, _ or - (at most 64)"))


def next_run(cron: str, after: datetime) -> datetime:
    moment: datetime = croniter(cron, after).get_next(datetime)
    return moment


def check_cron(cron: str, now: datetime, errors: list[FieldError]) -> None:
    problem = f"'{cron[:MAX_CRON]}' is not a cron expression (m h dom mon dow, or @daily)"
    if len(cron) > MAX_CRON or not (len(cron.split()) == 5 or cron.strip() in CRON_NAMES):
        errors.append(FieldError("cron", problem))
        return
    try:
        next_run(cron, now)
    except CroniterBadDateError:
        errors.append(FieldError("cron", f"'{cron}' never comes (such as 31 February)"))
    except (CroniterError, ValueError, KeyError):
        errors.append(FieldError("cron", problem))


def check_source(
    source: str, *, files_allowed: bool, allow_private: bool, errors: list[FieldError]
) -> None:
    if not source.strip():
        errors.append(FieldError("source", "a file path or an http(s) URL"))
        return
    if not is_url(source):
        if not files_allowed:
            errors.append(
                FieldError("source", "an http(s) URL here; add file sources with the CLI")
            )
        return
    try:
        parts = urlsplit(source)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        errors.append(FieldError("source", "not a URL (its port?)"))
        return
    if not parts.hostname or not port_ok:
        errors.append(FieldError("source", "a URL with a host"))
    elif parts.username is not None or parts.password is not None:
        # Job errors and listings would show them; a header keeps the secret out of sight.
        errors.append(
            FieldError(
                "source",
                "no user:password in the URL; send Authorization as a header from a "
                "${PIMHUB_IMPORT_...} variable",
            )
        )
    elif not allow_private and (why := blocked_address(source)):
        errors.append(
            FieldError("source", f"{why}; set PIMHUB_IMPORT_SOURCES_ALLOW_PRIVATE to allow it")
        )


def check_options(options: Mapping[str, Any], source: str, errors: list[FieldError]) -> None:
    """The import options a profile may carry: mode, onError, format, delimiter, encoding,
    recordPath, sheet, headers."""
    for key, value in options.items():
        path = f"options.{key}"
        if key in _OPTION_CHOICES:
            choices = [c.value for c in _OPTION_CHOICES[key]]
            if value not in choices:
                errors.append(FieldError(path, f"one of {', '.join(choices)}"))
        elif key in _TEXT_OPTIONS:
            if not isinstance(value, str) or not value:
                errors.append(FieldError(path, "a text"))
        elif key != "headers":
            errors.append(FieldError(path, "unknown option"))
    check_headers(options.get("headers"), source, errors)


def check_document(name: str, document: Mapping[str, Any], errors: list[FieldError]) -> None:
    """The JSON form's shape (see ImportProfile.to_dict)."""
    errors.extend(FieldError(k, "unknown attribute") for k in sorted(set(document) - DOCUMENT_KEYS))
    for key in ("source", "mapping", "cron"):
        if not isinstance(document.get(key), str):
            errors.append(FieldError(key, "required: a text", "required"))
    for key, kind, expected in (
        ("class", str, "a class name"),
        ("options", dict, "an object"),
        ("enabled", bool, "true or false"),
    ):
        if document.get(key) is not None and not isinstance(document[key], kind):
            errors.append(FieldError(key, expected))
    if document.get("class") == "":
        errors.append(FieldError("class", "a class name, or leave it out"))
    if document.get("name", name) != name:
        errors.append(FieldError("name", f"the profile at this address is '{name}'"))
