"""console_switchover: which deployment a switchover started outside Airflow belongs to, and whether DMS stopped
before it completed — over generated deployments, events (stale, replayed, of other deployments, malformed) and
clocks in any time zone.

Pure: no AWS, no Airflow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc_runbooks.blue_green import DeploymentState
from cdc_runbooks.console_switchover import (
    ConsoleSwitchover,
    SwitchoverNotFound,
    dms_read_green,
    find_console_switchover,
)

PROD = "arn:aws:rds:us-east-1:123456789012:cluster:prod"
SINCE = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
STATUSES = ("AVAILABLE", "SWITCHOVER_IN_PROGRESS", "SWITCHOVER_COMPLETED", "SWITCHOVER_FAILED", "PROVISIONING")
ARNS = (PROD, "arn:aws:rds:us-east-1:123456789012:cluster:prod-old1", "arn:aws:rds:us-east-1:123456789012:cluster:x",
        "arn:aws:rds:us-east-1:999999999999:cluster:prod", "arn:aws:rds:eu-west-1:123456789012:cluster:prod")
STARTED = "Switchover from prod to prod-green-x started."
COMPLETED = "Switchover completed on blue/green deployment."
MESSAGES = (STARTED, "Switchover from prod to prod-green-x started", COMPLETED,
            "Switchover completed on blue/green deployment", "Switchover canceled on blue/green deployment.",
            "Blue/green deployment tasks completed.", f"{STARTED} (replayed)", f"x {COMPLETED}")


def deployment(n: int, source: str = PROD, target: str = ARNS[2], status: str = "SWITCHOVER_IN_PROGRESS"):
    return DeploymentState(f"bgd-{n:016d}", f"upgrade-{n}", source, target, status)


def event(n: int, message: str, at: datetime) -> dict:
    return {"SourceIdentifier": f"bgd-{n:016d}", "SourceType": "blue-green-deployment", "Message": message,
            "Date": at}


zones = st.sampled_from([UTC, timezone(timedelta(hours=-8)), timezone(timedelta(hours=5, minutes=45))])
moments = st.builds(lambda s, z: (SINCE + timedelta(seconds=s)).astimezone(z),
                    st.sampled_from([-1, 0, 1, 60]) | st.integers(-7200, 7200), zones)  # edges and ties often
arns = st.sampled_from((PROD, PROD, *ARNS))  # production half the time
junk = st.fixed_dictionaries({"SourceIdentifier": st.sampled_from(["bgd-0000000000000001", None, 7]),
                              "Message": st.sampled_from([STARTED, None, 3]),
                              "Date": st.sampled_from(["2026-12-01T03:00:00Z", None, SINCE])})


@st.composite
def histories(draw) -> tuple[list[DeploymentState], list[dict]]:
    """Up to four deployments, each with up to five events (starts, completions, other messages; often at the
    same instant), events of a deployment that does not exist, malformed events; in any order."""
    count = draw(st.integers(0, 4))
    found = [deployment(n, draw(arns), draw(arns), draw(st.sampled_from(STATUSES))) for n in range(count)]
    history = [event(n, draw(st.sampled_from((STARTED, COMPLETED, *MESSAGES))), draw(moments))
               for n in range(count + 1) for _ in range(draw(st.integers(0, 5)))]
    return found, draw(st.permutations(history + draw(st.lists(junk, max_size=2))))


def switches_production(d: DeploymentState) -> bool:
    return d.source == PROD or (d.status == "SWITCHOVER_COMPLETED" and d.target == PROD)


def starts(d: DeploymentState, events: list[dict]) -> list[datetime]:
    return [e["Date"] for e in events if e.get("SourceIdentifier") == d.identifier
            and isinstance(e.get("Date"), datetime) and e["Date"] >= SINCE
            and e.get("Message") in (STARTED, STARTED.rstrip("."))]


def switching_now(d: DeploymentState) -> bool:
    return d.status == "SWITCHOVER_IN_PROGRESS" and d.source == PROD


@settings(max_examples=500)
@given(histories())
def test_the_switchover_found_is_the_one_in_progress_or_else_the_latest_start_since_the_window(history):
    deployments, events = history
    now = [d for d in deployments if switching_now(d)]
    latest = sorted(((max(starts(d, events)), d) for d in deployments if switches_production(d) and starts(d, events)),
                    key=lambda started: started[0])
    try:
        found = find_console_switchover(deployments, events, PROD, SINCE)
    except SwitchoverNotFound as refused:
        assert len(now) > 1 or (not now and (not latest or latest[-1][0] == latest[-2][0])), "refused a clear case"
        assert "RDS console" in str(refused)
        return
    assert switches_production(found.deployment)
    if now:
        assert [found.deployment] == now
        assert found.started_at == max(starts(found.deployment, events), default=SINCE)
    else:
        assert found.started_at == max(starts(found.deployment, events)) == latest[-1][0]
        assert all(when < found.started_at for when, d in latest if d != found.deployment)
    own_completions = [e["Date"] for e in events if e.get("SourceIdentifier") == found.deployment.identifier
                       and e.get("Message") in (COMPLETED, COMPLETED.rstrip("."))
                       and isinstance(e.get("Date"), datetime) and e["Date"] >= found.started_at]
    assert found.completed_at == min(own_completions, default=None)


def test_a_switchover_in_progress_is_followed_before_rds_history_shows_its_start():
    found = find_console_switchover([deployment(1)], [], PROD, SINCE)
    assert (found.deployment.identifier, found.started_at, found.completed_at) == (deployment(1).identifier, SINCE,
                                                                                  None)


def test_a_deployment_of_another_account_region_or_cluster_is_never_followed():
    others = [deployment(n, source=arn) for n, arn in enumerate(ARNS[1:], start=1)]
    with pytest.raises(SwitchoverNotFound, match="no blue/green deployments"):
        find_console_switchover(others, [event(n, STARTED, SINCE) for n in range(1, 5)], PROD, SINCE)


def test_a_stale_or_replayed_start_before_the_window_is_not_a_switchover_now():
    old = deployment(1, source=ARNS[1], target=PROD, status="SWITCHOVER_COMPLETED")  # last month's upgrade
    with pytest.raises(SwitchoverNotFound):
        find_console_switchover([old], [event(1, STARTED, SINCE - timedelta(seconds=1))], PROD, SINCE)


def test_last_months_completed_upgrade_does_not_hide_todays_switchover():
    old = deployment(1, source=ARNS[1], target=PROD, status="SWITCHOVER_COMPLETED")
    today = deployment(2)
    found = find_console_switchover([old, today], [event(1, STARTED, SINCE + timedelta(seconds=5)),
                                                   event(2, STARTED, SINCE + timedelta(seconds=60))], PROD, SINCE)
    assert found.deployment == today and found.completed_at is None


def test_two_switchovers_started_at_the_same_instant_are_for_a_person():
    rolled_back = [deployment(n, status="AVAILABLE") for n in (1, 2)]
    with pytest.raises(SwitchoverNotFound, match="two .* at once"):
        find_console_switchover(rolled_back, [event(1, STARTED, SINCE), event(2, STARTED, SINCE)], PROD, SINCE)


def completed(at: datetime | None) -> ConsoleSwitchover:
    return ConsoleSwitchover(deployment(1, status="SWITCHOVER_COMPLETED"), SINCE, at)


@given(moments, moments)
def test_dms_stopped_in_time_only_strictly_before_the_completion(completed_at, stopped_at):
    reason = dms_read_green(completed(completed_at), stopped_at)
    if stopped_at < completed_at:
        assert reason is None
    else:
        assert "may have read green from blue's coordinates" in reason


@given(st.sampled_from([s for s in STATUSES if s != "SWITCHOVER_COMPLETED"]), st.none() | moments,
       st.none() | moments)
def test_no_damage_while_the_switchover_has_not_completed(status, completed_at, stopped_at):
    switchover = ConsoleSwitchover(deployment(1, status=status), SINCE, completed_at)
    assert dms_read_green(switchover, stopped_at) is None


@pytest.mark.parametrize(("completed_at", "stopped_at", "says"), [
    (None, SINCE, "no completion event"), (SINCE, None, "no stop time")])
def test_an_unknown_time_after_a_completion_counts_as_damage(completed_at, stopped_at, says):
    assert says in dms_read_green(completed(completed_at), stopped_at)


def test_the_completion_is_the_first_after_the_latest_start():
    at = [SINCE + timedelta(seconds=s) for s in range(5)]
    history = [event(1, COMPLETED, at[0]), event(1, STARTED, at[1]), event(1, COMPLETED, at[4]),
               event(1, COMPLETED, at[3]), event(1, STARTED, at[2])]  # a retried switchover, RDS's history unordered
    found = find_console_switchover([deployment(1, source=ARNS[1], target=PROD, status="SWITCHOVER_COMPLETED")],
                                    history, PROD, SINCE)
    assert (found.started_at, found.completed_at) == (at[2], at[3])
