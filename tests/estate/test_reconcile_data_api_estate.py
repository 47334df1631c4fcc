"""The warehouse through the Redshift Data API (a Serverless workgroup) on the estate: statements run on the
PostgreSQL warehouse with the Data API's lifecycle and paging (rehearsal/redshift_data.py), in the reconcile's
Redshift dialect. Equal tables pass, planted drift is named, and each way a statement can end is named: FAILED
(a refusal), ABORTED, not finished within its bound (cancelled), throttled."""

from __future__ import annotations

from dataclasses import replace

import pytest
from reconcile_sides import sides

from cdc_runbooks.aws.redshift_data import StatementFailed, StatementInterrupted, run_statement
from cdc_runbooks.data_api_target import DataApiTarget
from cdc_runbooks.pipelines import Pipeline
from cdc_runbooks.reconcile.engine import Settings, reconcile
from cdc_runbooks.reconcile.row_checksum import Dialect
from cdc_runbooks.reconcile.sides import SideUnreachable, target_side
from cdc_runbooks.refusal import Refusal
from rehearsal import drift

pytestmark = pytest.mark.estate

TARGET = DataApiTarget(database="warehouse", workgroup="analytics")
PIPELINE = Pipeline(name="shop", source_cluster="prod", target_schema="shop", tables=("customers", "orders"),
                    dms_task_arn="arn:aws:dms:us-east-1:123456789012:task:prod-to-warehouse", redshift_data=TARGET)


@pytest.fixture
def data_api(shared_estate, monkeypatch):
    for name, value in shared_estate.airflow_env().items():
        monkeypatch.setenv(name, value)
    shared_estate.wait_cdc_idle()
    yield shared_estate
    shared_estate.redshift_data.faults = type(shared_estate.redshift_data.faults)()
    shared_estate.throttling.faults.burst = 0


def _reconcile(estate, **settings):
    source, _ = sides(estate)
    return reconcile(source, target_side(PIPELINE), ["customers", "orders"],
                     Settings(**{"mode": "checksum", "settle_s": 1, "poll_s": 0.2, **settings}))


def test_equal_tables_pass_and_planted_drift_is_named_through_the_data_api(data_api):
    assert target_side(PIPELINE).dialect is Dialect.REDSHIFT
    assert _reconcile(data_api).passed

    drift.lose(data_api, "orders", 10)
    drift.duplicate(data_api, "orders", 20)
    drift.set_value(data_api, "customers", 41, "email", None)
    try:
        report = _reconcile(data_api)
    finally:
        for table, key in (("orders", 10), ("orders", 20), ("customers", 41)):
            drift.repair(data_api, table, key)

    customers, orders = report.tables
    assert (orders.missing, orders.duplicate) == ((10,), (20,))
    assert [(c.key, c.columns, c.null_columns) for c in customers.changed] == [(41, ("email",), ("email",))]
    statements = list(data_api.redshift_data.statements.values())
    assert statements and all(s.target == {"WorkgroupName": "analytics", "Database": "warehouse"} for s in statements)


def test_results_are_read_page_by_page(data_api):
    expected = data_api.warehouse.query("SELECT id FROM shop.orders ORDER BY id")
    assert len(expected) > 2 * data_api.redshift_data.page_size

    rows = run_statement("aws_default", TARGET, "SELECT id FROM shop.orders WHERE id > %s ORDER BY id", [0])

    assert rows == [tuple(row) for row in expected]


def test_a_failed_statement_is_a_refusal_naming_the_warehouse_error(data_api, fault_row):
    row = fault_row("Data API statement failed", expected="the reconcile refuses naming the Data API target and "
                    "the warehouse's error, nothing concluded; fixed, it passes: drift 0")
    with pytest.raises(StatementFailed, match='relation "shop.nope" does not exist'):
        run_statement("aws_default", TARGET, "SELECT COUNT(*) FROM shop.nope")
    data_api.redshift_data.faults.fail_next = ["permission denied for schema shop"]
    with pytest.raises(Refusal, match=r"the warehouse \(Redshift Data API \(workgroup analytics, database "
                                      r"warehouse\)\) refused a query: .*permission denied for schema shop") as refused:
        _reconcile(data_api)

    assert _reconcile(data_api).passed
    assert row.recovered(data_api, f"{type(refused.value).__name__}: {str(refused.value)[:160]}...; "
                                   "then the reconcile passes") == 0


def test_an_aborted_or_overdue_statement_concludes_nothing_and_the_overdue_one_is_cancelled(data_api, fault_row):
    row = fault_row("Data API statement aborted, or overdue and cancelled",
                    expected="SideUnreachable (transient: the step retries), nothing concluded; an overdue statement "
                             "is cancelled; the next reconcile passes: drift 0")
    data_api.redshift_data.faults.abort_next = 1
    with pytest.raises(SideUnreachable, match="was aborted. Nothing was concluded about drift") as aborted:
        _reconcile(data_api)

    data_api.redshift_data.faults.hold_s = [2.0]
    with pytest.raises(StatementInterrupted, match=r"did not finish within 0.5 s \(STARTED\); it was cancelled"):
        run_statement("aws_default", TARGET, "SELECT 1", timeout_s=0.5, poll_s=0.1)
    assert list(data_api.redshift_data.statements.values())[-1].status == "ABORTED"
    assert _reconcile(data_api).passed
    assert row.recovered(data_api, f"{str(aborted.value)[:140]}...; overdue statement ABORTED by "
                                   "CancelStatement; then the reconcile passes") == 0


def test_throttling_is_absorbed_by_the_sdk_and_beyond_its_retries_concludes_nothing(data_api, fault_row):
    row = fault_row("Data API statement polls throttled past the SDK's retries",
                    expected="bursts absorbed by the SDK's retries; beyond them SideUnreachable, nothing concluded; "
                             "throttling over, the reconcile passes: drift 0")
    faults = data_api.throttling.faults
    faults.actions, faults.burst, faults.served = frozenset({"DescribeStatement"}), 2, 3
    assert _reconcile(data_api).passed
    absorbed = data_api.throttling.throttled["DescribeStatement"]
    assert absorbed > 0

    faults.burst, faults.served = 1000, 1
    with pytest.raises(SideUnreachable, match="ThrottlingException after the SDK's retries") as throttled:
        _reconcile(data_api)
    faults.burst = 0
    assert _reconcile(data_api).passed
    assert row.recovered(data_api, f"{absorbed} throttled polls absorbed, reconcile passed; past the retries: "
                                   f"{str(throttled.value)[:120]}...; throttling over: passes") == 0


def test_a_pipeline_names_exactly_one_workgroup_or_cluster():
    with pytest.raises(ValueError, match="exactly one of workgroup"):
        replace(TARGET, cluster="prod-warehouse")
    with pytest.raises(ValueError, match="exactly one of workgroup"):
        DataApiTarget(database="warehouse")


@pytest.fixture
def unsigned_and_double(data_api):
    """A BIGINT UNSIGNED key (DMS: NUMERIC(20,0)) up to its maximum, and doubles."""
    data_api.source.writer.execute(  # out of the binlog: not CDC traffic (the applier follows mapped tables only)
        "SET SESSION sql_log_bin = 0",
        "DROP TABLE IF EXISTS shop.ubig", "CREATE TABLE shop.ubig (id BIGINT UNSIGNED PRIMARY KEY, d DOUBLE)",
        "INSERT INTO shop.ubig VALUES (1, 1234567.89012345), (2, 0.1), (18446744073709551615, -2.5e-7)")
    data_api.warehouse.query(
        "DROP TABLE IF EXISTS shop.ubig; CREATE TABLE shop.ubig (id NUMERIC(20,0), d DOUBLE PRECISION); "
        "INSERT INTO shop.ubig VALUES (1, 1234567.89012345), (2, 0.1), (18446744073709551615, -2.5e-7)")
    yield data_api
    data_api.source.writer.execute("SET SESSION sql_log_bin = 0", "DROP TABLE shop.ubig")
    data_api.warehouse.query("DROP TABLE shop.ubig")


def test_a_numeric_key_and_doubles_compare_equal_over_both_protocols(unsigned_and_double):
    """The Data API returns NUMERIC as text ('1.0000' for a segment computed in DECIMAL arithmetic). A double of 17
    significant digits is equal over PostgreSQL's protocol (its text gives every digit) but not in the Redshift
    dialect, which keeps 15 (the documented limit: reported as drift, never hidden)."""
    source, warehouse = sides(unsigned_and_double)
    data_api = target_side(replace(PIPELINE, tables=("ubig",)))
    settings = Settings(mode="checksum", settle_s=0, leaf_rows=1, max_segments=4)
    for target in (warehouse, data_api):
        assert reconcile(source, target, ["ubig"], settings).passed

    unsigned_and_double.source.writer.execute("SET SESSION sql_log_bin = 0",
                                              "UPDATE shop.ubig SET d = 123456789012.34567 WHERE id = 1")
    unsigned_and_double.warehouse.query("UPDATE shop.ubig SET d = 123456789012.34567 WHERE id = 1")
    assert reconcile(source, warehouse, ["ubig"], settings).passed
    assert [c.key for c in reconcile(source, data_api, ["ubig"], settings).tables[0].changed] == [1]


def test_the_estate_data_api_reads_sql_and_numbers_as_aws_does(data_api):
    assert run_statement("aws_default", TARGET, "SELECT 7 % 3") == [(1,)]  # no parameters: % is SQL's
    assert run_statement("aws_default", TARGET, "SELECT CAST(0.00000001 AS NUMERIC(10,8)), CAST(0 AS NUMERIC(10,4))"
                         ) == [("0.00000001", "0.0000")]  # NUMERIC in plain digits
    with pytest.raises(StatementFailed, match="refuses statements over 100000 bytes"):
        run_statement("aws_default", TARGET, "SELECT 1" + " " * 100_000)
