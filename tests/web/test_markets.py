"""The console's Markets pages in a real headless Chromium against a live server and chain.

The pilot scenario has auction 1 (500,000 PKTB3MA sold at a cut-off of 11.95% to four bidders;
the retail bid was refused before it was sealed), DvP instruction 1 (Karakoram Life sells 20,000
PKTB3MA to the Federal Employees Pension Fund), the sukuk rent (Gulf Horizon Capital's share
held: it is frozen) and the PKTB3MA redemption.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from playwright.sync_api import Browser, Page, expect

from amanat.domain.auction import Pricing
from amanat.services import auctions, distributions, tokens
from tests.web.support import LiveConsole, sign_in

FEPF = "Federal Employees Pension Fund"


def approve_twice_and_execute(browser: Browser, console: LiveConsole, request_id: int) -> Page:
    """approver-1 and approver-2 approve; after the one-hour timelock approver-2 executes."""
    for approver in ("approver-1", "approver-2"):
        page = sign_in(browser, console, approver, "/console/approvals")
        page.get_by_role("button", name=f"Approve request {request_id}").click()
        expect(page.get_by_role("status")).to_have_text(f"You approved request {request_id}.")
    console.platform.chain.advance_time(3601)
    page.goto(console.url("/console/approvals"))
    page.get_by_role("button", name=f"Execute request {request_id}").click()
    expect(page.get_by_role("status")).to_have_text(f"Request {request_id} was executed on chain.")
    return page


def test_markets_show_the_pilot_auction_dvp_distributions_and_cash(
    browser: Browser, console: LiveConsole
) -> None:
    page = sign_in(browser, console, "regulator")
    page.get_by_role("link", name="Markets").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Markets")

    auction = page.locator('#auctions tr[data-auction="1"]')
    expect(auction).to_contain_text("PKTB3MA")
    expect(auction).to_contain_text("500,000")
    expect(auction).to_contain_text("settled")

    rent = page.locator("#distributions tr", has_text="rent")
    declared = distributions.show(console.platform, 1)
    assert declared["kind"] == "rent" and declared["held_minor"] > 0
    expect(rent.locator("td.total")).to_have_text(declared["total"])
    expect(rent.locator("td.held")).to_have_text(re.compile(re.escape(declared["held"])))
    expect(rent.locator("td.held")).not_to_contain_text("PKR 0.00")
    redemption = page.locator("#distributions tr", has_text="redemption")
    expect(redemption).to_contain_text("PKTB3MA")
    expect(redemption).to_contain_text("complete")

    instruction = page.locator('#dvp tr[data-instruction="1"]')
    expect(instruction).to_contain_text("Karakoram Life Assurance")
    expect(instruction).to_contain_text(FEPF)
    expect(instruction).to_contain_text("20,000")
    expect(instruction).to_contain_text("settled")
    expect(page.locator("#cash tr[data-holder='Treasury (Governance)']")).to_be_visible()
    expect(page.locator(f"#cash tr[data-holder='{FEPF}']")).to_contain_text("PKR")

    page.get_by_role("link", name="Auction 1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Auction 1: PKTB3MA")
    expect(page.locator("#cutoff")).to_have_text("11.95%")
    expect(page.locator("#issued")).to_contain_text("500,000 units")
    bidders = page.locator("#bids tbody tr")
    expect(bidders).to_have_count(4)
    expect(page.locator("#bids tr[data-bidder='Indus National Bank'] td.settled")).not_to_have_text(
        "-"
    )
    expect(page.locator("#bids")).not_to_contain_text("Retail investor")

    # an institution sees the public auctions and distributions, but only its own DvP and cash
    inb = sign_in(browser, console, "inb", "/console/markets")
    expect(inb.locator('#auctions tr[data-auction="1"]')).to_be_visible()
    expect(inb.locator("#distributions tbody tr")).to_have_count(2)
    expect(inb.locator("#dvp")).to_contain_text("not a party to any DvP instruction")
    expect(inb.locator("#cash tbody tr")).to_have_count(1)
    expect(inb.locator("#cash tbody tr")).to_contain_text("Indus National Bank")


def test_an_auction_settlement_is_previewed_filed_approved_and_executed(
    browser: Browser, console: LiveConsole
) -> None:
    platform = console.platform
    chain = platform.chain
    now = chain.block_timestamp()
    number = auctions.announce(
        platform,
        "issuer",
        tokens.resolve(platform, "PKTB3M"),
        10_000,
        100_00,
        now + 3600,
        now + 7200,
        now + 7201,
        Pricing.UNIFORM,
        10_000_00,
    )
    auctions.bid(platform, "inb", number, 8_000, Decimal("0.119"))
    auctions.bid(platform, "kla", number, 4_000, Decimal("0.12"))
    chain.advance_time(3600)
    auctions.reveal(platform, "inb", number)
    auctions.reveal(platform, "kla", number)
    chain.advance_time(3600)

    treasury = sign_in(browser, console, "treasury", f"/console/markets/auctions/{number}")
    treasury.get_by_label("Cut-off yield (e.g. 11.95% or 0.1195)").fill("12%")
    treasury.get_by_label("Days to maturity").fill("91")
    treasury.get_by_role("button", name="Preview the allocation").click()
    expect(
        treasury.locator("#allocation tr[data-bidder='Indus National Bank'] td.allotted")
    ).to_have_text("8,000")
    expect(
        treasury.locator("#allocation tr[data-bidder='Karakoram Life Assurance'] td.allotted")
    ).to_have_text("2,000")
    treasury.get_by_role("button", name="File the settlement for approval").click()
    treasury.wait_for_url(re.compile(r".*/console/approvals\?done=filed&request_id=\d+$"))
    request_id = int(treasury.url.rsplit("=", 1)[1])
    row = treasury.locator(f"#request-{request_id}")
    expect(row).to_contain_text(f"settle auction {number} at cut-off 12.00%")
    expect(row).to_contain_text("10,000 units to 2 of 2 bidders")

    # the approver sees the allocation it would settle on the request's page
    checker = sign_in(browser, console, "approver-1", f"/console/approvals/{request_id}")
    expect(
        checker.locator("#allocation tr[data-bidder='Karakoram Life Assurance'] td.allotted")
    ).to_have_text("2,000")

    page = approve_twice_and_execute(browser, console, request_id)
    page.goto(console.url(f"/console/markets/auctions/{number}"))
    expect(page.locator("#cutoff")).to_have_text("12.00%")
    expect(page.locator("#issued")).to_contain_text("10,000 units")
    expect(page.locator("#bids tr[data-bidder='Indus National Bank'] td.settled")).to_have_text(
        "8,000"
    )


def test_cash_is_issued_by_an_approved_request(browser: Browser, console: LiveConsole) -> None:
    platform = console.platform
    cash_token = platform.contract("CashToken")
    fepf = platform.address_of("fepf")
    before = cash_token.read("balanceOf", fepf)

    treasury = sign_in(browser, console, "treasury", "/console/approvals/new/issue_cash")
    treasury.get_by_label("Receiving institution", exact=True).select_option(value=fepf)
    treasury.get_by_label("Amount (PKR)", exact=True).fill("1,000,000.00")
    treasury.get_by_label("Deposit reference (RTGS)", exact=True).fill("SBP RTGS FEPF-2026-0002")
    treasury.get_by_role("button", name="File request").click()
    treasury.wait_for_url(re.compile(r".*request_id=\d+$"))
    request_id = int(treasury.url.rsplit("=", 1)[1])
    expect(treasury.locator(f"#request-{request_id}")).to_contain_text(
        f"issue PKR 1,000,000.00 PKRT to {fepf} against deposit SBP RTGS FEPF-2026-0002"
    )

    page = approve_twice_and_execute(browser, console, request_id)
    assert cash_token.read("balanceOf", fepf) == before + 1_000_000_00
    page.goto(console.url("/console/markets"))
    expect(page.locator(f"#cash tr[data-holder='{FEPF}'] td.balance")).to_have_attribute(
        "data-minor", str(before + 1_000_000_00)
    )


def test_distribution_and_release_requests_are_filed_from_their_forms(
    browser: Browser, console: LiveConsole
) -> None:
    platform = console.platform
    sukuk = tokens.resolve(platform, "PKSUK29")
    moment = datetime.fromtimestamp(platform.chain.block_timestamp() - 60, UTC)
    treasury = sign_in(browser, console, "treasury", "/console/approvals/new")
    treasury.get_by_role("link", name="Declare a coupon, rent, dividend or redemption").click()

    def declare(record_date: str) -> None:
        treasury.get_by_label("Token", exact=True).select_option(value=sukuk.address)
        treasury.get_by_label("What is paid", exact=True).select_option(value="rent")
        treasury.get_by_label("Total (PKR, drawn from the treasury)").fill("1,000.00")
        treasury.get_by_label("Record date", exact=False).fill(record_date)
        treasury.get_by_role("button", name="File request").click()

    # the holders of record at a date not yet reached are not known: refused, with its rule
    declare("2999-12-31")
    expect(treasury.get_by_role("alert")).to_contain_text("rule: record-date-future")
    declare(moment.strftime("%Y-%m-%dT%H:%M"))
    treasury.wait_for_url(re.compile(r".*request_id=\d+$"))
    request_id = int(treasury.url.rsplit("=", 1)[1])
    expect(treasury.locator(f"#request-{request_id}")).to_contain_text(
        "declare rent of PKR 1,000.00 on PKSUK29 to"
    )

    # the rent held for the frozen Gulf Horizon Capital: its release is an agent's request
    agent = sign_in(browser, console, "enforcement", "/console/approvals/new/release_held")
    agent.get_by_label("Distribution number").fill("1")
    agent.get_by_label("Holder whose payout is held").select_option(
        value=platform.address_of("ghc")
    )
    agent.get_by_role("button", name="File request").click()
    agent.wait_for_url(re.compile(r".*request_id=\d+$"))
    release_id = int(agent.url.rsplit("=", 1)[1])
    expect(agent.locator(f"#request-{release_id}")).to_contain_text("held for")
    expect(agent.locator(f"#request-{release_id}")).to_contain_text("Gulf Horizon Capital")
