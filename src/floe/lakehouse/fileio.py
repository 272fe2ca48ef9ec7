"""pyiceberg's PyArrow FileIO, able to open Azure (ADLS Gen2) locations.

Iceberg names ADLS files ``abfss://<container>@<account>.dfs.core.windows.net/<path>``, as
Spark, Trino and Polaris do. pyiceberg 0.12's PyArrow FileIO hands pyarrow's
``AzureFileSystem`` the path ``<container>@<account>.dfs.core.windows.net/<path>``, which
takes the whole authority for a container name and fails. :class:`FloeArrowFileIO` hands it
``<container>/<path>``; the account comes from the ``adls.account-name`` property, which floe
always sets for ADLS storage. Every other scheme is left exactly as pyiceberg parses it.
"""

from __future__ import annotations

from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.typedef import EMPTY_DICT, Properties

_AZURE_SCHEMES = frozenset({"abfs", "abfss", "wasb", "wasbs"})


class FloeArrowFileIO(PyArrowFileIO):
    """PyArrowFileIO with ``container@account`` authorities reduced to the container."""

    @staticmethod
    def parse_location(location: str, properties: Properties = EMPTY_DICT) -> tuple[str, str, str]:
        """Return (scheme, netloc, path) as pyarrow's file systems expect them."""
        scheme, netloc, path = PyArrowFileIO.parse_location(location, properties)
        if scheme in _AZURE_SCHEMES and "@" in netloc and path.startswith(netloc):
            path = netloc.split("@", 1)[0] + path[len(netloc):]
        return scheme, netloc, path
