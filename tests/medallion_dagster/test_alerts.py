"""Alerting: a failed run (a failed blocking check included) gives one clear log line and, with a
webhook configured, one POST with the essentials — tested against an HTTP server on loopback.
Nothing is sent when nothing is wrong; a webhook that is down never breaks the sensor."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from lambda_src.handler import handler
from medallion_dagster.alerts import Alerter, alert_message
from medallion_dagster.definitions import build_definitions
from medallion_dagster.demo import run_sensor_once
from tests.conftest import WIDE, sensor_tick


@pytest.fixture
def webhook():
    """A loopback HTTP server recording every POST body (JSON)."""
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def alert_tick(defs, instance, cursor=None):
    """One evaluation of the run-failure sensor against the instance's event log."""
    return sensor_tick(defs, instance, cursor, sensor="alert_on_run_failure")


@pytest.fixture
def pipeline(landing_dir, local_zone, warehouse, webhook, recent_days):
    url, _ = webhook
    return build_definitions(
        landing_zone=local_zone,
        warehouse=warehouse,
        discovery=WIDE,
        alerter=Alerter(webhook_url=url),
    )


def land(day, batch_id, landing_dir=None, tamper=False):
    result = handler({"batch_date": day.isoformat(), "batch_id": batch_id, "batch_size": 30}, None)
    if tamper:  # the producer's control totals no longer match what it sent
        path = landing_dir / result["manifest_key"]
        manifest = json.loads(path.read_text())
        manifest["control_totals"]["transactions"]["valid"] += 2
        path.write_text(json.dumps(manifest))


def test_a_failed_blocking_check_alerts_once_with_a_log_line_and_a_post(
    pipeline, instance, webhook, landing_dir, recent_days, capfd
):
    _, received = webhook
    first = alert_tick(pipeline, instance)  # the sensor starts from now
    land(recent_days[0], "tampered", landing_dir, tamper=True)
    results, _, _ = run_sensor_once(pipeline, instance, log_level="CRITICAL")
    [run] = results
    assert not run.success
    capfd.readouterr()
    alert_tick(pipeline, instance, first.cursor)
    logged = capfd.readouterr().err
    [alert] = received
    assert alert["run_id"] == run.run_id and alert["job"] == "medallion_daily"
    assert alert["partition"] == recent_days[0].isoformat()
    assert alert["failed_blocking_checks"] == [
        {"check": "silver/transactions:reconciles_with_manifests", "failing_rows": 1}
    ]
    assert "reconciles_with_manifests" in alert["text"] and run.run_id in alert["text"]
    lines = [line for line in logged.splitlines() if "ALERT medallion" in line]
    assert len(lines) == 1 and " - ERROR - " in lines[0]
    assert "reconciles_with_manifests (1 rows)" in lines[0]


def test_no_alert_when_nothing_is_wrong(pipeline, instance, webhook, recent_days, capfd):
    _, received = webhook
    first = alert_tick(pipeline, instance)
    land(recent_days[0], "fine")
    results, _, _ = run_sensor_once(pipeline, instance, log_level="CRITICAL")
    assert [r.success for r in results] == [True]
    capfd.readouterr()
    alert_tick(pipeline, instance, first.cursor)
    assert received == []
    assert "ALERT medallion" not in capfd.readouterr().err


def test_a_webhook_that_is_down_never_breaks_the_sensor(
    landing_dir, local_zone, warehouse, instance, recent_days, capfd
):
    defs = build_definitions(
        landing_zone=local_zone,
        warehouse=warehouse,
        discovery=WIDE,
        alerter=Alerter(webhook_url="http://127.0.0.1:9/unreachable", timeout_seconds=1),
    )
    first = alert_tick(defs, instance)
    land(recent_days[0], "tampered", landing_dir, tamper=True)
    run_sensor_once(defs, instance, log_level="CRITICAL")
    capfd.readouterr()
    alert_tick(defs, instance, first.cursor)  # no exception
    logged = capfd.readouterr().err
    assert "ALERT medallion" in logged and "alert webhook failed" in logged


def test_the_message_is_one_line_with_run_partition_error_and_checks():
    run = dg.DagsterRun(
        job_name="medallion_daily", run_id="abc", tags={"dagster/partition": "2026-01-02"}
    )
    text = alert_message(
        run, "boom\ntraceback...", [{"check": "silver/transactions:x", "failing_rows": 3}]
    )
    assert text == (
        "ALERT medallion: run abc of medallion_daily (partition 2026-01-02) failed: boom; "
        "failed blocking checks: silver/transactions:x (3 rows)"
    )


def test_only_http_urls_are_posted(caplog):
    class Log:
        def __init__(self):
            self.lines = []

        def error(self, m):
            self.lines.append(("error", m))

        def warning(self, m):
            self.lines.append(("warning", m))

    log = Log()
    assert Alerter(webhook_url="file:///etc/passwd").send(log, "x", {}) is False
    assert log.lines[-1][0] == "warning"


def test_a_webhook_that_answers_garbage_or_drips_is_bounded():
    """Regressions: a non-HTTP answer raised BadStatusLine; a server dripping one header line
    every few seconds held the sensor far past the timeout."""
    import socket
    import time

    class Log:
        def __init__(self):
            self.warnings = []

        def error(self, m):
            pass

        def warning(self, m):
            self.warnings.append(m)

    def serve(behaviour):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()

        def run():
            conn, _ = server.accept()
            conn.recv(65536)
            behaviour(conn)

        threading.Thread(target=run, daemon=True).start()
        return f"http://127.0.0.1:{server.getsockname()[1]}/"

    def garbage(conn):
        conn.sendall(b"HELLO\r\n\r\n")
        conn.close()

    def drip(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(30):
            time.sleep(0.3)
            try:
                conn.sendall(b"X-Drip: 1\r\n")
            except OSError:
                return

    for behaviour in (garbage, drip):
        log = Log()
        started = time.monotonic()
        sent = Alerter(webhook_url=serve(behaviour), timeout_seconds=0.5).send(log, "x", {})
        assert sent is False and log.warnings and time.monotonic() - started < 3
