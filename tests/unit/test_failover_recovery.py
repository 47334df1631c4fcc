"""plan_recovery: verify, resume, resume after a truncated tail, or refuse — for every task state and binlog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.dms_task import DmsTaskStateError, ReplicationTask
from cdc_runbooks.failover_recovery import MAX_TRUNCATED_TAIL, Recovery, next_step, plan_recovery, restart_question

FILES = {"mysql-bin.000001": 9000, "mysql-bin.000002": 1200, "mysql-bin.000003": 385, "mysql-bin.000004": 0}


FAILED_AT = datetime(2026, 12, 2, 3, 4, 5, tzinfo=UTC)


def task(status: str, checkpoint: str | None = None) -> ReplicationTask:
    return ReplicationTask(arn="arn:aws:dms:us-east-1:123456789012:task:T", identifier="T", status=status,
                           migration_type="cdc", recovery_checkpoint=checkpoint, stop_date=FAILED_AT)


def checkpoint(file: str, position: int) -> str:
    return f"checkpoint:V1#7#{file}:{position}:-1:{position}:0:{file}:{position}#0#0#*#0#0"


@pytest.mark.parametrize("status", ["running", "starting"])
def test_a_running_task_is_only_verified(status):
    plan = plan_recovery(task(status, checkpoint("mysql-bin.000001", 100)), "prod-reader", FILES)
    assert (plan.recovery, plan.position, plan.restarts) == (Recovery.VERIFY, None, False)


def test_a_failed_task_resumes_from_its_checkpoint_on_the_writer():
    plan = plan_recovery(task("failed", checkpoint("mysql-bin.000002", 1200)), "prod-reader", FILES)
    assert (plan.recovery, plan.position, plan.cost) == (Recovery.RESUME, "mysql-bin.000002:1200", None)


def test_a_checkpoint_past_its_files_end_resumes_at_the_next_file_and_says_what_was_lost():
    plan = plan_recovery(task("failed", checkpoint("mysql-bin.000002", 1500)), "prod-reader", FILES)
    assert (plan.recovery, plan.position) == (Recovery.RESUME_AFTER_LOSS, "mysql-bin.000003:4")
    assert "300 bytes" in plan.cost and "reconcile names" in plan.cost and plan.cost in plan.describe()


def test_a_truncated_last_file_resumes_at_its_end():
    plan = plan_recovery(task("failed", checkpoint("mysql-bin.000003", 999)), "w", dict(list(FILES.items())[:3]))
    assert (plan.recovery, plan.position) == (Recovery.RESUME_AFTER_LOSS, "mysql-bin.000003:385")


@pytest.mark.parametrize("state, match", [
    (task("failed"), "no RecoveryCheckpoint"),
    (task("failed", checkpoint("mysql-bin.000003", 385 + MAX_TRUNCATED_TAIL + 1)), "another server"),
    (task("failed", checkpoint("mysql-bin.000004", 120)), "damaged"),
    (task("failed", checkpoint("mysql-bin.000009", 4)), "does not have"),
    (task("stopped", checkpoint("mysql-bin.000001", 4)), "stopped on purpose"),  # a pause is not undone
    (task("ready"), "stopped on purpose"),
    (task("stopping", checkpoint("mysql-bin.000001", 4)), "not failed"),
    (task("running", checkpoint("mysql-bin.000002", 1500)), "about to fail|fails within its retries"),
])
def test_what_a_person_must_decide_is_refused(state, match):
    with pytest.raises(DmsTaskStateError, match=match):
        plan_recovery(state, "w", FILES)


NAMES = st.lists(st.from_regex(r"(mysql|bin)-bin\.0000[0-9]{2}", fullmatch=True), min_size=0, max_size=5,
                 unique=True)


@given(names=NAMES, sizes=st.lists(st.integers(0, 2**40), min_size=5, max_size=5),
       file=st.from_regex(r"(mysql|bin)-bin\.0000[0-9]{2}", fullmatch=True), position=st.integers(4, 2**41),
       status=st.just("failed"))
def test_a_restart_is_only_ever_planned_inside_the_writers_binlog(names, sizes, file, position, status):
    files = dict(zip(names, sizes, strict=False))
    try:
        plan = plan_recovery(task(status, checkpoint(file, position)), "w", files)
    except DmsTaskStateError:
        assert file not in files or files[file] < 4 or position - files[file] > MAX_TRUNCATED_TAIL
        return
    start = BinlogPosition.parse(plan.position)
    assert start.file in files and start.position <= files[start.file]
    if plan.recovery is Recovery.RESUME:
        assert start == BinlogPosition(file, position)
    else:  # never before the checkpoint: what CDC read is not read again
        assert position > files[file] and plan.cost
        assert list(files).index(start.file) >= list(files).index(file)


def claimed(*kinds: str, manual: bool = False, before_failure: timedelta = timedelta(minutes=2)) -> dict:
    """claim_events' result: events of ``kinds``, dated ``before_failure`` before the task failed."""
    return {"events": [{"kind": kind, "event_id": f"e{i}", "time": (FAILED_AT - before_failure).isoformat()}
                       for i, kind in enumerate(kinds)], "duplicates": [], "ignored": [], "manual": manual}


def test_the_step_after_assess_follows_its_plan_and_who_started_the_run():
    restart = plan_recovery(task("failed", checkpoint("mysql-bin.000002", 1200)), "w", FILES).to_dict()
    verify = plan_recovery(task("running"), "w", FILES).to_dict()
    steps = {(plan["recovery"], started): next_step(plan, run)[0] for plan in (restart, verify)
             for started, run in (("failover", claimed("failover")), ("hand", claimed(manual=True)),
                                  ("task_failed", claimed("task_failed")),
                                  ("both", claimed("task_failed", "failover")),
                                  ("old failover", claimed("failover", before_failure=timedelta(days=3))))}
    assert steps == {("resume", "failover"): "restart_cdc", ("resume", "hand"): "restart_cdc",
                     ("resume", "task_failed"): "approve_restart", ("resume", "both"): "restart_cdc",
                     ("resume", "old failover"): "approve_restart",
                     ("verify", "failover"): "reconcile", ("verify", "hand"): "reconcile",
                     ("verify", "task_failed"): None, ("verify", "both"): "reconcile",
                     ("verify", "old failover"): "reconcile"}


TIMES = st.one_of(st.integers(-3 * 3600, 3 * 3600).map(lambda s: (FAILED_AT - timedelta(seconds=s)).isoformat()),
                  st.sampled_from([None, 7, "", "yesterday", FAILED_AT.replace(tzinfo=None).isoformat()]))


@given(events=st.lists(st.fixed_dictionaries({"kind": st.sampled_from(["failover", "task_failed", None, 7]),
                                              "time": TIMES}), max_size=4),
       failovers=st.lists(TIMES, max_size=2), manual=st.one_of(st.booleans(), st.just("yes")),
       stopped_at=st.sampled_from([FAILED_AT.isoformat(), None]))
def test_a_restart_goes_ahead_alone_only_when_a_person_asked_or_a_failover_just_before_explains_it(
        events, failovers, manual, stopped_at):
    """The failover may be an event of the run or in RDS's event history (the plan's ``failovers``)."""
    plan = {"restarts": True, "task_status": "failed", "stopped_at": stopped_at, "failovers": failovers}
    step, why = next_step(plan, {"events": events, "manual": manual})

    def explains(time) -> bool:
        if stopped_at is None or not isinstance(time, str):
            return False
        try:
            before = FAILED_AT - datetime.fromisoformat(time)
        except (TypeError, ValueError):  # not a time, or one without its zone
            return False
        return -timedelta(minutes=5) <= before <= timedelta(hours=1)

    alone = manual is True or any(explains(e["time"]) for e in events if e["kind"] == "failover") or any(
        explains(time) for time in failovers)
    assert step == ("restart_cdc" if alone else "approve_restart") and why


@given(kinds=st.lists(st.sampled_from(["failover", "task_failed", None, 7]), max_size=4), manual=st.booleans())
def test_a_verification_needs_no_one_and_a_run_of_failures_alone_finds_nothing_to_do(kinds, manual):
    step, why = next_step({"restarts": False, "task_status": "running"},
                          {"events": [{"kind": kind} for kind in kinds], "manual": manual})
    assert step == ("reconcile" if manual or "failover" in kinds else None) and why


@pytest.mark.parametrize("plan, run", [(None, claimed()), ({}, claimed()), ("plan", claimed()),
                                       ({"restarts": True}, None), ({"restarts": True}, {"events": "x"})])
def test_the_step_after_assess_refuses_without_its_plan_or_claim(plan, run):
    with pytest.raises(DmsTaskStateError, match="Clear (assess|claim_events)"):
        next_step(plan, run)


def test_the_restart_question_shows_the_failure_and_the_plan_as_typed():
    failed = ReplicationTask(arn="arn:aws:dms:us-east-1:123456789012:task:T", identifier="T", status="failed",
                             migration_type="cdc", recovery_checkpoint=checkpoint("mysql-bin.000002", 1500),
                             last_failure_message="Error 1236 on `db`.*: <lost> [x]")
    question = restart_question(plan_recovery(failed, "prod-reader", FILES).to_dict())
    assert r"Error 1236 on \`db\`.\*: \<lost> \[x\]" in question
    assert "`mysql-bin.000003:4`" in question and "**Cost:**" in question and "300 bytes" in question


def _failed_with(message: str) -> dict:
    failed = ReplicationTask(arn="arn:aws:dms:us-east-1:123456789012:task:T", identifier="T", status="failed",
                             migration_type="cdc", recovery_checkpoint=checkpoint("mysql-bin.000002", 1200),
                             last_failure_message=message)
    return plan_recovery(failed, "prod-reader", FILES).to_dict()


@given(message=st.text(alphabet=st.sampled_from(list("ab _*~`#>-+=|[]()<>!:/.w\r\n\t\\")), max_size=40))
def test_no_failure_message_adds_markup_or_a_block_to_the_approval_page(message):
    """DMS's LastFailureMessage quotes source-side text: on the Required Action page it is one line of text, as typed,
    in the paragraph that presents it (GFM as Airflow's UI renders it: emphasis, strikethrough, links)."""
    from markdown_it import MarkdownIt

    first = restart_question(_failed_with(message)).split("\n\n")[0]
    tokens = MarkdownIt("gfm-like").enable("strikethrough").parse(first)
    assert [t.type for t in tokens if t.nesting == 1] == ["paragraph_open"]
    inline = [child.type for t in tokens if t.type == "inline" for child in t.children]
    assert set(inline) <= {"text", "strong_open", "strong_close", "code_inline", "softbreak"}
    assert inline.count("code_inline") == 1  # the writer, nothing from the message
