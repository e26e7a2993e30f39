"""Alerting: a failed run — including one stopped by a failed blocking check — produces one clear
log line and, when `ALERT_WEBHOOK_URL` is set, a JSON POST with the essentials (Slack-, Teams- or
any webhook that takes JSON). Nothing is sent when nothing is wrong. A webhook that is down is
logged, never raised: alerting must not break the daemon.
"""

import json
import threading
import urllib.request

import dagster as dg

from medallion_dagster.settings import ENV_ALERT_WEBHOOK_URL, env


class Alerter(dg.ConfigurableResource):
    """Where alerts go besides the log: an http(s) webhook URL, or "" for the log only."""

    webhook_url: str = ""
    timeout_seconds: float = 5.0

    def send(self, log, message: str, payload: dict) -> bool:
        """Log `message` (one line) and POST `payload` with it. True if the webhook took it."""
        log.error(message)
        if not self.webhook_url:
            return False
        if not self.webhook_url.startswith(("http://", "https://")):
            log.warning(f"alert webhook not sent: {ENV_ALERT_WEBHOOK_URL} is not an http(s) URL")
            return False
        body = json.dumps({"text": message, **payload}, default=str).encode()
        request = urllib.request.Request(
            self.webhook_url,
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        outcome: list = []

        def post() -> None:
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                    outcome.append(response.status)
            except Exception as e:  # any failure of the webhook is logged, never raised
                outcome.append(e)

        # urlopen's timeout bounds each socket read, not the request: bound the whole POST.
        worker = threading.Thread(target=post, daemon=True, name="alert-webhook")
        worker.start()
        worker.join(self.timeout_seconds * 2)
        if not outcome:
            log.warning(f"alert webhook failed: no answer within {self.timeout_seconds * 2:g} s")
            return False
        if isinstance(outcome[0], Exception):
            log.warning(f"alert webhook failed: {outcome[0]!r}")
            return False
        if not 200 <= outcome[0] < 300:
            log.warning(f"alert webhook failed: HTTP {outcome[0]}")
            return False
        return True


def alerter_from_env() -> Alerter:
    return Alerter(webhook_url=env(ENV_ALERT_WEBHOOK_URL))


def failed_blocking_checks(instance: dg.DagsterInstance, run_id: str) -> list[dict]:
    """The blocking checks that failed in a run, with their failing row counts."""
    failed = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.asset_check_evaluation
        if evaluation is None or evaluation.passed or not evaluation.blocking:
            continue
        rows = evaluation.metadata.get("failing_rows")
        failed.append(
            {
                "check": f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}",
                "failing_rows": rows.value if rows is not None else None,
            }
        )
    return failed


def alert_message(run: dg.DagsterRun, error: str, checks: list[dict]) -> str:
    partition = run.tags.get("dagster/partition") or "-".join(
        filter(
            None,
            (
                run.tags.get("dagster/asset_partition_range_start"),
                run.tags.get("dagster/asset_partition_range_end"),
            ),
        )
    )
    where = f" (partition {partition})" if partition else ""
    failed = ""
    if checks:
        failed = "; failed blocking checks: " + ", ".join(
            f"{c['check']} ({c['failing_rows']} rows)" for c in checks
        )
    first_line = (error or "").strip().splitlines()[0] if (error or "").strip() else "failed"
    return (
        f"ALERT medallion: run {run.run_id} of {run.job_name}{where} failed: {first_line}{failed}"
    )


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    description="One log line and, with ALERT_WEBHOOK_URL set, a webhook POST for every failed "
    "run of this code location — naming the blocking checks that stopped it.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, alerter: Alerter):
    run = context.dagster_run
    error = context.failure_event.message or ""
    checks = failed_blocking_checks(context.instance, run.run_id)
    alerter.send(
        context.log,
        alert_message(run, error, checks),
        {
            "run_id": run.run_id,
            "job": run.job_name,
            "partition": run.tags.get("dagster/partition"),
            "error": error,
            "failed_blocking_checks": checks,
        },
    )
