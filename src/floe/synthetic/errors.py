"""The one error the synthetic generators raise on purpose.

It sits under :class:`floe.errors.FloeError` (so the CLI shows its message, never a traceback)
and is also a :class:`ValueError`, because every case is a bad argument: a rate outside
[0, 1], a column that is not a defect target, a negative count, a batch number past the id
space. Callers that validate generically can catch either.
"""

from __future__ import annotations

from floe.errors import FloeError


class SyntheticConfigError(FloeError, ValueError):
    """A generator configuration or argument that cannot be honoured.

    The message names the field (``EcommerceConfig.defects.null_rates['orders.status']``),
    says what is wrong with the value, and the hint says what would be accepted.
    """

    def __init__(self, field: str, problem: str, *, hint: str | None = None) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}", hint=hint)
