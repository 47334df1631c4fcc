"""blue_green: DeploymentState.from_api on DescribeBlueGreenDeployments entries, the plan_switchover decision
table (act, wait, adopt or refuse), require_completed after the wait, and green's binlog
coordinates from the RDS event published after a switchover (coordinates_from_event, find_coordinates).

Pure: no AWS, no Airflow, no estate.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from binlog_layouts import BLUE_ID, candidate_positions, layouts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdc_runbooks.action import Action
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.blue_green import (
    BlueGreenStateError,
    CoordinatesDisagree,
    DeploymentState,
    SwitchoverRolledBack,
    check_coordinates,
    coordinates_from_event,
    find_coordinates,
    plan_switchover,
    production_is_blue,
    require_completed,
)
from cdc_runbooks.refusal import Refusal
from cdc_runbooks.start_position import BinlogEvent, WriterBinlog

STATUSES = ("PROVISIONING", "AVAILABLE", "SWITCHOVER_IN_PROGRESS", "SWITCHOVER_COMPLETED",
            "INVALID_CONFIGURATION", "SWITCHOVER_FAILED", "DELETING")
REFUSED = ("PROVISIONING", "INVALID_CONFIGURATION", "SWITCHOVER_FAILED", "DELETING")

BGD_ID = "bgd-wi89nwzglccsfake"
BGD_NAME = "orders-mysql80-upgrade"
SOURCE = "arn:aws:rds:us-east-1:123456789012:cluster:orders-prod"
TARGET = "arn:aws:rds:us-east-1:123456789012:cluster:orders-prod-green-4ntk2q"
CREATED = datetime(2024, 5, 1, 9, 0, 0, tzinfo=UTC)

PREFIX = "Binary log coordinates in green environment after switchover: "
AWS_MESSAGE = PREFIX + "file mysql-bin-changelog.000003 and position 40134574"
AWS_POSITION = BinlogPosition("mysql-bin-changelog.000003", 40134574)

GREEN_WRITER = "orders-prod-instance-1-green-x7kq1p"
GREEN_READER = "orders-prod-instance-2-green-m2vb8d"
BLUE_WRITER = "orders-prod-instance-1"
SINCE = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
UNTIL = SINCE + timedelta(hours=2)  # the moment the events are read, plus the allowed clock skew


def api_entry(status: str = "AVAILABLE", status_details: str | None = None) -> dict:
    """A DescribeBlueGreenDeployments entry as boto3 returns it (extra keys from_api must ignore included)."""
    entry = {
        "BlueGreenDeploymentIdentifier": BGD_ID,
        "BlueGreenDeploymentName": BGD_NAME,
        "Source": SOURCE,
        "Target": TARGET,
        "SwitchoverDetails": [
            {"SourceMember": SOURCE, "TargetMember": TARGET, "Status": "AVAILABLE"},
            {"SourceMember": "arn:aws:rds:us-east-1:123456789012:db:orders-prod-instance-1",
             "TargetMember": f"arn:aws:rds:us-east-1:123456789012:db:{GREEN_WRITER}", "Status": "AVAILABLE"},
        ],
        "Tasks": [
            {"Name": "CREATING_READ_REPLICA_OF_SOURCE", "Status": "COMPLETED"},
            {"Name": "DB_ENGINE_VERSION_UPGRADE", "Status": "COMPLETED"},
        ],
        "Status": status,
        "CreateTime": CREATED,
        "TagList": [{"Key": "team", "Value": "data-platform"}],
    }
    if status_details is not None:
        entry["StatusDetails"] = status_details
    return entry


def state(status: str = "AVAILABLE", status_details: str | None = None) -> DeploymentState:
    return DeploymentState.from_api(api_entry(status, status_details))


def event(source: str, message: str, date: datetime) -> dict:
    """A DescribeEvents(SourceType='db-instance') entry as boto3 returns it."""
    return {"SourceIdentifier": source, "SourceType": "db-instance", "Message": message,
            "EventCategories": ["notification"], "Date": date,
            "SourceArn": f"arn:aws:rds:us-east-1:123456789012:db:{source}"}


def coordinates(file: str, position: int) -> str:
    return f"{PREFIX}file {file} and position {position}"


# --- DeploymentState ---------------------------------------------------------------------------------------------

def test_from_api_reads_a_describe_entry_without_status_details():
    assert state("AVAILABLE") == DeploymentState(identifier=BGD_ID, name=BGD_NAME, source=SOURCE, target=TARGET,
                                                 status="AVAILABLE", status_details=None)


def test_from_api_reads_status_details():
    details = "Switchover failed: replica lag on the green writer exceeded the switchover timeout"
    parsed = state("SWITCHOVER_FAILED", details)
    assert (parsed.status, parsed.status_details) == ("SWITCHOVER_FAILED", details)
    assert (parsed.identifier, parsed.name, parsed.source, parsed.target) == (BGD_ID, BGD_NAME, SOURCE, TARGET)


@pytest.mark.parametrize("missing", ["BlueGreenDeploymentIdentifier", "BlueGreenDeploymentName", "Source",
                                     "Target", "Status"])
def test_from_api_requires_the_identifying_fields(missing):
    entry = api_entry()
    del entry[missing]
    with pytest.raises(KeyError, match=missing):
        DeploymentState.from_api(entry)


def test_state_is_frozen():
    with pytest.raises(AttributeError):
        state().status = "SWITCHOVER_COMPLETED"  # type: ignore[misc]


@pytest.mark.parametrize(("status", "details", "text"), [
    ("AVAILABLE", None, f"blue/green deployment {BGD_NAME} ({BGD_ID}) is AVAILABLE"),
    ("AVAILABLE", "", f"blue/green deployment {BGD_NAME} ({BGD_ID}) is AVAILABLE"),
    ("INVALID_CONFIGURATION", "Binary logging is not enabled on the source cluster",
     f"blue/green deployment {BGD_NAME} ({BGD_ID}) is INVALID_CONFIGURATION "
     "(Binary logging is not enabled on the source cluster)"),
])
def test_describe(status, details, text):
    assert state(status, details).describe() == text


# --- plan_switchover ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "action"), [
    ("AVAILABLE", Action.ACT),
    ("SWITCHOVER_IN_PROGRESS", Action.WAIT),
    ("SWITCHOVER_COMPLETED", Action.ADOPT),
])
def test_plan_switchover_acts_waits_or_adopts(status, action):
    assert plan_switchover(state(status)) is action
    assert plan_switchover(state(status, "anything RDS says")) is action


@pytest.mark.parametrize(("status", "details"), [
    ("PROVISIONING", "Creating the green environment"),
    ("INVALID_CONFIGURATION", "The source cluster has a parameter group with binlog_format=STATEMENT"),
    ("SWITCHOVER_FAILED", "Switchover failed: green writer could not be promoted"),
    ("DELETING", "Deleting the blue/green deployment"),
])
def test_plan_switchover_refuses_every_other_status(status, details):
    with pytest.raises(BlueGreenStateError) as raised:
        plan_switchover(state(status, details))
    message = str(raised.value)
    assert message.startswith("refusing to switch over: ")
    assert status in message and details in message
    assert BGD_NAME in message and BGD_ID in message
    assert "Only an AVAILABLE deployment can be switched over" in message


@pytest.mark.parametrize("status", REFUSED)
def test_refusal_without_status_details_names_the_status(status):
    with pytest.raises(BlueGreenStateError, match=f"is {status}\\. Only an AVAILABLE") as raised:
        plan_switchover(state(status))
    assert "None" not in str(raised.value) and "()" not in str(raised.value)


@pytest.mark.parametrize("status", ["", "available", "Available", "SWITCHOVER_COMPLETED ", "UNKNOWN_NEW_STATUS"])
def test_plan_switchover_refuses_unknown_or_misspelled_statuses(status):
    with pytest.raises(BlueGreenStateError):
        plan_switchover(replace(state(), status=status))


def test_blue_green_state_error_is_a_refusal_and_a_runtime_error():
    assert issubclass(BlueGreenStateError, Refusal)
    assert issubclass(BlueGreenStateError, RuntimeError)
    with pytest.raises(Refusal):
        plan_switchover(state("SWITCHOVER_FAILED"))


def test_every_status_has_exactly_one_outcome():
    outcomes = {}
    for status in STATUSES:
        try:
            outcomes[status] = plan_switchover(state(status))
        except BlueGreenStateError:
            outcomes[status] = "refuse"
    assert outcomes == {"PROVISIONING": "refuse", "AVAILABLE": Action.ACT, "SWITCHOVER_IN_PROGRESS": Action.WAIT,
                        "SWITCHOVER_COMPLETED": Action.ADOPT, "INVALID_CONFIGURATION": "refuse",
                        "SWITCHOVER_FAILED": "refuse", "DELETING": "refuse"}


# --- require_completed ----------------------------------------------------------------------

def test_require_completed_accepts_a_completed_switchover():
    assert require_completed(state("SWITCHOVER_COMPLETED")) is None


@pytest.mark.parametrize(("status", "details"), [
    ("AVAILABLE", "Switchover timed out and was rolled back"),
    ("AVAILABLE", None),
    ("SWITCHOVER_FAILED", "Switchover failed: green writer could not be promoted"),
])
def test_require_completed_raises_rolled_back_with_production_still_blue(status, details):
    with pytest.raises(SwitchoverRolledBack) as raised:
        require_completed(state(status, details))
    message = str(raised.value)
    assert message.startswith("switchover did not complete: ")
    assert "production is still blue" in message
    assert status in message and BGD_NAME in message
    if details:
        assert details in message


@pytest.mark.parametrize("status", [s for s in STATUSES if s != "SWITCHOVER_COMPLETED"])
def test_require_completed_raises_for_every_other_status(status):
    with pytest.raises(SwitchoverRolledBack):
        require_completed(state(status))


def test_switchover_rolled_back_is_a_runtime_error_not_a_blue_green_state_error():
    assert issubclass(SwitchoverRolledBack, RuntimeError) and issubclass(SwitchoverRolledBack, Refusal)
    assert not issubclass(SwitchoverRolledBack, BlueGreenStateError)


# --- coordinates_from_event --------------------------------------------------------------------------------------

@pytest.mark.parametrize("message", [
    AWS_MESSAGE,
    AWS_MESSAGE + ".",
    "  " + AWS_MESSAGE + "  ",
    "\t" + AWS_MESSAGE + ".\n",
    "\r\n" + AWS_MESSAGE + "\r\n",
])
def test_reads_the_aws_coordinates_message(message):
    position = coordinates_from_event(message)
    assert position == AWS_POSITION
    assert str(position) == "mysql-bin-changelog.000003:40134574"


@pytest.mark.parametrize(("file", "position", "expected"), [
    ("mysql-bin-changelog.000003", 4, BinlogPosition("mysql-bin-changelog.000003", 4)),
    ("mysql-bin-changelog.157832", 18446744073709551615,
     BinlogPosition("mysql-bin-changelog.157832", 2**64 - 1)),
    ("mysql-bin-changelog.000003", "00000000000040134574", AWS_POSITION),
    ("mysql_bin.0000000001", 1975, BinlogPosition("mysql_bin.0000000001", 1975)),
])
def test_reads_edge_positions_and_files(file, position, expected):
    assert coordinates_from_event(coordinates(file, position)) == expected


@pytest.mark.parametrize("message", [
    "",
    "   ",
    "DB instance restarted",
    "Blue/green deployment switchover started.",
    "Blue/green deployment switchover completed. Blue and green environments have switched.",
    "Switchover from DB instance orders-prod-instance-1 to orders-prod-instance-1-green-x7kq1p completed.",
    "Binlog replication from blue to green is paused before switchover",
    PREFIX.strip(),
    PREFIX + "file mysql-bin-changelog.000003",
    PREFIX + "file mysql-bin-changelog.000003 and position",
    PREFIX + "file  and position 40134574",
    AWS_MESSAGE.lower(),
    AWS_MESSAGE.upper(),
    "Note: " + AWS_MESSAGE,
    AWS_MESSAGE + "..",
    AWS_MESSAGE + ". Resume consumers there.",
    AWS_MESSAGE + " and position 5",
    AWS_MESSAGE.replace("  ", " ").replace("file ", "file  "),
    AWS_MESSAGE + "\nsecond line",
])
def test_other_messages_are_not_coordinates(message):
    assert coordinates_from_event(message) is None


@pytest.mark.parametrize("position", [
    "-5", "+5", "1.5", "4e7", "0x10", "40 134 574", "40,134,574", "", "one",
    "\u0663\u0664\u0665\u0666",  # Arabic-Indic digits: str.isdigit, but not [0-9]
    "\uff14\uff10\uff11",  # full-width digits
    "9" * 21,  # longer than any 64-bit position
])
def test_malformed_positions_are_not_coordinates(position):
    assert coordinates_from_event(coordinates("mysql-bin-changelog.000003", position)) is None


@pytest.mark.parametrize("file", [
    "mysql bin-changelog.000003",
    "../etc/passwd.000001",
    "/rdsdbdata/log/binlog/mysql-bin-changelog.000003",
    "mysql-bin:changelog.000003",
    "mysql-bin-changelog.000003;DROP",
    "mysql-bin-ch\u00e4ngelog.000003",
    "mysql-bin-changelog.\u0660\u0660\u0660\u0660\u0660\u0663",
    "'mysql-bin-changelog.000003'",
    "mysql-bin-changelog.000003\x00",
])
def test_files_with_characters_outside_the_allowed_set_are_not_coordinates(file):
    assert coordinates_from_event(coordinates(file, 40134574)) is None


@pytest.mark.parametrize(("file", "position"), [
    ("mysql-bin-changelog", 40134574),  # no sequence number
    ("mysql-bin-changelog.3", 40134574),  # sequence shorter than 6 digits
    (".000003", 40134574),  # no basename
    ("mysql-bin-changelog..000003", 40134574),
    ("mysql-bin-changelog.000003.", 40134574),
    ("mysql-bin-changelog.000003", 0),  # before the 4-byte magic number
    ("mysql-bin-changelog.000003", 3),
    ("mysql-bin-changelog.000003", 2**64),  # 20 digits, beyond 64 bits
    ("mysql-bin-changelog.000003", "9" * 20),
])
def test_malformed_coordinates_that_pass_the_event_pattern_are_not_coordinates(file, position):
    assert coordinates_from_event(coordinates(file, position)) is None


# --- find_coordinates --------------------------------------------------------------------------------------------

def realistic_events() -> list[dict]:
    """The DescribeEvents history around a switchover, oldest first, with every kind of distractor."""
    return [
        # An earlier switchover's coordinates from the same instance name: before `since`.
        event(GREEN_WRITER, coordinates("mysql-bin-changelog.000001", 120), SINCE - timedelta(days=3)),
        event(GREEN_WRITER, coordinates("mysql-bin-changelog.000002", 99), SINCE - timedelta(microseconds=1)),
        event(BLUE_WRITER, "Blue/green deployment switchover started.", SINCE + timedelta(seconds=5)),
        event(GREEN_WRITER, "Blue/green deployment switchover started.", SINCE + timedelta(seconds=5)),
        # The green reader and old blue publish coordinates-like events too: not ours.
        event(GREEN_READER, coordinates("mysql-bin-changelog.000009", 777), SINCE + timedelta(seconds=40)),
        event(BLUE_WRITER, coordinates("mysql-bin-changelog.000120", 5555), SINCE + timedelta(seconds=41)),
        event(GREEN_WRITER, AWS_MESSAGE, SINCE + timedelta(seconds=42)),
        event(GREEN_WRITER, "Blue/green deployment switchover completed.", SINCE + timedelta(seconds=60)),
    ]


def test_finds_the_green_writers_coordinates_among_realistic_events():
    assert find_coordinates(realistic_events(), GREEN_WRITER, SINCE, UNTIL) == AWS_POSITION


def test_result_does_not_depend_on_event_order():
    events = realistic_events()
    for permutation in itertools.islice(itertools.permutations(events), 0, None, 997):
        assert find_coordinates(list(permutation), GREEN_WRITER, SINCE, UNTIL) == AWS_POSITION
    assert find_coordinates(list(reversed(events)), GREEN_WRITER, SINCE, UNTIL) == AWS_POSITION


def test_picks_the_newest_of_several_coordinates_events():
    newest = BinlogPosition("mysql-bin-changelog.000004", 4)
    events = [
        event(GREEN_WRITER, coordinates("mysql-bin-changelog.000003", 40134574), SINCE + timedelta(seconds=10)),
        event(GREEN_WRITER, coordinates(newest.file, newest.position), SINCE + timedelta(seconds=30)),
        event(GREEN_WRITER, coordinates("mysql-bin-changelog.000003", 99999999), SINCE + timedelta(seconds=20)),
    ]
    assert find_coordinates(events, GREEN_WRITER, SINCE, UNTIL) == newest
    # Newest by date, not by position: a later event with a smaller position still wins.
    events.append(event(GREEN_WRITER, coordinates("mysql-bin-changelog.000002", 4), SINCE + timedelta(minutes=5)))
    assert find_coordinates(events, GREEN_WRITER, SINCE, UNTIL) == BinlogPosition("mysql-bin-changelog.000002", 4)


def test_an_event_dated_exactly_at_since_counts():
    events = [event(GREEN_WRITER, AWS_MESSAGE, SINCE)]
    assert find_coordinates(events, GREEN_WRITER, SINCE, UNTIL) == AWS_POSITION
    assert find_coordinates(events, GREEN_WRITER, SINCE + timedelta(microseconds=1), UNTIL) is None


def test_compares_dates_across_time_zones():
    plus_two = timezone(timedelta(hours=2))
    before = event(GREEN_WRITER, coordinates("mysql-bin-changelog.000002", 5),
                   datetime(2024, 5, 1, 13, 59, 59, tzinfo=plus_two))  # 11:59:59 UTC
    after = event(GREEN_WRITER, AWS_MESSAGE, datetime(2024, 5, 1, 14, 0, 0, tzinfo=plus_two))  # 12:00 UTC
    assert find_coordinates([before], GREEN_WRITER, SINCE, UNTIL) is None
    assert find_coordinates([before, after], GREEN_WRITER, SINCE, UNTIL) == AWS_POSITION
    # 08:00 at UTC-5 is 13:00 UTC: newer than the +02:00 event although its wall clock reads earlier.
    minus_five = timezone(timedelta(hours=-5))
    later = event(GREEN_WRITER, coordinates("mysql-bin-changelog.000004", 4),
                  datetime(2024, 5, 1, 8, 0, 0, tzinfo=minus_five))
    assert find_coordinates([after, later], GREEN_WRITER, SINCE, UNTIL) == BinlogPosition(
        "mysql-bin-changelog.000004", 4)


@pytest.mark.parametrize("events", [
    [],
    [event(GREEN_WRITER, "Blue/green deployment switchover completed.", SINCE + timedelta(seconds=1))],
    [event(GREEN_WRITER, AWS_MESSAGE, SINCE - timedelta(seconds=1))],
    [event(GREEN_READER, AWS_MESSAGE, SINCE + timedelta(seconds=1))],
    [event(BLUE_WRITER, AWS_MESSAGE, SINCE + timedelta(seconds=1))],
    [event(GREEN_WRITER + "0", AWS_MESSAGE, SINCE + timedelta(seconds=1))],
    [event(GREEN_WRITER[:-1], AWS_MESSAGE, SINCE + timedelta(seconds=1))],
    [event(GREEN_WRITER.upper(), AWS_MESSAGE, SINCE + timedelta(seconds=1))],
    [{"Message": AWS_MESSAGE, "Date": SINCE + timedelta(seconds=1)}],  # no SourceIdentifier
], ids=["empty", "not-coordinates", "before-since", "green-reader", "blue-writer", "longer-name", "prefix-name",
        "other-case", "no-source"])
def test_none_when_the_green_writer_published_no_coordinates_since(events):
    assert find_coordinates(events, GREEN_WRITER, SINCE, UNTIL) is None


def test_a_newer_non_coordinates_event_does_not_hide_the_coordinates():
    events = [event(GREEN_WRITER, AWS_MESSAGE, SINCE + timedelta(seconds=1)),
              event(GREEN_WRITER, "DB instance restarted", SINCE + timedelta(hours=1))]
    assert find_coordinates(events, GREEN_WRITER, SINCE, UNTIL) == AWS_POSITION


def test_other_instances_dates_are_not_compared():
    # Only the green writer's events are dated against `since`; another source's odd Date never matters.
    events = [event(BLUE_WRITER, "DB instance restarted", None),  # type: ignore[arg-type]
              event(GREEN_WRITER, AWS_MESSAGE, SINCE)]
    assert find_coordinates(events, GREEN_WRITER, SINCE, UNTIL) == AWS_POSITION


def test_a_malformed_coordinates_event_does_not_hide_a_valid_one():
    events = [event(GREEN_WRITER, AWS_MESSAGE, SINCE + timedelta(seconds=1)),
              event(GREEN_WRITER, coordinates("mysql-bin-changelog", 40134574), SINCE - timedelta(days=1)),
              event(GREEN_WRITER, coordinates("mysql-bin-changelog.000003", 2), SINCE + timedelta(seconds=2))]
    assert find_coordinates(events, GREEN_WRITER, SINCE, UNTIL) == AWS_POSITION


# --- the window's upper bound -------------------------------------------------------------------------------------


def test_a_future_dated_event_does_not_win_over_this_switchovers_coordinates():
    """A skewed clock, a replayed or an injected event dated after the moment it is read cannot be this one's."""
    future = event(GREEN_WRITER, coordinates("mysql-bin-changelog.000009", 4), UNTIL + timedelta(seconds=1))
    assert find_coordinates([event(GREEN_WRITER, AWS_MESSAGE, SINCE), future], GREEN_WRITER, SINCE, UNTIL) == \
        AWS_POSITION
    assert find_coordinates([future], GREEN_WRITER, SINCE, UNTIL) is None


def test_an_event_dated_exactly_at_until_counts():
    events = [event(GREEN_WRITER, AWS_MESSAGE, UNTIL)]
    assert find_coordinates(events, GREEN_WRITER, SINCE, UNTIL) == AWS_POSITION
    assert find_coordinates(events, GREEN_WRITER, SINCE, UNTIL - timedelta(microseconds=1)) is None


# --- check_coordinates: the event against green's binlog ---------------------------------------------------------


def _green_binlog(*events: tuple[str, str, int, int, int]) -> WriterBinlog:
    """Green (server id 2) from (file, type, pos, server_id, end) rows."""
    rows = [BinlogEvent(f"mysql-bin-changelog.{file}", pos, kind, server, end)
            for file, kind, pos, server, end in events]
    files = {}
    for row in rows:
        files[row.file] = max(files.get(row.file, 0), row.end_position)
    return WriterBinlog("green-writer", 2, files, lambda file, start: [r for r in rows if r.file == file
                                                                        and r.position >= start])


GREEN_AFTER_SWITCHOVER = _green_binlog(
    ("000003", "Format_desc", 4, 2, 256), ("000003", "Gtid", 256, 1, 298), ("000003", "Xid", 298, 1, 329),
    ("000003", "Binlog_checkpoint", 329, 2, 380), ("000003", "Rotate", 380, 2, 427),
    ("000004", "Format_desc", 4, 2, 256), ("000004", "Gtid", 256, 2, 298), ("000004", "Xid", 298, 2, 329))


@pytest.mark.parametrize("position", ["mysql-bin-changelog.000003:329", "mysql-bin-changelog.000003:380",
                                      "mysql-bin-changelog.000003:427", "mysql-bin-changelog.000004:4",
                                      "mysql-bin-changelog.000004:256"])
def test_coordinates_with_only_housekeeping_after_the_replicated_history_are_confirmed(position):
    assert check_coordinates(BinlogPosition.parse(position), GREEN_AFTER_SWITCHOVER) == BinlogPosition(
        "mysql-bin-changelog.000003", 329)


def test_coordinates_inside_the_replicated_history_are_refused():
    with pytest.raises(CoordinatesDisagree, match=r"the coordinates mysql-bin-changelog\.000003:256 disagree with "
                                                  r"green-writer's binlog, where its own writes begin at "
                                                  r"mysql-bin-changelog\.000003:329: .*replicated from another server"):
        check_coordinates(BinlogPosition("mysql-bin-changelog.000003", 256), GREEN_AFTER_SWITCHOVER)


def test_coordinates_that_skip_greens_own_writes_are_refused():
    with pytest.raises(CoordinatesDisagree, match=r"starting at mysql-bin-changelog\.000004:329 would skip 2 of its "
                                                  r"events \(the first Gtid at mysql-bin-changelog\.000004:256\)"):
        check_coordinates(BinlogPosition("mysql-bin-changelog.000004", 329), GREEN_AFTER_SWITCHOVER)


def test_coordinates_cannot_be_confirmed_without_replicated_history():
    alone = _green_binlog(("000004", "Format_desc", 4, 2, 256), ("000004", "Gtid", 256, 2, 298))
    with pytest.raises(CoordinatesDisagree, match="holds nothing replicated from blue"):
        check_coordinates(BinlogPosition("mysql-bin-changelog.000004", 256), alone)


def test_a_coordinates_disagreement_is_a_refusal():
    assert issubclass(CoordinatesDisagree, Refusal)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(green=layouts(), blue=layouts(server_id=BLUE_ID), offsets=st.lists(st.integers(4, 3_000), max_size=6))
def test_exactly_the_coordinates_equivalent_to_the_end_of_replicated_history_are_confirmed(green, blue, offsets):
    """Whatever green's binlog and whatever position an event claims: confirmed exactly when a reader started there
    applies the same whole transactions as one started where green's own writes begin — all of green's own
    transactions after the last replicated one, none replicated."""
    foreign = [t for t in green.transactions if t.server_id != green.server_id]
    for position in candidate_positions(green, blue, offsets):
        try:
            check_coordinates(position, green.binlog())
            confirmed = True
        except CoordinatesDisagree:
            confirmed = False
        begins = max((t.end for t in foreign), key=green.order, default=None)
        equivalent = (begins is not None and position in green.positions()
                      and not green.splits_a_transaction(position)
                      and green.applied_from(position) == green.applied_from(begins))
        assert confirmed == equivalent, position


@pytest.mark.parametrize("status, blue", [
    ("AVAILABLE", True), ("SWITCHOVER_FAILED", True), ("SWITCHOVER_IN_PROGRESS", False),
    ("SWITCHOVER_COMPLETED", False), ("PROVISIONING", False), ("INVALID_CONFIGURATION", False),
])
def test_production_is_blue_only_before_or_after_a_rolled_back_switchover(status, blue):
    assert production_is_blue(state(status)) is blue


def test_two_newest_coordinates_events_naming_different_positions_are_a_disagreement():
    """A replayed or injected event dated like the real one: neither can be trusted over the other."""
    events = [event(GREEN_WRITER, AWS_MESSAGE, SINCE + timedelta(seconds=5)),
              event(GREEN_WRITER, coordinates("mysql-bin-changelog.000003", 329), SINCE + timedelta(seconds=5))]
    with pytest.raises(CoordinatesDisagree, match="naming different positions"):
        find_coordinates(events, GREEN_WRITER, SINCE, UNTIL)
    assert find_coordinates([events[0], dict(events[0])], GREEN_WRITER, SINCE, UNTIL) == AWS_POSITION  # duplicated


def test_an_event_without_a_time_zone_is_ignored():
    naive = event(GREEN_WRITER, coordinates("mysql-bin-changelog.000003", 329), datetime(2024, 5, 1, 12, 0, 5))
    assert find_coordinates([naive, event(GREEN_WRITER, AWS_MESSAGE, SINCE)], GREEN_WRITER, SINCE, UNTIL) == \
        AWS_POSITION
