"""Repair a pipeline's drift: find it and plan the repair (:class:`PlanRepairOperator`), then, while the DMS task is
stopped at its checkpoint, re-copy the rows as they were at that checkpoint (:class:`RepairDriftOperator`). The
pure parts are :mod:`cdc_runbooks.repair`; the DAG is ``cdc_repair``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing

from airflow.sdk.exceptions import AirflowSkipException

from cdc_runbooks.aws.binlog_rows import row_changes_since
from cdc_runbooks.aws.cluster import describe_writer, writer_sql_hook
from cdc_runbooks.aws.dms import task_state
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.dms_task import DmsTaskStateError
from cdc_runbooks.pipelines import Pipeline, selected_tables
from cdc_runbooks.reconcile.compared_table import TablePair, describe_tables
from cdc_runbooks.reconcile.engine import Settings, reconcile_table
from cdc_runbooks.reconcile.report import Report
from cdc_runbooks.reconcile.row_checksum import Kind
from cdc_runbooks.reconcile.sides import source_side, target_side, target_sql_hook
from cdc_runbooks.repair.copy import repair_table
from cdc_runbooks.repair.plan import RepairPlan, RepairRefused, TableDrift, plan_repair
from cdc_runbooks.step import PipelineStepOperator, records_failure


def table_drift(pair: TablePair, result) -> TableDrift:
    """What the plan needs of a compared table: its key columns (none without a key) and whether they are integers."""
    ref = pair.source.ref
    key_columns = () if pair.multiset else (ref.key_columns if pair.hashed else (ref.key,))
    integer = not pair.hashed or all(kind is Kind.INTEGER for kind in pair.key_kinds)
    return TableDrift(result=result, key_columns=key_columns, integer_key=integer, columns=pair.columns,
                      target_columns=tuple(c.name for c in pair.target.ref.columns))


def _writable(pipeline: Pipeline) -> None:
    if pipeline.redshift_data is not None:
        raise RepairRefused(f"{pipeline.name} reaches its warehouse through the Redshift Data API, which has no "
                            "transaction across statements with parameters: the repair needs a SQL connection "
                            "(target_conn_id). Nothing was changed.")


class PlanRepairOperator(PipelineStepOperator):
    """Find the drift (a checksum reconcile, settled like any other) and plan its repair per table
    (:func:`cdc_runbooks.repair.plan.plan_repair`): the keys' rows, or the whole table. Skips the rest of the run
    when nothing drifts; in a dry run logs the plan with its exact statements and skips the rest.

    XCom: the plan (``RepairPlan.to_dict()``) with ``markdown`` (the approval page) and ``reconcile`` (what was found).

    :param tables: only these tables (default: every table of the pipeline).
    :param max_rows: a table with more differing keys than this is re-copied whole.
    :param settle_s: how long a difference may take to disappear before it counts as drift.
    """

    template_fields: Sequence[str] = ("pipeline_name", "tables", "max_rows", "settle_s", "dry_run")

    def __init__(self, *, tables: Sequence[str] | None = None, max_rows: int = 1000, settle_s: float = 120,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.tables = tables
        self.max_rows = max_rows
        self.settle_s = settle_s

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        _writable(pipeline)
        tables = selected_tables(pipeline, self.tables)
        max_rows = int(self.max_rows)
        settings = Settings(mode="checksum", settle_s=float(self.settle_s), max_keys=max_rows + 1)
        source, target = source_side(pipeline), target_side(pipeline)
        pairs = describe_tables(source, target, tables)
        found = [(pair, reconcile_table(pair, settings)) for pair in pairs]
        report = Report(tuple(result for _, result in found))
        self.log.info("%s", report.to_markdown())
        plan = plan_repair(pipeline.name, pipeline.target_schema, [table_drift(p, r) for p, r in found], max_rows)
        if not plan.tables:
            raise AirflowSkipException(f"nothing to repair: drift 0 in {', '.join(tables)} (checksum)")
        markdown = plan.to_markdown(target.dialect)
        self.log.info("%s", markdown)
        context["ti"].xcom_push(key="return_value", value={**plan.to_dict(), "markdown": markdown,
                                                           "reconcile": report.to_dict()})
        if self.dry_run:
            raise AirflowSkipException("DRY RUN: the plan and its exact statements are above. Nothing was changed.")
        return {**plan.to_dict(), "markdown": markdown, "reconcile": report.to_dict()}


class RepairDriftOperator(PipelineStepOperator):
    """Re-copy the planned rows (or tables) as they were at the DMS task's checkpoint: the task must be stopped at
    exactly ``checkpoint`` (so the warehouse holds every change up to it and none after), each table is written in
    one warehouse transaction (:func:`cdc_runbooks.repair.copy.repair_table`). A retry or a cleared step writes the
    same rows again while the task stays stopped there.

    :param plan: the plan (``plan_repair``'s XCom).
    :param checkpoint: the task's RecoveryCheckpoint when it was stopped for the repair (``pause_dms_task``'s XCom).
    """

    template_fields: Sequence[str] = ("pipeline_name", "plan", "checkpoint", "dry_run")

    def __init__(self, *, plan: dict | str, checkpoint: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.checkpoint = checkpoint

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        _writable(pipeline)
        plan = RepairPlan.from_dict(self.plan)
        if plan.pipeline != pipeline.name:
            raise RepairRefused(f"the plan is for pipeline {plan.pipeline}, not {pipeline.name}")
        position = self._stopped_at(pipeline)
        writer = describe_writer(pipeline.aws_conn_id, pipeline.source_cluster)
        pairs = {p.table: p for p in describe_tables(source_side(pipeline), target_side(pipeline),
                                                     [t.table for t in plan.tables])}
        dialect, hook = target_sql_hook(pipeline)
        done = []
        with closing(writer_sql_hook(pipeline.source_conn_id, writer).get_conn()) as source, \
                closing(hook.get_conn()) as target:
            for repair in plan.tables:
                pair = pairs[repair.table]
                if (pair.columns, tuple(c.name for c in pair.target.ref.columns)) != (
                        repair.columns, repair.target_columns):
                    raise RepairRefused(f"{repair.table}: its columns changed since the plan "
                                        f"({', '.join(repair.columns)} → {', '.join(pair.columns)}); nothing more "
                                        "was written. Trigger a new repair.")
                result = repair_table(
                    repair, plan.schema, source, target, dialect,
                    lambda t=repair.table: row_changes_since(pipeline.source_conn_id, writer, position,
                                                             plan.schema, t),
                    tuple(zip(pair.source.ref.columns, pair.target.ref.columns, strict=True)))
                self.log.info("%s: %s", repair.table, result.to_dict())
                done.append(result.to_dict())
        return {"checkpoint": str(position), "tables": done}

    def _stopped_at(self, pipeline: Pipeline) -> BinlogPosition:
        """The checkpoint, if the task is still stopped exactly there (else the warehouse may have moved on)."""
        state = task_state(pipeline.aws_conn_id, pipeline.dms_task_arn)
        if state.status != "stopped" or state.recovery_checkpoint != self.checkpoint:
            raise DmsTaskStateError(
                f"refusing to repair: {state.describe()}, but the repair needs it stopped at the checkpoint "
                f"{self.checkpoint!r} recorded by pause_dms_task (the warehouse must hold exactly the changes up to "
                "it). Nothing was written. If somebody restarted CDC, trigger a new repair.")
        return BinlogPosition.parse(self.checkpoint, "checkpoint")
