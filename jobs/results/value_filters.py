"""Filters on the values of a job's annotation sources: ``where=FIELD OP VALUE`` (repeatable, AND-ed).

A field is a source's CSQ column (``gnomAD_AF``, ``ClinVar_CLNSIG``), typed by the source's header:
a Float or Integer field compares as numbers (``<``, ``<=``, ``>``, ``>=``, ``=``, ``!=``), any other
as text (``=`` and ``!=`` whole values, ``~`` contains, case-insensitive). ``=`` and ``!=`` take
several values separated by commas (any of them). A value ending ``|missing`` also keeps variants
without a value (absent from gnomAD usually means rare). Values VEP joined with ``&`` (several
matches) match when any of them does. Two computed fields: ``max_af``, the largest of the job's
frequency fields (Float fields named AF or AF_...), and ``<short>_stars``, ClinVar's review status
(``<short>_CLNREVSTAT``) as its star count (0-4).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from jobs.results.schema import TableError

OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "~")
_WHERE = re.compile(r"^\s*(?P<field>[A-Za-z_][A-Za-z0-9_.\-]*)\s*(?P<op>!=|<=|>=|=|<|>|~)\s*(?P<value>.*?)\s*$")
_MISSING = "|missing"
MAX_CONDITIONS = 20
NUMERIC_TYPES = ("Float", "Integer")
_FREQUENCY = re.compile(r"(^|_)AF($|_)", re.IGNORECASE)
EXAMPLE = "for example gnomAD_AF<0.001|missing or ClinVar_CLNSIG=Pathogenic,Likely_pathogenic"


@dataclass(frozen=True)
class ValueCondition:
    """One ``where``: the field, the operator, its values and whether no value passes too; ``kind``
    (number or text) and ``column`` are set when resolved against the job's fields."""

    field: str
    op: str
    values: tuple[str, ...]
    missing: bool = False
    kind: str = ""
    column: str = ""

    def __str__(self) -> str:
        return f"{self.field}{self.op}{','.join(self.values)}{_MISSING if self.missing else ''}"


def parse_where(params: Mapping[str, Any]) -> tuple[ValueCondition, ...]:
    """The ``where`` parameters (repeated; each one condition); a TableError says what a bad one lacks."""
    raw = params.get("where") or []
    items = [str(item) for item in (raw if isinstance(raw, list | tuple) else [raw]) if str(item).strip()]
    if len(items) > MAX_CONDITIONS:
        raise TableError(f"where: at most {MAX_CONDITIONS} conditions, found {len(items)}")
    found = []
    for item in items:
        match = _WHERE.match(item)
        if not match or len(item) > 500:
            raise TableError(
                f"where {item[:60]!r}: expected FIELD OP VALUE (OP one of {' '.join(OPERATORS)}), {EXAMPLE}"
            )
        value, missing = match["value"], False
        if value.endswith(_MISSING):
            value, missing = value[: -len(_MISSING)].strip(), True
        values = tuple(part.strip() for part in value.split(",")) if match["op"] in ("=", "!=") else (value,)
        if not value or any(not part for part in values):
            raise TableError(f"where {item[:60]!r}: no value after {match['op']} ({EXAMPLE})")
        found.append(ValueCondition(match["field"], match["op"], values, missing))
    return tuple(found)


def frequency_fields(types: Mapping[str, str]) -> list[str]:
    """The job's frequency columns: numeric fields named AF or AF_… (gnomAD_AF, gnomAD_AF_popmax)."""
    return [column for column, kind in types.items() if kind == "Float" and _FREQUENCY.search(column.split("_", 1)[-1])]


def value_fields(types: Mapping[str, str]) -> dict[str, str]:
    """Every field ``where`` takes, with its type: the sources' columns, and the computed ones."""
    fields = dict(types)
    if frequency_fields(types):
        fields["max_af"] = "Float"
    for column in types:
        if column.endswith("_CLNREVSTAT"):
            fields[column.removesuffix("_CLNREVSTAT") + "_stars"] = "Integer"
    return fields


def resolve_where(conditions: Sequence[ValueCondition], *, types: Mapping[str, str]) -> tuple[ValueCondition, ...]:
    """The conditions checked against the job's source fields (``types``: column -> header Type) and
    given their SQL column; a TableError names the field and what it expected."""
    fields = value_fields(types)
    resolved = []
    for condition in conditions:
        kind = fields.get(condition.field)
        if kind is None:
            offered = ", ".join(list(fields)[:12]) or "none: this job applied no annotation source"
            raise TableError(f"where {condition.field}: not a field of this job's sources (its fields: {offered})")
        numeric = kind in NUMERIC_TYPES
        if numeric and condition.op == "~":
            raise TableError(f"where {condition}: {condition.field} holds numbers ({kind}); use = != < <= > >=")
        if not numeric and condition.op in ("<", "<=", ">", ">="):
            raise TableError(f"where {condition}: {condition.field} holds text ({kind}); use =, != or ~ (contains)")
        if numeric:
            for value in condition.values:
                try:
                    float(value)
                except ValueError:
                    raise TableError(
                        f"where {condition}: {condition.field} holds numbers ({kind}); {value[:30]!r} is not a number"
                    ) from None
        kind = "number" if numeric else "text"
        resolved.append(replace(condition, kind=kind, column=_column(condition.field, types)))
    return tuple(resolved)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column(field: str, types: Mapping[str, str]) -> str:
    """The SQL of a field's value as text (the computed fields: their expression)."""
    if field == "max_af":
        numbers = ", ".join(f"TRY_CAST(nullif({_quoted(column)}, '') AS DOUBLE)" for column in frequency_fields(types))
        return f"CAST(greatest({numbers}) AS VARCHAR)"
    if field.endswith("_stars") and field not in types:
        status = f"lower(coalesce({_quoted(field.removesuffix('_stars') + '_CLNREVSTAT')}, ''))"
        return (f"CASE WHEN {status} = '' THEN NULL WHEN contains({status}, 'practice_guideline') THEN '4' "
                f"WHEN contains({status}, 'expert_panel') THEN '3' WHEN contains({status}, 'multiple_submitters') "
                f"AND contains({status}, 'no_conflicts') THEN '2' WHEN contains({status}, 'criteria_provided') "
                "THEN '1' ELSE '0' END")  # fmt: skip
    return _quoted(field)


def value_conditions(conditions: Sequence[ValueCondition]) -> tuple[list[str], list[Any]]:
    """SQL conditions of resolved ``where`` conditions, and their parameters."""
    sql: list[str] = []
    params: list[Any] = []
    for condition in conditions:
        if not condition.kind:
            raise TableError(f"where {condition}: not checked against the job's fields")
        column = condition.column
        empty = f"coalesce({column}, '') IN ('', '.')"
        if condition.kind == "number":
            several_values = condition.op in ("=", "!=")
            value: Any = [float(v) for v in condition.values] if several_values else float(condition.values[0])

            def test(expression: str, op: str = condition.op, several_values: bool = several_values) -> str:
                if several_values:
                    return f"list_contains(CAST(? AS DOUBLE[]), TRY_CAST({expression} AS DOUBLE))"
                return f"TRY_CAST({expression} AS DOUBLE) {op} ?"

            # (one value, as almost always: compared at once; several joined by &: any of them)
            several = f"len(list_filter(string_split({column}, '&'), lambda x: {test('x')})) > 0"
            found = f"(CASE WHEN contains({column}, '&') THEN {several} ELSE {test(column)} END)"
            params += [value, value]
        elif condition.op == "~":
            found = f"contains(lower(coalesce({column}, '')), ?)"
            params.append(condition.values[0].lower())
        else:
            found = f"list_has_any(string_split(coalesce({column}, ''), '&'), ?)"
            params.append(list(condition.values))
        if condition.op == "!=":
            found = f"(NOT {found} AND NOT {empty})"
        sql.append(f"({found} OR {empty})" if condition.missing else found)
    return sql, params
