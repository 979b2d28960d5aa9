"""The `media` setting of a Magento connector: which asset fields become media gallery
entries, in gallery order, and the image roles of each field's first image."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pimhub.catalog.errors import FieldError
from pimhub.catalog.fields import FieldDefinition
from pimhub.connectors.magento.config_rules import ATTRIBUTE_CODE, DEFAULTS

# Without a `media` key: the class's fields of these names that are asset fields, with these
# Magento image roles (the default commerce model has `image` and a `gallery`).
DEFAULT_MEDIA = {"image": ("image", "small_image", "thumbnail"), "gallery": ()}


@dataclass(frozen=True, slots=True)
class MediaField:
    """One hub asset field whose images become media gallery entries: the Magento image
    roles (`types`) its first image takes, and whether it holds several assets."""

    field: str
    roles: tuple[str, ...] = ()
    multiple: bool = False


def media_fields(
    value: Any, fields: Mapping[str, FieldDefinition] | None, errors: list[FieldError]
) -> tuple[MediaField, ...]:
    """`{field: [roles]}`: which asset fields become media gallery entries, in gallery order,
    and the image roles of each field's first image; `false` or `{}` sends no images."""
    if value is DEFAULTS:
        if fields is None:  # a stored configuration read without its class
            return ()
        value = {
            name: list(roles)
            for name, roles in DEFAULT_MEDIA.items()
            if name in fields and fields[name].type.value == "asset"
        }
    if value is False or value is None:
        return ()
    if not isinstance(value, Mapping):
        errors.append(FieldError("media", "must map asset fields to image roles", "type"))
        return ()
    out: list[MediaField] = []
    taken: dict[str, str] = {}
    for name, roles in value.items():
        path = f"media.{name}"
        definition = fields.get(str(name)) if fields is not None else None
        if fields is not None and definition is None:
            errors.append(FieldError(path, f"the class has no field '{name}'", "unknown-field"))
            continue
        if definition is not None and definition.type.value != "asset":
            errors.append(FieldError(path, "must be an asset field", "type"))
            continue
        if roles is None:
            roles = []
        if not isinstance(roles, list) or not all(
            isinstance(r, str) and ATTRIBUTE_CODE.fullmatch(r) for r in roles
        ):
            errors.append(FieldError(path, "must be a list of image roles such as image", "type"))
            continue
        for role in roles:
            if role in taken:
                message = f"the role '{role}' is given to '{taken[role]}' already"
                errors.append(FieldError(path, message, "option"))
            taken[role] = str(name)
        multiple = bool(definition.multiple) if definition is not None else True
        out.append(MediaField(str(name), tuple(dict.fromkeys(roles)), multiple))
    return tuple(out)
