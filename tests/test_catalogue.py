"""The catalogue ships with every deployment; what it says before sign-in.

Products and list prices are reference data (migration 0019, generated from
``purchasegraph.catalogue``): a database migrated with no seed sells them. Each product links to
its website and to standard support, and says whether self-service purchase is open in a market
by the eligibility module's market rules (none in India; no Project or Visio in Brazil or the
Congo). ``checkoutEligibility`` answers an anonymous email address from the catalogue and the
address alone, never the directory. Every read is asked as anonymous, a user and an application,
on both read paths.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from graphql import OperationDefinitionNode, parse

from purchasegraph import catalogue
from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.checkout import CONSUMER_MAIL_DOMAINS
from purchasegraph.cli import main
from purchasegraph.compiled import run_compiled
from purchasegraph.context import build_context
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.db.migrate import load_migrations, migrate
from purchasegraph.demo.actors import CONTOSO_ID, GUS, OLGA, PAULA
from purchasegraph.identity import AppClaims, AppRole
from purchasegraph.principals import load_app
from purchasegraph.schema import schema
from purchasegraph.schema.ids import encode_id
from tests.conftest import ACT_FOR_TENANT, ENTER_GATEWAY_ROLE, LEAVE_GATEWAY_ROLE, Api
from tests.settings import gateway_settings
from tests.test_http import serving, token_for

ROOT = Path(__file__).resolve().parent.parent
ALL_PRODUCTS = [p.id for p in catalogue.PRODUCTS]
PROJECT_AND_VISIO = {catalogue.PROJECT_PLAN_3, catalogue.VISIO_PLAN_1, catalogue.VISIO_PLAN_2}
MARKET_CODES = {"MARKET_NOT_ELIGIBLE", "PRODUCT_NOT_AVAILABLE_IN_MARKET"}

AVAILABILITY = """
query($market: String!, $in: String) {
  products(market: $in) { productId availability(market: $market) { market available reasons __typename } }
}
"""
LINKS = "{ products { productId family learnMoreUrl supportUrl } }"
CHECKOUT = """
query($email: String!, $product: ID!) {
  checkoutEligibility(email: $email, productId: $product) { canContinue reasons message __typename }
}
"""

# Who asks: no token, members of two tenants, a guest, and an application of Contoso.
USERS = [None, PAULA, GUS, OLGA]
READ_APP = AppClaims(app_id=uuid.uuid4(), tenant_id=CONTOSO_ID, roles=frozenset({AppRole.READ_ALL}))


async def compiled_as_app(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any] | None:
    """The compiled read path's data for an application, as ``Api.execute_as_app`` runs the resolvers."""
    db = ConnectionExecutor(api.conn)
    await api.conn.execute(ENTER_GATEWAY_ROLE)
    await api.conn.execute(ACT_FOR_TENANT, str(READ_APP.tenant_id))
    try:
        app = await load_app(db, READ_APP)
        document = parse(query)
        [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        result = await run_compiled(schema._schema, document, operation, variables, build_context(viewer=app, db=db))
    finally:
        await api.conn.execute(LEAVE_GATEWAY_ROLE)
    return result.data if result is not None else None


async def both_paths(api: Api, query: str, variables: dict[str, Any], who: str | None = None) -> dict[str, Any]:
    """The resolvers' data, after checking that the compiled path gives the same bytes."""
    if who == "app":
        result = await api.execute_as_app(
            query, app_id=READ_APP.app_id, tenant_id=READ_APP.tenant_id, roles=READ_APP.roles, variables=variables
        )
        compiled = await compiled_as_app(api, query, variables)
    else:
        result = await api.execute(query, as_user=who, variables=variables)
        compiled = await api.compiled(query, as_user=who, variables=variables)
    assert result.errors is None, result.errors
    assert result.data is not None
    assert compiled is not None, "expected the compiler to take this read"
    assert json.dumps(compiled) == json.dumps(result.data)
    return result.data


def availability_of(data: dict[str, Any]) -> dict[str, tuple[bool, list[str]]]:
    return {p["productId"]: (p["availability"]["available"], p["availability"]["reasons"]) for p in data["products"]}


# -- shipped reference data --------------------------------------------------------------------


async def test_the_shipped_catalogue_is_the_catalogue_module(pool: asyncpg.Pool) -> None:
    """The migration was generated from ``purchasegraph.catalogue`` once; this holds them together
    (and the seed inserts none of it: it would collide with the migration's rows)."""
    products = await pool.fetch(
        "SELECT id, name, family, self_service, trial_days, trial_requires_payment_method,"
        " learn_more_url, support_url FROM products ORDER BY id"
    )
    expected = sorted(
        (
            p.id,
            p.name,
            p.family,
            p.self_service,
            p.trial_days,
            p.trial_requires_payment_method,
            p.site.learn_more_url,
            p.site.support_url,
        )
        for p in catalogue.PRODUCTS
    )
    assert [tuple(r) for r in products] == expected
    prices = await pool.fetch("SELECT product_id, market, channel, currency, unit_price FROM product_prices")
    assert sorted(tuple(r) for r in prices) == sorted(
        (r.product_id, r.market, r.channel, r.currency, r.unit_price) for r in catalogue.price_rows()
    )


async def test_a_fresh_database_migrated_with_no_seed_lists_the_products(own_database: str) -> None:
    async with serving(gateway_settings(own_database)) as http:
        response = await http.post("/graphql", json={"query": LINKS})
    assert response.status_code == 200, response.text
    listed = response.json()["data"]["products"]
    assert sorted(p["productId"] for p in listed) == sorted(ALL_PRODUCTS)
    conn = await asyncpg.connect(own_database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM tenants") == 0  # no demo world here
    finally:
        await conn.close()


async def test_migration_0019_applies_to_a_database_the_old_seed_filled(own_database: str) -> None:
    """A database migrated to 0018 whose products the demo seed inserted (no links, maybe a price
    of its own): 0019 keeps every row it finds, adds what is missing and links every product."""
    admin = await asyncpg.connect(own_database)
    try:
        await admin.execute('CREATE DATABASE "before_0019"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(own_database)._replace(path="/before_0019"))
    conn = await asyncpg.connect(url)
    try:
        before = [m for m in load_migrations() if m.version < 19]
        for migration in before:
            await conn.execute(migration.sql)
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in before:
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
        # As the old seed wrote them: Power BI Pro with a price this deployment had changed.
        await conn.execute(
            "INSERT INTO products (id, name, family, trial_available, trial_days)"
            " VALUES ($1, 'Power BI Pro', 'power_bi', true, 60)",
            POWER_BI_PRO,
        )
        await conn.execute("INSERT INTO product_prices VALUES ($1, 'US', 'self_service', 'USD', 12.00)", POWER_BI_PRO)
        assert 19 in await migrate(conn)
        links = await conn.fetch("SELECT id, learn_more_url, support_url FROM products")
        assert sorted(r["id"] for r in links) == sorted(ALL_PRODUCTS)
        assert all(r["learn_more_url"].startswith("https://") and r["support_url"] for r in links)
        kept = await conn.fetchval(
            "SELECT unit_price FROM product_prices"
            " WHERE product_id = $1 AND market = 'US' AND channel = 'self_service'",
            POWER_BI_PRO,
        )
        assert str(kept) == "12.00"
        assert await conn.fetchval("SELECT count(*) FROM product_prices") == len(catalogue.price_rows())
    finally:
        await conn.close()


# -- links ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", [*USERS, "app"])
async def test_every_product_links_to_its_family_website_and_standard_support(api: Api, who: str | None) -> None:
    data = await both_paths(api, LINKS, {}, who)
    assert len(data["products"]) == len(ALL_PRODUCTS)
    for product in data["products"]:
        site = catalogue.FAMILY_SITES[product["family"].lower()]
        assert (product["learnMoreUrl"], product["supportUrl"]) == (site.learn_more_url, site.support_url)
        assert product["learnMoreUrl"].startswith("https://www.microsoft.com/")


# -- availability per market -----------------------------------------------------------------------


@pytest.mark.parametrize("who", [*USERS, "app"])
async def test_no_one_in_india_may_buy_self_service_though_india_prices_are_listed(api: Api, who: str | None) -> None:
    data = await both_paths(api, AVAILABILITY, {"market": "IN", "in": "IN"}, who)
    assert sorted(availability_of(data)) == sorted(ALL_PRODUCTS)  # listed, with their INR list prices
    assert set(map(json.dumps, availability_of(data).values())) == {json.dumps([False, ["MARKET_NOT_ELIGIBLE"]])}
    assert {p["availability"]["market"] for p in data["products"]} == {"IN"}
    prices = await api.data('{ products(market: "IN") { prices(market: "IN") { unitPrice { currency } } } }')
    assert {price["unitPrice"]["currency"] for p in prices["products"] for price in p["prices"]} == {"INR"}


@pytest.mark.parametrize("who", [*USERS, "app"])
async def test_every_product_is_available_self_service_in_the_united_states(api: Api, who: str | None) -> None:
    data = await both_paths(api, AVAILABILITY, {"market": "us", "in": None}, who)
    assert availability_of(data) == {product: (True, []) for product in ALL_PRODUCTS}
    assert {p["availability"]["market"] for p in data["products"]} == {"US"}


async def test_project_and_visio_are_not_sold_self_service_in_brazil(api: Api) -> None:
    data = await both_paths(api, AVAILABILITY, {"market": "BR", "in": None}, None)
    for product, (available, reasons) in availability_of(data).items():
        if product in PROJECT_AND_VISIO:
            assert (available, reasons) == (False, ["PRODUCT_NOT_AVAILABLE_IN_MARKET"])
        else:
            assert (available, reasons) == (True, []), product


async def test_project_and_visio_are_not_sold_self_service_in_the_congo_even_with_a_price_there(api: Api) -> None:
    """The rule, not the price list, refuses them: with a CD price for every product, Power BI Pro
    is open there and Visio and Project still are not."""
    for product in ALL_PRODUCTS:
        await api.conn.execute(
            "INSERT INTO product_prices VALUES ($1, 'CD', 'self_service', 'USD', 10.00) ON CONFLICT DO NOTHING",
            product,
        )
    data = await both_paths(api, AVAILABILITY, {"market": "CD", "in": "CD"}, PAULA)
    for product, (available, reasons) in availability_of(data).items():
        expected = (False, ["PRODUCT_NOT_AVAILABLE_IN_MARKET"]) if product in PROJECT_AND_VISIO else (True, [])
        assert (available, reasons) == expected, product


async def test_a_product_without_a_self_service_price_in_a_market_is_not_available_there(api: Api) -> None:
    data = await both_paths(api, AVAILABILITY, {"market": "FR", "in": None}, None)
    assert set(map(json.dumps, availability_of(data).values())) == {
        json.dumps([False, ["PRODUCT_NOT_AVAILABLE_IN_MARKET"]])
    }
    await api.conn.execute("UPDATE products SET self_service = false WHERE id = $1", POWER_BI_PRO)
    data = await both_paths(api, AVAILABILITY, {"market": "US", "in": None}, None)
    assert availability_of(data)[POWER_BI_PRO] == (False, ["PRODUCT_NOT_AVAILABLE_IN_MARKET"])


# One member of each demo tenant that can sign in, and the market their tenant is in.
MEMBERS = {
    PAULA: "US",
    "will.admin@woodgrove.example": "DE",
    "bruno@fabrikam.example": "BR",
    "ines@tailspin.example": "IN",
    "ed@northwind-school.example": "GB",
    "gail@cityofsample.example": "US",
}


@pytest.mark.parametrize(("member", "market"), MEMBERS.items())
async def test_availability_gives_the_market_codes_of_viewer_eligibility(api: Api, member: str, market: str) -> None:
    """One set of rules: for each product, the market codes of a signed-in member's eligibility are
    exactly the product's availability in their tenant's market."""
    fields = " ".join(f'p{i}: eligibility(productId: "{p}") {{ reasons }}' for i, p in enumerate(ALL_PRODUCTS))
    eligibility = (await api.data(f"{{ viewer {{ {fields} }} }}", as_user=member))["viewer"]
    available = availability_of(await both_paths(api, AVAILABILITY, {"market": market, "in": None}, member))
    for i, product in enumerate(ALL_PRODUCTS):
        market_codes = [r for r in eligibility[f"p{i}"]["reasons"] if r in MARKET_CODES]
        assert available[product][1] == market_codes, (member, product)


# -- before sign-in --------------------------------------------------------------------------------


async def checkout(api: Api, email: str, product: str = POWER_BI_PRO, who: str | None = None) -> dict[str, Any]:
    data = await both_paths(api, CHECKOUT, {"email": email, "product": product}, who)
    result: dict[str, Any] = data["checkoutEligibility"]
    return result


@pytest.mark.parametrize("email", ["someone@gmail.com", "Someone@Outlook.com", "x.y@hotmail.co.uk", "me@icloud.com."])
async def test_a_personal_address_must_use_a_work_or_school_account(api: Api, email: str) -> None:
    answer = await checkout(api, email)
    assert answer["canContinue"] is False
    assert answer["reasons"] == ["PERSONAL_EMAIL_ADDRESS"]
    assert "work or school account" in answer["message"]


def test_the_consumer_mail_domains_are_lower_case_domains() -> None:
    assert {"outlook.com", "hotmail.com", "live.com", "gmail.com", "yahoo.com", "icloud.com"} <= CONSUMER_MAIL_DOMAINS
    assert all(d == d.lower() and "." in d and "@" not in d for d in CONSUMER_MAIL_DOMAINS)


@pytest.mark.parametrize("who", [*USERS, "app"])
async def test_a_work_address_is_told_to_sign_in_whoever_asks(api: Api, who: str | None) -> None:
    answer = await checkout(api, "paula.purchaser@contoso.example", who=who)
    assert answer == {
        "canContinue": True,
        "reasons": ["SIGN_IN_REQUIRED"],
        "message": answer["message"],
        "__typename": "CheckoutEligibility",
    }
    assert answer["message"].startswith("Sign in with your work or school account")


async def test_a_product_not_sold_self_service_is_said_so_before_sign_in(api: Api) -> None:
    unknown = await checkout(api, "someone@contoso.example", "CFQ7TTC0XXXX")
    assert (unknown["canContinue"], unknown["reasons"]) == (False, ["PRODUCT_NOT_SOLD_SELF_SERVICE"])
    await api.conn.execute("UPDATE products SET self_service = false WHERE id = $1", POWER_BI_PRO)
    withdrawn = await checkout(api, "someone@gmail.com", encode_id("Product", POWER_BI_PRO))
    assert withdrawn["reasons"] == ["PRODUCT_NOT_SOLD_SELF_SERVICE", "PERSONAL_EMAIL_ADDRESS"]


async def test_the_product_may_be_named_by_its_global_id(api: Api) -> None:
    assert await checkout(api, "a@b.example", encode_id("Product", POWER_BI_PRO)) == await checkout(api, "a@b.example")


@pytest.mark.parametrize("email", ["not-an-address", "@contoso.example", "paula@", "pa ula@contoso.example"])
async def test_what_is_not_an_email_address_is_said_so(api: Api, email: str) -> None:
    answer = await checkout(api, email)
    assert (answer["canContinue"], answer["reasons"]) == (False, ["INVALID_EMAIL_ADDRESS"])


# Addresses at every kind of demo tenant (a buyer's, a user who left, India, education, government,
# unmanaged, a partner) and at domains no tenant has.
TENANT_ADDRESSES = [
    "paula.purchaser@contoso.example",
    "dana.departed@contoso.example",
    "nobody@contoso.example",
    "ines@tailspin.example",
    "ed@northwind-school.example",
    "gail@cityofsample.example",
    "vic@viral.example",
    "pat.partner@adatum-partners.example",
]
UNKNOWN_ADDRESSES = ["someone@no-such-tenant.example", "x@unregistered-7f3a.test"]


@pytest.mark.parametrize("product", [POWER_BI_PRO, catalogue.VISIO_PLAN_1, "CFQ7TTC0XXXX"])
async def test_checkout_eligibility_tells_nothing_about_the_tenant_of_the_address(api: Api, product: str) -> None:
    """The whole response, and the statements it took, are the same for an address at a demo tenant
    (of any kind: India, education, unmanaged...) and at a domain no tenant has."""
    answers, statements = set(), set()
    for email in TENANT_ADDRESSES + UNKNOWN_ADDRESSES:
        result = await api.execute(CHECKOUT, variables={"email": email, "product": product})
        assert result.errors is None
        answers.add(json.dumps(result.data))
        statements.add(api.last_statements)
        answers.add(json.dumps(await api.compiled(CHECKOUT, variables={"email": email, "product": product})))
    assert len(answers) == 1, answers
    assert len(statements) == 1


# -- the example and the command line ----------------------------------------------------------------


async def test_the_before_sign_in_example_runs_without_a_token(api: Api) -> None:
    data = await both_paths(api, (ROOT / "examples" / "before_sign_in.graphql").read_text(), {}, None)
    assert data["checkoutEligibility"]["reasons"] == ["SIGN_IN_REQUIRED"]
    assert {p["availability"]["available"] for p in data["products"]} == {False}


def test_the_catalogue_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["catalogue", "--help"])
    assert exit_.value.code == 0
    assert "usage: purchasegraph catalogue" in capsys.readouterr().out


def run_cli(database_url: str, *argv: str) -> int:
    os.environ["DATABASE_URL"] = database_url
    try:
        return main(list(argv))
    finally:
        del os.environ["DATABASE_URL"]


def test_the_catalogue_command_prints_products_prices_and_links(
    database_url: str, pool: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(database_url, "catalogue") == 0
    out = capsys.readouterr().out
    for product in catalogue.PRODUCTS:
        assert f"{product.id}  {product.name}" in out
        assert product.site.support_url in out
    assert "US USD  self-service     10.00  central      9.99" in out


def test_the_catalogue_command_says_india_may_not_buy_self_service(
    database_url: str, pool: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(database_url, "catalogue", "--market", "in", "--json") == 0
    listing = json.loads(capsys.readouterr().out)
    assert sorted(p["product_id"] for p in listing) == sorted(ALL_PRODUCTS)
    assert {tuple(p["not_available_because"]) for p in listing} == {("MARKET_NOT_ELIGIBLE",)}
    assert {price["market"] for p in listing for price in p["prices"]} == {"IN"}


def test_the_catalogue_command_refuses_a_market_that_is_no_country_code(
    database_url: str, pool: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(database_url, "catalogue", "--market", "India") == 2
    assert "ISO 3166 alpha-2" in capsys.readouterr().err


def test_the_catalogue_command_says_when_a_market_has_no_products(
    database_url: str, pool: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(database_url, "catalogue", "--market", "FR") == 3
    assert "no products with a price in FR" in capsys.readouterr().err


@pytest.mark.parametrize("selection", ["__typename", "market", "available", "reasons", "a: available b: reasons"])
async def test_availability_compiles_whatever_part_of_it_is_read(api: Api, selection: str) -> None:
    query = f'{{ products {{ id availability(market: "br") {{ {selection} }} }} }}'
    await both_paths(api, query, {}, None)


async def test_over_http_the_answer_before_sign_in_is_the_same_for_a_tenant_domain_and_an_unknown_one(
    database_url: str, pool: object
) -> None:
    """As a browser's checkout page asks: anonymous POSTs whose whole bodies are equal, for an
    address of Contoso (a tenant here), of Tailspin (India) and of a domain no tenant has; and a
    signed-in caller gets that same answer (the query does not depend on who asks)."""
    settings = gateway_settings(database_url)
    bodies = set()
    async with serving(settings) as http:
        for email, token in [
            ("paula.purchaser@contoso.example", None),
            ("ines@tailspin.example", None),
            ("someone@no-such-tenant.example", None),
            ("someone@no-such-tenant.example", token_for(PAULA, "contoso.example")),
        ]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            variables = {"email": email, "product": POWER_BI_PRO}
            response = await http.post("/graphql", json={"query": CHECKOUT, "variables": variables}, headers=headers)
            assert response.status_code == 200
            bodies.add(response.content)
    assert len(bodies) == 1, bodies
    assert json.loads(bodies.pop())["data"]["checkoutEligibility"]["reasons"] == ["SIGN_IN_REQUIRED"]
