"""Binlog readiness for DMS CDC as a task: the facts of a cluster (:mod:`cdc_runbooks.aws.readiness`) judged
with :mod:`cdc_runbooks.binlog_readiness`, failing with the whole report when anything is not ready."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow.sdk import BaseOperator

from cdc_runbooks.aws.readiness import check_all, check_binlog_readiness
from cdc_runbooks.binlog_readiness import BinlogNotReady
from cdc_runbooks.step import PipelineStepOperator, records_failure

if TYPE_CHECKING:
    from airflow.sdk import Context


class BinlogReadinessOperator(PipelineStepOperator):
    """Check that ``cluster`` is ready to be a DMS CDC source; return the report (XCom) or fail with it.

    :param pipeline_name: the pipeline in ``config/pipelines.yaml`` (connections, minimum binlog retention,
        DMS engine version).
    :param cluster: the DB cluster identifier to check, e.g. production or a blue/green deployment's green.
    :param role: how the report names the cluster: "production", "green".
    """

    template_fields: Sequence[str] = (*PipelineStepOperator.template_fields, "cluster", "role")

    def __init__(self, *, cluster: str, role: str = "production", **kwargs) -> None:
        super().__init__(**kwargs)
        self.cluster = cluster
        self.role = role

    @records_failure
    def execute(self, context: Context) -> dict:
        report = check_binlog_readiness(self.pipeline, self.cluster, self.role)
        markdown = report.to_markdown()
        self.log.info("%s", markdown)
        if not report.passed:
            failed = ", ".join(check.name for check in report.failures)
            raise BinlogNotReady(f"cluster {self.cluster} ({self.role}) is not ready for DMS CDC: {failed}\n\n"
                                   f"{markdown}")
        return report.to_dict()


class BinlogGuardOperator(BaseOperator):
    """Check many clusters at once (see :func:`cdc_runbooks.aws.readiness.check_all`); fail with every failing report.

    :param targets: list of {"pipeline", "cluster", "role"}, e.g. from
        :func:`cdc_runbooks.aws.readiness.guard_targets` via XCom.
    """

    template_fields: Sequence[str] = ("targets",)

    def __init__(self, *, targets: list[dict] | str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.targets = targets

    @records_failure
    def execute(self, context: Context) -> dict:
        return check_all(self.targets)
