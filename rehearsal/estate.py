"""The whole rehearsal estate, started and stopped as one.

``with Estate.running() as estate:`` gives a production-shaped world on
127.0.0.1: an Aurora-like MariaDB blue/green pair behind RDS endpoints, a
PostgreSQL warehouse kept in sync by a running DMS CDC task, and the AWS
control plane (moto plus our controllers) that describes all of it. Everything
lives in one temp directory and every process it starts is stopped on exit.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cdc_runbooks.cdc_event import WatchedPipeline
from rehearsal.applier import StartPoint
from rehearsal.athena import AthenaQueryController
from rehearsal.aws import ACCOUNT_ID, DAG_ACCESS_KEY_ID, REGION, MotoControlPlane
from rehearsal.bluegreen import BlueGreenController
from rehearsal.dms import DmsController
from rehearsal.endpoints import EstateEndpoints
from rehearsal.events import EventPublisher
from rehearsal.export import ExportController
from rehearsal.failover import FailoverController
from rehearsal.mariadb import MariaDBServer
from rehearsal.net import LOOPBACK
from rehearsal.operations import AwsOperationLog
from rehearsal.parameters import ParameterStatusController
from rehearsal.postgres import PostgresServer
from rehearsal.redshift_data import RedshiftDataController
from rehearsal.schema import SOURCE_DATABASE, TABLES, WAREHOUSE_DDL
from rehearsal.source import BlueGreenSource
from rehearsal.throttling import ThrottlingController
from rehearsal.traffic import TrafficGenerator, seed_rows

BINLOG_PARAMETERS = {
    "binlog_format": "ROW", "binlog_row_image": "full", "binlog_checksum": "CRC32",
    "binlog_row_value_options": "", "binlog_transaction_compression": "OFF", "aurora_enhanced_binlog": "0",
}


_COLUMN = r"[a-z_][a-z0-9_]{0,62}"
_COLUMN_LIST = re.compile(rf"{_COLUMN}(?:, {_COLUMN})*")


def _column_list(columns: tuple[str, ...] | None) -> str:
    """``*`` or the named columns, each a plain lower-case name (the same unquoted in MariaDB and PostgreSQL)."""
    if columns is None:
        return "*"
    what = ", ".join(columns)
    if not _COLUMN_LIST.fullmatch(what):
        raise ValueError(f"not plain column names: {columns!r}")
    return what


@dataclass(frozen=True)
class EstateResources:
    """Names and ARNs of what the estate seeded in its fake AWS account."""

    cluster: str = "prod"
    writer_instance: str = "prod-writer"
    reader_instance: str = "prod-reader"
    blue_parameter_group: str = "prod-aurora57-cdc"
    green_parameter_group: str = "prod-aurora80-cdc"
    deployment_name: str = "prod-upgrade-80"
    replication_instance: str = "cdc-ri"
    replication_task: str = "prod-to-warehouse"
    export_bucket: str = "cdc-exports"
    records_bucket: str = "cdc-runbook-records"
    athena_results_bucket: str = "cdc-athena-results"
    glue_database: str = "shop_lake"
    athena_workgroup: str = "cdc-runbooks"
    topic: str = "cdc-runbooks-oncall"
    export_role: str = "rds-s3-export"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"

    @property
    def replication_task_arn(self) -> str:
        return self.arn("dms", f"task:{self.replication_task}")

    @property
    def topic_arn(self) -> str:
        return self.arn("sns", self.topic)


class Estate:
    def __init__(self, base_dir: Path) -> None:
        self.dir = base_dir
        self.resources = EstateResources()
        self.source = BlueGreenSource(base_dir)
        self.warehouse = PostgresServer(base_dir)
        self.aws = MotoControlPlane()
        self.endpoints = EstateEndpoints(self.source)
        self.operations = AwsOperationLog()
        self.events = EventPublisher(self.aws, ACCOUNT_ID, REGION)
        self.bluegreen = BlueGreenController(self.source, self.endpoints, self.operations, self.events)
        self.dms = DmsController(self._dms_source_connection, self.warehouse.connect,
                                 self._writer_end, SOURCE_DATABASE, TABLES, self.operations,
                                 self.events)
        self.failover = FailoverController(lambda: self.source.writer, self._cdc_checkpoint, self.events)
        self.exports = ExportController(self.source, self.aws)
        self.parameters = ParameterStatusController()
        self.athena = AthenaQueryController(self.aws)
        self.redshift_data = RedshiftDataController(self.warehouse.connect)
        self.throttling = ThrottlingController()  # last installed: it wraps the other controllers' responses
        self.deployment_id: str | None = None
        self.export_kms_key_arn: str | None = None
        self.startup_seconds: float | None = None
        self._stopping = threading.Event()
        self._metrics: threading.Thread | None = None
        self.green_cluster: str | None = None

    @classmethod
    @contextlib.contextmanager
    def running(cls, base_dir: Path | None = None) -> Iterator[Estate]:
        """Start an estate in a fresh temp directory; stop it and remove the directory on exit."""
        directory = base_dir or Path(tempfile.mkdtemp(prefix="cdc-estate-"))
        estate = cls(directory)
        try:
            estate.start()
            yield estate
        finally:
            estate.stop()
            if base_dir is None:
                shutil.rmtree(directory, ignore_errors=True)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        started = time.monotonic()
        self.source.start()
        self.warehouse.start()
        self.warehouse.query(";".join(WAREHOUSE_DDL))
        self.aws.start()
        for controller in (self.endpoints, self.bluegreen, self.dms, self.failover, self.exports, self.parameters,
                           self.athena, self.redshift_data, self.throttling):
            controller.install()
        self._seed_aws()
        with self.source.connect_app() as conn:
            seed_rows(conn)
        self.start_cdc(self.cdc_origin)
        self.wait_cdc_idle()
        self._metrics = threading.Thread(target=self._publish_metrics, name="dms-metrics", daemon=True)
        self._metrics.start()
        self.startup_seconds = time.monotonic() - started

    def stop(self) -> None:
        self._stopping.set()
        if self._metrics is not None:
            self._metrics.join(timeout=10)
        for controller in (self.throttling, self.redshift_data, self.athena, self.parameters, self.exports,
                           self.failover, self.dms, self.bluegreen, self.endpoints):
            with contextlib.suppress(Exception):
                controller.uninstall()
        with contextlib.suppress(Exception):
            self.aws.stop()
        self.source.stop()
        self.warehouse.stop()

    # -- AWS seeding -----------------------------------------------------------------------------
    def _seed_aws(self) -> None:
        r = self.resources
        rds = self.aws.client("rds")
        groups = ((r.blue_parameter_group, "aurora-mysql5.7"), (r.green_parameter_group, "aurora-mysql8.0"))
        for group, family in groups:
            rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=group, DBParameterGroupFamily=family,
                                                  Description=f"{group}: binlog for DMS CDC")
            rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=group, Parameters=[
                {"ParameterName": k, "ParameterValue": v, "ApplyMethod": "pending-reboot"}
                for k, v in BINLOG_PARAMETERS.items()])
        cluster = rds.create_db_cluster(
            DBClusterIdentifier=r.cluster, Engine="aurora-mysql", EngineVersion="5.7.mysql_aurora.2.11.2",
            MasterUsername="admin", MasterUserPassword="not-used-by-the-estate", DatabaseName=SOURCE_DATABASE,
            DBClusterParameterGroupName=r.blue_parameter_group)["DBCluster"]
        rds.create_db_instance(DBInstanceIdentifier=r.writer_instance, DBClusterIdentifier=r.cluster,
                               Engine="aurora-mysql", DBInstanceClass="db.r6g.large")
        deployment = rds.create_blue_green_deployment(
            BlueGreenDeploymentName=r.deployment_name, Source=cluster["DBClusterArn"],
            TargetEngineVersion="8.0.mysql_aurora.3.05.2",
            TargetDBClusterParameterGroupName=r.green_parameter_group)["BlueGreenDeployment"]
        self.deployment_id = deployment["BlueGreenDeploymentIdentifier"]
        rds_backend = self.aws.backend("rds")
        self.green_cluster = next(c.db_cluster_identifier for c in rds_backend.clusters.values()
                                  if c.db_cluster_arn == deployment["Target"])
        self.endpoints.bind(rds_backend, r.cluster, self.green_cluster)
        self._seed_dms()
        self.events.install([WatchedPipeline("shop", r.cluster, r.replication_task_arn)])
        self._seed_lake()

    def _seed_dms(self) -> None:
        r = self.resources
        dms = self.aws.client("dms")
        instance = dms.create_replication_instance(ReplicationInstanceIdentifier=r.replication_instance,
                                                   ReplicationInstanceClass="dms.t3.medium")["ReplicationInstance"]
        source = dms.create_endpoint(
            EndpointIdentifier="prod-source", EndpointType="source", EngineName="aurora",
            ServerName=LOOPBACK, Port=self.source.prod_endpoint.port, Username=self.source.dms.user,
            Password=self.source.dms.password)["Endpoint"]
        target = dms.create_endpoint(
            EndpointIdentifier="warehouse-target", EndpointType="target", EngineName="redshift",
            ServerName=LOOPBACK, Port=self.warehouse.port, DatabaseName=self.warehouse.database,
            Username="postgres", Password="trust")["Endpoint"]
        mappings = {"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "shop",
                               "object-locator": {"schema-name": SOURCE_DATABASE, "table-name": "%"},
                               "rule-action": "include"}]}
        dms.create_replication_task(
            ReplicationTaskIdentifier=r.replication_task, MigrationType="cdc",
            SourceEndpointArn=source["EndpointArn"], TargetEndpointArn=target["EndpointArn"],
            ReplicationInstanceArn=instance["ReplicationInstanceArn"], TableMappings=json.dumps(mappings))

    def _seed_lake(self) -> None:
        r = self.resources
        s3 = self.aws.client("s3")
        for bucket in (r.export_bucket, r.records_bucket, r.athena_results_bucket):
            s3.create_bucket(Bucket=bucket)
        self.aws.client("glue").create_database(DatabaseInput={"Name": r.glue_database})
        self.aws.client("athena").create_work_group(Name=r.athena_workgroup, Configuration={
            "ResultConfiguration": {"OutputLocation": f"s3://{r.athena_results_bucket}/"}})
        self.aws.client("sns").create_topic(Name=r.topic)
        self.aws.client("iam").create_role(RoleName=r.export_role, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                   "Principal": {"Service": "export.rds.amazonaws.com"}}]}))
        kms = self.aws.client("kms")
        key = kms.create_key(Description="snapshot exports")
        self.export_kms_key_arn = key["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName="alias/cdc-exports", TargetKeyId=key["KeyMetadata"]["KeyId"])

    def _publish_metrics(self, interval: float = 1.0) -> None:
        """CloudWatch gets the running task's CDC latency every second (DMS publishes per minute); DMS notices a
        failed task on its own (and says so in an event); a due switchover completes."""
        cloudwatch = self.aws.client("cloudwatch")
        while not self._stopping.wait(interval):
            self.dms.publish_latency(cloudwatch, self.resources.replication_instance)
            self.dms.tick(self.aws.backend("dms"))
            self.bluegreen.advance(self.aws.backend("rds"))  # a switchover completes whether or not anyone polls

    # -- failover --------------------------------------------------------------------------------
    def add_reader(self) -> str:
        """A reader instance in the production cluster (Aurora fails over to one): on the same server, as Aurora's
        instances share the cluster volume."""
        r = self.resources
        self.aws.client("rds").create_db_instance(DBInstanceIdentifier=r.reader_instance, DBClusterIdentifier=r.cluster,
                                                  Engine="aurora-mysql", DBInstanceClass="db.r6g.large")
        self.aws.backend("rds").databases[r.reader_instance].port = self.source.writer.port
        return r.reader_instance

    def fail_over(self, timeout: float = 60):
        """FailoverDBCluster of the production cluster (needs :meth:`add_reader`), waited for; its outcome."""
        self.aws.client("rds").failover_db_cluster(DBClusterIdentifier=self.resources.cluster)
        return self.failover.wait(timeout)

    def _cdc_checkpoint(self) -> StartPoint | None:
        applier = self.dms.runtime(self.resources.replication_task_arn).applier
        return applier.checkpoint if applier is not None else None

    # -- CDC -------------------------------------------------------------------------------------
    @property
    def cdc_origin(self) -> str:
        """Where the seeded task starts: the beginning of blue's first binlog (before the seed rows)."""
        first = min(self.source.blue.binary_logs())
        return f"{first}:4"

    def _writer_end(self, server: MariaDBServer | None = None) -> StartPoint:
        status = (server or self.source.writer).master_status()
        return StartPoint(status.file, status.position)

    @staticmethod
    def _dms_source_connection(endpoint) -> dict:
        return {"host": endpoint.server_name, "port": int(endpoint.port), "user": endpoint.username,
                "passwd": endpoint.password}

    def start_cdc(self, position: str, start_type: str = "start-replication") -> None:
        """Start the DMS task from a position and wait for it to run (the estate's own operation)."""
        dms = self.aws.client("dms")
        dms.start_replication_task(ReplicationTaskArn=self.resources.replication_task_arn,
                                   StartReplicationTaskType=start_type, CdcStartPosition=position)
        self.wait_task_status("running")

    def task(self) -> dict:
        return self.aws.client("dms").describe_replication_tasks(Filters=[
            {"Name": "replication-task-arn", "Values": [self.resources.replication_task_arn]}])["ReplicationTasks"][0]

    def wait_task_status(self, status: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while (task := self.task())["Status"] != status:
            if task["Status"] == "failed" or time.monotonic() > deadline:
                raise RuntimeError(f"DMS task is {task['Status']}, expected {status}: "
                                   f"{task.get('LastFailureMessage', '')}")
            time.sleep(0.1)
        return task

    def wait_deployment_status(self, status: str, timeout: float = 30) -> dict:
        """Poll DescribeBlueGreenDeployments (each poll lets a due switchover finish) until ``status``."""
        rds, deadline = self.aws.client("rds"), time.monotonic() + timeout
        while (deployment := rds.describe_blue_green_deployments(
                BlueGreenDeploymentIdentifier=self.deployment_id)["BlueGreenDeployments"][0])["Status"] != status:
            if time.monotonic() > deadline:
                raise RuntimeError(f"blue/green deployment is {deployment['Status']}, expected {status}")
            time.sleep(0.1)
        return deployment

    def wait_cdc_idle(self, timeout: float = 30, writer: MariaDBServer | None = None) -> None:
        """Wait until the running task has applied everything the writer (or ``writer``) has binlogged."""
        deadline = time.monotonic() + timeout
        applier = self.dms.runtime(self.resources.replication_task_arn).applier
        while applier.checkpoint != self._writer_end(writer):
            if applier.error or time.monotonic() > deadline:
                raise RuntimeError(f"CDC did not catch up: {applier.error or 'timeout'}")
            time.sleep(0.05)

    # -- observations ----------------------------------------------------------------------------
    def traffic(self, **kwargs) -> TrafficGenerator:
        return TrafficGenerator(self.source.connect_app, **kwargs)

    def source_counts(self) -> dict[str, int]:
        return {t: self._select("source", "COUNT(*)", t)[0][0] for t in TABLES}

    def warehouse_counts(self) -> dict[str, int]:
        return {t: self._select("warehouse", "COUNT(*)", t)[0][0] for t in TABLES}

    def source_rows(self, table: str, columns: tuple[str, ...] | None = None) -> list[tuple]:
        """The table's rows, sorted; all columns in table order, or ``columns`` (plain lower-case names) in that
        order, which compares rows by name when a DDL left the two sides with other columns or another order."""
        return sorted(self._select("source", _column_list(columns), table))

    def warehouse_rows(self, table: str, columns: tuple[str, ...] | None = None) -> list[tuple]:
        return sorted(self._select("warehouse", _column_list(columns), table))

    def _select(self, side: str, what: str, table: str) -> list[tuple]:
        """Read one of the estate's own tables (names from schema.TABLES only) on either side."""
        if table not in TABLES or (what not in ("*", "COUNT(*)") and not _COLUMN_LIST.fullmatch(what)):
            raise ValueError(f"not an estate table query: {what} {table}")
        statement = f"SELECT {what} FROM {SOURCE_DATABASE}.{table}"  # noqa: S608 - fixed identifiers only
        return self.source.writer.execute(statement) if side == "source" else self.warehouse.query(statement)

    def airflow_env(self) -> dict[str, str]:
        """AIRFLOW_CONN_* variables that point Airflow's hooks at this estate."""
        aws = {"conn_type": "aws", "login": DAG_ACCESS_KEY_ID, "password": self.aws.dag_secret_access_key,
               "extra": {"region_name": REGION, "endpoint_url": self.aws.url}}
        source = {"conn_type": "mysql", "host": LOOPBACK, "port": self.source.prod_endpoint.port,
                  "login": self.source.dms.user, "password": self.source.dms.password,
                  "extra": {"client": "mysql-connector-python"}}
        warehouse = {"conn_type": "postgres", "host": LOOPBACK, "port": self.warehouse.port,
                     "login": "postgres", "schema": self.warehouse.database}
        return {"AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws), "AIRFLOW_CONN_SOURCE_MYSQL": json.dumps(source),
                "AIRFLOW_CONN_WAREHOUSE": json.dumps(warehouse)}

