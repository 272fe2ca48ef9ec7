"""The one exception tree of floe.

Every error a user can cause is a :class:`FloeError`; the CLI maps it to exit code 1 and
prints its message (never a traceback). Anything else is a bug and exits 2.

::

    FloeError                      a user, spec or pipeline problem (exit 1)
    ├── SpecError                  floe.yaml / platform.yaml invalid; carries SpecIssue list
    ├── CompileError               the specs are valid but cannot be compiled (dbt parse, ...)
    ├── ContractError              the artifacts file is missing, corrupt or of another version
    ├── MissingExtraError          an optional integration is not installed (prints pip line)
    ├── PipelineError              a run failed (a model, a test, an ingestion step)
    ├── PreflightError             an external service check failed
    ├── LakehouseError             an Iceberg catalog, table or its storage cannot be used
    │                              (floe.lakehouse.errors)
    ├── ObservabilityError         strict observability and a destination is unreachable
    │                              (floe.observability.observer)
    ├── ProjectBusyError           another process writes the project now; names it
    │                              (floe.project_lock)
    ├── WarehouseLockedError       another program has the DuckDB warehouse file open
    │                              (floe.targets.duckdb_lock)
    ├── CubeServerError            the Cube server cannot be installed, started or asked
    │                              (floe.cube_server.errors)
    ├── ServingError               the serving PostgreSQL refused or cannot be reached
    │                              (floe.serving.connection)
    └── SyntheticConfigError       a synthetic-data generator argument cannot be honoured;
                                   also a ValueError (floe.synthetic.errors)

Subclasses defined outside this module live next to the code that raises them; they are listed
here so this tree stays the one place that shows them all (a unit test checks it does).
"""

from __future__ import annotations

from dataclasses import dataclass


class FloeError(Exception):
    """Root of every error floe raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec file, located as precisely as the file allows.

    Attributes:
        file: The file the problem is in (as the user named it).
        line: 1-based line, or None when the problem concerns the file as a whole.
        column: 1-based column, or None.
        path: Dotted field path, e.g. ``environments.dev.compute.path``; empty for the file.
        message: What is wrong.
        hint: What to do about it, when floe knows.
    """

    file: str
    line: int | None
    column: int | None
    path: str
    message: str
    hint: str | None = None

    def render(self) -> str:
        """Format as ``file:line:col  path: message`` with the hint on the next line."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}  {self.path + ': ' if self.path else ''}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class SpecError(FloeError):
    """One or more problems in floe.yaml or platform.yaml, all reported at once."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = list(issues)
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} found"
        super().__init__(head + ":\n" + "\n".join(i.render() for i in self.issues))


class CompileError(FloeError):
    """The specs are valid but compiling them failed (for example, dbt parse failed)."""


class ContractError(FloeError):
    """The compiled artifacts are missing, corrupt, or of a version this floe cannot read."""


class MissingExtraError(FloeError):
    """An optional integration is used but its extra is not installed."""

    def __init__(self, what: str, extra: str) -> None:
        self.extra = extra
        super().__init__(
            f"{what} needs the '{extra}' extra, which is not installed",
            hint=f'pip install "floe-runtime[{extra}]"',
        )


class PipelineError(FloeError):
    """A pipeline run failed: a model, a test or an ingestion step."""


class PreflightError(FloeError):
    """An external service the platform declares does not work."""

