"""A product team's table change under CDC: plan it from what DMS carries (:class:`PlanTableChangeOperator`), then,
once it is done, find the warehouse tables that no longer match (:class:`CompareSchemasOperator`). The tables to
reload are re-created and re-copied by :class:`cdc_runbooks.operators.repair.RepairDriftOperator`. Pure rules:
:mod:`cdc_runbooks.table_change`; the DAG is ``cdc_table_maintenance``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from airflow.sdk.exceptions import AirflowSkipException

from cdc_runbooks.aws.dms import table_states, task_settings
from cdc_runbooks.pipelines import selected_tables
from cdc_runbooks.reconcile.compared_table import TableMismatch, compatible, source_key, table_columns
from cdc_runbooks.reconcile.sides import source_side, target_side
from cdc_runbooks.repair.plan import (
    RepairPlan,
    RepairRefused,
    TableRepair,
    inexact_key,
    require_sql_warehouse,
    text_columns,
)
from cdc_runbooks.step import PipelineStepOperator, records_failure
from cdc_runbooks.table_change import plan_change, require_replicated, schema_differences

TABLE_ERROR = "Table error"  # DescribeTableStatistics TableState of a suspended table


class PlanTableChangeOperator(PipelineStepOperator):
    """Check the change before it is made and say what DMS will do with it: the tables must be the pipeline's and
    selected by the task's table mappings; the task's DDL handling settings decide what DMS applies
    (:func:`cdc_runbooks.table_change.plan_change`). In a dry run logs the plan and skips the rest.

    XCom: ``{"change": {...}, "tables": [...], "markdown": ...}``.

    :param tables: the tables the change touches.
    :param change: one of :class:`cdc_runbooks.table_change.ChangeKind`.
    """

    template_fields: Sequence[str] = ("pipeline_name", "tables", "change", "dry_run")

    def __init__(self, *, tables: Sequence[str], change: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tables = tables
        self.change = change

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        require_sql_warehouse(pipeline)
        tables = list(selected_tables(pipeline, self.tables))
        mappings, settings = task_settings(pipeline.aws_conn_id, pipeline.dms_task_arn)
        require_replicated(mappings, pipeline.target_schema, tables)
        plan = plan_change(self.change, settings.get("ChangeProcessingDdlHandlingPolicy"))
        after = ("then re-create these warehouse tables as DMS would and re-copy them as of the DMS checkpoint"
                 if plan.reload else "then compare the schemas and re-create and re-copy only a table that no longer "
                                     "matches (or that DMS suspended)")
        markdown = (f"**{plan.kind.value} on {', '.join(tables)} of {pipeline.name}.** {plan.why}. Nothing needs to "
                    f"be paused for it. After the product team confirms the change is done: {after}; a checksum "
                    "reconcile must then show drift 0.")
        self.log.info("%s", markdown)
        result = {"change": plan.to_dict(), "tables": tables, "markdown": markdown}
        if self.dry_run:
            context["ti"].xcom_push(key="return_value", value=result)
            raise AirflowSkipException("DRY RUN: the plan is above. Nothing was changed.")
        return result


class CompareSchemasOperator(PipelineStepOperator):
    """After the change: compare each table's columns on the source and in the warehouse (name, type class,
    nullability: :func:`cdc_runbooks.table_change.schema_differences`) and read its DMS TableState. A table to
    reload is one that differs, that DMS suspended ("Table error"), or every table when the plan says DMS cannot
    carry the change. A difference is re-read every ``poll_s`` for up to ``settle_s`` before it counts: one DMS has not
    applied yet (CDC lag) disappears.

    XCom: ``{"reload": bool, "plan": RepairPlan dict (method "table"), "tables": {table: {"differences",
    "table_state"}}}``.
    """

    template_fields: Sequence[str] = ("pipeline_name", "tables", "reload_all", "settle_s")

    def __init__(self, *, tables: Sequence[str], reload_all: bool = False, settle_s: float = 120, poll_s: float = 1,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.tables = tables
        self.reload_all = reload_all
        self.settle_s = settle_s
        self.poll_s = poll_s

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        source, target = source_side(pipeline), target_side(pipeline)
        deadline = time.monotonic() + float(self.settle_s)
        while True:  # a difference DMS has not applied yet (CDC lag) disappears; only one that stays is reloaded
            found = self._compare(pipeline, source, target)
            unsettled = [f for f in found.values() if f["differences"] and f["table_state"] != TABLE_ERROR]
            if self.reload_all or not unsettled or time.monotonic() >= deadline:
                break
            time.sleep(self.poll_s)
        reload = [self._reload(table, source, f["differences"], f["table_state"]) for table, f in found.items()
                  if self.reload_all or f["differences"] or f["table_state"] == TABLE_ERROR]
        for table, f in found.items():
            self.log.info("%s: %s", table, f)
        plan = RepairPlan(pipeline.name, pipeline.target_schema, tuple(reload))
        return {"reload": bool(reload), "plan": plan.to_dict(), "tables": found}

    def _compare(self, pipeline, source, target) -> dict[str, dict]:
        states = table_states(pipeline.aws_conn_id, pipeline.dms_task_arn)
        found = {}
        for table in selected_tables(pipeline, self.tables):
            try:
                differences = schema_differences(table_columns(source, table, "source"),
                                                 table_columns(target, table, "warehouse"), compatible)
            except TableMismatch as missing:
                differences = [str(missing)]
            found[table] = {"differences": differences,
                            "table_state": states.get((pipeline.target_schema, table), "")}
        return found

    @staticmethod
    def _reload(table: str, source, differences: list[str], state: str) -> TableRepair:
        """The whole-table re-copy of ``table``; refused for a table without a key, or whose key changed since the
        checkpoint could not be found again exactly."""
        columns = table_columns(source, table, "source")
        key = source_key(source, table, columns)
        kinds = {c.name.lower(): c.kind for c in columns}
        inexact = inexact_key(key, tuple(kinds[c.lower()] for c in key))
        if not key or inexact:
            raise RepairRefused(f"{table} must be reloaded, but "
                                f"{inexact or 'it has no primary key and no unique index of NOT NULL columns'}: it "
                                "cannot be re-copied as of the checkpoint. Nothing was changed; reload it from a "
                                "full-load task.")
        names = tuple(c.name for c in columns)
        return TableRepair(table, "table", key, names, names, len(differences),
                           "; ".join(differences) or state or "DMS cannot carry the change",
                           text_columns=text_columns(columns))
