"""Datahub configurations: which classes and fields a GraphQL endpoint exposes, what its keys
may do there, and its limits.

A configuration arrives as plain data (JSON or YAML) and is checked at once against the class
definitions it names, reporting every problem with its path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.datahub.formats import FieldFormat as FieldFormat
from pimhub.datahub.formats import Shape as Shape
from pimhub.datahub.formats import format_fits, parse_formats
from pimhub.datahub.limits import Cors as Cors
from pimhub.datahub.limits import Limits as Limits
from pimhub.datahub.limits import parse_cors, parse_limits

CONFIG_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
ALL_FIELDS = "*"


class InvalidDatahubConfig(InvalidInput):
    code = "invalid-datahub-config"
    title = "Invalid datahub configuration"


class Operation(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class ExposedClass:
    """One class in a configuration: its visible fields (None: all), allowed operations and
    the fields it answers in another shape."""

    name: str
    fields: tuple[str, ...] | None
    operations: frozenset[Operation]
    formats: tuple[FieldFormat, ...] = ()

    def field_names(self, definition: ClassDefinition) -> list[str]:
        """The exposed fields that the class still defines, in the class's order; the
        business key is always among them, since it is the identity."""
        wanted = set(definition.field_names if self.fields is None else self.fields)
        wanted.add(definition.business_key)
        return [f.name for f in definition.fields if f.name in wanted]

    def allows(self, operation: Operation) -> bool:
        return operation in self.operations

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fields": ALL_FIELDS if self.fields is None else list(self.fields),
            "operations": [op.value for op in Operation if op in self.operations],
        }
        if self.formats:
            out["formats"] = {f.field: f.to_dict() for f in self.formats}
        return out


@dataclass(frozen=True, slots=True)
class DatahubConfig:
    name: str
    classes: tuple[ExposedClass, ...]
    description: str | None = None
    drafts: bool = False
    introspection: bool | None = None  # None: on, except in the production profile
    limits: Limits = field(default_factory=Limits)
    version: int = 0
    cors: Cors | None = None  # None: no browser on another origin may call it

    def exposed(self, class_name: str) -> ExposedClass | None:
        return next((c for c in self.classes if c.name == class_name), None)

    @property
    def scope(self) -> str:
        """The API key scope that opens this configuration."""
        return f"datahub:{self.name}"

    def to_dict(self, *, with_version: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out["drafts"] = self.drafts
        if self.introspection is not None:
            out["introspection"] = self.introspection
        out["classes"] = {c.name: c.to_dict() for c in self.classes}
        out["limits"] = self.limits.to_dict()
        if self.cors is not None:
            out["cors"] = self.cors.to_dict()
        if with_version:
            out["version"] = self.version
        return out

    def with_version(self, version: int) -> DatahubConfig:
        return replace(self, version=version)


_CONFIG_KEYS = frozenset(
    {"name", "description", "drafts", "introspection", "classes", "limits", "cors", "version"}
)
_CLASS_KEYS = frozenset({"fields", "operations", "formats"})


def parse_datahub_config(
    raw: Any, definitions: Mapping[str, ClassDefinition] | None
) -> DatahubConfig:
    """Build a DatahubConfig from plain data, checked against the class definitions, or raise
    InvalidDatahubConfig listing every problem. Stored configurations are loaded with
    `definitions=None`: classes may have changed since, and the schema builder skips what
    no longer exists."""
    errors: list[FieldError] = []
    if not isinstance(raw, Mapping):
        raise InvalidDatahubConfig(
            "a datahub configuration must be an object", [FieldError("", "expected an object")]
        )
    errors.extend(FieldError(k, "unknown attribute") for k in sorted(set(raw) - _CONFIG_KEYS))
    name = raw.get("name")
    if not isinstance(name, str) or not CONFIG_NAME_PATTERN.fullmatch(name):
        errors.append(
            FieldError(
                "name", "must start with a lower-case letter, then a-z, 0-9, _ or - (at most 64)"
            )
        )
    drafts = raw.get("drafts", False)
    if not isinstance(drafts, bool):
        errors.append(FieldError("drafts", "must be true or false"))
    introspection = raw.get("introspection")
    if introspection is not None and not isinstance(introspection, bool):
        errors.append(FieldError("introspection", "must be true, false or left out"))
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        errors.append(FieldError("description", "must be a string"))
    classes = _parse_classes(raw.get("classes"), definitions, errors)
    limits = parse_limits(raw.get("limits"), errors)
    cors = parse_cors(raw.get("cors"), errors)
    if errors:
        label = name if isinstance(name, str) else ""
        raise InvalidDatahubConfig(
            f"datahub configuration {label} has {len(errors)} problem(s)".replace("  ", " "),
            errors,
        )
    assert isinstance(name, str)
    return DatahubConfig(
        name=name,
        classes=classes,
        description=description,
        drafts=drafts is True,
        introspection=introspection,  # a bool or None: anything else is a problem above
        limits=limits,
        cors=cors,
    )


def _parse_classes(
    raw: Any, definitions: Mapping[str, ClassDefinition] | None, errors: list[FieldError]
) -> tuple[ExposedClass, ...]:
    if not isinstance(raw, Mapping) or not raw:
        errors.append(
            FieldError("classes", "must map at least one class name to its fields and operations")
        )
        return ()
    parsed: list[ExposedClass] = []
    for class_name, spec in raw.items():
        path = f"classes.{class_name}"
        definition = definitions.get(class_name) if definitions is not None else None
        if definitions is not None and definition is None:
            known = ", ".join(sorted(definitions)) or "none yet"
            errors.append(FieldError(path, f"there is no class '{class_name}' (classes: {known})"))
            continue
        spec = {} if spec is None else spec
        if not isinstance(spec, Mapping):
            errors.append(FieldError(path, "must be an object with 'fields' and 'operations'"))
            continue
        errors.extend(
            FieldError(f"{path}.{k}", "unknown attribute") for k in sorted(set(spec) - _CLASS_KEYS)
        )
        fields = _parse_fields(spec.get("fields", ALL_FIELDS), definition, path, errors)
        operations = _parse_operations(spec.get("operations", ["read"]), path, errors)
        formats = parse_formats(spec.get("formats"), definition, fields, path, errors)
        parsed.append(ExposedClass(class_name, fields, operations, formats))
    if definitions is not None:
        _check_relation_targets(parsed, definitions, errors)
    _check_generated_names([c.name for c in parsed], errors)
    return tuple(parsed)


def _check_generated_names(names: Sequence[str], errors: list[FieldError]) -> None:
    """Class names whose generated GraphQL names would collide: `getThingListing` is both
    Thing's listing and ThingListing's get; `MoneyInput` is the shared money input type."""
    for name in names:
        if f"{name}Listing" in names:
            errors.append(
                FieldError(
                    f"classes.{name}Listing",
                    f"get{name}Listing would name both {name}'s listing and this class; "
                    "expose one of them in another configuration",
                )
            )
        if name == "Money":
            errors.append(
                FieldError("classes.Money", "'Money' collides with the built-in Money type")
            )


def _parse_fields(
    raw: Any, definition: ClassDefinition | None, path: str, errors: list[FieldError]
) -> tuple[str, ...] | None:
    if raw == ALL_FIELDS:
        return None
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        errors.append(FieldError(f"{path}.fields", "must be '*' or a list of field names"))
        return ()
    for i, name in enumerate(raw):
        if definition is not None and definition.field(name) is None:
            errors.append(
                FieldError(
                    f"{path}.fields[{i}]",
                    f"{definition.name} has no field '{name}' "
                    f"(fields: {', '.join(definition.field_names)})",
                )
            )
    return tuple(dict.fromkeys(raw))


def listed_field_problems(config: DatahubConfig, definition: ClassDefinition) -> list[FieldError]:
    """The fields `config` lists for `definition`'s class that the class no longer has, each
    at `datahub.<configuration>.classes.<Class>.fields[<i>]`, naming the configuration."""
    return [
        FieldError(
            f"datahub.{config.name}.classes.{exposed.name}.fields[{i}]",
            f"datahub configuration '{config.name}' lists {definition.name}'s field "
            f"'{name}', which the class would no longer have",
        )
        for exposed in config.classes
        if exposed.name == definition.name and exposed.fields is not None
        for i, name in enumerate(exposed.fields)
        if definition.field(name) is None
    ]


def format_problems(config: DatahubConfig, definition: ClassDefinition) -> list[FieldError]:
    """What of `config`'s formats for `definition`'s class would no longer fit it: a field
    gone or of another type, a currency or unit it no longer has. Each problem's path starts
    with `datahub.<configuration>.` and its message names the configuration."""
    errors: list[FieldError] = []
    for exposed in config.classes:
        if exposed.name != definition.name:
            continue
        for fmt in exposed.formats:
            here = f"datahub.{config.name}.classes.{exposed.name}.formats.{fmt.field}"
            format_fits(fmt, definition, exposed.fields, here, errors)
    return [
        FieldError(e.field, f"datahub configuration '{config.name}': {e.message}", e.code)
        for e in errors
    ]


def exposure_problems(config: DatahubConfig, class_name: str) -> list[FieldError]:
    """A problem at `datahub.<configuration>.classes.<Class>` if `config` exposes the class
    (which therefore cannot be deleted)."""
    return [
        FieldError(
            f"datahub.{config.name}.classes.{class_name}",
            f"datahub configuration '{config.name}' exposes class {class_name}",
        )
        for exposed in config.classes
        if exposed.name == class_name
    ]


def _parse_operations(raw: Any, path: str, errors: list[FieldError]) -> frozenset[Operation]:
    allowed = ", ".join(op.value for op in Operation)
    if not isinstance(raw, list):
        errors.append(FieldError(f"{path}.operations", f"must be a list of: {allowed}"))
        return frozenset()
    ops: set[Operation] = set()
    for i, item in enumerate(raw):
        try:
            ops.add(Operation(item))
        except ValueError:
            errors.append(
                FieldError(f"{path}.operations[{i}]", f"unknown operation {item!r}; use {allowed}")
            )
    if Operation.READ not in ops:
        # Every write returns the written object, so writing without reading is not a mode;
        # a class nobody may read is simply left out of the configuration.
        errors.append(FieldError(f"{path}.operations", "must include 'read'"))
    return frozenset(ops)


def _check_relation_targets(
    exposed: Sequence[ExposedClass],
    definitions: Mapping[str, ClassDefinition],
    errors: list[FieldError],
) -> None:
    names = {c.name for c in exposed}
    for item in exposed:
        definition = definitions[item.name]
        for field_name in item.field_names(definition):
            f = definition.field(field_name)
            if f is not None and f.target is not None and f.target not in names:
                errors.append(
                    FieldError(
                        f"classes.{item.name}.fields",
                        f"'{field_name}' relates to {f.target}, which this configuration "
                        f"does not expose; expose {f.target} or leave '{field_name}' out",
                    )
                )
