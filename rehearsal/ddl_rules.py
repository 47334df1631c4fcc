"""What a DMS task does with a source DDL statement: pure rules, no I/O.

The estate's task is a CDC task from a MySQL (Aurora MySQL) source to a Redshift
target with ``ChangeProcessingDdlHandlingPolicy`` HandleSourceTableAltered,
HandleSourceTableTruncated and HandleSourceTableDropped all true and
``ErrorBehavior.TableErrorPolicy`` SUSPEND_TABLE. :func:`decide` reads one binlog
QueryEvent statement and returns a :class:`Decision`:

* ``apply``: the statement is captured and changes the target; ``statements`` are
  the warehouse statements, names always passed as :class:`psycopg2.sql.Identifier`;
* ``ignore``: DMS does not capture it from a MySQL source (``reason`` says why);
* ``suspend``: captured, but the target cannot apply it (Redshift can only widen a
  VARCHAR), so the table is suspended.

The rules and their sources are in docs/reference/dms-ddl-emulation.md. What the
parser does not understand is ignored (DMS does not capture what it cannot parse:
an inference, see the doc).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from psycopg2 import sql

APPLY, IGNORE, SUSPEND = "apply", "ignore", "suspend"
# sql_mode bit of a QueryEvent's status variables: double quotes delimit identifiers, not strings.
MODE_ANSI_QUOTES = 1 << 2


class DdlSyntaxError(ValueError):
    """The statement is not one the rules understand."""


# -- tokens ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    kind: str  # "word" (keyword or bare name), "ident" (quoted name), "string", "punct"
    text: str  # quoted tokens hold their unescaped value

    def keyword(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words

    def punct(self, char: str) -> bool:
        return self.kind == "punct" and self.text == char


_WORD = re.compile(r"[0-9A-Za-z_$\u0080-\uffff]+")
_EXECUTABLE_COMMENT = re.compile(r"M?!\d*")
_STRING_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}


def tokenize(text: str, ansi_quotes: bool = False) -> list[Token]:
    """MySQL's lexical structure, as much as DDL needs: names, quoted names, strings, comments."""
    tokens: list[Token] = []
    i, end = 0, len(text)
    while i < end:
        char = text[i]
        if char.isspace():
            i += 1
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            if close < 0:
                raise DdlSyntaxError("unterminated comment")
            body = text[i + 2:close]
            executable = _EXECUTABLE_COMMENT.match(body)
            if executable:  # /*!50100 ... */ and /*M!100100 ... */ are executed by the server
                tokens += tokenize(body[executable.end():], ansi_quotes)
            i = close + 2
        elif char == "#" or (text.startswith("--", i) and (i + 2 == end or text[i + 2].isspace())):
            newline = text.find("\n", i)
            i = end if newline < 0 else newline + 1
        elif char in "`'\"":
            is_name = char == "`" or (char == '"' and ansi_quotes)
            value, i = _quoted(text, i, backslash=not is_name)
            tokens.append(Token("ident" if is_name else "string", value))
        elif match := _WORD.match(text, i):
            tokens.append(Token("word", match.group()))
            i = match.end()
        else:
            tokens.append(Token("punct", char))
            i += 1
    return tokens


def _quoted(text: str, start: int, backslash: bool) -> tuple[str, int]:
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        char = text[i]
        if char == quote:
            if text.startswith(quote, i + 1):  # a doubled quote stands for itself
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        if char == "\\" and backslash and i + 1 < len(text):
            out.append(_STRING_ESCAPES.get(text[i + 1], text[i + 1]))
            i += 2
            continue
        out.append(char)
        i += 1
    raise DdlSyntaxError("unterminated quoted text")


def _split(tokens: list[Token], separator: str = ",") -> list[list[Token]]:
    """Split at top-level separators (outside parentheses)."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.punct("("):
            depth += 1
        elif token.punct(")"):
            depth -= 1
        if depth == 0 and token.punct(separator):
            parts.append([])
        else:
            parts[-1].append(token)
    return [part for part in parts if part]


class _Reader:
    """A cursor over one statement's tokens."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self, ahead: int = 0) -> Token | None:
        index = self.i + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def done(self) -> bool:
        return self.i >= len(self.tokens)

    def accept(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.keyword(*words):
            self.i += 1
            return True
        return False

    def accept_all(self, *words: str) -> bool:
        """Consume ``words`` in sequence if they all come next."""
        if all((t := self.peek(n)) is not None and t.keyword(w) for n, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def name(self) -> str:
        token = self.peek()
        if token is None or token.kind not in ("word", "ident"):
            raise DdlSyntaxError("a name was expected")
        self.i += 1
        return token.text

    def qualified(self) -> tuple[str | None, str]:
        first = self.name()
        if (dot := self.peek()) is not None and dot.punct("."):
            self.i += 1
            return first, self.name()
        return None, first

    def rest(self) -> list[Token]:
        rest, self.i = self.tokens[self.i:], len(self.tokens)
        return rest


# -- types -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MySqlType:
    """A MySQL column data type, normalised: synonyms folded, defaults filled, integer display widths dropped.
    Character set, collation, nullability and default are attributes, not part of the type."""

    name: str
    args: tuple = ()
    unsigned: bool = False

    def __str__(self) -> str:
        args = f"({','.join(repr(a) if isinstance(a, str) else str(a) for a in self.args)})" if self.args else ""
        return f"{self.name}{args}{' UNSIGNED' if self.unsigned else ''}"


@dataclass(frozen=True)
class TargetType:
    """A Redshift column type DMS creates (a fixed name and integer parameters, never source text)."""

    name: str
    params: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.name not in _TARGET_NAMES or not all(type(p) is int and p >= 0 for p in self.params):
            raise ValueError(f"not a target type: {self.name}{self.params}")

    def sql(self) -> sql.SQL:
        return sql.SQL(f"{self.name}({', '.join(map(str, self.params))})" if self.params else self.name)

    def __str__(self) -> str:
        return self.sql().string


_TARGET_NAMES = frozenset(("SMALLINT", "INTEGER", "BIGINT", "NUMERIC", "DOUBLE PRECISION", "DATE", "TIMESTAMP",
                           "VARCHAR"))
_INTEGERS = ("TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT")
_KNOWN = frozenset((*_INTEGERS, "DECIMAL", "FLOAT", "DOUBLE", "BIT", "DATE", "DATETIME", "TIMESTAMP", "TIME", "YEAR",
                    "CHAR", "VARCHAR", "BINARY", "VARBINARY", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT",
                    "TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB", "ENUM", "SET", "JSON", "GEOMETRY", "POINT",
                    "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION",
                    "UUID", "INET4", "INET6"))
_SYNONYMS = {"INTEGER": "INT", "INT1": "TINYINT", "INT2": "SMALLINT", "INT3": "MEDIUMINT", "MIDDLEINT": "MEDIUMINT",
             "INT4": "INT", "INT8": "BIGINT", "BOOL": "TINYINT", "BOOLEAN": "TINYINT", "DEC": "DECIMAL",
             "NUMERIC": "DECIMAL", "FIXED": "DECIMAL", "REAL": "DOUBLE", "FLOAT4": "FLOAT", "FLOAT8": "DOUBLE",
             "CHARACTER": "CHAR", "NCHAR": "CHAR", "NVARCHAR": "VARCHAR", "VARCHARACTER": "VARCHAR"}
_TWO_WORDS = {("DOUBLE", "PRECISION"): "DOUBLE", ("CHAR", "VARYING"): "VARCHAR",
              ("CHARACTER", "VARYING"): "VARCHAR", ("NATIONAL", "CHAR"): "CHAR", ("NATIONAL", "CHARACTER"): "CHAR",
              ("NATIONAL", "VARCHAR"): "VARCHAR", ("NCHAR", "VARCHAR"): "VARCHAR"}
_SIZED_BY_LENGTH = {"TEXT": ("TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT"),
                    "BLOB": ("TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB")}


def _read_type(reader: _Reader) -> MySqlType:
    token = reader.peek()
    if token is None or token.kind != "word":
        raise DdlSyntaxError("a data type was expected")
    reader.i += 1
    name = token.text.upper()
    if (after := reader.peek()) is not None and after.kind == "word" and (name, after.text.upper()) in _TWO_WORDS:
        name = _TWO_WORDS[(name, after.text.upper())]
        reader.i += 1
        if name in ("CHAR", "VARCHAR") and reader.accept("VARYING"):  # NATIONAL CHAR VARYING
            name = "VARCHAR"
    if name == "SERIAL":
        return MySqlType("BIGINT", (), True)
    name = _SYNONYMS.get(name, name)
    if name not in _KNOWN:
        raise DdlSyntaxError(f"unknown data type {token.text}")
    args = _read_args(reader)
    unsigned = False
    while (flag := reader.peek()) is not None and flag.keyword("UNSIGNED", "SIGNED", "ZEROFILL"):
        unsigned = unsigned or flag.text.upper() != "SIGNED"  # ZEROFILL implies UNSIGNED
        reader.i += 1
    if token.text.upper() in ("BOOL", "BOOLEAN"):
        args = ()
    return _normalised(name, args, unsigned and name in (*_INTEGERS, "DECIMAL", "FLOAT", "DOUBLE"))


def _read_args(reader: _Reader) -> tuple:
    if (opening := reader.peek()) is None or not opening.punct("("):
        return ()
    reader.i += 1
    args: list = []
    while True:
        token = reader.peek()
        if token is None:
            raise DdlSyntaxError("unterminated type arguments")
        reader.i += 1
        if token.kind == "string":
            args.append(token.text)
        elif token.kind == "word" and token.text.isascii() and token.text.isdigit():
            args.append(int(token.text))
        else:
            raise DdlSyntaxError("unexpected type argument")
        closing = reader.peek()
        reader.i += 1
        if closing is not None and closing.punct(")"):
            return tuple(args)
        if closing is None or not closing.punct(","):
            raise DdlSyntaxError("malformed type arguments")


def _normalised(name: str, args: tuple, unsigned: bool) -> MySqlType:
    labels = name in ("ENUM", "SET")
    if (labels and not args) or not all(isinstance(a, str if labels else int) for a in args):
        raise DdlSyntaxError(f"bad arguments for {name}")
    if name in _INTEGERS or name == "YEAR":
        args = ()  # a display width
    elif name == "DECIMAL":
        if len(args) > 2:
            raise DdlSyntaxError("DECIMAL takes (precision, scale)")
        args = {0: (10, 0), 1: (*args, 0)}.get(len(args), args)
    elif name == "FLOAT" and len(args) == 1:
        name, args = ("DOUBLE" if args[0] > 24 else "FLOAT"), ()
    elif name in ("BIT", "CHAR", "BINARY") and not args:
        args = (1,)
    elif name in ("DATETIME", "TIMESTAMP", "TIME") and not args:
        args = (0,)
    elif name in _SIZED_BY_LENGTH and len(args) == 1:  # TEXT(n): the smallest type that holds n
        sizes = (255, 65535, 16777215)
        name = _SIZED_BY_LENGTH[name][sum(args[0] > size for size in sizes)]
        args = ()
    if name in ("VARCHAR", "VARBINARY") and len(args) != 1:
        raise DdlSyntaxError(f"{name} needs a length")
    return MySqlType(name, tuple(args), unsigned)


def parse_column_type(text: str) -> MySqlType | None:
    """``information_schema.COLUMNS.COLUMN_TYPE`` (``decimal(12,2)``, ``int(10) unsigned``): None if unknown."""
    try:
        reader = _Reader(tokenize(text))
        parsed = _read_type(reader)
    except DdlSyntaxError:
        return None
    return parsed if reader.done() else None


def redshift_type(column: MySqlType) -> TargetType | None:
    """The Redshift type DMS creates for a MySQL type (docs/reference/dms-mysql-to-redshift-types.md); None where
    that page leaves it open (TIME, BIT, binary, LOB, JSON and spatial types, DECIMAL precision above 38)."""
    name, args = column.name, column.args
    if name in ("TINYINT", "SMALLINT", "YEAR"):
        return TargetType("SMALLINT")
    if name in ("MEDIUMINT", "INT"):
        return TargetType("INTEGER")
    if name == "BIGINT":
        return TargetType("NUMERIC", (20, 0)) if column.unsigned else TargetType("BIGINT")
    if name == "DECIMAL":
        return TargetType("NUMERIC", args) if args[0] <= 38 else None
    if name in ("FLOAT", "DOUBLE"):
        return TargetType("DOUBLE PRECISION")
    if name == "DATE":
        return TargetType("DATE")
    if name in ("DATETIME", "TIMESTAMP"):
        return TargetType("TIMESTAMP", (min(args[0], 6),))
    if name in ("CHAR", "VARCHAR"):
        return TargetType("VARCHAR", args)
    if name in ("TINYTEXT", "TEXT"):
        return TargetType("VARCHAR", (255 if name == "TINYTEXT" else 65535,))
    if name == "ENUM":
        return TargetType("VARCHAR", (max(len(label) for label in args),))
    if name == "SET":
        return TargetType("VARCHAR", (sum(len(label) for label in args) + len(args) - 1,))
    return None


# -- decisions -------------------------------------------------------------------------------------
Definition = Mapping[str, MySqlType | None]  # a table's columns in order: name -> type (None: not understood)


@dataclass(frozen=True)
class Decision:
    action: str  # APPLY, IGNORE or SUSPEND
    reason: str
    table: str | None = None  # the mapped table the statement is about (None: no mapped table)
    statements: tuple[sql.Composable, ...] = ()
    captured: bool = False  # counted in DescribeTableStatistics Ddls
    counted_as_applied: bool = True  # counted in AppliedDdls once applied (a TRUNCATE is not)
    definition: Definition | None = None  # the table's source definition after the statement


def transaction_marker(statement: str) -> str | None:
    """``"inside"`` for statements logged within a transaction (BEGIN, SAVEPOINT, XA...), ``"end"`` for COMMIT and
    ROLLBACK, None for a statement logged on its own (DDL, GRANT...), which is a transaction by itself."""
    try:
        tokens = [t for t in tokenize(statement) if not t.punct(";")]
    except DdlSyntaxError:
        return None
    words = [t.text.upper() for t in tokens[:2] if t.kind == "word"]
    if words[:1] in (["BEGIN"], ["SAVEPOINT"], ["RELEASE"], ["XA"]) or words == ["START", "TRANSACTION"]:
        return "inside"
    if words[:1] == ["ROLLBACK"] and len(tokens) > 1 and tokens[1].keyword("TO"):
        return "inside"
    if words[:1] in (["COMMIT"], ["ROLLBACK"]) and len(tokens) <= 2:
        return "end"
    return None


_NOT_UNDERSTOOD = "not understood, so not captured (inferred: DMS does not capture what it cannot parse)"


def decide(statement: str, *, default_schema: str, schema: str, tables: Collection[str],
           definitions: Mapping[str, Definition], ansi_quotes: bool = False) -> Decision:
    """What the DMS task does with ``statement`` (a QueryEvent run with ``default_schema`` as current database)."""
    try:
        tokens = tokenize(statement, ansi_quotes)
        while tokens and tokens[-1].punct(";"):
            tokens.pop()
        rules = _Rules(default_schema, schema, tables, definitions)
        return rules.statement(_Reader(tokens))
    except DdlSyntaxError as exc:
        return Decision(IGNORE, f"{_NOT_UNDERSTOOD} ({exc})")


class _Rules:
    def __init__(self, default_schema: str, schema: str, tables: Collection[str],
                 definitions: Mapping[str, Definition]) -> None:
        self.default_schema, self.schema, self.tables, self.definitions = default_schema, schema, tables, definitions

    def mapped(self, name: tuple[str | None, str]) -> str | None:
        database, table = name
        return table if (database or self.default_schema) == self.schema and table in self.tables else None

    def statement(self, reader: _Reader) -> Decision:
        if reader.accept("ALTER"):
            return self.alter(reader)
        if reader.accept("RENAME"):
            return self.rename_tables(reader)
        if reader.accept("TRUNCATE"):
            reader.accept("TABLE")
            table = self.mapped(reader.qualified())
            if table is None:
                return Decision(IGNORE, "TRUNCATE of an unmapped table")
            return Decision(APPLY, "TRUNCATE TABLE is applied (HandleSourceTableTruncated)", table,
                            (sql.SQL("TRUNCATE TABLE {}").format(self.target(table)),), captured=True,
                            counted_as_applied=False)
        if reader.accept("DROP"):
            reader.accept("TEMPORARY")
            if reader.accept("TABLE", "TABLES"):
                reader.accept_all("IF", "EXISTS")
                return self.uncaptured(reader, "DROP TABLE is not captured from a MySQL source")
        if reader.accept("CREATE"):
            reader.accept_all("OR", "REPLACE")
            reader.accept("TEMPORARY")
            if reader.accept("TABLE"):
                reader.accept_all("IF", "NOT", "EXISTS")
                table = self.mapped(reader.qualified())
                if table is None:
                    return Decision(IGNORE, "CREATE TABLE of an unmapped table")
                return Decision(IGNORE, "CREATE TABLE of a mapped table: the estate's target tables exist already "
                                        "(not emulated)", table)
        return Decision(IGNORE, "not a table DDL statement")

    def uncaptured(self, reader: _Reader, reason: str) -> Decision:
        names = [self.mapped(_Reader(part).qualified()) for part in _split(reader.rest())]
        table = next((t for t in names if t is not None), None)
        return Decision(IGNORE, reason if table else f"{reason} (and no mapped table is named)", table)

    def rename_tables(self, reader: _Reader) -> Decision:
        if not reader.accept("TABLE", "TABLES"):
            return Decision(IGNORE, "not a table DDL statement")
        tables = []
        for part in _split(reader.rest()):
            pair = _Reader(part)
            old = self.mapped(pair.qualified())
            if not pair.accept("TO"):
                raise DdlSyntaxError("RENAME TABLE a TO b expected")
            tables += [old, self.mapped(pair.qualified())]
        table = next((t for t in tables if t is not None), None)
        return Decision(IGNORE, "RENAME TABLE is not captured from a MySQL source", table)

    def target(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.schema, table)

    def alter(self, reader: _Reader) -> Decision:
        reader.accept("ONLINE")
        reader.accept("IGNORE")
        if not reader.accept("TABLE"):
            return Decision(IGNORE, "not a table DDL statement")
        reader.accept_all("IF", "EXISTS")
        table = self.mapped(reader.qualified())
        if table is None:
            return Decision(IGNORE, "DDL on an unmapped table")
        if reader.accept("WAIT"):
            reader.name()
        reader.accept("NOWAIT")
        change = _TableChange(self.target(table), dict(self.definitions.get(table, {})))
        try:
            for spec in _split(reader.rest()):
                change.spec(_Reader(spec))
        except DdlSyntaxError as exc:
            return Decision(IGNORE, f"{_NOT_UNDERSTOOD} ({exc})", table)
        if change.suspend:
            return Decision(SUSPEND, "; ".join(change.suspend), table, captured=True)
        if change.statements:
            return Decision(APPLY, "; ".join(change.notes), table, tuple(change.statements), captured=True,
                            definition=change.definition)
        return Decision(IGNORE, "; ".join(change.notes) or "nothing to do", table)


_INDEX_WORDS = ("INDEX", "KEY", "FULLTEXT", "SPATIAL", "UNIQUE", "PRIMARY", "CONSTRAINT", "FOREIGN", "CHECK",
                "PERIOD", "SYSTEM", "PARTITION")
_TABLE_OPTIONS = ("ENGINE", "DEFAULT", "CHARACTER", "CHARSET", "CONVERT", "COLLATE", "COMMENT", "AUTO_INCREMENT",
                  "ROW_FORMAT", "FORCE", "ORDER", "ENABLE", "DISABLE", "KEY_BLOCK_SIZE", "PACK_KEYS", "CHECKSUM",
                  "STATS_PERSISTENT", "STATS_AUTO_RECALC", "STATS_SAMPLE_PAGES", "AVG_ROW_LENGTH", "MAX_ROWS",
                  "MIN_ROWS", "DELAY_KEY_WRITE", "INSERT_METHOD", "PAGE_CHECKSUM", "TRANSACTIONAL", "ENCRYPTED",
                  "ENCRYPTION_KEY_ID", "PAGE_COMPRESSED", "PAGE_COMPRESSION_LEVEL", "IETF_QUOTES", "DATA", "INDEX",
                  "UNION", "WITH", "WITHOUT", "PARTITION", "REMOVE", "COALESCE", "REORGANIZE", "EXCHANGE", "ANALYZE",
                  "CHECK", "OPTIMIZE", "REBUILD", "REPAIR", "TRUNCATE", "DISCARD", "IMPORT")


class _TableChange:
    """The specifications of one ALTER TABLE, turned into target statements against the task's table definition."""

    def __init__(self, target: sql.Identifier, definition: dict[str, MySqlType | None]) -> None:
        self.target, self.definition = target, definition
        self.statements: list[sql.Composable] = []
        self.notes: list[str] = []
        self.suspend: list[str] = []

    def column(self, name: str) -> str | None:
        """The defined column ``name`` refers to (MySQL column names are case-insensitive)."""
        return next((c for c in self.definition if c.lower() == name.lower()), None)

    def alter(self, template: str, *parts: sql.Composable) -> None:
        self.statements.append(sql.SQL("ALTER TABLE {} " + template).format(self.target, *parts))

    def spec(self, reader: _Reader) -> None:
        if reader.accept("ADD"):
            self.add(reader)
        elif reader.accept("DROP"):
            self.drop(reader)
        elif reader.accept("MODIFY"):
            reader.accept("COLUMN")
            if_exists = reader.accept_all("IF", "EXISTS")
            self.retype(reader.name(), None, reader, if_exists)
        elif reader.accept("CHANGE"):
            reader.accept("COLUMN")
            if_exists = reader.accept_all("IF", "EXISTS")
            old = reader.name()
            self.retype(old, reader.name(), reader, if_exists)
        elif reader.accept("RENAME"):
            if reader.accept("COLUMN"):
                old = reader.name()
                if not reader.accept("TO"):
                    raise DdlSyntaxError("RENAME COLUMN a TO b expected")
                self.rename(old, reader.name())
            elif reader.accept("INDEX", "KEY"):
                self.notes.append("index changes are not captured")
            else:
                self.notes.append("RENAME TABLE is not captured from a MySQL source")
        elif reader.accept("ALTER"):
            if reader.accept("INDEX", "KEY", "CHECK", "CONSTRAINT"):
                self.notes.append("index and constraint changes are not captured")
            else:
                self.notes.append("a column default or visibility change is not captured")
        elif reader.accept("ALGORITHM", "LOCK"):
            pass  # how the server runs the ALTER, not what it changes
        elif (token := reader.peek()) is not None and token.keyword(*_TABLE_OPTIONS):
            self.notes.append(f"table option {token.text.upper()} is not captured")
        else:
            raise DdlSyntaxError("unknown ALTER TABLE specification")

    def add(self, reader: _Reader) -> None:
        if (token := reader.peek()) is not None and token.keyword(*_INDEX_WORDS):
            self.notes.append("index, constraint and partition changes are not captured")
            return
        reader.accept("COLUMN")
        if_not_exists = reader.accept_all("IF", "NOT", "EXISTS")
        if (opening := reader.peek()) is not None and opening.punct("("):
            body = reader.rest()
            if not body[-1].punct(")"):
                raise DdlSyntaxError("ADD COLUMN (...) expected")
            for part in _split(body[1:-1]):
                if not part[0].keyword(*_INDEX_WORDS):
                    self.add_column(_Reader(part), if_not_exists)
            return
        self.add_column(reader, if_not_exists)

    def add_column(self, reader: _Reader, if_not_exists: bool) -> None:
        name = reader.name()
        column_type = _read_type(reader)
        if if_not_exists and self.column(name) is not None:
            self.notes.append(f"ADD COLUMN IF NOT EXISTS {name!r}: the column exists already")
            return
        placed = _placement(reader.rest())
        target_type = redshift_type(column_type)
        if target_type is None:
            self.suspend.append(f"ADD COLUMN {name!r} {column_type}: no settled Redshift type for it")
            return
        self.alter("ADD COLUMN {} {}", sql.Identifier(name), target_type.sql())
        self.definition[name] = column_type
        self.notes.append(f"ADD COLUMN {name!r} {target_type}" + (f" (appended at the end: {placed} ignored)"
                                                                  if placed else ""))

    def drop(self, reader: _Reader) -> None:
        if (token := reader.peek()) is not None and token.keyword(*_INDEX_WORDS):
            self.notes.append("index, constraint and partition changes are not captured")
            return
        reader.accept("COLUMN")
        if_exists = reader.accept_all("IF", "EXISTS")
        name = reader.name()
        reader.accept("RESTRICT", "CASCADE")
        if not reader.done():
            raise DdlSyntaxError("unexpected text after DROP COLUMN")
        column = self.column(name)
        if column is None and if_exists:
            self.notes.append(f"DROP COLUMN IF EXISTS {name!r}: no such column")
            return
        self.alter("DROP COLUMN {}", sql.Identifier(column or name))
        self.definition.pop(column, None)
        self.notes.append(f"DROP COLUMN {name!r}")

    def rename(self, old: str, new: str) -> str:
        column = self.column(old) or old
        if column != new:
            self.alter("RENAME COLUMN {} TO {}", sql.Identifier(column), sql.Identifier(new))
            self.definition = {new if c == column else c: t for c, t in self.definition.items()}
            self.notes.append(f"RENAME COLUMN {old!r} TO {new!r}")
        return new

    def retype(self, old: str, new: str | None, reader: _Reader, if_exists: bool) -> None:
        """MODIFY (``new`` None) / CHANGE: a rename if the name changes, a type change if the type does."""
        new_type = _read_type(reader)
        placed = _placement(reader.rest())
        column = self.column(old)
        if column is None and if_exists:
            self.notes.append(f"{old!r}: no such column")
            return
        before = self.definition.get(column) if column is not None else None
        if before is None:
            self.suspend.append(f"column {old!r} is not in the task's table definition")
            return
        new = new or column
        if before == new_type:
            if self.rename(column, new) == column:
                self.notes.append(f"{old!r}: same data type {new_type}; default, nullability, character set or "
                                  "position changes are not captured")
            return
        was, becomes = redshift_type(before), redshift_type(new_type)
        if was is None or becomes is None or not (was.name == becomes.name == "VARCHAR"
                                                  and becomes.params[0] >= was.params[0]):
            self.suspend.append(f"{old!r} {before} -> {new_type}: Redshift can only widen a VARCHAR "
                                "(ALTER COLUMN ... TYPE VARCHAR(n))")
            return
        name = self.rename(column, new)
        self.alter("ALTER COLUMN {} TYPE {}", sql.Identifier(name), becomes.sql())
        self.definition[name] = new_type
        self.notes.append(f"{old!r} {before} -> {new_type}: {was} widened to {becomes}"
                          + (f" ({placed} ignored)" if placed else ""))


def _placement(tokens: list[Token]) -> str | None:
    """FIRST / AFTER col at the end of a column definition (DMS appends columns at the end regardless)."""
    depth = 0
    for n, token in enumerate(tokens):
        depth += token.punct("(") - token.punct(")")
        if depth == 0 and token.keyword("FIRST"):
            return "FIRST"
        if depth == 0 and token.keyword("AFTER") and n + 1 < len(tokens):
            return "AFTER"
    return None


def definitions_from_columns(rows: list[tuple[str, str, str]]) -> dict[str, dict[str, MySqlType | None]]:
    """Table definitions from ``information_schema.COLUMNS`` rows (table, column, COLUMN_TYPE) in ordinal order."""
    definitions: dict[str, dict[str, MySqlType | None]] = {}
    for table, column, column_type in rows:
        definitions.setdefault(table, {})[column] = parse_column_type(column_type)
    return definitions
