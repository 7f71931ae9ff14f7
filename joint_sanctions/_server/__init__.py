"""The HTTP service (docs/http.md): ``joint-sanctions serve``.

Private, and imported only by the CLI's ``serve``: the library itself never needs FastAPI, uvicorn
or prometheus_client (the optional extra ``joint-sanctions[server]``).

- :mod:`._schemas`: request models and the documented answers beyond the library's own models;
- :mod:`._service`: what each route does, without HTTP (engine, case book, key cache, metrics);
- :mod:`._app`: the routes, the error body and the body limit;
- :mod:`._metrics`: the Prometheus metrics;
- :mod:`._run`: one process or several uvicorn workers.
"""

from __future__ import annotations

from ._app import create_app
from ._run import serve
from ._service import ServeConfig

__all__ = ["ServeConfig", "create_app", "serve"]
