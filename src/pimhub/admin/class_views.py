"""(being built: see issue 18)"""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
