"""The floor of bench/inbound.py (a): a bare Starlette route on uvicorn that does one raw
sqlite3 INSERT per request, with pimhub's connection settings. Run by the bench as its own
process: `python bench/inbound_floor.py PORT DB_PATH`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from rest_get import HOST

# The same pragmas as storage.engine._sqlite_engine sets on every connection.
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000")
FLOOR_DDL = (
    "CREATE TABLE IF NOT EXISTS inbound (id INTEGER PRIMARY KEY, source VARCHAR(30) NOT NULL,"
    " message_id VARCHAR(255) NOT NULL, received_at DATETIME NOT NULL, body TEXT NOT NULL)"
)
FLOOR_INSERT = "INSERT INTO inbound (source, message_id, received_at, body) VALUES (?, ?, ?, ?)"


def serve_floor(port: int, db_path: str) -> None:
    """The bare route: the body, one INSERT, the row id."""
    import sqlite3

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False, timeout=30)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(FLOOR_DDL)

    async def receive(request: Request) -> Response:
        body = await request.body()
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        row = conn.execute(
            FLOOR_INSERT,
            (
                request.path_params["source"],
                request.headers.get("webhook-id", ""),
                stamp,
                body.decode(),
            ),
        )
        answer = b'{"status":"accepted","message":%d}' % (row.lastrowid or 0)
        return Response(answer, status_code=202, media_type="application/json")

    app = Starlette(routes=[Route("/inbound/{source}", receive, methods=["POST"])])
    uvicorn.run(app, host=HOST, port=port, access_log=False, log_level="warning")


if __name__ == "__main__":
    serve_floor(int(sys.argv[1]), sys.argv[2])
