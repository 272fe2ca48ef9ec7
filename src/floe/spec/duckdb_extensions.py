"""Which DuckDB extensions this installation can load without a network.

``INSTALL <name>`` downloads from DuckDB's extension server, which is not reachable everywhere
(air-gapped clusters, CI sandboxes). floe loads an extension only when it is built into DuckDB
or its binary ships in a PyPI wheel (``duckdb-extension-<name>``, one per DuckDB version);
anything else is refused while the spec is validated, naming the pip package, instead of
failing at run time on a download.

Found without importing DuckDB (``floe validate`` stays fast): the version comes from the
installed distribution's metadata, the binaries from the wheels' package folders.
"""

from __future__ import annotations

import importlib.util
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

BUILT_IN = frozenset({"core_functions", "icu", "json", "parquet"})
"""Extensions compiled into the duckdb Python wheel (loaded already; INSTALL would download)."""

ALIASES = {
    "http": "httpfs", "https": "httpfs", "s3": "httpfs", "md": "motherduck",
    "mysql": "mysql_scanner", "postgres": "postgres_scanner", "sqlite": "sqlite_scanner",
    "sqlite3": "sqlite_scanner",
}
"""Names DuckDB accepts for another extension (``LOAD sqlite`` loads sqlite_scanner)."""

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


def duckdb_version() -> str | None:
    """The installed DuckDB's version as DuckDB spells it (``v1.5.5``), or None without DuckDB."""
    try:
        return "v" + version("duckdb")
    except PackageNotFoundError:
        return None


def canonical_name(name: str) -> str:
    """The extension's own name (aliases resolved)."""
    return ALIASES.get(name, name)


def is_built_in(name: str) -> bool:
    """Whether the extension is compiled into DuckDB (nothing to install)."""
    return canonical_name(name) in BUILT_IN


def wheel_package(name: str) -> str:
    """The PyPI package that carries the extension's binary."""
    return "duckdb-extension-" + name.replace("_", "-")


def extension_file(name: str, duckdb_version: str) -> Path | None:
    """The binary the ``duckdb-extension-<name>`` wheel ships for this DuckDB version, if installed."""
    candidates = {name, canonical_name(name)}
    for package in sorted(candidates):
        spec = importlib.util.find_spec(f"duckdb_extension_{package}")
        for location in list(spec.submodule_search_locations or []) if spec is not None else []:
            folder = Path(location) / "extensions" / duckdb_version
            for stem in sorted(candidates):
                if (folder / f"{stem}.duckdb_extension").is_file():
                    return folder / f"{stem}.duckdb_extension"
    return None


def unavailable_reason(name: str) -> str | None:
    """Why ``name`` cannot be loaded offline here, with the fix; None when it can."""
    if is_built_in(name):
        return None
    current = duckdb_version()
    if current is None:
        return "DuckDB is not installed"
    if extension_file(name, current) is not None:
        return None
    pin = current.lstrip("v")
    return (f"DuckDB extension '{name}' is neither built into DuckDB {pin} nor installed from a wheel, and "
            f"floe does not download extensions — pip install \"{wheel_package(name)}=={pin}\" "
            f"(built in: {', '.join(sorted(BUILT_IN))})")
