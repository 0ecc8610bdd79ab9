"""The manager's pages of the web UI against the real services (deploy/run.sh:
SQLite + sql bus): a webhook subscription made through the form, its signing
secret shown once, a test event sent and delivered (signed with that secret), and
the management review drawing the NCs reported through the API."""

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from tests.e2e.loop import Loop, poll, webhook_receiver
from tests.e2e.test_run_services import services_running
from tests.e2e.web_client import WebClient

SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")


def test_subscription_test_event_and_dashboard_through_the_ui(tmp_path: Path) -> None:
    with services_running({"BUS": "sql"}, tmp_path, web=True) as ports, \
            webhook_receiver() as receiver:
        keys = json.loads((tmp_path / "var" / "dev-credentials.json").read_text())["api_keys"]
        api = Loop(ports=ports, keys=keys, source_tokens={})
        manager = WebClient(f"http://127.0.0.1:{ports['web']}")
        try:
            manager.sign_in(keys["manager"])

            # A subscription through the form; the secret is on the next page, once.
            created = manager.submit("/subscriptions", {
                "channel": "webhook", "target": receiver.url, "mode": "immediate",
                "active": "on", "event_types": "capaflow.lesson.*",
                "description": "ERP bridge", "idempotency_key": "e2e-manager-1"})
            assert created.status_code == 303, created.text[:2000]
            sub_path = created.headers["location"]
            page = manager.get(sub_path)
            assert page.status_code == 200 and "will not be shown again" in page.text
            found = SECRET.search(html.unescape(page.text))
            assert found, page.text[:2000]
            secret = found.group(0)
            again = manager.get(sub_path)
            assert secret not in html.unescape(again.text)
            sub_id = sub_path.rsplit("/", 1)[1]
            listed = api.call("GET", "notifications", f"/v1/subscriptions/{sub_id}").json()
            assert listed["target"] == receiver.url and listed["description"] == "ERP bridge"
            assert receiver.url in manager.get("/subscriptions").text

            # Send a test event: the receiver gets it signed with the secret shown.
            sent = manager.submit(f"{sub_path}/test", {})
            assert sent.status_code == 303 and sent.headers["location"] == sub_path
            poll(lambda: receiver.requests, message="test event at the receiver")
            got = receiver.requests[0]
            event = Webhook(secret).verify(got.body, got.headers)
            assert event["type"] == "capaflow.notification.test.v1"
            delivered = poll(lambda: (p := manager.get(sub_path)).text.count(
                "badge-delivered") and p, message="delivery shown as delivered")
            assert "capaflow.notification.test.v1" in delivered.text

            # NCs reported through the API show in this week's column of the review.
            for source, severity in (("support", "major"), ("support", "minor"),
                                     ("customer", "minor")):
                api.call("POST", "nonconformity", "/v1/nonconformities", role="reporter",
                         json={"title": f"{source} {severity} report", "source": source,
                               "severity": severity})
            # The major one escalates; its CAPA is opened through the bus.
            poll(lambda: api.call("GET", "capa", "/v1/capas").json()["items"],
                 message="CAPA opened for the escalated NC")
            review = manager.get("/dashboard")
            assert review.status_code == 200, review.text[:2000]
            monday = datetime.now(UTC).date()
            monday -= timedelta(days=monday.weekday())
            row = re.search(rf'<th scope="row">{monday.isoformat()}</th>\s*'
                            r"<td>(\d+)</td>\s*<td>(\d+)</td>\s*<td>(\d+)</td>", review.text)
            assert row and row.groups() == ("1", "2", "3"), review.text[-4000:]
            weekly = re.search(r'<svg [^>]*aria-labelledby="chart-weekly-title.*?</svg>',
                               review.text, re.S)
            assert weekly and 'data-series="Support ticket"' in weekly.group(0)
            counts = f"{monday.strftime('%d %b')}: 3 (Customer complaint 1, Support ticket 2)"
            assert counts in weekly.group(0)
            assert re.search(r'data-figure="open_total"><a href="/capas"[^>]*>1</a>',
                             review.text)
            aging = re.search(r'<svg [^>]*aria-labelledby="chart-aging-title.*?</svg>',
                              review.text, re.S)
            assert aging and "0-30 days: 1 open" in aging.group(0)
            assert manager.get("/lessons").status_code == 200
        finally:
            manager.close()
