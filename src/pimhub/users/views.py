"""Saved grid views: a user's named query strings of a class's catalog grid.

The grid keeps all of its state (search, filters, sort, columns, page size) in the query
string, so a saved view is that string under a name; opening it restores the grid exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import FieldError, InvalidInput, NotFound

MAX_NAME = 128
MAX_QUERY = 8192
MAX_VIEWS_PER_CLASS = 100


@dataclass(frozen=True, slots=True)
class SavedView:
    id: int
    user_id: int
    class_name: str
    name: str
    query: str  # the grid's query string, without the leading '?'
    created_at: datetime


class SavedViewRepository(Protocol):
    def for_user(self, user_id: int, class_name: str) -> list[SavedView]:
        """The user's views of the class, by name."""
        ...

    def put(self, user_id: int, class_name: str, name: str, query: str, at: datetime) -> SavedView:
        """Adds the view, or replaces the query of the user's view of that name."""
        ...

    def delete(self, user_id: int, view_id: int) -> bool:
        """Removes the user's view `view_id`; False when the user has no such view."""
        ...


class SavedViews:
    def __init__(self, repository: SavedViewRepository) -> None:
        self.repository = repository

    def list(self, user_id: int, class_name: str) -> list[SavedView]:
        return self.repository.for_user(user_id, class_name)

    def save(self, user_id: int, class_name: str, name: str, query: str) -> SavedView:
        clean = name.strip()
        problems = []
        if not clean:
            problems.append(FieldError("name", "give the view a name"))
        elif len(clean) > MAX_NAME:
            problems.append(FieldError("name", f"at most {MAX_NAME} characters"))
        if "\x00" in name or "\x00" in query:
            problems.append(FieldError("name" if "\x00" in name else "query", "contains NUL"))
        if len(query) > MAX_QUERY:
            problems.append(FieldError("query", f"at most {MAX_QUERY} characters"))
        if problems:
            raise InvalidInput("the view cannot be saved: " + problems[0].message, problems)
        known = self.repository.for_user(user_id, class_name)
        if len(known) >= MAX_VIEWS_PER_CLASS and all(v.name != clean for v in known):
            raise InvalidInput(
                f"at most {MAX_VIEWS_PER_CLASS} saved views per class; delete one first",
                [FieldError("name", "too many saved views")],
            )
        return self.repository.put(user_id, class_name, clean, query.lstrip("?"), utc_now())

    def delete(self, user_id: int, view_id: int) -> None:
        if not self.repository.delete(user_id, view_id):
            raise NotFound(f"you have no saved view {view_id}")
