"""Creating, changing and deleting datahub configurations."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from pimhub.access.audit import Auditor
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import Conflict, FieldError, NotFound, StaleVersion, quoted
from pimhub.catalog.retry import retrying
from pimhub.datahub.config import (
    DatahubConfig,
    InvalidDatahubConfig,
    exposure_problems,
    format_problems,
    listed_field_problems,
    parse_datahub_config,
)


class UnknownDatahubConfig(NotFound):
    code = "unknown-datahub-config"
    title = "Unknown datahub configuration"

    @classmethod
    def named(cls, name: str, known: str = "") -> UnknownDatahubConfig:
        """The one wording of a missing configuration, its name cut short (quoted)."""
        listed = f" (configurations: {known})" if known else ""
        return cls(f"there is no datahub configuration '{quoted(name)}'{listed}")


class DatahubConfigRepository(Protocol):
    def get(self, name: str) -> DatahubConfig | None: ...
    def all(self) -> list[DatahubConfig]: ...
    def save(self, config: DatahubConfig, author: str, at: datetime) -> None:
        """Insert (version 1) or update version - 1 to version; raises WriteConflict when
        another writer got there first."""

    def delete(self, name: str) -> bool: ...


class DatahubService:
    def __init__(
        self,
        configs: DatahubConfigRepository,
        classes: Callable[[], Sequence[ClassDefinition]],
        clock: Callable[[], datetime],
        *,
        audit: Auditor | None = None,
    ) -> None:
        self.configs = configs
        self.classes = classes
        self.clock = clock
        self.audit = audit  # records each change after its save committed

    def _record(
        self, verb: str, name: str, before: DatahubConfig | None, after: DatahubConfig | None
    ) -> None:
        if self.audit is not None:
            self.audit.record(
                f"datahub.{verb}",
                "datahub",
                name,
                before=before.to_dict() if before else None,
                after=after.to_dict() if after else None,
            )

    def all(self) -> list[DatahubConfig]:
        return sorted(self.configs.all(), key=lambda c: c.name)

    def get(self, name: str) -> DatahubConfig:
        config = self.configs.get(name)
        if config is None:
            known = ", ".join(c.name for c in self.all()) or "none yet"
            raise UnknownDatahubConfig.named(name, known)
        return config

    def find(self, name: str) -> DatahubConfig | None:
        return self.configs.get(name)

    def create(self, raw: Mapping[str, Any], *, author: str) -> DatahubConfig:
        config = self._parse(raw)
        return retrying(partial(self._create, config, author))

    def _create(self, config: DatahubConfig, author: str) -> DatahubConfig:
        if self.configs.get(config.name) is not None:
            raise Conflict(
                f"datahub configuration '{config.name}' already exists; use PUT to change it",
                [FieldError("name", "already exists")],
            )
        created = self._store(config.with_version(1), author)
        self._record("created", config.name, None, created)
        return created

    def replace(
        self,
        name: str,
        raw: Mapping[str, Any],
        *,
        author: str,
        expected_version: int | None = None,
    ) -> tuple[DatahubConfig, bool]:
        """Create or replace; returns the stored configuration and whether it was created.
        A writer that lost a race with another reads again and goes on, unless it named
        the version it expects. A body without `name` takes the URL's."""
        if isinstance(raw, Mapping) and "name" not in raw:
            raw = {**raw, "name": name}
        elif isinstance(raw, Mapping) and raw["name"] != name:
            # Before parsing, so a body name that is no valid name is reported as this.
            raise InvalidDatahubConfig(
                f"the body names '{raw['name']}' but the URL names '{name}'",
                [FieldError("name", f"'{raw['name']}' differs from the URL's '{name}'")],
            )
        config = self._parse(raw)
        stored, outcome = retrying(lambda: self._replace(config, author, expected_version))
        return stored, outcome == "created"

    def _replace(
        self, config: DatahubConfig, author: str, expected_version: int | None
    ) -> tuple[DatahubConfig, str]:
        """The stored configuration and created|updated|unchanged."""
        name = config.name
        old = self.configs.get(name)
        if old is None:
            if expected_version is not None:
                raise UnknownDatahubConfig.named(name)
            created = self._store(config.with_version(1), author)
            self._record("created", name, None, created)
            return created, "created"
        if expected_version is not None and expected_version != old.version:
            raise StaleVersion(
                f"datahub configuration {name} is at version {old.version}, not {expected_version}",
                current_version=old.version,
            )
        if old.to_dict(with_version=False) == config.to_dict(with_version=False):
            return old, "unchanged"
        updated = self._store(config.with_version(old.version + 1), author)
        self._record("updated", name, old, updated)
        return updated, "updated"

    def apply(self, raws: Sequence[Mapping[str, Any]], *, author: str) -> list[tuple[str, str]]:
        """Create or update several configurations (YAML apply); every one is checked before
        any is saved. Returns (name, created|updated|unchanged)."""
        parsed: list[DatahubConfig] = []
        errors: list[FieldError] = []
        for i, raw in enumerate(raws):
            try:
                parsed.append(self._parse(raw))
            except InvalidDatahubConfig as exc:
                errors.extend(FieldError(f"datahub[{i}].{e.field}", e.message) for e in exc.errors)
        if errors:
            raise InvalidDatahubConfig(
                "the datahub configurations have problems; nothing applied", errors
            )
        results = []
        for config in parsed:
            _, outcome = retrying(partial(self._replace, config, author, None))
            results.append((config.name, outcome))
        return results

    def class_change_problems(
        self, old: ClassDefinition | None, new: ClassDefinition | None
    ) -> list[FieldError]:
        """What replacing `old` with `new` (None: deleting `old`) would break in the saved
        configurations (the classes they expose, the fields they list, their formats), leaving
        out what `old` already broke: the class service refuses such a change rather than
        leave a configuration that can no longer be saved, or queries that fail later as if
        the client had erred."""
        problems: list[FieldError] = []
        for config in self.all():
            if new is None:
                problems += exposure_problems(config, old.name) if old is not None else []
                continue
            # By path: a message may differ while the problem is the same (the currencies
            # a price list holds are named in it).
            before = {p.field for p in _class_problems(config, old)} if old is not None else set()
            problems += [p for p in _class_problems(config, new) if p.field not in before]
        return problems

    def delete(self, name: str) -> None:
        old = self.configs.get(name)
        if not self.configs.delete(name):
            raise UnknownDatahubConfig.named(name)
        self._record("deleted", name, old, None)

    def _parse(self, raw: Mapping[str, Any]) -> DatahubConfig:
        return parse_datahub_config(raw, {c.name: c for c in self.classes()})

    def _store(self, config: DatahubConfig, author: str) -> DatahubConfig:
        self.configs.save(config, author, self.clock())
        return config


def _class_problems(config: DatahubConfig, definition: ClassDefinition) -> list[FieldError]:
    """What of `config` would not fit `definition`: fields it lists, then its formats."""
    return listed_field_problems(config, definition) + format_problems(config, definition)
