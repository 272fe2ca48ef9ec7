"""The one error of the Cube server package."""

from __future__ import annotations

from floe.errors import FloeError


class CubeServerError(FloeError):
    """The Cube server cannot be installed, started or asked (Node.js missing, database, query)."""
