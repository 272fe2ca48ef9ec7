"""The one strict base model every spec and contract model derives from."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

Identifier = Annotated[
    str,
    Field(pattern=IDENTIFIER_PATTERN, min_length=1, max_length=128),
]
"""A name usable as a Dagster job/schedule name and as an environment variable name."""


class StrictModel(BaseModel):
    """Frozen, and refuses unknown keys: a typo is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def rule_error(message: str) -> PydanticCustomError:
    """A validation error whose message is shown as written (no 'Value error,' prefix)."""
    return PydanticCustomError("floe_rule", "{detail}", {"detail": message})
