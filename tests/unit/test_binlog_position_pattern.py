"""PARAM_PATTERN (the JSON-schema pattern of the runbooks' position Param) against BinlogPosition.parse.

The Param is validated by jsonschema, which applies ``pattern`` with Python's ``re.search``; Python ``re`` is the
stand-in for the ECMA regex the pattern is written in. For a broad table of values the two must agree. Where they
legitimately differ, the difference is spelled out below and the test checks that ``parse`` is the one that
refuses the value (the pattern is a first line of defence in the trigger form; ``parse`` is the rule):

* the pattern cannot express ranges: a position below 4 or above 2**64 - 1 (with at most 20 digits) matches it;
* ``parse`` strips surrounding whitespace (the operator strips too), the pattern matches the whole value and
  refuses it, including one final newline (before which Python's ``$`` alone would match; ECMA's would not).

Pure: no Airflow, no estate.
"""

from __future__ import annotations

import re

import jsonschema
import pytest

from cdc_runbooks.binlog_position import PARAM_PATTERN, BinlogPosition, InvalidBinlogPosition

CHECKPOINT = ("checkpoint:V1#27#mysql-bin-changelog.157832:1975:-1:2002:677883278264080:"
              "mysql-bin-changelog.157832:1876#0#0#*#0#93")
MAX = 2**64 - 1

VALID = [
    # native file:position
    "mysql-bin-changelog.000024:373",
    "mysql-bin-changelog.000024:4",  # the first event of a file
    "mysql-bin-changelog.157832:1975",
    "mysql-bin.000001:4",
    "binlog.0000000001:120",  # 10-digit sequence
    "mysql-bin-changelog.000024:0004",  # leading zeros: position 4
    f"mysql-bin-changelog.000024:{MAX}",  # the largest position
    "mysql-bin-changelog.000024:99999999999999999",
    "a.000001:4",
    "A_b-C.000001:4",
    "host.example.com-bin.000001:4",  # dotted base name
    "mysql-bin.000001.000002:4",  # a base name that itself ends in digits
    "_.000001:4",
    "-.000001:4",
    # DMS checkpoints: the first file:position is the position
    CHECKPOINT,
    "checkpoint:V1#1#mysql-bin-changelog.000024:373:",  # empty tail
    "checkpoint:V1#0#mysql-bin-changelog.000024:4:-1",
    "checkpoint:V1#123456789#binlog.0000000001:120:-1:2002:0:binlog.0000000001:4#0#0#*#0#1",
    f"checkpoint:V1#27#mysql-bin-changelog.000024:{MAX}:x",
    # the checkpoint tail is printable ASCII without spaces (it goes to the DMS API, never into SQL)
    "checkpoint:V1#27#mysql-bin-changelog.000024:373:';DROP_TABLE_orders;--",
]

INVALID = [
    # a checkpoint tail with spaces, tabs or non-ASCII is not one DMS wrote
    "checkpoint:V1#27#mysql-bin-changelog.000024:373:'; DROP TABLE orders; --",
    "checkpoint:V1#27#mysql-bin-changelog.000024:373:`rm -rf /`",
    "checkpoint:V1#27#mysql-bin-changelog.000024:373:\u00e4\u00f6\u00fc \u2603 \"quoted\"",
    "checkpoint:V1#27#mysql-bin-changelog.000024:373:\ttab",
    "",
    " ",
    "\n",
    # incomplete
    "mysql-bin-changelog.000024",
    "mysql-bin-changelog.000024:",
    ":373",
    "mysql-bin-changelog:373",  # no sequence
    "mysql-bin-changelog.:373",
    ".000024:373",  # no base name
    "mysql-bin-changelog.00024:373",  # 5-digit sequence
    "mysql-bin-changelog.00000000024:373",  # 11-digit sequence
    "mysql-bin-changelog.000024:373:",  # native with a tail
    "mysql-bin-changelog.000024::373",
    "mysql-bin-changelog..000024:373",
    "mysql-bin-changelog.000024.:373",
    # not a number
    "mysql-bin-changelog.000024:-1",
    "mysql-bin-changelog.000024:+373",
    "mysql-bin-changelog.000024:37x",
    "mysql-bin-changelog.000024:3.5",
    "mysql-bin-changelog.000024:0x1f",
    "mysql-bin-changelog.000024:1e9",
    # huge numbers
    "mysql-bin-changelog.000024:" + "1" * 21,
    "mysql-bin-changelog.000024:" + "9" * 25,
    "mysql-bin-changelog.000024:" + "0" * 20 + "4",
    # hostile
    "mysql-bin-changelog.000024:373; DROP TABLE x",
    "mysql-bin-changelog.000024:373'",
    "'mysql-bin-changelog.000024:373'",
    '"mysql-bin-changelog.000024:373"',
    "`mysql-bin-changelog.000024`:373",
    "mysql-bin-changelog.000024:373`",
    "mysql-bin-changelog.000024:373 -- x",
    "mysql-bin-changelog.000024:373\nDROP TABLE x",
    "mysql-bin-changelog.000024\n:373",
    "x\nmysql-bin-changelog.000024:373",
    "mysql-bin-changelog.000024:373\x00",
    "mysql bin.000001:4",
    "mysql/bin.000001:4",
    "../etc/passwd.000001:4",
    "mysql-bin-changelog.000024:373\u200b",  # zero-width space
    "m\u00fcsql-bin.000001:4",  # non-ASCII base name
    "mysql\u2010bin.000001:4",  # unicode hyphen
    "mysql-bin-changelog.000024\uff1a373",  # fullwidth colon
    "${jndi:ldap://x}.000001:4",
    "%73ql-bin.000001:4",
    # checkpoints that are not
    "checkpoint:V1#27#",
    "checkpoint:V1#27#mysql-bin-changelog.157832:1975",  # no ':' after the position
    "checkpoint:V1#27#mysql-bin-changelog.157832",
    "checkpoint:V2#27#mysql-bin-changelog.157832:1975:-1",
    "checkpoint:v1#27#mysql-bin-changelog.157832:1975:-1",
    "Checkpoint:V1#27#mysql-bin-changelog.157832:1975:-1",
    "checkpoint:V1##mysql-bin-changelog.157832:1975:-1",
    "checkpoint:V1#x#mysql-bin-changelog.157832:1975:-1",
    "checkpoint:V1#27#mysql-bin-changelog.157832:-1:-1",
    "checkpoint:V1#27#mysql bin.157832:1975:-1",
    "checkpoint:V1#27#mysql-bin-changelog.157832:" + "9" * 21 + ":-1",
    "x" + CHECKPOINT,
    "checkpoint:" + "mysql-bin-changelog.000024:373",
    "mysql-bin-changelog.000024:373" + CHECKPOINT,
]

# The pattern matches, parse refuses: ranges the pattern cannot express.
POSITION_OUT_OF_RANGE = [
    "mysql-bin-changelog.000024:0",
    "mysql-bin-changelog.000024:1",
    "mysql-bin-changelog.000024:3",
    "mysql-bin-changelog.000024:0003",
    "mysql-bin-changelog.000024:" + "0" * 20,
    f"mysql-bin-changelog.000024:{MAX + 1}",
    "mysql-bin-changelog.000024:" + "9" * 20,
    "checkpoint:V1#27#mysql-bin-changelog.000024:0:-1",
    "checkpoint:V1#27#mysql-bin-changelog.000024:3:-1:2002",
    f"checkpoint:V1#27#mysql-bin-changelog.000024:{MAX + 1}:-1",
]

# parse strips, the pattern is anchored: the Param is the stricter one, and the operator strips what it is given.
SURROUNDING_WHITESPACE = [
    " mysql-bin-changelog.000024:373",
    "mysql-bin-changelog.000024:373 ",
    "\tmysql-bin-changelog.000024:373\t",
    "\nmysql-bin-changelog.000024:373",
    "mysql-bin-changelog.000024:373\r\n",
    "mysql-bin-changelog.000024:373\n\n",
    "mysql-bin-changelog.000024:373\n",  # one final newline: Python's $ alone would match before it
    CHECKPOINT + "\n",
    " " + CHECKPOINT,
]


def pattern_accepts(value: str) -> bool:
    return re.search(PARAM_PATTERN, value) is not None


def parse_accepts(value: str) -> bool:
    try:
        BinlogPosition.parse(value)
    except InvalidBinlogPosition:
        return False
    return True


def test_the_tables_do_not_overlap():
    tables = [VALID, INVALID, POSITION_OUT_OF_RANGE, SURROUNDING_WHITESPACE]
    everything = [value for table in tables for value in table]
    assert len(everything) == len(set(everything))


def test_the_pattern_compiles_as_a_json_schema_pattern():
    jsonschema.Draft202012Validator.check_schema({"type": "string", "pattern": PARAM_PATTERN})
    assert PARAM_PATTERN.startswith("^") and PARAM_PATTERN.endswith("$(?!\\n)")


@pytest.mark.parametrize("value", VALID)
def test_valid_values_are_accepted_by_both(value):
    assert pattern_accepts(value) is True
    assert parse_accepts(value) is True


@pytest.mark.parametrize("value", INVALID)
def test_invalid_values_are_refused_by_both(value):
    assert pattern_accepts(value) is False
    assert parse_accepts(value) is False


@pytest.mark.parametrize("value", VALID + INVALID)
def test_the_param_validator_agrees_with_parse(value):
    """The same check through jsonschema, as Airflow's Param runs it (type string or null, pattern)."""
    validator = jsonschema.Draft202012Validator({"type": ["null", "string"], "pattern": PARAM_PATTERN})
    assert validator.is_valid(value) is parse_accepts(value)


@pytest.mark.parametrize("value", POSITION_OUT_OF_RANGE)
def test_a_position_out_of_range_matches_the_pattern_but_parse_refuses_it(value):
    assert pattern_accepts(value) is True  # the pattern has no way to say ">= 4" or "<= 2**64 - 1"
    with pytest.raises(InvalidBinlogPosition, match="position at least 4"):
        BinlogPosition.parse(value)


@pytest.mark.parametrize("value", SURROUNDING_WHITESPACE)
def test_surrounding_whitespace_is_refused_by_the_pattern_and_stripped_by_parse(value):
    assert pattern_accepts(value) is False
    assert BinlogPosition.parse(value) == BinlogPosition.parse(value.strip())
    assert pattern_accepts(value.strip()) is True


@pytest.mark.parametrize(("value", "file", "position"), [
    ("mysql-bin-changelog.000024:373", "mysql-bin-changelog.000024", 373),
    ("mysql-bin-changelog.000024:0004", "mysql-bin-changelog.000024", 4),
    ("mysql-bin.000001.000002:4", "mysql-bin.000001.000002", 4),
    ("host.example.com-bin.000001:4", "host.example.com-bin.000001", 4),
    (CHECKPOINT, "mysql-bin-changelog.157832", 1975),
    ("checkpoint:V1#27#mysql-bin-changelog.000024:373:';DROP_TABLE_orders;--", "mysql-bin-changelog.000024", 373),
])
def test_what_an_accepted_value_stands_for(value, file, position):
    assert pattern_accepts(value)
    assert BinlogPosition.parse(value) == BinlogPosition(file, position)


def test_the_pattern_is_written_for_ecma_digits():
    """ECMA's ``\\d`` is [0-9]; re.ASCII gives Python the same meaning. In ASCII both engines agree."""
    assert re.search(PARAM_PATTERN, "mysql-bin-changelog.000024:373", re.ASCII)
    assert not re.search(PARAM_PATTERN, "mysql-bin-changelog.000024:\u0663\u0667\u0663", re.ASCII)


@pytest.mark.parametrize("value", [
    "mysql-bin-changelog.000024:\u0663\u0667\u0663",  # Arabic-Indic digits: parses as position 373
    "mysql-bin-changelog.000024:\uff13\uff17\uff13",  # fullwidth digits
    "mysql-bin-changelog.\uff10\uff10\uff10\uff10\uff12\uff14:373",  # a file name no server has
    "checkpoint:V1#\u0662\u0667#mysql-bin-changelog.000024:\u0663\u0667\u0663:-1",
])
def test_non_ascii_digits_are_refused(value):
    assert parse_accepts(value) is False
    assert pattern_accepts(value) is False


@pytest.mark.parametrize("value", [
    "checkpoint:V1#27#mysql-bin-changelog.000024:373:-1\nDROP TABLE orders",
    "checkpoint:V1#27#mysql-bin-changelog.000024:373:\n\n-1",
])
def test_a_checkpoint_spanning_lines_is_refused_by_both(value):
    assert pattern_accepts(value) is False
    assert parse_accepts(value) is False
