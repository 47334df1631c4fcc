"""A warehouse reached through the Amazon Redshift Data API instead of a PostgreSQL-protocol connection (a pipeline's
``redshift_data`` setting). Pure: validated at configuration load, before anything runs."""

from __future__ import annotations

from dataclasses import dataclass

from cdc_runbooks import identifiers


@dataclass(frozen=True)
class DataApiTarget:
    """Where the Data API runs statements: exactly one of a Serverless ``workgroup`` and a provisioned ``cluster``,
    a ``database``, and optionally a Secrets Manager ``secret_arn`` or (provisioned) a ``db_user``;
    ``statement_timeout_s``: how long a statement may run before it is cancelled (1 s to 24 h)."""

    database: str
    workgroup: str | None = None
    cluster: str | None = None
    secret_arn: str | None = None
    db_user: str | None = None
    statement_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if (self.workgroup is None) == (self.cluster is None):
            raise ValueError("redshift_data: give exactly one of workgroup (Serverless) and cluster (provisioned)")
        identifiers.table_name(self.database, "redshift_data.database")
        if self.workgroup is not None:
            identifiers.redshift_workgroup(self.workgroup, "redshift_data.workgroup")
        else:
            identifiers.redshift_cluster(self.cluster, "redshift_data.cluster")
        if self.secret_arn is not None:
            identifiers.arn("secret", self.secret_arn, "redshift_data.secret_arn")
        if self.db_user is not None:
            if self.cluster is None:
                raise ValueError("redshift_data.db_user: only with a provisioned cluster (GetClusterCredentials); a "
                                 "Serverless workgroup derives the database user from the IAM identity")
            identifiers.table_name(self.db_user, "redshift_data.db_user")
        timeout = self.statement_timeout_s
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= 86400:
            raise ValueError(f"redshift_data.statement_timeout_s: {identifiers.shown(timeout)} must be 1 to 86400 s")

    def describe(self) -> str:
        where = f"workgroup {self.workgroup}" if self.workgroup else f"cluster {self.cluster}"
        return f"Redshift Data API ({where}, database {self.database})"
