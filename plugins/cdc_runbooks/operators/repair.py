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
from cdc_runbooks.aws.records import read_record
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.dms_task import DmsTaskStateError
from cdc_runbooks.pipelines import Pipeline, selected_tables
from cdc_runbooks.reconcile.compared_table import TablePair, describe_tables, table_columns
from cdc_runbooks.reconcile.engine import Settings, reconcile_table
from cdc_runbooks.reconcile.report import Report
from cdc_runbooks.reconcile.row_checksum import Kind
from cdc_runbooks.reconcile.sides import source_side, target_side, target_sql_hook
from cdc_runbooks.repair.copy import repair_table
from cdc_runbooks.repair.plan import (
    RepairPlan,
    RepairRefused,
    TableDrift,
    drifted_tables,
    inexact_key,
    plan_repair,
    require_sql_warehouse,
    text_columns,
)
from cdc_runbooks.step import PipelineStepOperator, records_failure
from cdc_runbooks.table_change import COLUMN_TYPES_SQL, SourceColumn, create_table_sql, warehouse_column


def table_drift(pair: TablePair, result) -> TableDrift:
    """What the plan needs of a compared table: its key columns (none without a key), whether they are integers and
    can be matched exactly, and the columns read as MySQL's text of them."""
    ref = pair.source.ref
    key_columns = () if pair.multiset else (ref.key_columns or (ref.key,))
    kinds = {c.name: c.kind for c in ref.columns}
    return TableDrift(result=result, key_columns=key_columns,
                      integer_key=all(kinds[c] is Kind.INTEGER for c in key_columns), columns=pair.columns,
                      target_columns=tuple(c.name for c in pair.target.ref.columns),
                      inexact_key=inexact_key(key_columns, tuple(kinds[c] for c in key_columns)),
                      text_columns=text_columns(ref.columns))


class PlanRepairOperator(PipelineStepOperator):
    """Find the drift (a checksum reconcile, settled like any other) and plan its repair per table
    (:func:`cdc_runbooks.repair.plan.plan_repair`): the keys' rows, or the whole table. Skips the rest of the run
    when nothing drifts; in a dry run logs the plan with its exact statements and skips the rest.

    XCom: the plan (``RepairPlan.to_dict()``) with ``markdown`` (the approval page) and ``reconcile`` (what was found).

    :param tables: only these tables (default: every table of the pipeline).
    :param reconcile_run_id: instead of ``tables``, the tables a ``cdc_reconcile`` run found drifting (its run record);
        their drift is found again now, since CDC has moved on.
    :param max_rows: a table with more differing keys than this is re-copied whole.
    :param settle_s: how long a difference may take to disappear before it counts as drift.
    """

    template_fields: Sequence[str] = ("pipeline_name", "tables", "reconcile_run_id", "max_rows", "settle_s",
                                      "dry_run")

    def __init__(self, *, tables: Sequence[str] | None = None, reconcile_run_id: str | None = None,
                 max_rows: int = 1000, settle_s: float = 120, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tables = tables
        self.reconcile_run_id = reconcile_run_id
        self.max_rows = max_rows
        self.settle_s = settle_s

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        require_sql_warehouse(pipeline)
        tables = selected_tables(pipeline, self._asked(pipeline))
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
        result = {**plan.to_dict(), "markdown": markdown, "reconcile": report.to_dict()}
        if self.dry_run:  # the plan stays in the record; the rest of the run is skipped
            context["ti"].xcom_push(key="return_value", value=result)
            raise AirflowSkipException("DRY RUN: the plan and its exact statements are above. Nothing was changed.")
        return result


    def _asked(self, pipeline: Pipeline) -> Sequence[str] | None:
        """The tables asked for: ``tables``, or those the reconcile run found drifting (refused: both, or a run
        without a record or with no drift)."""
        if not self.reconcile_run_id:
            return self.tables
        if self.tables:
            raise RepairRefused("give tables or reconcile_run_id, not both")
        record = read_record(pipeline, "cdc_reconcile", self.reconcile_run_id)
        if record is None:
            raise RepairRefused(f"no run record of cdc_reconcile run {self.reconcile_run_id!r} in "
                                f"s3://{pipeline.records_bucket}/: check the run id (the run's details in the UI)")
        drifted = drifted_tables(record, pipeline.name)
        if not drifted:
            raise AirflowSkipException(f"nothing to repair: cdc_reconcile run {self.reconcile_run_id} found no drift "
                                       f"in {pipeline.name}")
        self.log.info("cdc_reconcile run %s found drift in %s", self.reconcile_run_id, ", ".join(drifted))
        return drifted


class RepairDriftOperator(PipelineStepOperator):
    """Re-copy the planned rows (or tables) as they were at the DMS task's checkpoint: the task must be stopped at
    exactly ``checkpoint`` (so the warehouse holds every change up to it and none after), each table is written in
    one warehouse transaction (:func:`cdc_runbooks.repair.copy.repair_table`). A retry or a cleared step writes the
    same rows again while the task stays stopped there.

    :param plan: the plan (``plan_repair``'s XCom, or a table change's tables to reload).
    :param checkpoint: the task's RecoveryCheckpoint when it was stopped for the repair (``pause_dms_task``'s XCom).
    :param recreate: first re-create each warehouse table as DMS would for the source's definition now, in the same
        transaction (a table change DMS could not carry); otherwise the warehouse's columns must be the plan's.
    """

    template_fields: Sequence[str] = ("pipeline_name", "plan", "checkpoint", "dry_run")

    def __init__(self, *, plan: dict | str, checkpoint: str, recreate: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.checkpoint = checkpoint
        self.recreate = recreate

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        require_sql_warehouse(pipeline)
        plan = RepairPlan.from_dict(self.plan)
        if plan.pipeline != pipeline.name:
            raise RepairRefused(f"the plan is for pipeline {plan.pipeline}, not {pipeline.name}")
        position = self._stopped_at(pipeline)
        writer = describe_writer(pipeline.aws_conn_id, pipeline.source_cluster)
        source_reader, dialect, hook = source_side(pipeline), *target_sql_hook(pipeline)
        layouts = {t.table: self._layout(t, source_reader, target_side(pipeline), dialect) for t in plan.tables}
        done = []
        with closing(writer_sql_hook(pipeline.source_conn_id, writer).get_conn()) as source, \
                closing(hook.get_conn()) as target:
            for repair in plan.tables:
                columns, before = layouts[repair.table]
                result = repair_table(
                    repair, plan.schema, source, target, dialect,
                    lambda t=repair.table: row_changes_since(pipeline.source_conn_id, writer, position,
                                                             plan.schema, t),
                    columns, before)
                self.log.info("%s: %s", repair.table, result.to_dict())
                done.append(result.to_dict())
        return {"checkpoint": str(position), "tables": done}

    def _layout(self, repair, source, target, dialect) -> tuple[tuple, list[str]]:
        """The (source, warehouse) column pairs of a table and the statements that re-create it first, if asked;
        refuses a table whose columns changed since the plan."""
        if self.recreate:
            found = [SourceColumn(name, column_type, str(nullable).upper() == "YES")
                     for name, column_type, nullable in source.run(COLUMN_TYPES_SQL, (source.schema, repair.table))]
            names = tuple(c.name for c in found)
            pairs = tuple(zip(table_columns(source, repair.table, "source"), map(warehouse_column, found),
                              strict=True))
            before = create_table_sql(dialect, target.schema, repair.table, found)
        else:
            pair = describe_tables(source, target, [repair.table])[0]
            names, before = pair.columns, []
            pairs = tuple(zip(pair.source.ref.columns, pair.target.ref.columns, strict=True))
        if names != repair.columns or (not self.recreate and tuple(t.name for _, t in pairs) != repair.target_columns):
            raise RepairRefused(f"{repair.table}: its columns changed since the plan ({', '.join(repair.columns)} → "
                                f"{', '.join(names)}); nothing was written. Trigger a new run.")
        return pairs, before

    def _stopped_at(self, pipeline: Pipeline) -> BinlogPosition:
        """The checkpoint, if the task is still stopped exactly there (else the warehouse may have moved on)."""
        state = task_state(pipeline.aws_conn_id, pipeline.dms_task_arn)
        if state.status != "stopped" or state.recovery_checkpoint != self.checkpoint:
            raise DmsTaskStateError(
                f"refusing to repair: {state.describe()}, but the repair needs it stopped at the checkpoint "
                f"{self.checkpoint!r} recorded by pause_dms_task (the warehouse must hold exactly the changes up to "
                "it). Nothing was written. If somebody restarted CDC, trigger a new run.")
        return BinlogPosition.parse(self.checkpoint, "checkpoint")
