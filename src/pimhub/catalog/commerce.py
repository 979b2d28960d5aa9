"""The default commerce model (Brand, Category, Product) that ships with pimhub."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml


def commerce_model() -> list[dict[str, Any]]:
    """The shipped class definitions as plain data, ready for ClassService.apply."""
    text = resources.files("pimhub.catalog").joinpath("commerce_model.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    classes: list[dict[str, Any]] = data["classes"]
    return classes
