"""plan_recovery: verify, resume, resume after a truncated tail, or refuse — for every task state and binlog."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.dms_task import DmsTaskStateError, ReplicationTask
from cdc_runbooks.failover_recovery import MAX_TRUNCATED_TAIL, Recovery, next_step, plan_recovery, restart_question

FILES = {"mysql-bin.000001": 9000, "mysql-bin.000002": 1200, "mysql-bin.000003": 385, "mysql-bin.000004": 0}


def task(status: str, checkpoint: str | None = None) -> ReplicationTask:
    return ReplicationTask(arn="arn:aws:dms:us-east-1:123456789012:task:T", identifier="T", status=status,
                           migration_type="cdc", recovery_checkpoint=checkpoint)


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


def claimed(*kinds: str, manual: bool = False) -> dict:
    return {"events": [{"kind": kind, "event_id": f"e{i}"} for i, kind in enumerate(kinds)], "duplicates": [],
            "ignored": [], "manual": manual}


def test_the_step_after_assess_follows_its_plan_and_who_started_the_run():
    restart = plan_recovery(task("failed", checkpoint("mysql-bin.000002", 1200)), "w", FILES).to_dict()
    verify = plan_recovery(task("running"), "w", FILES).to_dict()
    steps = {(plan["recovery"], started): next_step(plan, run)[0] for plan in (restart, verify)
             for started, run in (("failover", claimed("failover")), ("hand", claimed(manual=True)),
                                  ("task_failed", claimed("task_failed")),
                                  ("both", claimed("task_failed", "failover")))}
    assert steps == {("resume", "failover"): "restart_cdc", ("resume", "hand"): "restart_cdc",
                     ("resume", "task_failed"): "approve_restart", ("resume", "both"): "restart_cdc",
                     ("verify", "failover"): "reconcile", ("verify", "hand"): "reconcile",
                     ("verify", "task_failed"): None, ("verify", "both"): "reconcile"}


@given(kinds=st.lists(st.sampled_from(["failover", "task_failed", "switchover_started", None, 7]), max_size=4),
       manual=st.booleans(), restarts=st.booleans())
def test_a_restart_without_a_failover_or_a_person_always_waits_for_an_approval(kinds, manual, restarts):
    plan = {"restarts": restarts, "task_status": "failed" if restarts else "running"}
    step, why = next_step(plan, {"events": [{"kind": kind} for kind in kinds], "manual": manual})
    decided = manual or "failover" in kinds
    assert step == ("restart_cdc" if decided else "approve_restart") if restarts else step in ("reconcile", None)
    assert (step is None) == (not restarts and not decided) and why


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
