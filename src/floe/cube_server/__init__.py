"""The real Cube API for a floe project: ``floe cube serve`` and ``floe cube query``.

floe ships a small Node.js server (``node/server.js``: Cube's ``@cubejs-backend/server-core``
with the PostgreSQL driver, versions pinned by ``node/package-lock.json``). On first use the
packages are installed with ``npm ci`` into a cache folder keyed by the lock file
(:mod:`floe.cube_server.install`); the server reads the environment's serving database, or
its PostgreSQL compute (:mod:`floe.cube_server.database`), and the model ``floe cube generate``
writes::

    server = new_server(compiled, port=4000, secret=None, progress=print)
    server.start()                       # returns once /readyz answers
    answer = load(server.url, api_token(server.secret), {"measures": ["orders.order_count"]})
    server.stop()

Nothing here imports a heavy library; the server is a child process that ends with floe.
"""

from __future__ import annotations

from floe.cube_server.answer import answer_table, parse_query, used_pre_aggregations
from floe.cube_server.client import api_token, load, new_secret
from floe.cube_server.database import CubeDatabase, cube_database
from floe.cube_server.errors import CubeServerError
from floe.cube_server.install import ensure_installed
from floe.cube_server.server import CubeServer, ServerRecord, remove_record, running_server, write_record
from floe.cube_server.session import CUBE_DIR, Endpoint, cube_dir, generate_model, new_server, server_for_query

__all__ = [
    "CUBE_DIR",
    "CubeDatabase",
    "CubeServer",
    "CubeServerError",
    "Endpoint",
    "ServerRecord",
    "answer_table",
    "api_token",
    "cube_database",
    "cube_dir",
    "ensure_installed",
    "generate_model",
    "load",
    "new_secret",
    "new_server",
    "parse_query",
    "remove_record",
    "running_server",
    "server_for_query",
    "used_pre_aggregations",
    "write_record",
]
