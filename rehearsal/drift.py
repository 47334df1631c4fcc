"""Plant drift in the estate's warehouse, the way a broken CDC run leaves it, and repair it from the source.

Only the estate's own tables (``schema.TABLES``) and integer keys; each function changes one row.
"""

from __future__ import annotations

from psycopg2 import sql

from rehearsal.schema import SOURCE_DATABASE, TABLES


def _table(table: str) -> sql.Composed:
    if table not in TABLES:
        raise ValueError(f"not an estate table: {table!r}")
    return sql.Identifier(SOURCE_DATABASE, table)


def _execute(estate, statement: sql.Composable, args: tuple) -> None:
    conn = estate.warehouse.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, args)
    finally:
        conn.close()


def lose(estate, table: str, key: int) -> None:
    """The row never arrived (missing in the warehouse)."""
    _execute(estate, sql.SQL("DELETE FROM {} WHERE id = %s").format(_table(table)), (key,))


def duplicate(estate, table: str, key: int) -> None:
    """The row was applied twice (the warehouse has no primary key)."""
    _execute(estate, sql.SQL("INSERT INTO {0} SELECT * FROM {0} WHERE id = %s").format(_table(table)), (key,))


def add_extra(estate, table: str, key: int, like: int) -> None:
    """A row the source never had: a copy of row ``like`` under ``key``."""
    target = _table(table)
    columns = [c for (c,) in estate.warehouse.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "AND column_name <> 'id' ORDER BY ordinal_position", (SOURCE_DATABASE, table))]
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    _execute(estate, sql.SQL("INSERT INTO {0} (id, {1}) SELECT %s, {1} FROM {0} WHERE id = %s").format(
        target, names), (key, like))


def set_value(estate, table: str, key: int, column: str, value: object) -> None:
    """A column of the row differs (``value`` None: NULL where the source has a value)."""
    _execute(estate, sql.SQL("UPDATE {} SET {} = %s WHERE id = %s").format(_table(table), sql.Identifier(column)),
             (value, key))


def repair(estate, table: str, key: int) -> None:
    """Make the warehouse row(s) of ``key`` equal the source's again."""
    lose(estate, table, key)
    _table(table)
    rows = estate.source.writer.execute(f"SELECT * FROM {SOURCE_DATABASE}.{table} WHERE id = %s",  # noqa: S608
                                        args=(key,))
    for row in rows:
        _execute(estate, sql.SQL("INSERT INTO {} VALUES ({})").format(
            _table(table), sql.SQL(", ").join(sql.Placeholder() * len(row))), tuple(row))
