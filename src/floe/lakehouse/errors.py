"""The lakehouse's one error type, and the translation of library failures into it.

pyiceberg, SQLAlchemy, requests and pyarrow each raise their own exceptions, with messages
written for their developers. A floe user needs to know which catalog or location failed,
why, and what to do; :func:`translate` turns the failures a user can cause (a wrong secret,
a server that is down, a bucket that does not exist) into a :class:`LakehouseError`
and lets every other exception through, because that one is a bug.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from floe.errors import FloeError


class LakehouseError(FloeError):
    """An Iceberg catalog, table or its storage cannot be used as configured."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (drivers append SQL and URLs below it)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def translate(exc: BaseException, *, where: str, action: str) -> LakehouseError | None:
    """A LakehouseError explaining ``exc``, or None when it is not a user-facing failure.

    Args:
        exc: What the library raised.
        where: The catalog or location involved, e.g. ``REST catalog http://polaris:8181``.
        action: What floe was doing, e.g. ``open the catalog`` or ``append to bronze.orders``.
    """
    # Imported here: translating must not be what pulls a driver in.
    from pyiceberg.exceptions import (
        BadRequestError,
        CommitFailedException,
        ForbiddenError,
        OAuthError,
        RESTError,
        ServerError,
        ServiceUnavailableError,
        UnauthorizedError,
    )
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout
    from sqlalchemy.exc import DBAPIError

    prefix = f"cannot {action}: {where}"
    if isinstance(exc, OAuthError | UnauthorizedError):
        return LakehouseError(
            f"{prefix} refused the credentials ({first_line(exc)})",
            hint="check client_id and the secret named by client_secret, and that the principal may "
            "use this catalog",
        )
    if isinstance(exc, ForbiddenError):
        return LakehouseError(
            f"{prefix} denied access ({first_line(exc)})",
            hint="grant the principal's role the privilege on this catalog, namespace or table",
        )
    if isinstance(exc, RequestsConnectionError | Timeout):
        return LakehouseError(
            f"{prefix} is not reachable ({type(exc).__name__})",
            hint="check the catalog uri, that the server runs, and the network between them",
        )
    if isinstance(exc, ServiceUnavailableError | ServerError):
        return LakehouseError(f"{prefix} failed on the server side ({first_line(exc)})",
                              hint="look at the catalog server's log; retry when it is healthy")
    if isinstance(exc, BadRequestError | RESTError):
        return LakehouseError(f"{prefix} rejected the request ({first_line(exc)})",
                              hint="check the catalog's warehouse name and the storage location it allows")
    if isinstance(exc, CommitFailedException):
        return LakehouseError(f"{prefix}: another writer kept changing the table ({first_line(exc)})",
                              hint="retry the batch; it is appended once at most")
    if isinstance(exc, DBAPIError):
        return LakehouseError(
            f"{prefix}: the catalog database failed ({first_line(exc.orig or exc)})",
            hint="check the catalog uri, that the database server runs and accepts this user, and "
            "the password secret",
        )
    if isinstance(exc, PermissionError):
        return LakehouseError(f"{prefix}: permission denied ({first_line(exc)})",
                              hint="check the storage credentials and their access to this location")
    if isinstance(exc, OSError):
        return LakehouseError(f"{prefix}: storage failed ({first_line(exc)})",
                              hint="check the storage endpoint, bucket and credentials")
    return None


@contextmanager
def translated_errors(*, where: str, action: str) -> Iterator[None]:
    """Raise a LakehouseError for a user-facing failure inside the block (see :func:`translate`)."""
    try:
        yield
    except LakehouseError:
        raise
    except Exception as exc:
        error = translate(exc, where=where, action=action)
        if error is None:
            raise
        raise error from exc
