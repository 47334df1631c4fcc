"""The switchover runbook driven through the Airflow UI in headless Chromium (tests/support/browser.py), on a
CeleryExecutor Airflow and one estate on 127.0.0.1: the DAG docs read at the default window size, the run
triggered from the trigger form, the plan read and Approve clicked on the Required Actions page, the run and the
resume run it creates succeed, the resume run's page shows its summary (the run's note). On failure, screenshots
and page texts stay in the directory the test prints."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
import requests
from browser import WIDTH, Browser

from rehearsal.airflow_cluster import ADMIN, AirflowCluster, poll
from rehearsal.airflow_runs import (
    PARK_MARGIN_S,
    RESUME,
    RUN_TIMEOUT_S,
    SWITCHOVER,
    TERMINAL,
    all_dags_parsed,
    diagnosis,
    json_of,
    run_state,
    runs,
    task_state,
    wait_runs,
)
from rehearsal.estate_process import EstateProcess
from rehearsal.pipelines_file import connection_env, pipeline_settings, write_pipelines

pytestmark = [pytest.mark.estate, pytest.mark.celery, pytest.mark.browser, pytest.mark.timeout(900)]

SUFFIX = "a"
PIPELINE = f"shop_{SUFFIX}"
PAGE_TIMEOUT_S = 150  # a page of the React UI on a loaded 2-core machine


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """One estate and a CeleryExecutor Airflow with its pipeline configured."""
    config = tmp_path_factory.mktemp("pipelines") / "pipelines.yaml"
    write_pipelines(config, {PIPELINE: pipeline_settings(SUFFIX)})
    with EstateProcess.running_many(1) as (estate,):
        def env() -> dict[str, str]:
            # A DAG file parsed beside a busy test run has taken > 30 s (the default): an import error, not a bug.
            return {"CDC_RUNBOOKS_PIPELINES": str(config), "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
                    **connection_env(estate.info["airflow_env"], SUFFIX)}

        with AirflowCluster.running(env) as cluster:
            yield cluster, estate
        assert cluster.leftover_processes() == []


def _logged_in(browser: Browser, cluster: AirflowCluster) -> None:
    """The simple auth manager's session: its JWT in the ``_token`` cookie, as its login page leaves it."""
    response = requests.post(f"{cluster.url}/auth/token", json={"username": ADMIN, "password": cluster.password},
                             timeout=60)
    response.raise_for_status()
    browser.set_cookie(cluster.url, "_token", response.json()["access_token"])


DOCS_DIALOG = "[...document.querySelectorAll('[role=dialog]')].find(e => e.innerText.includes('Dag Documentation'))"


def _docs_settled(browser: Browser) -> None:
    """The docs dialog open and done growing: its opening animation scales it in, and a box read mid-way is
    smaller than what the on-call sees."""
    browser.wait_for(f"""(() => {{ const d = {DOCS_DIALOG};
        return !!d && d.getAnimations({{subtree: true}}).every(a => a.playState !== 'running'); }})()""",
                     30, "docs dialog settled")


def _docs_layout(browser: Browser) -> dict:
    """The docs dialog's box, its body text size, its first heading's box, the window's inner size, and what sticks
    out of the dialog on the right (each element whose box passes its right edge, outside fenced code blocks,
    which scroll on their own): anything there makes the whole page scroll sideways and cuts every line."""
    return browser.evaluate(f"""(() => {{
        const d = {DOCS_DIALOG};
        const h = d.querySelector('h1, h2, h3');
        const right = d.getBoundingClientRect().right;
        const wide = [...d.querySelectorAll('*')].filter(e => !e.closest('pre')
            && e.getBoundingClientRect().right > right + 1).map(e => ({{tag: e.tagName,
            width: Math.round(e.getBoundingClientRect().width), text: (e.innerText || '').slice(0, 80)}}));
        return {{box: d.getBoundingClientRect().toJSON(), heading: h.getBoundingClientRect().toJSON(),
                view: [window.innerWidth, window.innerHeight], wide: wide.slice(0, 10),
                font: parseFloat(getComputedStyle(d.querySelector('p')).fontSize)}}; }})()""")


def _read_docs(browser: Browser, cluster: AirflowCluster) -> None:
    browser.goto(f"{cluster.url}/dags/{SWITCHOVER}")
    browser.click_text("Dag Docs", timeout=PAGE_TIMEOUT_S)
    browser.wait_for_text("Owner:", PAGE_TIMEOUT_S)
    browser.wait_for_text("Purpose", 10)
    _docs_settled(browser)
    layout = _docs_layout(browser)
    browser.dump("1_dag_docs")
    box, heading, (width, height) = layout["box"], layout["heading"], layout["view"]
    assert width == WIDTH, layout
    assert box["left"] >= 0 and box["right"] <= width and box["top"] >= 0 and box["bottom"] <= height, layout
    assert box["width"] >= 480 and box["height"] >= 300, f"docs dialog too small to read: {layout}"
    assert box["top"] <= heading["top"] and heading["bottom"] <= box["bottom"], f"title not in view: {layout}"
    assert layout["font"] >= 14, f"docs text smaller than 14 px: {layout}"
    assert layout["wide"] == [], f"the docs scroll sideways: {layout['wide']}"
    browser.click_text("Close", selector="[role=dialog] button", timeout=10)


def _trigger_from_form(browser: Browser, cluster: AirflowCluster, deployment_id: str) -> str:
    """Fill the switchover's trigger form (the pipeline is the only one configured: its default) and submit."""
    browser.click_text("Trigger Dag", timeout=PAGE_TIMEOUT_S)
    browser.wait_for_text("Run Parameters", PAGE_TIMEOUT_S)
    browser.type_into("#element_deployment_id", deployment_id)
    browser.dump("2_trigger_form")
    browser.click_text("Trigger", selector="[role=dialog] button", timeout=30)
    found = poll(lambda: runs(cluster, SWITCHOVER), 60, "the run triggered from the form", check=cluster.check_alive)
    assert len(found) == 1, found
    assert {k: found[0]["conf"].get(k) for k in ("pipeline", "deployment_id", "pre_approved")} == {
        "pipeline": PIPELINE, "deployment_id": deployment_id, "pre_approved": False}
    return found[0]["dag_run_id"]


def _parked(cluster: AirflowCluster, run_id: str) -> bool:
    if run_state(cluster, SWITCHOVER, run_id) in TERMINAL:
        raise AssertionError(f"{run_id} ended before its approval was answered")
    return task_state(cluster, SWITCHOVER, run_id, "approve_switchover") == "awaiting_input"


def _approve_in_page(browser: Browser, cluster: AirflowCluster, run_id: str) -> None:
    """The Required Actions page of approve_switchover shows the plan; Approve is clicked there."""
    poll(lambda: _parked(cluster, run_id), RUN_TIMEOUT_S, "approve_switchover awaiting input",
         check=cluster.check_alive)
    parked = time.monotonic()
    browser.goto(f"{cluster.url}/dags/{SWITCHOVER}/runs/{quote(run_id, safe='')}/tasks/approve_switchover/"
                 "required_actions")
    browser.wait_for_text(f"Switch {PIPELINE} over", PAGE_TIMEOUT_S)
    browser.wait_for_text("Plan: switch", 30)
    browser.wait_for_text("SwitchoverBlueGreenDeployment", 10)
    browser.dump("3_required_action")
    time.sleep(max(0.0, PARK_MARGIN_S - (time.monotonic() - parked)))  # the 3.3.2 race of answering too early
    browser.click_text("Approve", timeout=30)
    poll(lambda: task_state(cluster, SWITCHOVER, run_id, "approve_switchover") not in (None, "awaiting_input"),
         60, "the approval answered from the page", check=cluster.check_alive)


def _resume_run(cluster: AirflowCluster) -> dict | None:
    found = runs(cluster, f"{RESUME}.{PIPELINE}")
    return found[0] if found and found[0]["state"] in TERMINAL else None


def test_switchover_through_the_ui_in_a_real_browser(deployment, tmp_path):
    cluster, estate = deployment
    artifacts = tmp_path / "ui-artifacts"
    poll(lambda: all_dags_parsed(cluster), 180, "every DAG file parsed", check=cluster.check_alive)
    json_of(cluster.api("PATCH", f"/dags/{SWITCHOVER}", json={"is_paused": False}))
    with Browser.running(artifacts) as browser:
        try:
            _logged_in(browser, cluster)
            _read_docs(browser, cluster)
            run_id = _trigger_from_form(browser, cluster, estate.info["deployment_id"])
            _approve_in_page(browser, cluster, run_id)
            assert wait_runs(cluster, SWITCHOVER, [run_id]) == {run_id: "success"}, diagnosis(cluster, {SUFFIX: estate})
            resume = poll(lambda: _resume_run(cluster), RUN_TIMEOUT_S, f"{RESUME}.{PIPELINE} run finished",
                          check=cluster.check_alive)
            assert resume["dag_run_id"].startswith("switchover__") and resume["state"] == "success", resume
            browser.goto(f"{cluster.url}/dags/{resume['dag_id']}/runs/{quote(resume['dag_run_id'], safe='')}")
            browser.wait_for_text(resume["dag_run_id"], PAGE_TIMEOUT_S)
            browser.wait_for_text("summarize", 30)
            # The run's note, rendered; until opened the UI shows its first line: outcome, drift and CDC gap.
            browser.wait_for_text(f"{RESUME}.{PIPELINE} / {PIPELINE}: SUCCESS · drift: 0 rows, CDC gap: ", 30)
            browser.dump("4_resume_run")
        except BaseException:
            browser.dump("failure")
            print(f"UI artifacts (screenshots, page texts): {artifacts}")
            print(diagnosis(cluster, {SUFFIX: estate}))
            raise
