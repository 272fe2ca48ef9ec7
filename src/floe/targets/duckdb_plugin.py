"""floe's dbt-duckdb plugin: the declared DuckDB extensions, from their wheels, never downloaded.

dbt-duckdb's own ``extensions`` key runs ``INSTALL <name>`` on every connect, which asks
DuckDB's extension server even for an extension built into DuckDB — and fails where that
server cannot be reached. The profile floe writes lists the extensions in this plugin's config
instead (see :func:`floe.targets.duckdb.profile_output`). dbt-duckdb imports this module in
dbt's own process and calls the plugin at two moments:

- before it opens the database, :meth:`Plugin.update_connection_config` installs each
  extension's binary from its ``duckdb-extension-<name>`` wheel into the project's
  ``extension_directory`` (once; later connects find it there). Secrets and ``ATTACH``, which
  dbt-duckdb runs right after connecting, then autoload from that directory, offline;
- once connected, :meth:`Plugin.configure_connection` loads every extension, before
  dbt-duckdb attaches the ``attach`` databases (a sqlite or postgres one needs its extension).

It also creates a local ``external_root`` folder before the first connect: DuckDB's ``COPY``
does not create folders, so the first ``external`` model would fail on a fresh checkout.

The spec refuses an extension that is neither built in nor installed as a wheel, so the error
raised here is for an installation changed between compile and run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from floe.spec.duckdb_extensions import canonical_name, extension_file, is_built_in, unavailable_reason


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def install_from_wheels(names: list[str], directory: Path) -> list[str]:
    """Install the extensions' wheel binaries into ``directory``; returns those newly installed."""
    import duckdb

    wanted = [name for name in names if not is_built_in(name)]
    if not wanted:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    installed_now = []
    with duckdb.connect(config={"extension_directory": str(directory)}) as connection:
        row = connection.execute("PRAGMA version").fetchone()
        version = str(row[0]) if row else ""
        present = {str(found[0]) for found in connection.execute(
            "SELECT extension_name FROM duckdb_extensions() WHERE installed AND install_path <> '(BUILT-IN)'"
        ).fetchall()}
        for name in wanted:
            if canonical_name(name) in present:
                continue
            binary = extension_file(name, version)
            if binary is None:
                raise RuntimeError(unavailable_reason(name) or f"DuckDB extension '{name}' is not installed")
            connection.execute(f"INSTALL {_literal(str(binary))}")
            installed_now.append(name)
    return installed_now


class Plugin(BasePlugin):
    """Installs (from wheels) and loads ``config.extensions``; creates the external_root folder."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        """Read floe's keys (dbt-duckdb merges the profile's settings in; they are not ours)."""
        self._extensions = [str(name) for name in plugin_config.get("extensions") or []]
        self._create_external_root = bool(plugin_config.get("create_external_root"))

    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        """Before connecting: the wheels' binaries into the extension directory, the external_root folder."""
        if self._create_external_root:
            Path(str(creds.external_root)).mkdir(parents=True, exist_ok=True)
        if not self._extensions:
            return
        directory = config.get("extension_directory")
        if not directory:
            raise RuntimeError("floe's DuckDB profile lost config_options.extension_directory; run floe compile")
        install_from_wheels(self._extensions, Path(str(directory)))

    def configure_connection(self, conn: Any) -> None:
        """Once connected: load every extension (built-in ones are loaded already; LOAD is a no-op)."""
        for name in self._extensions:
            conn.execute(f'LOAD "{name}"')
