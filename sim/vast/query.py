"""Vast's query language: `{field: {op: value}}` filters and sort keys, for search and list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def coerce(value: Any, expected: Any) -> Any:
    """The CLI sends numbers as strings (`num_gpus=1` -> "1"); Vast compares them as numbers."""
    if isinstance(expected, list):
        return [coerce(value, item) for item in expected]
    if isinstance(value, int | float) and not isinstance(value, bool) and isinstance(expected, str):
        try:
            return float(expected)
        except ValueError:
            return expected
    return expected


def by_field(field: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    """A sort key on one field that never compares a missing value with a present one."""

    def key(row: dict[str, Any]) -> tuple[bool, Any]:
        return (row.get(field) is None, row.get(field))

    return key


def matches(value: Any, condition: Any) -> bool:
    """Whether `value` meets `condition` (`{op: operand}` or a bare value meaning `eq`).

    Raises ValueError on an unknown operator, TypeError on operands that do not compare.
    """
    if not isinstance(condition, dict):
        condition = {"eq": condition}
    for op, raw in condition.items():
        expected = coerce(value, raw)
        if op in ("eq", "=="):
            ok = value == expected
        elif op in ("neq", "!="):
            ok = value != expected
        elif op in ("in", "notin"):
            ok = (value in expected) == (op == "in")
        elif value is None:
            ok = False
        elif op in ("gt", ">"):
            ok = value > expected
        elif op in ("gte", ">="):
            ok = value >= expected
        elif op in ("lt", "<"):
            ok = value < expected
        elif op in ("lte", "<="):
            ok = value <= expected
        else:
            raise ValueError(f"unknown operator {op}")
        if not ok:
            return False
    return True


def matches_all(row: dict[str, Any], filters: dict[str, Any]) -> bool:
    """Whether `row` meets every `field: condition` in `filters`."""
    return all(matches(row.get(field), condition) for field, condition in filters.items())
