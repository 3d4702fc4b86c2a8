"""The README's worked example, run as written against the embedded default over HTTP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from purchasegraph.app import create_app
from purchasegraph.db.embedded import dev_secret
from purchasegraph.demo.actors import demo_tenant_id, demo_user_id
from purchasegraph.identity import mint_token
from purchasegraph.settings import DEFAULT_AUDIENCE, DEV_ISSUER, Settings, settings_from_env

README = Path(__file__).resolve().parent.parent / "README.md"


def users_of(subscription: dict[str, Any]) -> list[str]:
    return [a["user"]["displayName"] for a in subscription["assignments"]["nodes"]]


def worked_example() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Mutations: a worked example") : text.index("## Authorization")]
    return re.findall(r"```graphql\n(.*?)```", section, re.S)


async def test_the_worked_example_in_the_readme_runs_as_written(tmp_path: Path) -> None:
    buy, assign, admin_view, disable = worked_example()[:4]  # the later blocks are run by their own tests
    # Its own embedded server, on the suite's date when PURCHASEGRAPH_TODAY names one.
    today = settings_from_env().today
    settings = Settings(data_dir=tmp_path / "data", sweep_seconds=0, pool_min_size=1, today=today)

    def token(upn: str) -> str:
        return mint_token(
            secret=dev_secret(settings.data_dir),
            user_id=demo_user_id(upn),
            tenant_id=demo_tenant_id("contoso.example"),
            issuer=DEV_ISSUER,
            audience=DEFAULT_AUDIENCE,
        )

    async with LifespanManager(create_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:

            async def run(upn: str, query: str, variables: dict[str, Any] | None = None) -> Any:
                response = await http.post(
                    "/graphql",
                    json={"query": query, "variables": variables or {}},
                    headers={"Authorization": f"Bearer {token(upn)}"},
                )
                assert response.status_code == 200
                body = response.json()
                assert "errors" not in body, body
                return body["data"]

            paula, alex = "paula.purchaser@contoso.example", "alex.admin@contoso.example"
            bought = (await run(paula, buy))["purchaseSubscription"]
            assert bought["userErrors"] == []
            assert bought["subscription"]["status"] == "ACTIVE"
            replayed = (await run(paula, buy))["purchaseSubscription"]
            assert replayed["subscription"]["id"] == bought["subscription"]["id"]
            assigned = (await run(paula, assign, {"s": bought["subscription"]["id"]}))["assignLicenses"]
            assert assigned["userErrors"] == []
            assert users_of(assigned["subscription"]) == ["Lee Licensed"]
            seen = (await run(alex, admin_view))["viewer"]["homeTenant"]["purchases"]["nodes"][0]
            assert seen["purchaser"]["displayName"] == "Paula Purchaser"
            assert seen["subscription"]["id"] == bought["subscription"]["id"]
            assert users_of(seen["subscription"]) == ["Lee Licensed"]
            disabled = (await run(alex, disable))["setSelfServicePolicy"]
            assert disabled["userErrors"] == []
            assert disabled["policy"]["value"] == "DISABLED"
            assert disabled["policy"]["product"]["name"] == "Power BI Pro"
            refused = (await run(paula, buy.replace("paula-2026-11-25-1", "paula-2026-11-25-2")))[
                "purchaseSubscription"
            ]
            assert [e["code"] for e in refused["userErrors"]] == ["POLICY_DISABLED"]
            assert "Contact your IT admin" in refused["userErrors"][0]["message"]
