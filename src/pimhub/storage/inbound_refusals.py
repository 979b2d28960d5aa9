"""(stub: filled in by its owner)"""

from __future__ import annotations

from sqlalchemy import Engine


class SqlRefusalStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
