"""Import profiles in the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, delete, insert, select, update

from pimhub.catalog.retry import retrying
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import import_profiles
from pimhub.transfer.profiles import ImportProfile


class SqlProfileStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, profile: ImportProfile) -> bool:
        """Creates or replaces `profile`; True when this call created it."""
        values = _values(profile)
        del values["name"]

        def upsert() -> bool:
            with begin_write(self.engine) as conn:
                changed = conn.execute(
                    update(import_profiles)
                    .where(import_profiles.c.name == profile.name)
                    .values(**values)
                ).rowcount
                if changed:
                    return False
                # Another writer may create it first (PostgreSQL): begin_write makes the
                # unique violation a WriteConflict, and the retry updates it instead. So
                # only the writer whose insert commits says it created the profile.
                conn.execute(insert(import_profiles).values(name=profile.name, **values))
                return True

        return retrying(upsert)

    def replace(self, profile: ImportProfile, expected: datetime) -> bool:
        """Replaces `profile` only while its stored updated_at is still `expected`: the check
        and the write are one UPDATE, so of saves from the same stamp exactly one matches.
        False when nothing matched (no such profile, or a newer one)."""
        values = _values(profile)
        del values["name"]
        with begin_write(self.engine) as conn:
            done = conn.execute(
                update(import_profiles)
                .where(
                    import_profiles.c.name == profile.name,
                    import_profiles.c.updated_at == expected,
                )
                .values(**values)
            )
        return done.rowcount == 1

    def create(self, profile: ImportProfile) -> bool:
        """Inserts `profile` unless its name is taken; False when it is."""

        def insert_new() -> bool:
            with begin_write(self.engine) as conn:
                taken = conn.execute(
                    select(import_profiles.c.name).where(import_profiles.c.name == profile.name)
                ).first()
                if taken:
                    return False
                # A parallel creator's insert may commit first (PostgreSQL): the unique
                # violation is a WriteConflict, and the retry finds the name taken.
                conn.execute(insert(import_profiles).values(**_values(profile)))
                return True

        return retrying(insert_new)

    def get(self, name: str) -> ImportProfile | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(import_profiles).where(import_profiles.c.name == name)
            ).first()
        return _profile(row) if row else None

    def all(self) -> list[ImportProfile]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(import_profiles).order_by(import_profiles.c.name)).all()
        return [_profile(r) for r in rows]

    def delete(self, name: str) -> bool:
        with begin_write(self.engine) as conn:
            gone = conn.execute(delete(import_profiles).where(import_profiles.c.name == name))
        return gone.rowcount == 1

    def claim(self, profile: ImportProfile, next_run_at: datetime) -> bool:
        with begin_write(self.engine) as conn:
            result = conn.execute(
                update(import_profiles)
                .where(
                    import_profiles.c.name == profile.name,
                    import_profiles.c.next_run_at == profile.next_run_at,
                )
                .values(next_run_at=next_run_at)
            )
        return result.rowcount == 1

    def claim_run(self, name: str, seen: str | None, job_id: str | None) -> bool:
        with begin_write(self.engine) as conn:
            result = conn.execute(
                update(import_profiles)
                .where(
                    import_profiles.c.name == name,
                    import_profiles.c.last_job_id.is_not_distinct_from(seen),
                )
                .values(last_job_id=job_id)
            )
        return result.rowcount == 1

    def finished(self, name: str, job_id: str) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(
                update(import_profiles)
                .where(import_profiles.c.name == name)
                .values(last_job_id=job_id)
            )


def _values(profile: ImportProfile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "source": profile.source,
        "mapping": profile.mapping,
        "class_name": profile.class_name,
        "cron": profile.cron,
        "options": profile.options,
        "enabled": profile.enabled,
        "next_run_at": profile.next_run_at,
        "updated_at": profile.updated_at or profile.next_run_at,
    }


def _profile(row: Row[Any]) -> ImportProfile:
    m = row._mapping
    return ImportProfile(
        name=m["name"],
        source=m["source"],
        mapping=m["mapping"],
        cron=m["cron"],
        next_run_at=m["next_run_at"],
        class_name=m["class_name"],
        options=m["options"],
        enabled=m["enabled"],
        last_job_id=m["last_job_id"],
        updated_at=m["updated_at"],
    )
