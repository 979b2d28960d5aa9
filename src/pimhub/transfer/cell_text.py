"""Numbers in cells that feed text fields, read as the text they show.

A spreadsheet stores a SKU typed as 12345 as the number 12345 (or 12345.0), and JSON may
carry one as a number too; a text field would refuse it ("expected a string", and a business
key that is no string reads as missing). An import reads it as a person reading the sheet
would: 12345 -> "12345", 12345.0 -> "12345", 0.3 -> "0.3". Only text-like fields (text,
textarea, rich text, select, multiselect) are touched; a number field keeps its number.
"""

from __future__ import annotations

from typing import Any

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.fields import TEXT_TYPES, FieldType

_TEXTUAL = TEXT_TYPES | {FieldType.SELECT, FieldType.MULTISELECT}
_WHOLE_UP_TO = 1e15  # beyond this a float's integer digits are no longer exact


def number_text(value: float | int) -> str:
    """The text a number shows: no ".0" for a whole number, the shortest exact form else."""
    if isinstance(value, float) and value.is_integer() and abs(value) < _WHOLE_UP_TO:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _textual(value: Any) -> Any:
    if isinstance(value, bool):  # a bool is an int to Python, and never a text
        return value
    if isinstance(value, (int, float)):
        return number_text(value)
    if isinstance(value, dict):  # a localized field: language -> text
        return {language: _textual(text) for language, text in value.items()}
    if isinstance(value, list):
        return [_textual(item) for item in value]
    return value


def text_field_names(definition: ClassDefinition) -> frozenset[str]:
    return frozenset(f.name for f in definition.fields if f.type in _TEXTUAL)


def numbers_as_text(names: frozenset[str], items: list[dict[str, Any]]) -> None:
    """Turns the numbers of the text fields `names` in mapped `items` into text, in place."""
    for item in items:
        for name in names.intersection(item):
            item[name] = _textual(item[name])
