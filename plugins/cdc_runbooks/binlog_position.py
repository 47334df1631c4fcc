"""Binlog positions: the ``file:position`` coordinates a MySQL CDC reader resumes from.

A position is meaningful on one server only: blue and green of a blue/green
deployment both write ``mysql-bin-changelog.NNNNNN`` files, at different offsets.
This module parses, formats and orders positions; it never decides which server
a position belongs to.

Accepted spellings (see StartReplicationTask, CdcStartPosition:
https://docs.aws.amazon.com/dms/latest/APIReference/API_StartReplicationTask.html):

* native ``mysql-bin-changelog.000024:373``;
* a DMS checkpoint ``checkpoint:V1#27#mysql-bin-changelog.157832:1975:-1:2002:...``, whose first
  ``file:position`` is the position it stands for.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from cdc_runbooks.identifiers import shown, whole_string
from cdc_runbooks.refusal import Refusal

EXPECTED_FORM = "'<binlog file>:<position>', e.g. 'mysql-bin-changelog.000024:373'"
_FILE = r"(?P<file>(?P<basename>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*?)\.(?P<sequence>[0-9]{6,10}))"
_NATIVE = re.compile(rf"^{_FILE}:(?P<position>[0-9]{{1,20}})\Z")
# A checkpoint is printable ASCII without spaces; its first file:position is where it stands.
_CHECKPOINT = re.compile(rf"^checkpoint:V1#[0-9]+#{_FILE}:(?P<position>[0-9]{{1,20}}):[!-~]*\Z")
# The same rule for a JSON-schema Param (ECMA regex): native form or DMS checkpoint, as the whole value.
PARAM_PATTERN = whole_string(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.[0-9]{6,10}:[0-9]{1,20}"
                             r"|checkpoint:V1#[0-9]+#[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.[0-9]{6,10}:[0-9]{1,20}:[!-~]*")
# Longest accepted value, as the DAG param's maxLength: a DMS checkpoint is about a hundred characters.
MAX_LENGTH = 300
# The first event of every binlog file starts after its 4-byte magic number.
FIRST_EVENT_POSITION = 4
_MAX_POSITION = 2**64 - 1


class InvalidBinlogPosition(Refusal, ValueError):
    """A value that is not a binlog position; the message quotes it and shows the expected form."""


@functools.total_ordering
@dataclass(frozen=True)
class BinlogPosition:
    """``file:position`` on one server's binlog, ordered within that server's file sequence."""

    file: str
    position: int

    def __post_init__(self) -> None:
        if not _NATIVE.match(f"{self.file}:{self.position}") or not (
                FIRST_EVENT_POSITION <= self.position <= _MAX_POSITION):
            raise InvalidBinlogPosition(
                f"invalid binlog position {self.file!r}:{self.position!r}: expected {EXPECTED_FORM}, "
                f"with a position of at least {FIRST_EVENT_POSITION}")

    @classmethod
    def parse(cls, value: str, field: str | None = None) -> BinlogPosition:
        """Parse a native position or a DMS checkpoint string; raise InvalidBinlogPosition otherwise (its message
        starting with ``field`` when given, e.g. the operator argument the value came from)."""
        where = f"{field}: " if field else ""
        if not isinstance(value, str):
            raise InvalidBinlogPosition(f"{where}invalid binlog position {shown(value)}: expected a string "
                                        f"{EXPECTED_FORM}")
        if len(value) > MAX_LENGTH:
            raise InvalidBinlogPosition(f"{where}invalid binlog position {value[:60]!r}...: {len(value)} characters, "
                                        f"at most {MAX_LENGTH}")
        match = _NATIVE.match(value.strip()) or _CHECKPOINT.match(value.strip())
        if match is None or not FIRST_EVENT_POSITION <= int(match["position"]) <= _MAX_POSITION:
            raise InvalidBinlogPosition(
                f"{where}invalid binlog position {shown(value, 200)}: expected {EXPECTED_FORM} (position at least "
                f"{FIRST_EVENT_POSITION}) or a DMS checkpoint 'checkpoint:V1#<n>#<binlog file>:<position>:...'")
        return cls(match["file"], int(match["position"]))

    @property
    def basename(self) -> str:
        """The file name without its sequence number, e.g. ``mysql-bin-changelog``."""
        return self.file.rsplit(".", 1)[0]

    @property
    def sequence(self) -> int:
        """The file's sequence number, e.g. 24 for ``mysql-bin-changelog.000024``."""
        return int(self.file.rsplit(".", 1)[1])

    def __str__(self) -> str:
        return f"{self.file}:{self.position}"

    def __lt__(self, other: BinlogPosition) -> bool:
        if not isinstance(other, BinlogPosition):
            return NotImplemented
        if other.basename != self.basename:
            raise TypeError(f"cannot order {self} and {other}: they belong to different binlog sequences")
        return (self.sequence, self.position) < (other.sequence, other.position)
