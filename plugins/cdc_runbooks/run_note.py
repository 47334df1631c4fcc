"""The DAG run's note: the run's short human summary where the Airflow UI shows it (the run's page, rendered
Markdown), set by ``record_run``.

Airflow 3.3's Task SDK cannot set a run's note (its execution API has no such call; only a trigger may give a
*new* run one), so the note goes through the public REST API, `PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}
<https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html#operation/patch_dag_run>`_, as a
user the deployment trusts with it. The connection ``airflow_api`` (HTTP) says how:

- host: the API server's base URL (``http://airflow.internal:8080``); empty means this deployment's own
  ``[api] base_url``;
- login/password: a user of the auth manager, exchanged for a JWT at ``POST {host}/auth/token`` (the simple and
  FAB auth managers); or ``{"token": "<JWT>"}`` in the extra for a token issued otherwise.

Without the connection no note is set and the summary stays at the top of ``record_run``'s log.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import requests

AIRFLOW_API_CONN_ID = "airflow_api"
NOTE_MAX_CHARS = 1000  # DAGRunPatchBody.note (the note column is 1000 characters)
TIMEOUT_S = 30


class RunNoteError(RuntimeError):
    """The REST API refused the note or the token (the status and the API's message)."""


def fitted_note(markdown: str) -> str:
    """``markdown`` cut to what the API accepts, with an ellipsis where it was cut."""
    return markdown if len(markdown) <= NOTE_MAX_CHARS else markdown[:NOTE_MAX_CHARS - 1] + "…"


def api_base_url(host: str | None, port: int | None, default: str) -> str:
    """The API server's base URL from an HTTP connection's host — a name, an address (IPv6 too), or a URL with a
    scheme, a port or a path — and its port (used only when the host names none)."""
    if not host:
        return default.rstrip("/")
    if "://" not in host:
        host = f"http://[{host}]" if host.count(":") > 1 and "[" not in host else f"http://{host}"  # bare IPv6
    parts = urlsplit(host)
    name = parts.hostname or ""
    name = f"[{name}]" if ":" in name else name
    given = parts.port or port
    return f"{parts.scheme}://{name}{f':{given}' if given else ''}{parts.path.rstrip('/')}"


def set_run_note(dag_id: str, run_id: str, note: str, conn_id: str = AIRFLOW_API_CONN_ID) -> bool:
    """Set the run's note; False when ``conn_id`` is not defined (nothing to call). Raises
    :class:`RunNoteError` for anything else that keeps the note from being set (the API refusing or unreachable,
    an answer that is not the API's, a malformed connection)."""
    from airflow.configuration import conf
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    extra = connection.extra_dejson
    if not isinstance(extra, dict):
        raise RunNoteError(f"connection {conn_id!r}: its extra is not a JSON object")
    base = api_base_url(connection.host, connection.port, conf.get("api", "base_url", fallback=""))
    token = extra.get("token") or _call(
        "POST", f"{base}/auth/token", {"username": connection.login, "password": connection.password},
        f"get a token for {connection.login!r}", answer="access_token")
    _call("PATCH", f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}?update_mask=note",
          {"note": fitted_note(note)}, "set the run's note", token=token)
    return True


def _call(method: str, url: str, body: dict, doing: str, token: str | None = None, answer: str | None = None):
    """The call's answer ``answer`` (a key of its JSON body), or None when no answer is wanted."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.request(method, url, json=body, headers=headers, timeout=TIMEOUT_S)
    except requests.RequestException as error:
        raise RunNoteError(f"could not {doing}: {error}") from error
    if response.status_code >= 300:
        raise RunNoteError(f"could not {doing}: {method} {url} {response.status_code} {response.text[:300]}")
    if answer is None:
        return None
    try:
        return response.json()[answer]
    except (ValueError, KeyError, TypeError) as error:  # e.g. a login page of a proxy in front of the API
        raise RunNoteError(f"could not {doing}: {method} {url} answered without {answer!r}: "
                           f"{response.text[:300]}") from error
