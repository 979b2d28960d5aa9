"""Field types and field definitions: the typed slots a class definition is made of."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    RICH_TEXT = "rich_text"
    NUMBER = "number"
    MONEY = "money"
    QUANTITY = "quantity"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    SELECT = "select"
    MULTISELECT = "multiselect"
    RELATION = "relation"
    ASSET = "asset"


TEXT_TYPES = frozenset({FieldType.TEXT, FieldType.TEXTAREA, FieldType.RICH_TEXT})
# Types whose value may be a list (and so cannot be unique or a business key).
LIST_CAPABLE = frozenset({FieldType.RELATION, FieldType.ASSET})
ORDERABLE_TYPES = frozenset(
    {
        FieldType.TEXT,
        FieldType.TEXTAREA,
        FieldType.NUMBER,
        FieldType.MONEY,
        FieldType.QUANTITY,
        FieldType.BOOLEAN,
        FieldType.DATE,
        FieldType.DATETIME,
        FieldType.SELECT,
    }
)

FIELD_NAME_PATTERN = re.compile(r"^[a-z][A-Za-z0-9_]{0,63}$")
# Names the object envelope already uses; a field with one of them would be ambiguous in filters.
RESERVED_FIELD_NAMES = frozenset(
    {
        "id",
        "uuid",
        "key",
        "class",
        "classname",  # GraphQL's system field, as in Pimcore
        "published",
        "version",
        "createdAt",
        "modifiedAt",
        "modificationDate",
        "creationDate",
        "fields",
        "completeness",  # the object's completeness per channel (catalog.completeness)
    }
)
DEFAULT_TEXT_MAX_LENGTH = {
    FieldType.TEXT: 255,
    FieldType.TEXTAREA: 65_535,
    FieldType.RICH_TEXT: 1_000_000,
}
ASSET_MAX_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class FieldDefinition:
    """One typed field of a class. Rules that do not apply to the type stay None."""

    name: str
    type: FieldType
    title: str | None = None
    localized: bool = False
    required: bool = False
    unique: bool = False
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    options: tuple[str, ...] = ()
    target: str | None = None
    multiple: bool = False
    decimals: int = 0
    currencies: tuple[str, ...] = ()
    # A money field with a price list holds one amount per currency: {"EUR": 19.9, ...}.
    price_list: bool = False
    # A quantity field: its family of units (catalog.units) and the unit min, max, filters
    # and sorts mean.
    family: str | None = None
    unit: str | None = None

    @property
    def is_list(self) -> bool:
        return self.type == FieldType.MULTISELECT or (self.type in LIST_CAPABLE and self.multiple)

    @property
    def effective_max_length(self) -> int | None:
        if self.max_length is not None:
            return self.max_length
        if self.type == FieldType.ASSET:
            return ASSET_MAX_LENGTH
        return DEFAULT_TEXT_MAX_LENGTH.get(self.type)

    def to_dict(self) -> dict[str, Any]:
        """The field as plain data, leaving out everything at its default."""
        out: dict[str, Any] = {"name": self.name, "type": self.type.value}
        optional: dict[str, Any] = {
            "title": self.title,
            "localized": self.localized or None,
            "required": self.required or None,
            "unique": self.unique or None,
            "min": self.min,
            "max": self.max,
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "pattern": self.pattern,
            "options": list(self.options) or None,
            "target": self.target,
            "multiple": self.multiple or None,
            "decimals": self.decimals or None,
            "currencies": list(self.currencies) or None,
            "priceList": self.price_list or None,
            "family": self.family,
            "unit": self.unit,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out
