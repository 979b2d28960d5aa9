"""(stub: filled in by its owner)"""

from __future__ import annotations

from sqlalchemy import Engine


class SqlBrokerRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
