"""`/v1/webhooks` over HTTP and the target rules: no webhook ever points inside.

Refusals are tested by resolution only: no test sends traffic to a non-loopback address
(registration resolves the host, it never calls it).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator

import httpx
import pytest
from api_fixtures import LiveApi
from sqlalchemy import select

from catalog.errors import InvalidInput
from serving import targets
from serving.db.models import WebhookEndpoint

PUBLIC = "https://93.184.215.14/hooks/precredit"  # a public IP literal: resolved, never called
INSIDE = [
    "https://169.254.169.254/latest/meta-data/",
    "https://metadata.google.internal/",
    "https://10.0.0.1/",
    "https://172.16.5.4/",
    "https://192.168.1.1/",
    "https://127.0.0.1:5432/",
    "http://localhost:5432/",
    "https://localhost/",
    "https://0.0.0.0/",
    "https://100.64.0.1/",
    "https://224.0.0.1/",
    "https://240.0.0.1/",
    "https://[::1]/",
    "https://[::]/",
    "https://[fe80::1]/",
    "https://[fc00::1]/",
    "https://[ff02::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[::ffff:10.0.0.1]/",
]


@pytest.fixture
def admin(live_api: LiveApi) -> Iterator[httpx.Client]:
    """bank_a's admin client; its endpoints are removed afterwards."""
    yield live_api.client(live_api.keys.admin_a)
    with live_api.sessions.begin() as session:
        for row in session.scalars(select(WebhookEndpoint)):
            session.delete(row)


def test_a_bank_registers_lists_and_disables_its_endpoints(
    live_api: LiveApi, admin: httpx.Client
) -> None:
    created = admin.post("/v1/webhooks", json={"url": PUBLIC, "events": ["offer.created"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["url"] == PUBLIC
    assert body["events"] == ["offer.created"]
    assert body["secret"].startswith("whsec_")
    with live_api.sessions() as session:
        stored = session.get(WebhookEndpoint, body["endpoint_id"])
        assert stored is not None
        assert stored.secret.startswith("fernet:")  # sealed at rest
        assert body["secret"] not in stored.secret
    listed = admin.get("/v1/webhooks").json()["endpoints"]
    assert [e["endpoint_id"] for e in listed] == [body["endpoint_id"]]
    assert "secret" not in listed[0]
    other = live_api.client(live_api.keys.bank_b)
    assert other.get("/v1/webhooks").status_code == 403  # score and outcomes only
    assert (
        live_api.client(live_api.keys.score_only_a)
        .delete(f"/v1/webhooks/{body['endpoint_id']}")
        .status_code
        == 403
    )
    disabled = admin.delete(f"/v1/webhooks/{body['endpoint_id']}")
    assert disabled.status_code == 200
    assert dt.datetime.fromisoformat(disabled.json()["disabled_at"])
    assert admin.delete("/v1/webhooks/no-such-endpoint").status_code == 404


@pytest.mark.parametrize("url", INSIDE)
def test_targets_inside_are_refused(live_api: LiveApi, admin: httpx.Client, url: str) -> None:
    response = admin.post("/v1/webhooks", json={"url": url})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] in {"webhook_target_refused", "invalid_input"}
    assert admin.get("/v1/webhooks").json()["endpoints"] == []


def test_duplicate_keys_in_a_registration_are_refused(admin: httpx.Client) -> None:
    raw = b'{"url": "%s", "url": "https://10.0.0.1/"}' % PUBLIC.encode()
    response = admin.post("/v1/webhooks", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("::ffff:93.184.215.14", True),
        ("127.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("169.254.169.254", False),
        ("fd00:ec2::254", False),
        ("2001:db8::1", False),
        ("255.255.255.255", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert targets.is_public(ipaddress.ip_address(address)) is public


def test_a_name_resolving_inside_is_refused_unless_development() -> None:
    with pytest.raises(InvalidInput):
        targets.check_target("https://localhost:9/h")
    assert all(a.is_loopback for a in targets.check_target("http://localhost:9/h", True))
