"""A small five-field cron validator, so that ``floe validate`` needs no scheduler import."""

from __future__ import annotations

_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {n: i + 1 for i, n in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}),
    ("day of week", 0, 7, {n: i for i, n in enumerate(
        ["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}),
)
_ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
            "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
            "@annually": "0 0 1 1 *"}


def cron_problem(expression: str) -> str | None:
    """Return what is wrong with a cron expression, or None when it is valid."""
    text = _ALIASES.get(expression.strip(), expression.strip())
    parts = text.split()
    if len(parts) != 5:
        return f"expected 5 fields (minute hour day month weekday), found {len(parts)}"
    for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
        for item in part.split(","):
            problem = _item_problem(item.lower(), low, high, names)
            if problem:
                return f"{name} field '{part}': {problem}"
    return None


def _item_problem(item: str, low: int, high: int, names: dict[str, int]) -> str | None:
    base, _, step = item.partition("/")
    if step and (not _is_number(step) or int(step) == 0):
        return f"step '{step}' must be a positive number"
    if base == "*":
        return None
    bounds = base.split("-")
    if len(bounds) > 2 or not all(bounds):
        return f"'{item}' is not a value, range or step"
    values: list[int] = []
    for bound in bounds:
        if bound in names:
            values.append(names[bound])
        elif _is_number(bound):
            values.append(int(bound))
        else:
            return f"'{bound}' is not a number"
    for value in values:
        if not low <= value <= high:
            return f"{value} is outside {low}-{high}"
    if len(values) == 2 and values[0] > values[1]:
        return f"range {base} runs backwards"
    return None


def _is_number(text: str) -> bool:
    # str.isdigit() accepts '²' and other digits int() refuses.
    return text.isascii() and text.isdigit()
