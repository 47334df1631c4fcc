"""run_note: the run's summary set as its note through the REST API — against a small HTTP server on 127.0.0.1
that answers as Airflow's API server does (``POST /auth/token``, ``PATCH …/dagRuns/{run_id}``)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc_runbooks.run_note import NOTE_MAX_CHARS, RunNoteError, api_base_url, fitted_note, set_run_note

RUN_ID = "switchover__2026-12-02T01:00:00+00:00"


class FakeApi(BaseHTTPRequestHandler):
    """Records every request; answers /auth/token with a token (401 for a wrong password) and PATCH with 200."""

    calls: list[tuple[str, str, dict, str | None]] = []
    patch_status = 200
    token_page: bytes | None = None  # what a proxy in front of the API answers instead, if set

    def _handle(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.calls.append((self.command, self.path, body, self.headers.get("Authorization")))
        if self.path == "/auth/token" and self.token_page is not None:
            self._answer(200, self.token_page, "text/html")
        elif self.path == "/auth/token":
            ok = body == {"username": "runbooks", "password": "s3cret"}
            self._answer(201 if ok else 401, {"access_token": "jwt-1"} if ok else {"detail": "Invalid credentials"})
        elif self.patch_status == 204:
            self._answer(204, b"")
        else:
            self._answer(self.patch_status, {"note": body.get("note")})

    do_POST = do_PATCH = _handle

    def _answer(self, status: int, payload: dict | bytes, content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    FakeApi.calls, FakeApi.patch_status, FakeApi.token_page = [], 200, None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def connect(monkeypatch, host: str, **fields) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", json.dumps({"conn_type": "http", "host": host, **fields}))


def test_without_the_connection_no_note_is_set_and_nothing_is_called(monkeypatch, api):
    monkeypatch.delenv("AIRFLOW_CONN_AIRFLOW_API", raising=False)
    assert set_run_note("cdc_resume_after_switchover", RUN_ID, "**ok**") is False
    assert FakeApi.calls == []


def test_login_and_password_get_a_token_then_patch_only_the_note(monkeypatch, api):
    connect(monkeypatch, api, login="runbooks", password="s3cret")
    assert set_run_note("cdc_resume_after_switchover.shop", RUN_ID, "**ok**\n- drift: 0 rows") is True
    token, patch = FakeApi.calls
    assert token[:2] == ("POST", "/auth/token")
    assert patch == ("PATCH", "/api/v2/dags/cdc_resume_after_switchover.shop/dagRuns/"
                              "switchover__2026-12-02T01%3A00%3A00%2B00%3A00?update_mask=note",
                     {"note": "**ok**\n- drift: 0 rows"}, "Bearer jwt-1")


def test_a_token_in_the_extra_is_used_as_is(monkeypatch, api):
    connect(monkeypatch, api, extra={"token": "jwt-from-vault"})
    assert set_run_note("d", "r", "n") is True
    assert [(c[0], c[3]) for c in FakeApi.calls] == [("PATCH", "Bearer jwt-from-vault")]


def test_a_refused_login_is_a_run_note_error_naming_the_status(monkeypatch, api):
    connect(monkeypatch, api, login="runbooks", password="wrong")
    with pytest.raises(RunNoteError, match="get a token for 'runbooks'.*401"):
        set_run_note("d", "r", "n")
    assert [c[0] for c in FakeApi.calls] == ["POST"]


def test_a_refused_patch_is_a_run_note_error(monkeypatch, api):
    connect(monkeypatch, api, extra={"token": "t"})
    FakeApi.patch_status = 403
    with pytest.raises(RunNoteError, match="set the run's note.*403"):
        set_run_note("d", "r", "n")


def test_an_unreachable_api_is_a_run_note_error(monkeypatch, api):
    closed = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    port = closed.server_port
    closed.server_close()
    connect(monkeypatch, f"http://127.0.0.1:{port}", extra={"token": "t"})
    with pytest.raises(RunNoteError, match="could not set the run's note"):
        set_run_note("d", "r", "n")


def test_a_long_summary_is_cut_to_what_the_api_accepts(monkeypatch, api):
    connect(monkeypatch, api, extra={"token": "t"})
    set_run_note("d", "r", "x" * 5000)
    note = FakeApi.calls[0][2]["note"]
    assert len(note) == NOTE_MAX_CHARS and note.endswith("…")


@given(st.text(max_size=3 * NOTE_MAX_CHARS))
def test_fitted_note_is_never_longer_than_the_limit_and_keeps_short_notes(markdown):
    fitted = fitted_note(markdown)
    assert len(fitted) <= NOTE_MAX_CHARS
    assert fitted == markdown if len(markdown) <= NOTE_MAX_CHARS else fitted[:-1] == markdown[:NOTE_MAX_CHARS - 1]


@pytest.mark.parametrize(("page", "extra", "message"), [
    (b"<html>Sign in</html>", {}, "answered without 'access_token'"),  # a login proxy in front of the API
    (b'{"token_type": "bearer"}', {}, "answered without 'access_token'"),
])
def test_a_token_answer_that_is_not_the_apis_is_a_run_note_error(monkeypatch, api, page, extra, message):
    connect(monkeypatch, api, login="runbooks", password="s3cret", extra=extra)
    FakeApi.token_page = page
    with pytest.raises(RunNoteError, match=message):
        set_run_note("d", "r", "n")


def test_a_patch_answered_without_content_sets_the_note(monkeypatch, api):
    connect(monkeypatch, api, extra={"token": "t"})
    FakeApi.patch_status = 204
    assert set_run_note("d", "r", "n") is True


def test_an_extra_that_is_not_an_object_is_a_run_note_error(monkeypatch, api):
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", json.dumps({"conn_type": "http", "host": api, "extra": "[1]"}))
    with pytest.raises(RunNoteError, match="not a JSON object"):
        set_run_note("d", "r", "n")
    assert FakeApi.calls == []


@pytest.mark.parametrize(("host", "port", "expected"), [
    (None, None, "http://127.0.0.1:8080"),
    ("", None, "http://127.0.0.1:8080"),
    ("airflow.internal", 8080, "http://airflow.internal:8080"),
    ("https://airflow.example.com/", None, "https://airflow.example.com"),
    ("http://10.0.0.5", 28080, "http://10.0.0.5:28080"),
    ("airflow.internal/airflow", 8080, "http://airflow.internal:8080/airflow"),
    ("airflow.internal:8080", 8080, "http://airflow.internal:8080"),
    ("https://airflow.internal/", 8443, "https://airflow.internal:8443"),
    ("::1", 8080, "http://[::1]:8080"),
    ("http://[::1]:9090/x/", None, "http://[::1]:9090/x"),
])
def test_api_base_url(host, port, expected):
    assert api_base_url(host, port, "http://127.0.0.1:8080/") == expected
