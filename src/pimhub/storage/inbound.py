"""(stub: filled in by its owner)"""

from __future__ import annotations

from sqlalchemy import Engine


class SqlSourceRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine


class SqlInbox:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
