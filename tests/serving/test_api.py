import json

from api_fixtures import LiveApi


def test_probe(sqlite_api: LiveApi) -> None:
    api = sqlite_api
    c = api.client(api.keys.bank_a)
    code = api.codes[0]
    r = c.post("/v1/preapprovals", json={"uscc": code, "requested_amount_cny": 100000})
    print(r.status_code, json.dumps(r.json(), ensure_ascii=False, indent=1)[:4000])
    for p in ["/readyz", "/v1/models", "/healthz"]:
        r = c.get(p)
        print(p, r.status_code, r.text[:2000])
    print(c.get("/metrics").text[:3000])
    print(api.codes[:5])
