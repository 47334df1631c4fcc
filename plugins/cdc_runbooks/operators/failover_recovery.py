"""Decide what CDC needs after a failover (``assess``): a thin shell over :mod:`cdc_runbooks.failover_recovery`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cdc_runbooks.aws.cluster import describe_writer, failover_times, writer_binlog
from cdc_runbooks.aws.dms import task_state
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.dms_task import DmsTaskStateError
from cdc_runbooks.failover_recovery import FAILOVER_EXPLAINS_FAILURE, plan_recovery
from cdc_runbooks.lookups import look_up_together
from cdc_runbooks.start_position import UnsafeStartPosition, check_on_writer
from cdc_runbooks.step import PipelineStepOperator, records_failure


class AssessFailoverOperator(PipelineStepOperator):
    """Learn the cluster's writer now (DescribeDBClusters), the DMS task's state and RecoveryCheckpoint
    (DescribeReplicationTasks) and the writer's binlog files (SHOW BINARY LOGS), and plan the recovery: verify
    only, resume from the checkpoint, or resume after a truncated tail with what it costs, with the cluster's
    failovers RDS recorded around a failure (DescribeEvents: who decides the restart); refuse what a person
    must decide, including a position the restart would refuse (the same check, :func:`check_on_writer`).
    Changes nothing.

    XCom: the plan (:meth:`cdc_runbooks.failover_recovery.RecoveryPlan.to_dict`) with the writer's endpoint.
    """

    template_fields: Sequence[str] = ("pipeline_name",)

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        writer, state = look_up_together(lambda: describe_writer(pipeline.aws_conn_id, pipeline.source_cluster),
                                         lambda: task_state(pipeline.aws_conn_id, pipeline.dms_task_arn))
        binlog = writer_binlog(pipeline.source_conn_id, writer)
        plan = plan_recovery(state, writer.instance, binlog.files)
        if plan.restarts and state.stop_date is not None:  # a failover that explains the failure needs no person
            since = state.stop_date - FAILOVER_EXPLAINS_FAILURE
            plan = replace(plan, failovers=tuple(failover_times(pipeline.aws_conn_id, pipeline.source_cluster, since)))
        self.log.info("%s. %s", state.describe(), plan.describe())
        if plan.restarts:  # the restart's own check, here: a plan never names a position the restart refuses
            try:
                check_on_writer(BinlogPosition.parse(plan.position), binlog)
            except UnsafeStartPosition as refused:
                raise DmsTaskStateError(
                    f"refusing to recover from {plan.position}: {refused} After an in-cluster failover this means "
                    "the binlog holds events of another server id after the checkpoint (AWS does not document "
                    "whether Aurora's instances log under one): no restart can be proven lossless. A person "
                    "decides: compare source and warehouse (cdc_reconcile), then restart from a position on this "
                    "writer (dms_cdc_restart) and repair what the reconcile finds (cdc_repair).") from None
        return {**plan.to_dict(), "writer_endpoint": f"{writer.endpoint}:{writer.port}"}
