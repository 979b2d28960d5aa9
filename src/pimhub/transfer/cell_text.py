"""Cells read as a person reading the sheet would, by the field they feed.

A spreadsheet stores a SKU typed as 12345 as the number 12345 (or 12345.0), and JSON may
carry one as a number too; a text field would refuse it ("expected a string", and a business
key that is no string reads as missing). An import reads it as the text it shows: 12345 ->
"12345", 12345.0 -> "12345", 0.3 -> "0.3". So for text-like fields (text, textarea, rich
text, select, multiselect) and relations (a business key is always text, a uuid too); a
number field keeps its number.

A date cell reaches the import as a date-time (at midnight for a date): a date field gets
the date, a date-time field the moment in ISO 8601 (read as UTC: a sheet holds no time
zone). A cell no field of its type can hold (a time of day in a date field, a true/false or
a date in a text field) is refused here with a message naming what it is: left to
validation, a text business key that is no string would read as missing ("required").

Messages and reports show a cell as it would be written (`as_written`), never as Python
shows it (`datetime.datetime(2024, 1, 2, 0, 0)`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError
from pimhub.catalog.fields import TEXT_TYPES, FieldType

_TEXTUAL = TEXT_TYPES | {FieldType.SELECT, FieldType.MULTISELECT}
_WHOLE_UP_TO = 1e15  # beyond this a float's integer digits are no longer exact
_TEMPORAL = (date, time, timedelta)  # datetime is a date


class CellProblem(ValueError):
    """A cell the field it feeds cannot hold, whatever the text of the message says."""


Reader = Callable[[Any], Any]


def number_text(value: float | int) -> str:
    """The text a number shows: no ".0" for a whole number, the shortest exact form else."""
    if isinstance(value, float) and value.is_integer() and abs(value) < _WHOLE_UP_TO:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def as_written(value: Any) -> str:
    """A cell as a person would write it: true/false, 12345 (not 12345.0), 2024-01-02
    10:30:00, a list or object as JSON; text as it is, an empty cell as nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):  # a bool is an int to Python
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return orjson.dumps(value, default=as_written).decode()
    return str(value)


def in_message(value: Any) -> str:
    """A cell as a message quotes it: text in quotes (so blanks show), anything else as
    written."""
    return repr(value) if isinstance(value, str) else as_written(value)


def _kind(value: Any) -> str:
    """What a cell no field of its type can hold is, to a person: "a date (2024-01-02)"."""
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, datetime):
        return f"a date and time ({as_written(value)})"
    if isinstance(value, date):
        return f"a date ({as_written(value)})"
    if isinstance(value, time):
        return f"a time of day ({as_written(value)})"
    return f"a duration ({value})"


def _as_text(expected: str) -> Reader:
    def read(value: Any) -> Any:
        if isinstance(value, (bool, *_TEMPORAL)):
            raise CellProblem(f"expected {expected}, got {_kind(value)}")
        if isinstance(value, (int, float)):
            return number_text(value)
        return value

    return read


def _as_date(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.time() != time():
            raise CellProblem(
                f"expected a date, got {_kind(value)}; a date field holds no time of day"
            )
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return _refuse_temporal("a date", value)


def _as_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC).isoformat().replace("+00:00", "Z")
    return _refuse_temporal("a date and time", value)


def _refuse_temporal(expected: str, value: Any) -> Any:
    if isinstance(value, _TEMPORAL):
        raise CellProblem(f"expected {expected}, got {_kind(value)}")
    return value  # anything else is validation's to judge


_EXPECTED = {
    FieldType.NUMBER: "a number",
    FieldType.MONEY: "a number",
    FieldType.QUANTITY: "a number",
    FieldType.BOOLEAN: "true or false",
    FieldType.ASSET: "an asset path or URL",
}


def cell_readers(definition: ClassDefinition) -> dict[str, Reader]:
    """For each field of `definition`, how a cell feeding it is read."""
    readers: dict[str, Reader] = {}
    for f in definition.fields:
        if f.type == FieldType.RELATION:
            readers[f.name] = _as_text(f"a uuid or business key of a {f.target}")
        elif f.type in _TEXTUAL:
            readers[f.name] = _as_text("text")
        elif f.type == FieldType.DATE:
            readers[f.name] = _as_date
        elif f.type == FieldType.DATETIME:
            readers[f.name] = _as_datetime
        else:
            readers[f.name] = _refusing_temporal(_EXPECTED[f.type])
    return readers


def _refusing_temporal(expected: str) -> Reader:
    def read(value: Any) -> Any:
        return _refuse_temporal(expected, value)

    return read


def _read(reader: Reader, value: Any, path: str, problems: list[FieldError]) -> Any:
    """`value` read by `reader`, into a localized field's languages, a list's items and a
    money or quantity value's parts; what it cannot read is added to `problems`."""
    if isinstance(value, dict):
        return {k: _read(reader, v, f"{path}.{k}", problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_read(reader, v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    try:
        return reader(value)
    except CellProblem as exc:
        problems.append(FieldError(path, str(exc), "type"))
        return value


def read_cells(readers: dict[str, Reader], item: dict[str, Any]) -> list[FieldError]:
    """Reads the cells of a mapped `item` by the fields they feed, in place; the problems
    of those its fields cannot hold (by field path)."""
    problems: list[FieldError] = []
    for name in [n for n in item if n in readers]:  # in the mapping's order
        item[name] = _read(readers[name], item[name], name, problems)
    return problems
