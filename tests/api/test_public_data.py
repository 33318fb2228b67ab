"""docs/public-data.md, route by route: every public (no sign-in) API route and portal page
discloses what the document allows the public, and nothing else.

The public routes are the matrix's rows open to "public" (`tests.api.test_matrix.ROWS`); a new
public route fails `test_every_public_route_follows_the_public_data_policy` until its rule is
written here. Every answer is also searched for what identifies a party: no institution's name
and no institution's wallet may appear in anything the public is served."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select

from amanat.domain.disclosure import DEFAULT_THRESHOLD
from amanat.domain.money import format_pkr
from amanat.store.models import Institution, Wallet
from tests.api.conftest import Api
from tests.api.test_matrix import ROWS, _values
from tests.api.test_policy import _console

# The audit trail's public leaves: the entry's hash, what was done, on what, and its outcome.
AUDIT_LEAF = {"type", "at", "role", "action", "resource", "status", "approval_ref", "entry_hash"}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield str(value)


def _count_ok(count: int | None) -> bool:
    """A number of holders is shown only when it is none or at least the threshold."""
    return count is None or count == 0 or count >= DEFAULT_THRESHOLD


def _entries(api: Api, body: Any) -> None:
    size = body["size"]
    entries = list(body["entries"])
    while len(entries) < size:
        page = api.get("/transparency/entries", None, start=len(entries), limit=1000).json()
        entries.extend(page["entries"])
    assert [e["index"] for e in entries] == list(range(size))
    for entry in entries:
        assert entry["leaf_hash"].startswith("0x")
        if entry["kind"] == "audit":
            assert set(json.loads(entry["leaf"])) <= AUDIT_LEAF, entry
        elif entry["kind"] != "reorganisation":
            # a chain event is committed to by its hash; its content is for oversight
            assert entry["leaf"] is None, entry


def _tokens(api: Api, body: Any) -> None:
    assert body["items"]
    for token in body["items"]:
        assert _count_ok(token["holders"]), token


def _distribution(row: dict[str, Any]) -> None:
    assert _count_ok(row["holders"]), row
    # a held payout is one frozen holder's share, and declared minus paid would give it away
    assert row["held_minor"] in (None, 0), row
    if row["held_minor"] is None:
        assert row["paid_minor"] is None and row["held"] is None and row["paid"] is None, row


def _distributions(api: Api, body: Any) -> None:
    assert body["items"]
    for row in body["items"]:
        _distribution(row)


def _auction(api: Api, body: Any) -> None:
    # terms and results; named bidders and their allotments are for oversight
    assert body["bids"] == [], body["bids"]
    assert all(e["bidder"] is None for e in body["events"]), body["events"]
    assert body["outcome"] is None or body["outcome"]["issued_units"] >= 0


def _valuations(api: Api, body: Any) -> None:
    # valuer reports and auction cut-offs for all; a day's DvP prices only when that day's
    # trades involve at least the threshold of institutions (the pilot's one DvP has two)
    assert body["items"] and all(item["public"] for item in body["items"]), body
    assert not [item for item in body["items"] if item["source"] == "secondary_dvp"], body


def _anything(api: Api, body: Any) -> None:
    """Registers, terms, totals, heads, proofs, keys: public by the document's first row."""


RULES: dict[str, Callable[[Api, Any], None]] = {
    "/health": _anything,
    "/assets": _anything,
    "/assets/{asset_id}/valuations": _valuations,
    "/tokens": _tokens,
    "/cash/supply": _anything,
    "/auctions": _anything,
    "/auctions/{auction_id}": _auction,
    "/distributions": _distributions,
    "/distributions/{distribution_id}": lambda api, body: _distribution(body),
    "/transparency/entries": _entries,
    "/transparency/heads": _anything,
    "/transparency/head": _anything,
    "/transparency/proof/inclusion": _anything,
    "/transparency/proof/consistency": _anything,
    "/transparency/public-key": _anything,
    "/transparency/manifest": _anything,
}


def _parties(api: Api) -> list[str]:
    with api.platform.store.session() as session:
        names = list(session.scalars(select(Institution.legal_name)))
        wallets = list(session.scalars(select(Wallet.address)))
    assert names and wallets
    return [*names, *wallets, *(w.lower() for w in wallets)]


def test_every_public_route_follows_the_public_data_policy(api: Api) -> None:
    api.sync()
    public = [row for row in ROWS if row.method == "GET" and "public" in row.allowed]
    assert {row.route for row in public} == set(RULES), "a public route without its rule here"
    parties = _parties(api)
    values = _values(api)
    for row in public:
        reply = api.client.get(row.path.format(**values), **row.request)
        if reply.status_code == 404 and row.route == "/transparency/head":
            continue
        assert reply.status_code == 200, (row.id, reply.text)
        body = reply.json()
        RULES[row.route](api, body)
        text = "\n".join(_strings(body))
        assert not [p for p in parties if p in text], (row.id, [p for p in parties if p in text])
    # every auction and distribution, not only the matrix's first
    for auction in api.get("/auctions", None, limit=100).json()["items"]:
        _auction(api, api.get(f"/auctions/{auction['auction']}", None).json())


def test_oversight_reads_the_full_log_and_staff_the_full_figures(api: Api) -> None:
    """What the public is refused stays readable to those the document names."""
    full = api.get("/transparency/entries", "auditor", limit=1000).json()["entries"]
    assert all(e["leaf"] is not None for e in full)
    assert any(json.loads(e["leaf"]).get("event") == "Transfer" for e in full if e["leaf"])
    assert api.get("/transparency/entries", "institution").json()["entries"][0]["leaf"] is None
    staff = api.get("/distributions", "issuer").json()["items"]
    assert staff and all(d["paid_minor"] is not None for d in staff)
    tokens = api.get("/tokens", "registrar").json()["items"]
    assert any(0 < t["holders"] < DEFAULT_THRESHOLD for t in tokens)
    # an institution reads a token's aggregates as the public does
    wheat = next(t for t in tokens if 0 < t["holders"] < DEFAULT_THRESHOLD)
    seen = api.get(f"/tokens/{wheat['symbol']}", "institution").json()
    assert seen["holders"] is None and seen["foreign_held"] is None
    assert api.get(f"/tokens/{wheat['symbol']}", "registrar").json()["foreign_held"] >= 0
    auction = api.get("/auctions/1", "auditor").json()
    assert auction["bids"]


def test_portal_pages_name_no_party_and_no_held_share(api: Api) -> None:
    """The portal for the public, and the console's markets page for an institution, read the
    distributions through the same rule as the API."""
    parties = _parties(api)
    staff = {d["distribution"]: d for d in api.get("/distributions", "issuer").json()["items"]}
    public = api.get("/distributions", None).json()["items"]
    # the pilot's rent holds a frozen holder's payout (until a test releases it)
    # (a figure equal to the declared total, which is public, gives nothing away)
    held = [
        staff[d["distribution"]]
        for d in public
        if d["paid_minor"] is None and staff[d["distribution"]]["paid_minor"] != d["total_minor"]
    ]
    assets = [a["id"] for a in api.get("/assets", None, limit=100).json()["items"]]
    for path in ["/portal", "/portal/ur", *(f"/portal/assets/{a}" for a in assets)]:
        page = api.client.get(path)
        assert page.status_code == 200, path
        assert not [p for p in parties if p in page.text], path
        for d in held:
            assert format_pkr(d["paid_minor"]) not in page.text, (path, d)
    institution, _csrf = _console(api, "inb")
    markets = institution.get("/console/markets")
    assert markets.status_code == 200
    for d in held:
        assert format_pkr(d["paid_minor"]) not in markets.text, d
        assert format_pkr(d["held_minor"]) not in markets.text, d
