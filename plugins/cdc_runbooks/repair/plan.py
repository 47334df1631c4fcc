"""Which repair each drifted table gets, and the exact statements it runs. Pure (no Airflow, no SQL).

From a reconcile's findings per table (:class:`~cdc_runbooks.reconcile.report.TableResult`):

- ``rows``: every differing key is known (localised, no key range left unexplored), there are at most ``max_rows``
  of them, and the key's columns are all integers: the rows of those keys are re-copied. Integer keys only, because
  a text key names a different set of rows on each side (MySQL's default collations ignore case and accents, the
  warehouse compares bytes), so ``WHERE key IN (...)`` would not read and delete the same rows;
- ``table``: anything else with a key: the whole table is re-copied;
- a table without a key (no primary key, no unique index of NOT NULL columns) is refused: a row of it cannot be
  found again after a change, so it cannot be rewound to the checkpoint (:mod:`cdc_runbooks.repair.rewind`).

Both methods run while the DMS task is stopped at its checkpoint and write the rows as they were at the checkpoint,
in one warehouse transaction. Keys are integers by construction (checked), so the statements show them as they run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from cdc_runbooks import identifiers
from cdc_runbooks.reconcile.report import TableResult, key_order
from cdc_runbooks.reconcile.row_checksum import Dialect, Kind, quote
from cdc_runbooks.refusal import Refusal

METHODS = ("rows", "table")
SHOWN_KEYS = 50  # keys listed per table on the approval page (all of them are in the plan's XCom)


class RepairRefused(Refusal, ValueError):
    """A drifted table this runbook cannot repair (no key), or a plan that does not hold together."""


@dataclass(frozen=True)
class TableDrift:
    """A drifted table as the reconcile found it, with what the repair needs of its shape.

    :param key_columns: the key's columns (source names); empty when the table has no key.
    :param integer_key: every key column is an integer.
    :param columns: the source's column names, in its order; ``target_columns`` the warehouse's names for them.
    :param inexact_key: why a key changed since the checkpoint cannot be found again exactly in the warehouse (a
        binary, BIT, TIME, JSON or approximate key column: the binlog gives them in another form), or None.
    :param text_columns: columns read as MySQL's text of them (TIME).
    """

    result: TableResult
    key_columns: tuple[str, ...]
    integer_key: bool
    columns: tuple[str, ...]
    target_columns: tuple[str, ...]
    inexact_key: str | None = None
    text_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableRepair:
    """The repair of one table: ``method`` (``rows`` or ``table``), the keys (``rows``: every differing key, an int
    or a tuple of ints per composite key), the drift the reconcile counted, and why this method."""

    table: str
    method: str
    key_columns: tuple[str, ...]
    columns: tuple[str, ...]
    target_columns: tuple[str, ...]
    drift: int
    why: str
    keys: tuple = ()
    text_columns: tuple[str, ...] = ()  # read as MySQL's text of them (TIME), as the reconcile compares them

    def __post_init__(self) -> None:
        identifiers.table_name(self.table)
        if self.method not in METHODS:
            raise RepairRefused(f"{self.table}: repair method {self.method!r} is not one of {METHODS}")
        if not self.key_columns:
            raise RepairRefused(f"{self.table}: a table without a key cannot be repaired by key or rewound")
        if not set(self.key_columns) <= set(self.columns) or len(self.columns) != len(self.target_columns):
            raise RepairRefused(f"{self.table}: key {self.key_columns} or warehouse columns {self.target_columns} "
                                f"do not fit its columns {self.columns}")
        if self.method == "rows":
            width = len(self.key_columns)
            for key in self.keys:
                parts = key if width > 1 else (key,)
                if len(parts) != width or any(type(part) is not int for part in parts):
                    raise RepairRefused(f"{self.table}: key {key!r} is not {width} integer(s) "
                                        f"({', '.join(self.key_columns)})")

    def source_select(self, schema: str) -> str:
        """The source read: the rows of the keys (``rows``), or of the whole table (``table``)."""
        columns = ", ".join(f"CAST({quote(Dialect.MYSQL, c)} AS CHAR) AS {quote(Dialect.MYSQL, c)}"
                            if c in self.text_columns else quote(Dialect.MYSQL, c) for c in self.columns)
        base = f"SELECT {columns} FROM {quote(Dialect.MYSQL, schema)}.{quote(Dialect.MYSQL, self.table)}"  # noqa: S608 - quote() refuses all but identifiers
        if self.method == "table":
            return base
        return f"{base} WHERE {self._in(Dialect.MYSQL, self.key_columns)}"

    def target_delete(self, schema: str, dialect: Dialect) -> str:
        """The warehouse delete: the keys' rows, every copy (``rows``), or every row (``table``)."""
        base = f"DELETE FROM {quote(dialect, schema)}.{quote(dialect, self.table)}"  # noqa: S608 - as above
        if self.method == "table":
            return base
        return f"{base} WHERE {self._in(dialect, self._target_key_columns())}"

    def target_delete_key(self, schema: str, dialect: Dialect) -> str:
        """The warehouse delete of one key's rows (DB-API ``format`` parameters: the key's values)."""
        where = " AND ".join(f"{quote(dialect, c)} = %s" for c in self._target_key_columns())
        return f"DELETE FROM {quote(dialect, schema)}.{quote(dialect, self.table)} WHERE {where}"  # noqa: S608 - as above

    def target_insert(self, schema: str, dialect: Dialect) -> str:
        """The warehouse insert of one row (DB-API ``format`` parameters), as of the checkpoint."""
        return (f"INSERT INTO {quote(dialect, schema)}.{quote(dialect, self.table)} "  # noqa: S608 - as above
                f"({', '.join(quote(dialect, c) for c in self.target_columns)}) "
                f"VALUES ({', '.join(['%s'] * len(self.target_columns))})")

    def _target_key_columns(self) -> tuple[str, ...]:
        names = dict(zip(self.columns, self.target_columns, strict=True))
        return tuple(names[c] for c in self.key_columns)

    def _in(self, dialect: Dialect, columns: tuple[str, ...]) -> str:
        if len(columns) == 1:
            return f"{quote(dialect, columns[0])} IN ({', '.join(str(int(k)) for k in self.keys)})"
        rows = ", ".join(f"({', '.join(str(int(p)) for p in key)})" for key in self.keys)
        return f"({', '.join(quote(dialect, c) for c in columns)}) IN ({rows})"

    def statements(self, schema: str, dialect: Dialect) -> list[str]:
        """What the repair runs, in order (the rewind to the checkpoint happens between the read and the write)."""
        return [f"source: {self.source_select(schema)}",
                "source: the binlog's row changes of this table since the DMS checkpoint (replication protocol)",
                "warehouse: BEGIN", f"warehouse: {self.target_delete(schema, dialect)}",
                f"warehouse: {self.target_insert(schema, dialect)} -- once per row as of the checkpoint"
                + ("" if self.method == "rows" else "; then the rows changed since it, by key"),
                "warehouse: COMMIT"]


_INEXACT = (Kind.BINARY, Kind.BIT, Kind.TIME, Kind.JSON, Kind.FLOAT)


def inexact_key(key_columns: tuple[str, ...], kinds: tuple[Kind, ...]) -> str | None:
    """Why keys of these kinds cannot be matched exactly between the binlog and the warehouse, or None."""
    odd = [f"{c} ({k})" for c, k in zip(key_columns, kinds, strict=True) if k in _INEXACT]
    return f"its key column(s) {', '.join(odd)} come from the binlog in another form than the warehouse holds" \
        if odd else None


def text_columns(columns) -> tuple[str, ...]:
    """The columns a repair reads as MySQL's text of them (TIME: the reconcile compares that text)."""
    return tuple(c.name for c in columns if c.kind is Kind.TIME)


def plan_table(drift: TableDrift, max_rows: int) -> TableRepair | None:
    """The repair of one table, or None when it does not drift. Refuses a table without a key."""
    result = drift.result
    if result.drift == 0:
        return None
    if not drift.key_columns:
        raise RepairRefused(
            f"{result.table}: drift {result.drift}, but the table has no primary key and no unique index of NOT NULL "
            "columns, so its rows cannot be re-copied by key or rewound to the DMS checkpoint. Add a primary key on "
            "the source, or reload the table with a full-load task (see runbooks/cdc_repair.md).")
    keys = sorted({*result.missing, *result.extra, *(c.key for c in result.changed), *result.duplicate},
                  key=key_order)
    shape = {"table": result.table, "key_columns": drift.key_columns, "columns": drift.columns,
             "target_columns": drift.target_columns, "drift": result.drift, "text_columns": drift.text_columns}
    reason = _table_reason(drift, keys, max_rows)
    if reason and drift.inexact_key:
        raise RepairRefused(f"{result.table}: drift {result.drift} needs the whole table re-copied ({reason}), but "
                            f"{drift.inexact_key}. Nothing was changed; reload it from a full-load task.")
    if reason:
        return TableRepair(method="table", why=reason, **shape)
    return TableRepair(method="rows", keys=tuple(keys),
                       why=f"{len(keys)} key(s), at most {max_rows}: only their rows are re-copied", **shape)


def _table_reason(drift: TableDrift, keys: list, max_rows: int) -> str | None:
    result = drift.result
    if not result.localised:
        return "the differing rows were not localised to keys"
    if result.unexplored:
        return f"{len(result.unexplored)} differing key range(s) were not localised to keys"
    if len(keys) > max_rows:
        return f"{len(keys)} differing keys, more than {max_rows}"
    if not drift.integer_key:
        return (f"its key ({', '.join(drift.key_columns)}) is not made of integers: a text key can name different "
                "rows on each side (collations), so rows are not re-copied key by key")
    return None


@dataclass(frozen=True)
class RepairPlan:
    """The repair of a pipeline's drifted tables (none: nothing to repair)."""

    pipeline: str
    schema: str
    tables: tuple[TableRepair, ...]

    def to_dict(self) -> dict:
        return {"pipeline": self.pipeline, "schema": self.schema, "tables": [asdict(t) for t in self.tables]}

    @classmethod
    def from_dict(cls, value: dict) -> RepairPlan:
        tables = tuple(TableRepair(**{**t, "key_columns": tuple(t["key_columns"]), "columns": tuple(t["columns"]),
                                      "target_columns": tuple(t["target_columns"]),
                                      "text_columns": tuple(t.get("text_columns", ())),
                                      "keys": tuple(tuple(k) if isinstance(k, list) else k for k in t["keys"])})
                       for t in value["tables"])
        return cls(value["pipeline"], value["schema"], tables)

    def to_markdown(self, dialect: Dialect) -> str:
        """The approval page: the question, each table's repair and keys, then the exact statements."""
        lines = [f"**Repair {len(self.tables)} table(s) of {self.pipeline}?** DMS is stopped at its checkpoint, the "
                 "rows below are re-copied from the source as they were at that checkpoint in one warehouse "
                 "transaction, CDC restarts from the checkpoint, and a checksum reconcile must then show drift 0.",
                 "", "| table | repair | drift | why |", "|---|---|---:|---|"]
        lines += [f"| {t.table} | {'keys' if t.method == 'rows' else 'whole table'} | {t.drift} | {t.why} |"
                  for t in self.tables]
        for t in self.tables:
            if t.method == "rows":
                shown = ", ".join(str(list(k) if isinstance(k, tuple) else k) for k in t.keys[:SHOWN_KEYS])
                more = f" and {len(t.keys) - SHOWN_KEYS} more" if len(t.keys) > SHOWN_KEYS else ""
                lines += ["", f"Keys of `{t.table}` ({', '.join(t.key_columns)}): {shown}{more}"]
        for t in self.tables:
            lines += ["", f"Statements for `{t.table}`:", "", "```sql",
                      *(s for s in t.statements(self.schema, dialect)), "```"]
        return "\n".join(lines)


def plan_repair(pipeline: str, schema: str, drifts: Sequence[TableDrift], max_rows: int) -> RepairPlan:
    """The plan for every drifted table; refuses (naming each) any table that cannot be repaired."""
    if max_rows < 1:
        raise RepairRefused("max_rows must be at least 1")
    repairs, refusals = [], []
    for drift in drifts:
        try:
            repair = plan_table(drift, max_rows)
        except RepairRefused as refusal:
            refusals.append(str(refusal))
            continue
        if repair is not None:
            repairs.append(repair)
    if refusals:
        raise RepairRefused("; ".join(refusals) + ". Nothing was changed.")
    return RepairPlan(pipeline, schema, tuple(repairs))


def drifted_tables(record: dict, pipeline: str) -> list[str]:
    """The tables of ``pipeline`` a ``cdc_reconcile`` run record says drifted (its ``reconcile`` step's report; the
    tables of a run over several pipelines are named ``pipeline.table``)."""
    step = next((s for s in record.get("steps", []) if s.get("task_id") == "reconcile"), None)
    if not step or not isinstance(step.get("result"), dict):
        raise RepairRefused(f"the cdc_reconcile run {record.get('run_id')!r} left no report (its reconcile step "
                            f"ended {step.get('state') if step else 'absent'}): name the tables instead")
    found = []
    for name, table in step["result"].get("tables", {}).items():
        owner, _, short = name.rpartition(".")
        if table.get("status") != "ok" and owner in ("", pipeline):
            found.append(identifiers.table_name(short, "tables"))
    return found


def require_sql_warehouse(pipeline) -> None:
    """Refuse a pipeline whose warehouse is reached through the Redshift Data API: a repair writes each table in one
    transaction of statements with parameters, which needs a SQL connection (``target_conn_id``)."""
    if pipeline.redshift_data is not None:
        raise RepairRefused(f"{pipeline.name} reaches its warehouse through the Redshift Data API, which has no "
                            "transaction across statements with parameters: the repair needs a SQL connection "
                            "(target_conn_id). Nothing was changed.")
