"""RunRecord: outcome, failed steps, the S3 key (path-safe run id), JSON and markdown renderings. Pure: no S3."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime

import pytest

from cdc_runbooks.run_record import SUCCESS_STATES, RunRecord, StepRecord

STARTED = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
FINISHED = datetime(2024, 5, 1, 10, 7, 30, 123456, tzinfo=UTC)


def record(*steps: StepRecord, dry_run: bool = False, run_id: str = "manual__2024-05-01T10:00:00+00:00",
           dag_id: str = "dms_cdc_pause") -> RunRecord:
    return RunRecord(dag_id=dag_id, run_id=run_id, pipeline="orders", started_at=STARTED, finished_at=FINISHED,
                     dry_run=dry_run, steps=list(steps))


def steps(*states: str | None) -> list[StepRecord]:
    return [StepRecord(f"step_{i}", s) for i, s in enumerate(states)]


def test_success_states():
    assert frozenset({"success", "skipped"}) == SUCCESS_STATES


# --- outcome and failed steps ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("states", "dry_run", "outcome", "failed"), [
    ((), False, "success", []),
    ((), True, "dry_run", []),
    (("success",), False, "success", []),
    (("success", "skipped", "success"), False, "success", []),
    (("skipped", "skipped"), False, "skipped", []),  # nothing was done (e.g. a duplicate event)
    (("success", "skipped"), True, "dry_run", []),
    (("success", "failed", "upstream_failed"), False, "failed", ["step_1"]),  # only the step that failed
    (("success", "upstream_failed"), False, "failed", ["step_1"]),  # nothing else to name
    (("success", "failed"), True, "failed", ["step_1"]),  # a failed dry run is a failure, not a dry run
    ((None,), False, "failed", ["step_0"]),  # never ran
    (("running",), False, "failed", ["step_0"]),
    (("up_for_retry",), False, "failed", ["step_0"]),
    (("removed", "success", "queued"), False, "failed", ["step_0", "step_2"]),
    (("SUCCESS",), False, "failed", ["step_0"]),  # states are Airflow's lower-case names
    (("",), False, "failed", ["step_0"]),
])
def test_outcome_and_failed_steps(states, dry_run, outcome, failed):
    run = record(*steps(*states), dry_run=dry_run)
    assert run.outcome == outcome
    assert run.failed_steps == failed


def test_failed_steps_keep_the_runbook_order():
    run = record(StepRecord("zeta", "failed"), StepRecord("alpha", "success"), StepRecord("mid", "upstream_failed"),
                 StepRecord("beta", None))
    assert run.failed_steps == ["zeta", "beta"]


def test_step_result_defaults_to_none():
    assert StepRecord("pause", "success").result is None


# --- the S3 key ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("run_id", "safe"), [
    ("manual__2024-05-01T10:00:00+00:00", "manual__2024-05-01T10_00_00+00_00"),
    ("scheduled__2024-05-01T10:00:00.123456+00:00", "scheduled__2024-05-01T10_00_00.123456+00_00"),
    ("manual__2024-05-01T12:00:00+02:00", "manual__2024-05-01T12_00_00+02_00"),
    ("ABC-abc_09.+-", "ABC-abc_09.+-"),  # already safe: unchanged
    ("my run id", "my_run_id"),
    ("a/b/c", "a_b_c"),
    ("../../etc/passwd", ".._.._etc_passwd"),
    ("run\\id", "run_id"),
    ("x;y`z'q\"", "x_y_z_q_"),
    ("tab\tnew\nline", "tab_new_line"),
    ("r\u00e9sum\u00e9", "r_sum_"),  # one underscore per non-ASCII character
    ("?#%&=*", "______"),
])
def test_key_makes_the_run_id_path_safe(run_id, safe):
    key = record(run_id=run_id).key
    assert key == f"runs/dms_cdc_pause/{safe}.json"
    assert key.count("/") == 2  # the run id never adds a folder


def test_key_uses_the_dag_id_as_folder():
    assert record(dag_id="dms_cdc_restart", run_id="r1").key == "runs/dms_cdc_restart/r1.json"


def test_key_does_not_depend_on_the_rest_of_the_record():
    """conftest.run_record rebuilds the key from dag_id and run_id only."""
    full = record(*steps("success", "failed"), dry_run=True)
    bare = RunRecord(dag_id=full.dag_id, run_id=full.run_id, pipeline="", started_at=None, finished_at=None,
                     dry_run=False)
    assert bare.key == full.key


# --- JSON -------------------------------------------------------------------------------------------------------


def test_to_dict_adds_outcome_and_failed_steps():
    run = record(StepRecord("pause", "success", {"action": "act"}),
                 StepRecord("notify", "failed", failure="DmsTaskStateError: refusing to pause"))
    assert run.to_dict() == {
        "dag_id": "dms_cdc_pause", "run_id": "manual__2024-05-01T10:00:00+00:00", "pipeline": "orders",
        "started_at": STARTED, "finished_at": FINISHED, "dry_run": False,
        "steps": [{"task_id": "pause", "state": "success", "result": {"action": "act"}, "failure": None},
                  {"task_id": "notify", "state": "failed", "result": None,
                   "failure": "DmsTaskStateError: refusing to pause"}],
        "outcome": "failed", "failed_steps": ["notify"],
    }


def test_to_json_is_sorted_indented_and_stringifies_datetimes():
    run = record(StepRecord("pause", "success", {"stopped_at": FINISHED, "action": "act"}))
    text = run.to_json()
    assert text.startswith('{\n  "dag_id": "dms_cdc_pause",\n  "dry_run": false,\n')
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["started_at"] == "2024-05-01 10:00:00+00:00"
    assert data["finished_at"] == "2024-05-01 10:07:30.123456+00:00"
    assert data["steps"][0]["result"] == {"action": "act", "stopped_at": "2024-05-01 10:07:30.123456+00:00"}
    assert data["outcome"] == "success"
    assert data["failed_steps"] == []


def test_to_json_round_trip():
    run = record(StepRecord("pause", "success", {"recovery_checkpoint": "checkpoint:V1#27#f.000001:4:|x|"}),
                 StepRecord("restart", "upstream_failed"), StepRecord("record", None, {}), dry_run=True)
    data = json.loads(run.to_json())
    rebuilt = RunRecord(**{f.name: data[f.name] for f in fields(RunRecord) if f.name != "steps"},
                        steps=[StepRecord(**step) for step in data["steps"]])
    assert rebuilt.to_json() == run.to_json()
    assert rebuilt.outcome == data["outcome"] == "failed"
    assert rebuilt.failed_steps == data["failed_steps"] == ["record"]
    assert rebuilt.key == run.key


def test_to_json_of_a_record_without_a_start():
    data = json.loads(RunRecord("d", "r", "p", None, FINISHED, False).to_json())
    assert data["started_at"] is None
    assert data["steps"] == []
    assert data["outcome"] == "success"


# --- markdown ---------------------------------------------------------------------------------------------------


def test_to_markdown():
    run = record(StepRecord("pause", "success", {"action": "act", "status": "stopped"}),
                 StepRecord("restart", "failed", failure="UnsafeStartPosition: x.000001:9 is not on the writer"),
                 StepRecord("notify", None, {}))
    assert run.to_markdown() == "\n".join([
        "## dms_cdc_pause / orders: FAILED",
        "",
        "run `manual__2024-05-01T10:00:00+00:00`, started 2024-05-01 10:00:00+00:00, "
        "recorded 2024-05-01 10:07:30.123456+00:00",
        "",
        "| step | state | result or failure |",
        "|---|---|---|",
        '| `pause` | success | {"action": "act", "status": "stopped"} |',
        "| `restart` | failed | UnsafeStartPosition: x.000001:9 is not on the writer |",
        "| `notify` | None |  |",
    ])


@pytest.mark.parametrize(("dry_run", "heading"), [(False, "SUCCESS"), (True, "DRY_RUN")])
def test_to_markdown_heading_shows_the_outcome(dry_run, heading):
    assert record(*steps("success"), dry_run=dry_run).to_markdown().splitlines()[0] == \
        f"## dms_cdc_pause / orders: {heading}"


def test_to_markdown_escapes_pipes_in_results_so_the_table_keeps_three_columns():
    run = record(StepRecord("pause", "success", {"checkpoint": "a|b||c", "note": "x | y"}))
    row = run.to_markdown().splitlines()[-1]
    assert row == '| `pause` | success | {"checkpoint": "a/b//c", "note": "x / y"} |'
    assert row.count("|") == 4


def test_to_markdown_keeps_each_step_on_one_line():
    run = record(StepRecord("pause", "success", {"message": "line one\nline two\r\n", "at": FINISHED}))
    lines = run.to_markdown().splitlines()
    assert len(lines) == 7
    assert lines[-1] == ('| `pause` | success | {"at": "2024-05-01 10:07:30.123456+00:00", '
                         '"message": "line one\\nline two\\r\\n"} |')


# --- summary (the few lines a person reads first) -------------------------------------------------------------------


def test_summary_of_a_success_shows_drift_gap_and_positions_and_that_nothing_is_left_to_do():
    run = record(StepRecord("pause_dms_task", "success", {"recovery_checkpoint": "mysql-bin-changelog.000003:4"}),
                 StepRecord("new_position", "success", {"position": "mysql-bin-changelog.000001:777"}),
                 StepRecord("summarise", "success", {"cdc_gap_s": 12.5, "drift": 0, "tables": {}}),
                 dag_id="cdc_resume_after_switchover.orders")
    assert run.summary_markdown() == "\n".join([
        "**cdc_resume_after_switchover.orders / orders: SUCCESS** · drift: 0 rows, CDC gap: 12.5 s",
        "",
        "- drift: 0 rows, CDC gap: 12.5 s",
        "- positions: paused at `mysql-bin-changelog.000003:4`, restart from `mysql-bin-changelog.000001:777`",
        "- next: nothing; the run record has every step's result",
    ])


def test_summary_of_a_failure_names_the_step_its_reason_first_line_and_the_recovery():
    run = record(StepRecord("claim", "success", {"lock": "x"}),
                 StepRecord("restart", "failed", failure="UnsafeStartPosition: x.000001:9 | not on the writer\n\n"
                                                         "| a | table |"),
                 StepRecord("verify", "upstream_failed"))
    lines = run.summary_markdown().splitlines()
    assert lines[0] == "**dms_cdc_pause / orders: FAILED at `restart`**"
    assert lines[2] == "- why (`restart`): UnsafeStartPosition: x.000001:9 / not on the writer"
    assert lines[-1].startswith("- next: follow the runbook page's recovery for `restart`")
    assert "drift" not in run.summary_markdown()


def test_summary_of_a_dry_run_says_nothing_changed_and_shortens_long_reasons():
    assert record(*steps("success"), dry_run=True).summary_markdown().splitlines()[-1] == \
        "- next: dry run: nothing was changed; trigger again with dry_run off to make the change"
    long = record(StepRecord("s", "failed", failure="E: " + "x" * 1000)).summary_markdown().splitlines()[2]
    assert len(long) < 340 and long.endswith("…")


def test_summary_says_what_damage_a_step_reported_and_nothing_when_none():
    damaged = record(StepRecord("follow_switchover", "success", {"damage": "DMS stopped at 03:00:01, not before "
                                                                           "the switchover completed at 03:00:00"}),
                     StepRecord("reconcile", "failed", failure="ReconciliationDrift: 2 rows"))
    assert "- damage: DMS stopped at 03:00:01, not before the switchover completed at 03:00:00" in \
        damaged.summary_markdown().splitlines()
    assert "damage" not in record(StepRecord("follow_switchover", "success", {"damage": None})).summary_markdown()
