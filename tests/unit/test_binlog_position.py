"""BinlogPosition: parsing, formatting, ordering; pure (no Airflow, no estate)."""

from __future__ import annotations

import pytest

from cdc_runbooks.binlog_position import BinlogPosition, InvalidBinlogPosition


def test_parses_and_formats_the_native_form():
    position = BinlogPosition.parse("mysql-bin-changelog.000024:373")
    assert (position.file, position.position) == ("mysql-bin-changelog.000024", 373)
    assert (position.basename, position.sequence) == ("mysql-bin-changelog", 24)
    assert str(position) == "mysql-bin-changelog.000024:373"


def test_parses_a_dms_checkpoint_as_its_first_position():
    checkpoint = ("checkpoint:V1#27#mysql-bin-changelog.157832:1975:-1:2002:677883278264080:"
                  "mysql-bin-changelog.157832:1876#0#0#*#0#93")
    assert BinlogPosition.parse(checkpoint) == BinlogPosition("mysql-bin-changelog.157832", 1975)


def test_orders_within_one_sequence():
    positions = [BinlogPosition.parse(p) for p in (
        "mysql-bin-changelog.000003:4", "mysql-bin-changelog.000002:99999", "mysql-bin-changelog.000003:120")]
    assert [str(p) for p in sorted(positions)] == [
        "mysql-bin-changelog.000002:99999", "mysql-bin-changelog.000003:4", "mysql-bin-changelog.000003:120"]
    assert BinlogPosition.parse("mysql-bin-changelog.000003:4") <= BinlogPosition.parse("mysql-bin-changelog.000003:4")


def test_refuses_to_order_positions_of_different_sequences():
    with pytest.raises(TypeError, match="different binlog sequences"):
        _ = BinlogPosition.parse("mysql-bin-changelog.000003:4") < BinlogPosition.parse("blue-bin.000003:9")


@pytest.mark.parametrize("bad", [
    "", "mysql-bin-changelog.000024", "mysql-bin-changelog.000024:", ":373", "mysql-bin-changelog:373",
    "mysql-bin-changelog.000024:-1", "mysql-bin-changelog.000024:3", "mysql-bin-changelog.000024:37x",
    "mysql-bin-changelog.000024:373; DROP TABLE x", "../etc/passwd.000001:4", "mysql bin.000001:4",
    "checkpoint:V1#27#", "mysql-bin-changelog.000024:" + "9" * 25,
])
def test_rejects_malformed_values_quoting_them(bad):
    with pytest.raises(InvalidBinlogPosition) as error:
        BinlogPosition.parse(bad)
    assert repr(bad[:200]) in str(error.value) or repr(bad) in str(error.value)
    assert "mysql-bin-changelog.000024:373" in str(error.value)


def test_rejects_non_strings():
    with pytest.raises(InvalidBinlogPosition, match="expected a string"):
        BinlogPosition.parse(373)  # type: ignore[arg-type]
