"""Markets through the API on the real embedded chain: the pilot's auction, DvP and
distributions as the public and the parties see them; a new auction from announcement through
sealed bids, reveal, allocation preview and a maker-checker settlement; DvP instruct, affirm,
settle, cancel and expire with their refusals; cash issued and a coupon declared by approval,
claimed and paid; a held payout released; maturity; reserve attestations and a sukuk's
underlying.

The chain is shared with the other API modules, so these tests use their own auction, their own
DvP instructions and the wheat receipt, and move the embedded clock by hours only."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from fractions import Fraction
from typing import Any

from amanat.domain.instruments import tbill_price, tbill_yield
from tests.api.conftest import Api
from tests.api.test_workflow import assert_problem

HOUR = 3600
NOTICE = "0x" + hashlib.sha256(b"maturity notice").hexdigest()


def approve_and_execute(api: Api, filed: Any) -> dict[str, Any]:
    """Two approvals, the timelock passed on the embedded clock, then execution."""
    assert filed.status_code == 201, filed.text
    number = filed.json()["id"]
    for approver in ("approver-1", "approver-2"):
        reply = api.post(f"/approvals/{number}/approve", approver)
        assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "waiting-timelock"
    api.platform.chain.advance_time(HOUR + 1)
    executed = api.post(f"/approvals/{number}/execute", "approver-3")
    assert executed.status_code == 200, executed.text
    assert executed.json()["status"] == "executed"
    return executed.json()  # type: ignore[no-any-return]


def asset_id(api: Api, legal_id: str) -> int:
    listed = api.get("/assets", None, limit=500).json()["items"]
    return next(a["id"] for a in listed if a["legal_id"] == legal_id)


def cash(api: Api, key_name: str) -> dict[str, Any]:
    reply = api.get(f"/cash/balances/{api.address(key_name)}", "auditor")
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def test_pilot_markets_as_the_public_and_the_parties_see_them(api: Api) -> None:
    supply = api.get("/cash/supply", None).json()
    assert supply["symbol"] == "PKRT" and supply["supply_minor"] > 0
    # the pilot's T-bill auction: four revealed bids settled, the retail bid never sealed
    auctions = api.get("/auctions", None, symbol="PKTB3MA").json()
    assert auctions["total"] == 1 and auctions["items"][0]["settled"] is True
    number = auctions["items"][0]["auction"]
    public = api.get(f"/auctions/{number}", None).json()
    assert public["outcome"]["issued_units"] == 500_000 and public["bids"] == []
    # named bidders and their allotments are for the issuer, approvers and oversight
    shown = api.get(f"/auctions/{number}", "auditor").json()
    assert shown["outcome"]["cutoff_yield"] == "0.1195"
    assert shown["outcome"]["issued_units"] == 500_000
    assert len(shown["bids"]) == 4 and all(b["commitment"] for b in shown["bids"])
    assert sum(b["settled_units"] or 0 for b in shown["bids"]) == 500_000
    assert {e["event"] for e in shown["events"]} >= {"BidCommitted", "BidRevealed", "BidSettled"}
    # the sukuk rent (Gulf Horizon's payout held: it is frozen) and the T-bill's redemption
    rows = {d["kind"]: d for d in api.get("/distributions", "issuer").json()["items"]}
    rent, redemption = rows["rent"], rows["redemption"]
    assert rent["symbol"] == "PKSUK29" and rent["held_minor"] > 0
    assert rent["paid_minor"] + rent["held_minor"] == rent["total_minor"] > 0
    assert redemption["symbol"] == "PKTB3MA" and redemption["complete"] is True
    assert api.get(f"/distributions/{rent['distribution']}", "issuer").json() == rent
    # the public is not told declared minus paid: that is the frozen holder's share
    assert api.get(f"/distributions/{rent['distribution']}", None).json()["held_minor"] is None
    # the secondary DvP: its parties and staff see it, other institutions do not
    instruction = api.get("/dvp/1", "kla").json()
    assert instruction["state"] == "settled" and instruction["buyer"] == api.address("fepf")
    assert api.get("/dvp/1", "fepf").status_code == 200
    assert_problem(api.get("/dvp/1", "inb"), 403, "forbidden")
    assert [i["instruction"] for i in api.get("/dvp", "kla").json()["items"]][:1] == [1]
    assert 1 not in [i["instruction"] for i in api.get("/dvp", "inb").json()["items"]]
    assert api.get("/dvp", "regulator", state="settled").json()["total"] >= 1
    # cash balances: an institution sees only its own wallets
    own = api.get(f"/cash/balances/{api.address('inb')}", "inb").json()
    assert own["available_minor"] == own["balance_minor"] - own["locked_minor"]
    assert_problem(api.get(f"/cash/balances/{api.address('kla')}", "inb"), 403, "forbidden")
    assert_problem(api.get("/auctions/999", None), 404, "not-found")


def test_a_tbill_is_valued_from_its_auction_and_its_secondary_trades(api: Api) -> None:
    """The pilot's auctioned T-bill has no valuer report: its value comes from the market. The
    auction's cut-off priced over the bill's 91 days (SBP's 4-place price), valuing the units
    then outstanding; the secondary DvP between two institutions marks it again at its own
    price and yield, for staff only (two parties are under the disclosure threshold). The portal
    shows the public the auction's mark and its source, no party and no trade."""
    bill = asset_id(api, "PK0789TB3M27")
    number = api.get("/auctions", None, symbol="PKTB3MA").json()["items"][0]["auction"]
    reply = api.get(f"/assets/{bill}/valuations", None)
    assert reply.status_code == 200, reply.text
    shown = reply.json()
    (mark,) = [m for m in shown["items"] if m["auction"] == number]
    assert mark["source"] == "auction" and mark["yield"] == "0.1195"
    assert mark["days_to_maturity"] == 91 and mark["price_per_100"] == "97.1069"
    assert mark["units"] == 500_000 and mark["value_minor"] == 500_000 * 9_710_69 // 100
    assert mark["block"] > 0 and "auction" in mark["reference"]
    assert not [m for m in shown["items"] if m["source"] == "secondary_dvp"]
    assert shown["current"]["units_outstanding"] == 0  # redeemed at maturity
    # staff see the DvP's mark: its price per unit, and its yield over the days left
    staff = api.get(f"/assets/{bill}/valuations", "issuer").json()
    (trade,) = [m for m in staff["items"] if m["instructions"] == [1]]
    dvp = api.get("/dvp/1", "issuer").json()
    days = trade["days_to_maturity"]
    assert trade["source"] == "secondary_dvp" and trade["public"] is False and days in (90, 91)
    exact = Fraction(dvp["cash_minor"] * 100, dvp["units"] * 100_00)
    agreed = tbill_price(Decimal("0.1180"), 89)  # the pilot's price: 11.80% over 89 days
    assert exact == agreed and trade["price_per_100"] == str(agreed)
    assert trade["yield"] == str(tbill_yield(exact, days))
    assert trade["value_minor"] == round(trade["units"] * Fraction(dvp["cash_minor"], dvp["units"]))
    assert dvp["seller"] not in str(staff) and "Karakoram" not in str(staff)
    # the portal: the auction's mark with its source and date, and no party
    page = api.client.get(f"/portal/assets/{bill}")
    assert page.status_code == 200
    assert f"auction #{number}" in page.text and "97.1069" in page.text
    assert mark["date"] in page.text and "secondary DvP" not in page.text
    assert "Karakoram" not in page.text and "Federal Employees" not in page.text
    # a real asset keeps its accepted valuer report
    land = api.get(f"/assets/{asset_id(api, 'ISB-G5-1-0423')}/valuations", None).json()
    assert [m["source"] for m in land["items"]] == ["valuer_report"]
    assert land["items"][0]["value_minor"] == 1_850_000_000_00


def plain_values(value: Any) -> list[str]:
    """Every value in a JSON structure that is not a hex string (a hash or an address)."""
    if isinstance(value, dict):
        return [v for item in value.values() for v in plain_values(item)]
    if isinstance(value, list):
        return [v for item in value for v in plain_values(item)]
    text = str(value)
    return [] if text.startswith("0x") else [text]


def test_auction_from_announcement_to_a_maker_checker_settlement(api: Api) -> None:
    chain = api.platform.chain
    now = chain.block_timestamp()
    close, reveal_by, settle_on = now + 2 * HOUR, now + 3 * HOUR, now + 4 * HOUR
    terms = {
        "token": "PKTB3M",
        "offered_units": 10_000,
        "close_time": close,
        "reveal_deadline": reveal_by,
        "settlement_date": settle_on,
    }
    assert_problem(api.post("/auctions", "approver-1", json=terms), 403, "forbidden")
    announced = api.post("/auctions", "treasury", key="auction-pktb3m-1", json=terms)
    assert announced.status_code == 201, announced.text
    auction = announced.json()["auction"]
    assert announced.json()["face_minor_per_unit"] == 100_00
    replay = api.post("/auctions", "treasury", key="auction-pktb3m-1", json=terms)
    assert replay.json()["auction"] == auction and replay.headers["idempotent-replayed"] == "true"

    # sealed bids by each institution's own key; the retail investor is refused by the rules
    bids = {
        "inb": {"units": 6_000, "yield": "11.90%"},
        "kla": {"units": 6_000, "yield": "0.12"},
        "fepf": {"units": 1_000, "non_competitive": True},
    }
    for who, bid in bids.items():
        sealed = api.post(f"/auctions/{auction}/bids", who, json=bid)
        assert sealed.status_code == 201, sealed.text
        assert sealed.json()["bidder"] == api.address(who)
    assert_problem(
        api.post(f"/auctions/{auction}/bids", "retail-0001", json={"units": 1_000, "yield": "0.1"}),
        422,
        "category-not-eligible",
    )
    assert_problem(
        api.post(f"/auctions/{auction}/bids", "ghc", json={"units": 1_000}), 422, "invalid-input"
    )
    assert api.get(f"/auctions/{auction}", None).json()["bids"] == []
    sealed = api.get(f"/auctions/{auction}", "auditor").json()
    assert len(sealed["bids"]) == 3 and all(b["revealed_units"] is None for b in sealed["bids"])
    # sealed: only the commitments are on chain (no value but hashes and addresses tells a bid;
    # a hash may contain the digits "6000")
    assert not [v for v in plain_values(sealed["events"]) if "6000" in v]

    # reveals only after the close; a wallet without a sealed bid has nothing to reveal
    early = assert_problem(api.post(f"/auctions/{auction}/reveal", "inb"), 422, "chain-refused")
    assert "not closed" in early["detail"]
    chain.advance_time(close - chain.block_timestamp())
    for who in bids:
        opened = api.post(f"/auctions/{auction}/reveal", who)
        assert opened.status_code == 200, opened.text
    assert opened.json()["yield"] is None and opened.json()["locked_cash_minor"] == 1_000 * 100_00
    assert_problem(api.post(f"/auctions/{auction}/reveal", "ghc"), 404, "not-found")

    # the allocation preview: below the cut-off in full, at it pro rata, never over the offer
    preview = api.get(f"/auctions/{auction}/allocation", "approver-2", cutoff="12%", days=91).json()
    allotted = {row["bidder"]: row["units"] for row in preview["items"]}
    assert preview["units"] == 10_000 and allotted[api.address("inb")] == 6_000
    assert allotted[api.address("fepf")] == 1_000 and allotted[api.address("kla")] == 3_000
    assert_problem(
        api.get(f"/auctions/{auction}/allocation", "inb", cutoff="12%", days=91), 403, "forbidden"
    )

    # settlement is maker-checker: treasury files, two approvers approve, one executes
    params = {"auction": auction, "cutoff": "12%", "days": 91}
    assert_problem(
        api.post("/approvals", "enforcement", json={"kind": "settle_auction", "params": params}),
        403,
        "forbidden",
    )
    filed = api.post("/approvals", "treasury", json={"kind": "settle_auction", "params": params})
    assert filed.status_code == 201, filed.text
    assert "10,000 units to 3 of 3 bidders" in filed.json()["summary"]
    chain.advance_time(settle_on - chain.block_timestamp())
    approve_and_execute(api, filed)
    settled = api.get(f"/auctions/{auction}", "auditor").json()
    assert settled["settled"] is True and settled["outcome"]["issued_units"] == 10_000
    assert sum(b["settled_units"] for b in settled["bids"]) == 10_000
    assert_problem(
        api.post("/approvals", "treasury", json={"kind": "settle_auction", "params": params}),
        422,
        "auction-settled",
    )


def test_ties_at_the_cutoff_go_by_commitment_order_and_the_cutoff_is_the_marginal_yield(
    api: Api,
) -> None:
    """3 units offered, uniform price. KLA commits 2 @ 12% first, INB 2 @ 12% second; INB
    reveals first. Pro rata 1.5 each: the odd unit goes to KLA, the earlier commitment, not to
    whoever revealed first. A cut-off of 12.5%, where no bid is, is refused before the chain."""
    chain = api.platform.chain
    now = chain.block_timestamp()
    terms = {
        "token": "PKTB3M",
        "offered_units": 3,
        "close_time": now + HOUR,
        "reveal_deadline": now + 2 * HOUR,
        "settlement_date": now + 3 * HOUR,
        "pricing": "uniform",
        "deposit_minor": 500_00,
    }
    announced = api.post("/auctions", "treasury", json=terms)
    assert announced.status_code == 201, announced.text
    auction = announced.json()["auction"]
    assert (announced.json()["pricing"], announced.json()["deposit_minor"]) == ("uniform", 500_00)
    before = cash(api, "kla")["balance_minor"]
    for who in ("kla", "inb"):
        sealed = api.post(f"/auctions/{auction}/bids", who, json={"units": 2, "yield": "12%"})
        assert sealed.status_code == 201, sealed.text
    assert cash(api, "kla")["balance_minor"] == before - 500_00  # the deposit is paid in
    chain.advance_time(HOUR)
    for who in ("inb", "kla"):
        opened = api.post(f"/auctions/{auction}/reveal", who)
        assert opened.status_code == 200, opened.text
    assert cash(api, "kla")["balance_minor"] == before  # and back at reveal
    shown = api.get(f"/auctions/{auction}", "auditor").json()
    sequence = {b["bidder"]: b["sequence"] for b in shown["bids"]}
    assert sequence == {api.address("kla"): 1, api.address("inb"): 2}
    preview = api.get(f"/auctions/{auction}/allocation", "approver-2", cutoff="12%", days=91)
    allotted = {row["bidder"]: row["units"] for row in preview.json()["items"]}
    assert allotted == {api.address("kla"): 2, api.address("inb"): 1}
    refused = assert_problem(
        api.get(f"/auctions/{auction}/allocation", "approver-2", cutoff="12.5%", days=91),
        422,
        "cutoff-not-marginal",
    )
    assert "can be 12.0000%" in refused["detail"]


def test_dvp_instruct_affirm_settle_cancel_and_expire(api: Api) -> None:
    chain = api.platform.chain
    deadline = chain.block_timestamp() + 6 * HOUR
    sale = {
        "token": "PKTB3M",
        "buyer": api.address("kla"),
        "units": 1_000,
        "cash_minor": 97_000_00,
        "deadline": deadline,
    }
    kla_cash = cash(api, "kla")["balance_minor"]
    instructed = api.post("/dvp", "inb", key="dvp-inb-kla-1", json=sale)
    assert instructed.status_code == 201, instructed.text
    number = instructed.json()["instruction"]
    assert instructed.json()["state"] == "instructed" and instructed.json()["symbol"] == "PKTB3M"
    again = api.post("/dvp", "inb", key="dvp-inb-kla-1", json=sale)
    assert again.json()["instruction"] == number
    # the seller cannot affirm; an outsider is refused before the chain is asked
    assert_problem(api.post(f"/dvp/{number}/affirm", "inb"), 403, "forbidden")
    assert_problem(api.post(f"/dvp/{number}/settle", "fepf"), 403, "forbidden")
    affirmed = api.post(f"/dvp/{number}/affirm", "kla")
    assert affirmed.status_code == 200 and affirmed.json()["state"] == "affirmed"
    assert cash(api, "kla")["locked_minor"] >= 97_000_00
    done = api.post(f"/dvp/{number}/settle", "inb")
    assert done.status_code == 200 and done.json()["state"] == "settled", done.text
    assert cash(api, "kla")["balance_minor"] == kla_cash - 97_000_00
    # a resale the same day to a third institution: the day's trades involve three, but the
    # first seller, taking its own trade out of the day's total, would be left with the price,
    # units and cash of the resale between two others: the day's price is withheld
    resale = {**sale, "buyer": api.address("fepf"), "units": 500, "cash_minor": 48_600_00}
    resold = api.post("/dvp", "kla", json=resale).json()["instruction"]
    assert api.post(f"/dvp/{resold}/affirm", "fepf").status_code == 200
    assert api.post(f"/dvp/{resold}/settle", "fepf").json()["state"] == "settled"
    api.sync()
    bill = asset_id(api, "PK0123TB3M26")
    marks = [
        m
        for m in api.get(f"/assets/{bill}/valuations", "auditor").json()["items"]
        if {number, resold} & set(m["instructions"])
    ]
    public = api.get(f"/assets/{bill}/valuations", None).json()
    assert marks and not any(m["public"] for m in marks)
    assert not [m for m in public["items"] if m["source"] == "secondary_dvp"]
    if len(marks) == 1:  # both settled on one UTC day (the chain's clock did not pass midnight)
        (mark,) = marks
        # with any other DvP of the token settled that day by another module's tests
        assert {number, resold} <= set(mark["instructions"])
        day = [api.get(f"/dvp/{i}", "auditor").json() for i in mark["instructions"]]
        # e.g. (PKR 97,000.00 + PKR 48,600.00) / 1,500 units, times the units outstanding, once
        price = Fraction(sum(d["cash_minor"] for d in day), sum(d["units"] for d in day))
        assert mark["value_minor"] == round(price * mark["units"])

    # the token's rules are checked before anything is locked
    assert_problem(
        api.post("/dvp", "inb", json={**sale, "buyer": api.address("retail-0001")}),
        422,
        "category-not-eligible",
    )
    # cancelled by a party; expired by anyone past the deadline
    second = api.post("/dvp", "inb", json=sale).json()["instruction"]
    cancelled = api.post(f"/dvp/{second}/cancel", "kla")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    third = api.post("/dvp", "inb", json={**sale, "deadline": chain.block_timestamp() + 60})
    third_id = third.json()["instruction"]
    assert_problem(api.post(f"/dvp/{third_id}/expire", "paying-agent"), 422, "chain-refused")
    chain.advance_time(120)
    expired = api.post(f"/dvp/{third_id}/expire", "paying-agent")
    assert expired.status_code == 200 and expired.json()["state"] == "expired", expired.text
    assert_problem(api.post(f"/dvp/{second}/expire", "enforcement"), 403, "forbidden")


def test_cash_issue_coupon_declared_claimed_paid_and_held_released(api: Api) -> None:
    treasury = api.platform.manifest.address("Governance")
    before = api.get("/cash/supply", None).json()
    issue = {"to": treasury, "amount_minor": 5_000_000_00, "reference": "MoF allocation CP-7"}
    approve_and_execute(
        api, api.post("/approvals", "treasury", json={"kind": "issue_cash", "params": issue})
    )
    after = api.get("/cash/supply", None).json()
    assert after["treasury_minor"] == before["treasury_minor"] + 5_000_000_00
    assert_problem(
        api.post(
            "/approvals",
            "treasury",
            json={
                "kind": "issue_cash",
                "params": {**issue, "to": api.platform.address_of("nobody", new=True)},
            },
        ),
        422,
        "may-not-hold-cash",
    )

    # a coupon on the wheat receipt (held by inb alone): a record block or a past record date
    coupon = {"token": "PKWHEAT", "kind": "coupon", "total_minor": 350_000_00}
    assert_problem(
        api.post("/approvals", "treasury", json={"kind": "declare_distribution", "params": coupon}),
        400,
        "invalid-input",
    )
    assert_problem(
        api.post(
            "/approvals",
            "treasury",
            json={
                "kind": "declare_distribution",
                "params": {**coupon, "record_date": "2999-01-01"},
            },
        ),
        422,
        "record-date-future",
    )
    record_block = api.platform.chain.block_number() - 1
    filed = api.post(
        "/approvals",
        "treasury",
        json={"kind": "declare_distribution", "params": {**coupon, "record_block": record_block}},
    )
    assert "to 1 holders of record" in filed.json()["summary"], filed.text
    approve_and_execute(api, filed)
    listed = api.get("/distributions", "issuer", symbol="PKWHEAT").json()["items"]
    number = listed[-1]["distribution"]
    assert listed[-1]["holders"] == 1 and listed[-1]["payouts_made"] == 0

    # inb claims its own payout; a non-holder has nothing to claim; paying again pays nothing
    inb_cash = cash(api, "inb")["balance_minor"]
    claimed = api.post(f"/distributions/{number}/claim", "inb")
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["amount_minor"] == 350_000_00
    assert cash(api, "inb")["balance_minor"] == inb_cash + 350_000_00
    assert_problem(api.post(f"/distributions/{number}/claim", "kla"), 404, "not-found")
    paid = api.post(f"/distributions/{number}/pay", "paying-agent", json={})
    assert paid.status_code == 200, paid.text
    assert paid.json()["complete"] is True and paid.json()["transactions"] == 0
    assert_problem(api.post(f"/distributions/{number}/pay", "enforcement"), 403, "forbidden")

    # the rent held for the frozen Gulf Horizon Capital is released by maker-checker
    rent = next(
        d
        for d in api.get("/distributions", "issuer", kind="rent").json()["items"]
        if d["held_minor"]
    )
    release = {"distribution": rent["distribution"], "holder": api.address("ghc")}
    approve_and_execute(
        api, api.post("/approvals", "enforcement", json={"kind": "release_held", "params": release})
    )
    released = api.get(f"/distributions/{rent['distribution']}", "issuer").json()
    assert released["held_minor"] == 0 and released["paid_minor"] == released["total_minor"]
    assert_problem(
        api.post("/approvals", "treasury", json={"kind": "release_held", "params": release}),
        422,
        "nothing-held",
    )


def test_maturity_reserve_attestation_and_underlying(api: Api) -> None:
    assert_problem(
        api.post(
            "/approvals",
            "treasury",
            json={"kind": "mature_token", "params": {"token": "PKTB3MA"}, "evidence": NOTICE},
        ),
        422,
        "matured",
    )
    # a redemption needs the token matured first
    assert_problem(
        api.post(
            "/approvals",
            "treasury",
            json={
                "kind": "declare_distribution",
                "params": {
                    "token": "PKWHEAT",
                    "kind": "redemption",
                    "total_minor": 100,
                    "record_block": 1,
                },
            },
        ),
        422,
        "not-matured",
    )

    wheat = asset_id(api, "PASSCO-MUL-WHEAT-01")
    report = "0x" + hashlib.sha256(b"stock count, Multan vault, 2027 Q1").hexdigest()
    attestation = {"quantity": 45_000, "report_sha256": report}
    # the valuer's own key is not a reserve auditor's on chain
    refused = assert_problem(
        api.post(f"/assets/{wheat}/reserve-attestations", "valuer", json=attestation),
        403,
        "forbidden",
    )
    assert "not a reserve auditor" in refused["detail"]
    # the chain's own refusal, with its reason: only a commodity reserve has a reserve
    refused = assert_problem(
        api.post("/assets/1/reserve-attestations", "reserve-auditor", json=attestation),
        422,
        "chain-refused",
    )
    assert "not a commodity reserve" in refused["detail"]
    attested = api.post(
        f"/assets/{wheat}/reserve-attestations", "reserve-auditor", json=attestation
    )
    assert attested.status_code == 201, attested.text
    assert attested.json()["attestation"] >= 1
    shown = api.get(f"/assets/{wheat}", "regulator").json()
    assert shown["reserve"] == {
        "attested_units": 45_000,
        "attestations": attested.json()["attestation"] + 1,
    }

    # a new sukuk is tied to the Pak Secretariat building backing the pilot sukuk
    authorisation = "0x" + hashlib.sha256(b"Notification F.4(12)-DM/2026-9").hexdigest()
    sukuk = api.post(
        "/assets",
        "treasury",
        json={
            "asset_class": "sukuk",
            "legal_id": f"PK-IJARA-2031-{api.backend}",
            "name": "Ijara sukuk 2031",
            "ministry": "Ministry of Finance",
            "authorisation_ref": "Notification F.4(12)-DM/2026-9",
            "authorisation_sha256": authorisation,
            "max_units": 100_000,
        },
    ).json()["id"]
    building = api.get("/assets/2", "treasury").json()["underlying"]
    assert building is not None
    linked = api.post(f"/assets/{sukuk}/underlying", "treasury", json={"underlying": building})
    assert linked.status_code == 200, linked.text
    assert linked.json()["underlying"] == building
    assert_problem(
        api.post(f"/assets/{sukuk}/underlying", "treasury", json={"underlying": building}),
        422,
        "chain-refused",
    )
    assert_problem(
        api.post(f"/assets/{sukuk}/underlying", "treasury", json={"underlying": 99_999}),
        404,
        "not-found",
    )

    # maturity by maker-checker, citing its notice: the wheat receipt stops trading
    assert_problem(
        api.post(
            "/approvals", "treasury", json={"kind": "mature_token", "params": {"token": "PKWHEAT"}}
        ),
        400,
        "invalid-input",
    )
    approve_and_execute(
        api,
        api.post(
            "/approvals",
            "treasury",
            json={"kind": "mature_token", "params": {"token": "PKWHEAT"}, "evidence": NOTICE},
        ),
    )
    assert_problem(
        api.post(
            "/transfers",
            "inb",
            json={"token": "PKWHEAT", "to": api.address("kla"), "amount": 1_000},
        ),
        422,
        "matured",
    )
