"""Decide what CDC needs after a failover (``assess``): a thin shell over :mod:`cdc_runbooks.failover_recovery`."""

from __future__ import annotations

from collections.abc import Sequence

from cdc_runbooks.aws.cluster import describe_writer, writer_binlog
from cdc_runbooks.aws.dms import task_state
from cdc_runbooks.failover_recovery import plan_recovery
from cdc_runbooks.lookups import look_up_together
from cdc_runbooks.step import PipelineStepOperator, records_failure


class AssessFailoverOperator(PipelineStepOperator):
    """Learn the cluster's writer now (DescribeDBClusters), the DMS task's state and RecoveryCheckpoint
    (DescribeReplicationTasks) and the writer's binlog files (SHOW BINARY LOGS), and plan the recovery: verify
    only, resume from the checkpoint, or resume after a truncated tail with what it costs; refuse what a person
    must decide. Changes nothing.

    XCom: the plan (:meth:`cdc_runbooks.failover_recovery.RecoveryPlan.to_dict`) with the writer's endpoint.
    """

    template_fields: Sequence[str] = ("pipeline_name",)

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        writer, state = look_up_together(lambda: describe_writer(pipeline.aws_conn_id, pipeline.source_cluster),
                                         lambda: task_state(pipeline.aws_conn_id, pipeline.dms_task_arn))
        files = writer_binlog(pipeline.source_conn_id, writer).files
        plan = plan_recovery(state, writer.instance, files)
        self.log.info("%s. %s", state.describe(), plan.describe())
        return {**plan.to_dict(), "writer_endpoint": f"{writer.endpoint}:{writer.port}"}
