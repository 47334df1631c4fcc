"""The snapshot -> S3 Parquet export of one pipeline for one data interval: names, states and checks.

Pure: no Airflow, no AWS calls. Everything a run creates is named from the
pipeline and the interval's date (plus an attempt number an operator raises
after a failed export), so a retry or a re-run of the same interval finds what
an earlier try made instead of making another:

* manual cluster snapshot and export task: ``<pipeline>-lake-<yyyymmdd>[-a<n>]``;
* export files: ``s3://<bucket>/<prefix>/<export id>/<db>/<db>.<table>/...``
  (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-export-snapshot.Considerations.html);
* Glue partition value: the interval's date, ``yyyy-mm-dd``.

Counts the source held when the snapshot was taken are recorded as tags on the
snapshot, so any later run can check the Athena count against them: one tag per
table, ``cdc-runbooks:rows:<table>``, written by CreateDBClusterSnapshot's own Tags
as the open range ``<before>..`` (the count read just before the call: the
snapshot never exists without it, so a retry that adopts the snapshot still has
it) and completed in place to ``<before>..<after>`` once the snapshot is available
(AddTagsToResource replaces the value of a key the resource already has:
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_AddTagsToResource.html).
Validation without complete counts fails: the export's own files are not an
independent check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from cdc_runbooks.action import Action
from cdc_runbooks.refusal import Refusal

MAX_CONCURRENT_EXPORTS = 5  # per account: aurora-export-snapshot.Considerations.html
RUNNING = ("starting", "in_progress", "canceling")
FAILED = ("failed", "canceled")
COUNT_TAG = "cdc-runbooks:rows:"
FIXED_TAG_KEYS = ("cdc-runbooks:pipeline", "cdc-runbooks:interval")
# "A tag set can contain as many as 50 tags" per RDS resource
# (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_Tagging.html): the fixed tags plus one count
# tag per table must fit, so a pipeline counts at most MAX_COUNTED_TABLES tables (pipelines.py refuses more).
MAX_SNAPSHOT_TAGS = 50
MAX_COUNTED_TABLES = MAX_SNAPSHOT_TAGS - len(FIXED_TAG_KEYS)
_OPEN_RANGE = re.compile(r"(?P<before>[0-9]+)\.\.")  # ASCII digits only: str.isdigit and \d take any script's
_RANGE = re.compile(r"(?P<before>[0-9]+)\.\.(?P<after>[0-9]+)")
DAY = timedelta(days=1)
_KEY = re.compile(r"^(?P<pipeline>[a-z][a-z0-9-]*)-lake-(?P<day>[0-9]{8})(?:-a(?P<attempt>[2-9]|[1-9][0-9]+))?$")
_RDS_ID = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,58}[a-z0-9]$")  # ExportTaskIdentifier: 1-60, a letter first


class ExportRefused(Refusal, RuntimeError):
    """The export of this interval cannot go ahead as asked; the message says why and what to do."""


class ExportFailed(Refusal, RuntimeError):
    """RDS reports the export failed or was canceled; the message carries its FailureCause."""


class ExportIncomplete(Refusal, RuntimeError):
    """The export finished but not every expected table is COMPLETE in export_tables_info."""


class CountMismatch(Refusal, RuntimeError):
    """Athena's count of a snapshot partition differs from what the source held at the snapshot."""


class CountNotRead(RuntimeError):
    """An Athena count query failed, was cancelled or timed out: no count was read, so nothing was compared.
    Not a refusal: the step fails and Airflow retries it (a throttled or interrupted query usually succeeds)."""


class CountsUnverified(Refusal, RuntimeError):
    """No count of the source at the snapshot is recorded for a table, so its export cannot be validated."""


# -- names -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IntervalExport:
    """What a run for one pipeline and one interval is called everywhere."""

    pipeline: str
    snapshot_date: date
    attempt: int = 1

    def __post_init__(self) -> None:
        if self.attempt < 1:
            raise ExportRefused(f"export_attempt {self.attempt} must be 1 or more")
        if not _RDS_ID.match(self.key):
            raise ExportRefused(f"pipeline name {self.pipeline!r} gives the identifier {self.key!r}, which RDS "
                                "refuses (lowercase letters, digits and single hyphens, 60 characters at most)")

    @classmethod
    def of_interval(cls, pipeline: str, start: datetime, end: datetime, attempt: int = 1) -> IntervalExport:
        """The names of the data interval [start, end), which must be exactly one UTC day [00:00, +1 day) (in
        any time zone that denotes those instants): everything is named after that day, and a snapshot stands
        for its end. Anything else (an API trigger's own data_interval_start/end) is refused."""
        start_utc, end_utc = (moment.astimezone(UTC) if moment.tzinfo else None for moment in (start, end))
        if start_utc is None or end_utc is None or start_utc.time() != time(0) or end_utc - start_utc != DAY:
            raise ExportRefused(f"the data interval [{start.isoformat()}, {end.isoformat()}) is not exactly one UTC "
                                "day [00:00, +1 day): trigger the run with a logical date instead (logical date D "
                                "exports the day before D)")
        return cls(pipeline, start_utc.date(), attempt)

    @property
    def key(self) -> str:
        base = f"{self.pipeline.replace('_', '-')}-lake-{self.snapshot_date:%Y%m%d}"
        return base if self.attempt == 1 else f"{base}-a{self.attempt}"

    @property
    def snapshot_id(self) -> str:
        return self.key

    @property
    def export_id(self) -> str:
        return self.key

    @property
    def partition_value(self) -> str:
        return self.snapshot_date.isoformat()

    def export_root(self, prefix: str | None) -> str:
        """Key prefix of the whole export: ``<prefix>/<export id>`` (no slashes at either end)."""
        return "/".join(part for part in ((prefix or "").strip("/"), self.export_id) if part)

    def table_folder(self, prefix: str | None, database: str, table: str) -> str:
        """Key prefix RDS writes one table under, with a trailing slash (a Glue/Athena LOCATION folder)."""
        return f"{self.export_root(prefix)}/{database}/{database}.{table}/"

    def tables_info_key(self, prefix: str | None, table_count: int) -> str:
        return f"{self.export_root(prefix)}/export_tables_info_{self.export_id}_from_1_to_{table_count}.json"


def parse_key(pipeline: str, key: str) -> IntervalExport | None:
    """The interval a snapshot id or export id of ``pipeline`` names; None for anything else."""
    match = _KEY.match(key)
    if match is None or match["pipeline"] != pipeline.replace("_", "-"):
        return None
    return IntervalExport(pipeline, datetime.strptime(match["day"], "%Y%m%d").date(), int(match["attempt"] or 1))


# -- the snapshot ------------------------------------------------------------------------------------
def check_interval_ended(interval_end: datetime, now: datetime) -> None:
    """Refuse an interval that has not ended: any snapshot of it (manual now, or an automated one inside it)
    would miss the rest of the day, and would then stand for the whole day."""
    if now < interval_end:
        raise ExportRefused(f"the day has not ended: the interval ends {interval_end.isoformat()}, after now "
                            f"({now.isoformat()}); a snapshot now would miss the rest of it. Run it after it ends.")


def check_manual_snapshot_timing(interval_end: datetime, now: datetime, max_lag: timedelta) -> None:
    """A manual snapshot taken now stands for the end of the interval only if the interval has ended and
    not long ago; otherwise refuse (use an automated snapshot of the interval, or raise the lag knowingly)."""
    check_interval_ended(interval_end, now)
    if now - interval_end > max_lag:
        raise ExportRefused(
            f"the interval ended {interval_end.isoformat()}, {now - interval_end} ago (more than "
            f"max_snapshot_lag_hours={max_lag / timedelta(hours=1):g}): a manual snapshot now would hold later data. "
            "Backfill with snapshot_source=automated, or raise max_snapshot_lag_hours knowingly.")


def latest_automated_snapshot(snapshots: list[dict], start: datetime, end: datetime) -> dict | None:
    """The newest available automated snapshot created inside [start, end) (DescribeDBClusterSnapshots items)."""
    inside = [s for s in snapshots if s.get("SnapshotType") == "automated" and s.get("Status") == "available"
              and start <= s["SnapshotCreateTime"] < end]
    return max(inside, key=lambda s: s["SnapshotCreateTime"], default=None)


def check_counts_completable(created: datetime, now: datetime, max_lag: timedelta) -> None:
    """An open count (``<before>..``: the try died before counting after) is completed only within ``max_lag`` of
    the snapshot's SnapshotCreateTime; later, the count after would take in rows written since and widen the range
    without limit, so refuse: the day is redone with a new snapshot."""
    if now - created > max_lag:
        raise ExportRefused(
            f"the snapshot was created {created.isoformat()}, {now - created} ago (more than max_snapshot_lag_hours="
            f"{max_lag / timedelta(hours=1):g}), and its source counts were never completed: counting now would "
            "not bound what it held. Redo the day with export_attempt raised by one (a new snapshot).")


def snapshot_tags(names: IntervalExport, before: dict[str, int]) -> list[dict]:
    """CreateDBClusterSnapshot Tags: the pipeline, the interval, and each table's count read just before the call
    as the open range ``<before>..`` (completed by :func:`count_tags`)."""
    fixed = zip(FIXED_TAG_KEYS, (names.pipeline, names.partition_value), strict=True)
    return [*({"Key": key, "Value": value} for key, value in fixed),
            *({"Key": f"{COUNT_TAG}{table}", "Value": f"{before[table]}.."} for table in sorted(before))]


def recorded_before(tags: list[dict]) -> dict[str, int]:
    """{table: count read before the snapshot} of the counts still open (``<before>..``) in a snapshot's tags."""
    return {table: int(match["before"]) for table, match in _count_values(tags, _OPEN_RANGE)}


def count_tags(before: dict[str, int], after: dict[str, int]) -> list[dict]:
    """AddTagsToResource Tags completing each table's count in place: ``<before>..<after>``."""
    return [{"Key": f"{COUNT_TAG}{table}", "Value": f"{before[table]}..{after[table]}"} for table in sorted(before)]


def recorded_counts(tags: list[dict]) -> dict[str, tuple[int, int]]:
    """{table: (low, high)} of the complete counts in a snapshot's tags (empty when it has none, e.g. an automated
    snapshot; an open count is not one)."""
    counts = {}
    for table, match in _count_values(tags, _RANGE):
        before, after = int(match["before"]), int(match["after"])
        counts[table] = (min(before, after), max(before, after))
    return counts


def _count_values(tags: list[dict], form: re.Pattern) -> list[tuple[str, re.Match]]:
    """(table, match) of each count tag whose whole value has ``form``."""
    found = ((tag["Key"][len(COUNT_TAG):], form.fullmatch(tag["Value"])) for tag in tags
             if tag["Key"].startswith(COUNT_TAG))
    return [(table, match) for table, match in found if match is not None]


# -- the export task ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportState:
    """One export task as DescribeExportTasks reports it."""

    identifier: str
    status: str
    source_arn: str = ""
    s3_bucket: str = ""
    s3_prefix: str = ""
    export_only: tuple[str, ...] = ()
    percent_progress: int = 0
    failure_cause: str = ""
    warning_message: str = ""

    @classmethod
    def from_api(cls, task: dict) -> ExportState:
        return cls(identifier=task["ExportTaskIdentifier"], status=task["Status"], source_arn=task.get("SourceArn", ""),
                   s3_bucket=task.get("S3Bucket", ""), s3_prefix=task.get("S3Prefix", ""),
                   export_only=tuple(task.get("ExportOnly") or ()), percent_progress=task.get("PercentProgress", 0),
                   failure_cause=task.get("FailureCause", ""), warning_message=task.get("WarningMessage", ""))

    def describe(self) -> str:
        text = f"export {self.identifier} {self.status} ({self.percent_progress}%)"
        if self.failure_cause:
            text += f": FailureCause: {self.failure_cause}"
        if self.warning_message:
            text += f"; WarningMessage: {self.warning_message}"
        return text


def plan_export(existing: ExportState | None, source_arn: str, bucket: str, prefix: str,
                export_only: list[str]) -> Action:
    """Start, wait for, or adopt the interval's export. An export of that id that failed, was canceled, or
    exports something else (another snapshot, bucket, prefix or table list) is refused, never restarted."""
    if existing is None:
        return Action.ACT
    if existing.status in FAILED:
        raise ExportFailed(f"{existing.describe()}. The id is used up: fix the cause, then re-run the interval "
                           f"with export_attempt raised by one (a new snapshot and export id).")
    wanted = (source_arn, bucket, prefix.strip("/"), tuple(sorted(export_only)))
    found = (existing.source_arn, existing.s3_bucket, existing.s3_prefix.strip("/"),
             tuple(sorted(existing.export_only)))
    if wanted != found:
        raise ExportRefused(f"{existing.identifier} exists but exports {found}, not {wanted}: refusing to adopt it")
    return Action.ADOPT if existing.status == "complete" else Action.WAIT


def check_capacity(running: list[str], own_id: str) -> None:
    """Refuse a new export while the account already runs five (RDS's limit); the step retries later."""
    others = sorted(set(running) - {own_id})
    if len(others) >= MAX_CONCURRENT_EXPORTS:
        raise RuntimeError(f"{len(others)} exports already run in this account ({', '.join(others)}); RDS allows "
                           f"{MAX_CONCURRENT_EXPORTS} at once. Retrying later.")


# -- what the export wrote ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportedTable:
    target: str  # db.table
    status: str
    type_mappings: tuple[dict, ...]
    warning: str = ""

    @property
    def table(self) -> str:
        return self.target.split(".", 1)[1]


def exported_tables(tables_info: list[dict]) -> dict[str, ExportedTable]:
    """{db.table: ExportedTable} from the perTableStatus entries of export_tables_info file(s)."""
    result = {}
    for status in tables_info:
        result[status["target"]] = ExportedTable(
            target=status["target"], status=status.get("status", "UNKNOWN"),
            type_mappings=tuple(status.get("schemaMetadata", {}).get("originalTypeMappings", [])),
            warning=status.get("warningMessage", ""))
    return result


def verify_tables(found: dict[str, ExportedTable], expected: list[str]) -> list[ExportedTable]:
    """Every expected ``db.table`` COMPLETE with a schema, in the expected order; otherwise fail listing every
    missing, skipped or failed table (RDS skips tables whose column names it cannot export)."""
    problems = []
    for target in expected:
        table = found.get(target)
        if table is None:
            problems.append(f"{target}: missing from export_tables_info")
        elif table.status != "COMPLETE":
            problems.append(f"{target}: {table.status}" + (f" ({table.warning})" if table.warning else ""))
        elif not table.type_mappings:
            problems.append(f"{target}: COMPLETE but without schemaMetadata")
    if problems:
        raise ExportIncomplete(f"{len(problems)} of {len(expected)} tables are not usable: " + "; ".join(problems))
    return [found[target] for target in expected]


# -- validation --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CountCheck:
    table: str
    athena: int
    low: int
    high: int

    @property
    def ok(self) -> bool:
        return self.low <= self.athena <= self.high

    def describe(self) -> str:
        expected = str(self.low) if self.low == self.high else f"{self.low}..{self.high}"
        return f"{self.table}: Athena {self.athena}, source at the snapshot {expected}{'' if self.ok else ' MISMATCH'}"


def require_counts(tables: list[str], recorded: dict[str, tuple[int, int]], snapshot_id: str) -> None:
    """Refuse to validate tables without a count of the source recorded at the snapshot (an automated snapshot,
    or a manual one whose counts were lost): the export's own files cannot vouch for themselves."""
    unverified = [t for t in tables if t not in recorded]
    if unverified:
        raise CountsUnverified(
            f"no count of the source at the snapshot is recorded for {', '.join(unverified)} (tags "
            f"{COUNT_TAG}<table> on {snapshot_id}): the export cannot be validated, so it is not published. Count "
            f"the snapshot's tables independently (e.g. on a cluster restored from it), tag the snapshot "
            f"{COUNT_TAG}<table>=<n>..<n>, then clear validate_counts.")


def check_counts(athena: dict[str, int], recorded: dict[str, tuple[int, int]]) -> list[CountCheck]:
    """Athena's count per table against the source's count recorded at the snapshot; fail on any mismatch
    (every table must have a recorded count: :func:`require_counts`)."""
    checks = [CountCheck(table, athena[table], *recorded[table]) for table in sorted(athena)]
    bad = [c.describe() for c in checks if not c.ok]
    if bad:
        raise CountMismatch("row counts differ: " + "; ".join(bad))
    return checks


# -- retention ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetentionPlan:
    keep: tuple[IntervalExport, ...]
    delete: tuple[IntervalExport, ...]
    latest_good: date | None

    def to_dict(self) -> dict:
        return {"keep": sorted(e.key for e in self.keep), "delete": sorted(e.key for e in self.delete),
                "latest_good": self.latest_good.isoformat() if self.latest_good else None}


def plan_retention(found: list[IntervalExport], current: date, keep_intervals: int,
                   good: set[date]) -> RetentionPlan:
    """Delete what is older than ``keep_intervals`` days before ``current`` (the run's own date counts as one),
    never the newest good (validated) snapshot date, and nothing newer than ``current``."""
    if keep_intervals < 1:
        raise ExportRefused(f"keep_intervals {keep_intervals} must be 1 or more")
    cutoff = current - timedelta(days=keep_intervals - 1)
    latest_good = max((d for d in good if d <= current), default=None)
    delete = tuple(sorted((e for e in set(found) if e.snapshot_date < cutoff and e.snapshot_date != latest_good),
                          key=lambda e: e.key))
    keep = tuple(sorted(set(found) - set(delete), key=lambda e: e.key))
    return RetentionPlan(keep=keep, delete=delete, latest_good=latest_good)
