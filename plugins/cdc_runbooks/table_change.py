"""A product team's change to tables under CDC: what DMS carries of it, whether the warehouse still matches after it,
and the warehouse table DMS would create for the source's definition now. Pure (no Airflow, no SQL run here).

What a MySQL-source, Redshift-target DMS task carries (docs/reference/dms-ddl-and-reload.md, with sources):
CREATE TABLE, ADD COLUMN (appended at the end), DROP COLUMN, a column type change and RENAME COLUMN are captured;
RENAME TABLE, DROP TABLE and changes of defaults, nullability or character set are not
(https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Source.MySQL.html#CHAP_Source.MySQL.Limitations). Captured
DDL is applied only with the task setting ``ChangeProcessingDdlHandlingPolicy.HandleSourceTableAltered`` (TRUNCATE:
``HandleSourceTableTruncated``; https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TaskSettings.DDLHandling.html),
and Redshift changes a column's type only to a longer VARCHAR
(https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html): any other type change leaves the table in
"Table error". An online schema change tool (gh-ost, pt-online-schema-change) swaps tables with RENAME TABLE, which
is not captured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from cdc_runbooks.reconcile.row_checksum import Column, Dialect, Kind, quote
from cdc_runbooks.refusal import Refusal


class ChangeKind(StrEnum):
    ADD_COLUMN = "add_column"
    DROP_COLUMN = "drop_column"
    RENAME_COLUMN = "rename_column"
    WIDEN_VARCHAR = "widen_varchar"
    CHANGE_TYPE = "change_type"
    REBUILD = "rebuild"  # an online schema change: copy into a new table, then swap with RENAME TABLE
    TRUNCATE = "truncate"
    BACKFILL = "backfill"  # bulk INSERT/UPDATE/DELETE: row changes


class TableNotReplicated(Refusal, ValueError):
    """A table the change names is not selected by the DMS task's table mappings."""


class UnmappedColumn(Refusal, ValueError):
    """A source column type with no warehouse type this runbook can create."""


_ALTERED = "HandleSourceTableAltered"
_TRUNCATED = "HandleSourceTableTruncated"
# kind -> (the task setting that applies it, or None; Redshift can apply it; what DMS does)
_RULES = {
    ChangeKind.ADD_COLUMN: (_ALTERED, True, "DMS captures ADD COLUMN and adds it at the end of the warehouse table"),
    ChangeKind.DROP_COLUMN: (_ALTERED, True, "DMS captures DROP COLUMN and drops it in the warehouse"),
    ChangeKind.RENAME_COLUMN: (_ALTERED, True, "DMS captures RENAME COLUMN and renames it in the warehouse"),
    ChangeKind.WIDEN_VARCHAR: (_ALTERED, True, "DMS captures the type change; Redshift can lengthen a VARCHAR"),
    ChangeKind.CHANGE_TYPE: (_ALTERED, False, "DMS captures the type change, but Redshift changes a type only to a "
                                              "longer VARCHAR: the table goes to Table error"),
    ChangeKind.REBUILD: (None, False, "the swap is a RENAME TABLE, which DMS does not capture: the warehouse keeps "
                                      "the old definition"),
    ChangeKind.TRUNCATE: (_TRUNCATED, True, "DMS applies TRUNCATE (seen in a third-party test; not on the MySQL "
                                            "source page)"),
    ChangeKind.BACKFILL: (None, True, "row changes: DMS applies them like any others (expect CDC latency to rise)"),
}


@dataclass(frozen=True)
class ChangePlan:
    """What DMS does with the change, and what the runbook does after it: ``reload`` when DMS cannot carry it (the
    tables are re-created and re-copied as of the DMS checkpoint); otherwise the schemas are compared and only a
    table that no longer matches is reloaded."""

    kind: ChangeKind
    carried: bool
    why: str

    @property
    def reload(self) -> bool:
        return not self.carried

    def to_dict(self) -> dict:
        return {"kind": self.kind.value, "carried": self.carried, "reload": self.reload, "why": self.why}


def plan_change(kind: str, ddl_policy: dict | None) -> ChangePlan:
    """The plan for ``kind`` under the task's ``ChangeProcessingDdlHandlingPolicy`` (a missing setting counts as
    true, as AWS's examples show; its default is not documented)."""
    change = ChangeKind(kind)
    setting, applicable, what = _RULES[change]
    if setting is not None and not (ddl_policy or {}).get(setting, True):
        return ChangePlan(change, False, f"the task's {setting} is false: DMS does not apply it to the warehouse")
    return ChangePlan(change, applicable, what)


def schema_differences(source: list[Column], target: list[Column], compatible) -> list[str]:
    """How the warehouse table no longer matches the source's: a column missing or extra (by name, case-insensitive),
    a type of another class (``compatible(source_kind, target_kind)``), or another nullability (NOT NULL in the
    warehouse rejects a NULL; a column added NOT NULL, with a default for the rows it had, is one DMS adds nullable
    and empty). Empty: it matches."""
    targets = {c.name.lower(): c for c in target}
    differences = [f"{c.name}: not in the warehouse" for c in source if c.name.lower() not in targets]
    sources = {c.name.lower() for c in source}
    differences += [f"{c.name}: only in the warehouse" for c in target if c.name.lower() not in sources]
    for column in source:
        there = targets.get(column.name.lower())
        if there is None:
            continue
        if not compatible(column.kind, there.kind):
            differences.append(f"{column.name}: {column.kind} on the source, {there.kind} in the warehouse")
        if column.nullable != there.nullable:  # a NULL rejected; or an added NOT NULL column DMS left nullable
            differences.append(f"{column.name}: {'nullable' if column.nullable else 'NOT NULL'} on the source, "
                               f"{'nullable' if there.nullable else 'NOT NULL'} in the warehouse")
    return differences


_TYPE = re.compile(r"^(?P<name>[a-z]+)(?:\((?P<args>[0-9, ]+)\))?(?P<unsigned> unsigned)?(?: zerofill)?$")
_FIXED = {"tinyint": "SMALLINT", "smallint": "SMALLINT", "mediumint": "INTEGER", "int": "INTEGER",
          "integer": "INTEGER", "bigint": "BIGINT", "year": "SMALLINT", "float": "REAL", "double": "DOUBLE PRECISION",
          "real": "DOUBLE PRECISION", "date": "DATE", "datetime": "TIMESTAMP", "timestamp": "TIMESTAMP",
          "tinytext": "VARCHAR(255)", "text": "VARCHAR(65535)", "mediumtext": "VARCHAR(65535)",
          "longtext": "VARCHAR(65535)", "json": "VARCHAR(65535)", "time": "VARCHAR(17)"}  # -838:59:59.000000
# ENUM: its labels, quoted with '' for a quote (information_schema.COLUMNS.COLUMN_TYPE); a label may hold ',' or ')'.
_ENUM = re.compile(r"^enum\((?P<labels>'(?:[^']|'')*'(?:,'(?:[^']|'')*')*)\)$", re.DOTALL | re.IGNORECASE)
_LABEL = re.compile(r"'((?:[^']|'')*)'", re.DOTALL)
# Unsigned integers one size wider than DMS's documented INT2/INT4, whose upper halves would not fit.
_UNSIGNED = {"smallint": "INTEGER", "int": "BIGINT", "integer": "BIGINT", "bigint": "NUMERIC(20,0)"}


def warehouse_type(column_type: str) -> str:
    """The Redshift type DMS creates for a MySQL ``COLUMN_TYPE`` (docs/reference/dms-mysql-to-redshift-types.md):
    integers by width (SMALLINT/INT UNSIGNED one size wider, BIGINT UNSIGNED as NUMERIC(20,0)), DECIMAL as
    NUMERIC(p,s) up to 38 digits, datetimes as
    TIMESTAMP, text as VARCHAR (TEXT and longer: 65535), BIT(1) as BOOLEAN, ENUM as VARCHAR of its longest label (in
    UTF-8 bytes, as Redshift counts a VARCHAR's length). Refuses anything else: SET too (a binlog image gives its
    members unordered, and the warehouse holds them in definition order)."""
    enum = _ENUM.match(column_type.strip())
    if enum is not None:
        labels = [label.replace("''", "'") for label in _LABEL.findall(enum["labels"])]
        return f"VARCHAR({max(1, *(len(label.encode()) for label in labels))})"
    found = _TYPE.match(column_type.strip().lower())
    if found is None:
        raise UnmappedColumn(f"type {column_type!r}: no warehouse type for it in this runbook")
    name, args = found["name"], [int(a) for a in (found["args"] or "").replace(" ", "").split(",") if a]
    if found["unsigned"] and name in _UNSIGNED:
        return _UNSIGNED[name]
    if name == "tinyint" and args == [1]:
        return "SMALLINT"
    if name in ("decimal", "numeric") and args and args[0] <= 38:
        return f"NUMERIC({args[0]},{args[1] if len(args) > 1 else 0})"
    if name in ("varchar", "char") and args and args[0] <= 65535:
        return f"VARCHAR({args[0]})"
    if name == "bit" and args == [1]:
        return "BOOLEAN"
    if name in _FIXED:
        return _FIXED[name]
    raise UnmappedColumn(f"type {column_type!r}: no warehouse type for it in this runbook (see "
                         "docs/reference/dms-mysql-to-redshift-types.md)")


@dataclass(frozen=True)
class SourceColumn:
    """A source column as ``information_schema.COLUMNS`` gives it: name, COLUMN_TYPE, nullable."""

    name: str
    column_type: str
    nullable: bool


_KINDS = (("SMALLINT", Kind.INTEGER), ("INTEGER", Kind.INTEGER), ("BIGINT", Kind.INTEGER), ("NUMERIC", Kind.DECIMAL),
          ("REAL", Kind.FLOAT), ("DOUBLE", Kind.FLOAT), ("VARCHAR", Kind.TEXT), ("TIMESTAMP", Kind.DATETIME),
          ("DATE", Kind.DATE), ("BOOLEAN", Kind.BOOLEAN))


def warehouse_column(column: SourceColumn) -> Column:
    """The warehouse column :func:`create_table_sql` creates for ``column``, as the copy writes to it."""
    created = warehouse_type(column.column_type)
    return Column(column.name, next(kind for prefix, kind in _KINDS if created.startswith(prefix)), column.nullable)


def create_table_sql(dialect: Dialect, schema: str, table: str, columns: list[SourceColumn]) -> list[str]:
    """The statements that re-create the warehouse table as DMS would create it for ``columns`` now."""
    target = f"{quote(dialect, schema)}.{quote(dialect, table)}"
    body = ", ".join(f"{quote(dialect, c.name)} {warehouse_type(c.column_type)}{'' if c.nullable else ' NOT NULL'}"
                     for c in columns)
    return [f"DROP TABLE IF EXISTS {target}", f"CREATE TABLE {target} ({body})"]


# (name, COLUMN_TYPE, IS_NULLABLE) of a MySQL table's columns, in order; %s params: (schema, table).
COLUMN_TYPES_SQL = ("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION")


_WILDCARD = re.compile(r"%|_|\[[^\]]+\]|.", re.DOTALL)


def _like(pattern: str, name: str) -> bool:
    """DMS's object-locator wildcards (https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TableMapping.SelectionTransformation.Wildcards.html):
    ``%`` any run of characters, ``_`` one, ``[_]`` a literal underscore, ``[ab]`` / ``[a-d]`` one of a set or range
    (case-insensitive)."""
    regex = "".join(".*" if part == "%" else "." if part == "_" else
                    "[" + re.escape(part[1:-1]).replace("\\-", "-") + "]" if part.startswith("[") and len(part) > 2
                    else re.escape(part) for part in _WILDCARD.findall(pattern))
    return re.fullmatch(regex, name, re.IGNORECASE) is not None


def require_replicated(mappings: dict, schema: str, tables: list[str]) -> None:
    """Refuse any table the task's selection rules do not include (an exclude rule wins over an include:
    https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TableMapping.SelectionTransformation.Selections.html)."""
    rules = mappings.get("rules", [])
    selections = [r for r in rules if r.get("rule-type") == "selection"]

    def matches(rule: dict, table: str) -> bool:
        locator = rule.get("object-locator") or {}
        if rule.get("rule-action") == "explicit":  # exact names only
            return locator.get("schema-name", "").lower() == schema.lower() and \
                locator.get("table-name", "").lower() == table.lower()
        return _like(locator.get("schema-name", "%"), schema) and _like(locator.get("table-name", "%"), table)

    missing = [t for t in tables if not any(matches(r, t) and r.get("rule-action") in ("include", "explicit")
                                            for r in selections)
               or any(matches(r, t) and r.get("rule-action") == "exclude" for r in selections)]
    if missing:
        raise TableNotReplicated(f"{', '.join(missing)} not selected by the DMS task's table mappings (schema "
                                 f"{schema}): DMS does not replicate them, so this runbook has nothing to do for them")
    shaped = [t for t in tables if any(matches(r, t) and r.get("filters") for r in selections)
              or any(matches(r, t) for r in rules if r.get("rule-type") == "transformation")]
    if shaped:
        raise TableNotReplicated(f"{', '.join(shaped)}: the task's table mappings filter rows or transform the table "
                                 "(rename, remove or add columns): this runbook re-creates and re-copies tables as the "
                                 "source has them, which would undo that. Nothing was changed.")
