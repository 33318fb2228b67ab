"""The operator console in a real headless Chromium against a live server and embedded chain.

The pilot scenario is loaded once per module (PKTB3M: no retail, holding cap 600,000, minimum
holding 1,000; Federal Employees Pension Fund holds 100,000, Karakoram Life 210,000).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from amanat.cli.common import Context
from amanat.cli.main import cli
from amanat.services import accounts, approvals, governance, tokens
from amanat.services.pilot import pilot_password
from amanat.store.models import AuditEntry
from tests.web.support import LiveConsole, sign_in

FEPF = "Federal Employees Pension Fund"
# An hour's timelock just started: when (chain time) and what is left.
TIMELOCK_LEFT = re.compile(
    r"executable from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(chain time\), "
    r"in (1 h 0 min|59 min \d+ s)$"
)


def cli_output(monkeypatch: pytest.MonkeyPatch, console: LiveConsole, *args: str) -> str:
    """What `amanat ARGS` prints, run in this process on the live console's platform."""
    monkeypatch.setattr(
        Context, "platform", lambda _self, require_deployment=True: console.platform
    )
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def holder_balance(page: Page, console: LiveConsole, symbol: str, institution: str) -> int:
    """The balance shown in the holder table of `symbol` for `institution`."""
    page.goto(console.url(f"/console/tokens/{symbol}/holders"))
    cell = page.locator(f'#holders tr[data-holder="{institution}"] td.balance')
    return int(cell.inner_text().replace(",", ""))


def file_request(page: Page, console: LiveConsole, kind: str, fields: dict[str, str]) -> int:
    """Fill and submit the request form of `kind`; returns the new request's id."""
    page.goto(console.url(f"/console/approvals/new/{kind}"))
    for label, value in fields.items():
        control = page.get_by_label(label, exact=True)
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value=value)
        else:
            control.fill(value)
    page.get_by_role("button", name="File request").click()
    page.wait_for_url(re.compile(r".*/console/approvals\?done=filed&request_id=\d+$"))
    request_id = int(page.url.rsplit("=", 1)[1])
    expect(page.get_by_role("status")).to_contain_text(f"Request {request_id} filed")
    return request_id


def test_mint_request_is_approved_twice_executed_and_changes_the_holder_list(
    browser: Browser, console: LiveConsole, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = console.platform
    pktb3m = tokens.resolve(platform, "PKTB3M")
    fepf = platform.address_of("fepf")

    treasury = sign_in(browser, console, "treasury")
    request_id = file_request(
        treasury,
        console,
        "mint",
        {"Token": pktb3m.address, "Receiving institution": fepf, "Amount (token units)": "2,500"},
    )
    row = treasury.locator(f"#request-{request_id}")
    expect(row).to_contain_text(f"mint 2500 PKTB3M to {fepf}")
    expect(row).to_have_attribute("data-status", "pending-approvals")

    first = sign_in(browser, console, "approver-1", "/console/approvals")
    before = holder_balance(first, console, "PKTB3M", FEPF)
    first.goto(console.url("/console/approvals"))
    first.get_by_role("button", name=f"Approve request {request_id}").click()
    expect(first.get_by_role("status")).to_have_text(f"You approved request {request_id}.")
    row = first.locator(f"#request-{request_id}")
    expect(row).to_have_attribute("data-status", "pending-approvals")
    expect(row).to_contain_text("1 of 2")
    expect(row.get_by_role("button", name=f"Approve request {request_id}")).to_be_disabled()

    second = sign_in(browser, console, "approver-2", "/console/approvals")
    second.get_by_role("button", name=f"Approve request {request_id}").click()
    row = second.locator(f"#request-{request_id}")
    expect(row).to_have_attribute("data-status", "waiting-timelock")
    execute = row.get_by_role("button", name=f"Execute request {request_id}")
    expect(execute).to_be_disabled()
    # when it becomes executable, in chain time, and how long is left (issue 15, item 9)
    expect(row.locator(".timelock")).to_have_text(TIMELOCK_LEFT)
    assert holder_balance(second, console, "PKTB3M", FEPF) == before  # nothing minted yet

    # The CLI decodes the same proposal in words with the same timelock (issue 15, items 8-9).
    proposal_id = approvals.get(platform, request_id)["proposal_id"]
    shown = cli_output(monkeypatch, console, "proposal", "show", str(proposal_id))
    assert f"proposal {proposal_id}: mint, waiting timelock" in shown
    assert "  call       token PKTB3M: mint(address,uint256)" in shown
    assert f"    receiver: {FEPF} ({fepf})" in shown
    assert "    amount: 2,500 PKTB3M units" in shown
    assert f"  request    request {request_id} (mint): mint 2500 PKTB3M" in shown
    assert TIMELOCK_LEFT.search(shown.split("  timelock   ", 1)[1].splitlines()[0])
    assert "on the embedded chain, `amanat node advance-time " in shown
    listed = cli_output(monkeypatch, console, "proposal", "list")
    assert re.search(
        rf"^ *{proposal_id}  waiting-timelock .* token PKTB3M: mint \(receiver {FEPF}; "
        r"amount 2,500 PKTB3M units\)",
        listed,
        re.M,
    )

    platform.chain.advance_time(3601)  # the mint timelock is one hour
    # The maker sees one state, ready, not "waiting timelock" beside "ready".
    treasury.goto(console.url("/console/approvals"))
    row = treasury.locator(f"#request-{request_id}")
    expect(row.locator(".badge")).to_have_text("ready")
    expect(row.locator(".timelock")).to_contain_text("executable now (since")
    second.goto(console.url("/console/approvals"))
    second.get_by_role("button", name=f"Execute request {request_id}").click()
    expect(second.get_by_role("status")).to_have_text(
        f"Request {request_id} was executed on chain."
    )
    row = second.locator(f"#closed #request-{request_id}")
    expect(row).to_have_attribute("data-status", "executed")
    second.screenshot(path=str(tmp_path / "console-approvals.png"), full_page=True)

    after = holder_balance(second, console, "PKTB3M", FEPF)
    assert after == before + 2500

    # The governance history: every on-chain proposal (the pilot's too) in words, with who
    # proposed, approved and executed it, when, and the transactions.
    second.goto(console.url("/console/proposals"))
    rows = second.locator("#proposals tbody tr[data-proposal]")
    assert rows.count() == proposal_id
    row = second.locator(f"#proposal-{proposal_id}")
    expect(row).to_have_attribute("data-state", "executed")
    expect(row.locator(".call")).to_contain_text("token PKTB3M: mint")
    expect(row.locator(".call")).to_contain_text(f"receiver {FEPF} ({fepf})")
    expect(row.locator(".call")).to_contain_text("amount 2,500 PKTB3M units")
    history = row.locator(".history li")
    expect(history.nth(0)).to_contain_text("proposed by approver-1")
    expect(history.filter(has_text="approved by approver-2")).to_contain_text("(2 of 2)")
    expect(history.last).to_contain_text("executed by approver-2")
    expect(history.last.locator("code")).to_have_text(re.compile(r"^0x[0-9a-f]{8}…$"))
    cash = second.locator("#proposals tr", has_text="CashToken: issueCash").first
    expect(cash.locator(".call")).to_contain_text("amount PKR ")
    expect(cash.locator(".call")).to_contain_text("depositReference 0x")
    second.screenshot(path=str(tmp_path / "console-holders.png"), full_page=True)
    assert (tmp_path / "console-approvals.png").stat().st_size > 10_000
    assert (tmp_path / "console-holders.png").stat().st_size > 10_000

    with platform.store.session() as session:
        trail = session.execute(
            select(AuditEntry.username, AuditEntry.resource, AuditEntry.status).where(
                AuditEntry.resource.like("/console/approvals%")
            )
        ).all()
    assert ("treasury", "/console/approvals/new/mint", 303) in trail
    assert ("approver-1", f"/console/approvals/{request_id}/approve", 303) in trail
    assert ("approver-2", f"/console/approvals/{request_id}/approve", 303) in trail
    assert ("approver-2", f"/console/approvals/{request_id}/execute", 303) in trail


def test_a_maker_sees_approve_disabled_on_their_own_request(
    browser: Browser, console: LiveConsole
) -> None:
    platform = console.platform
    pktb3m = tokens.resolve(platform, "PKTB3M")

    treasury = sign_in(browser, console, "treasury")
    mint_id = file_request(
        treasury,
        console,
        "mint",
        {
            "Token": pktb3m.address,
            "Receiving institution": platform.address_of("kla"),
            "Amount (token units)": "1000",
        },
    )
    approve = treasury.get_by_role("button", name=f"Approve request {mint_id}")
    expect(approve).to_be_disabled()
    expect(treasury.locator(f"#approve-why-{mint_id}")).to_have_text(
        "You filed this request: a maker cannot approve their own request."
    )

    # An enforcement agent files a freeze with its legal basis uploaded: the evidence hash is
    # shown with a link to the stored document, and the agent cannot approve it either.
    notice = (
        b"FMU notice 91/2026: freeze the PKTB3M wallet of Gulf Horizon Capital pending inquiry."
    )
    digest = "0x" + hashlib.sha256(notice).hexdigest()
    agent = sign_in(browser, console, "enforcement")
    agent.goto(console.url("/console/approvals/new/freeze"))
    agent.get_by_label("Token", exact=True).select_option(value=pktb3m.address)
    agent.get_by_label("Wallet", exact=True).select_option(value=platform.address_of("ghc"))
    agent.get_by_label("Evidence document", exact=True).set_input_files(
        files=[{"name": "fmu-notice-91.txt", "mimeType": "text/plain", "buffer": notice}]
    )
    agent.get_by_role("button", name="File request").click()
    agent.wait_for_url(re.compile(r".*request_id=\d+$"))
    freeze_id = int(agent.url.rsplit("=", 1)[1])
    row = agent.locator(f"#request-{freeze_id}")
    expect(row.locator("code.evidence")).to_have_text(digest)
    expect(row.get_by_role("button", name=f"Approve request {freeze_id}")).to_be_disabled()
    row.get_by_role("link", name=f"Evidence document of request {freeze_id}").click()
    expect(agent.locator("body")).to_contain_text("FMU notice 91/2026")

    # An approver rejects it with a reason; the reason is shown and nothing happened on chain.
    checker = sign_in(browser, console, "approver-3", "/console/approvals")
    checker.get_by_label(f"Reason for rejecting request {freeze_id}").fill("notice not yet served")
    checker.get_by_role("button", name=f"Reject request {freeze_id}").click()
    expect(checker.get_by_role("status")).to_have_text(f"You rejected request {freeze_id}.")
    row = checker.locator(f"#closed #request-{freeze_id}")
    expect(row).to_have_attribute("data-status", "rejected")
    expect(row).to_contain_text("approver-3: reject (notice not yet served)")
    assert not pktb3m.read("isFrozen", platform.address_of("ghc"))


def test_transfer_shows_the_precheck_verdict_first_and_sends_only_on_confirm(
    browser: Browser, console: LiveConsole
) -> None:
    platform = console.platform
    pktb3m = tokens.resolve(platform, "PKTB3M")
    inb, kla = platform.address_of("inb"), platform.address_of("kla")
    page = sign_in(browser, console, "inb", "/console/transfer")

    def check(receiver: str, amount: str) -> None:
        page.goto(console.url("/console/transfer"))
        page.get_by_label("Token", exact=True).select_option(value=pktb3m.address)
        page.get_by_label("Receiving institution", exact=True).select_option(value=receiver)
        page.get_by_label("Amount (token units)", exact=True).fill(amount)
        page.get_by_role("button", name="Check transfer").click()

    sent_before = platform.chain.journal.count()
    check(platform.address_of("retail-0001"), "5000")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pre-check: refused")
    expect(page.locator("#verdict-rule")).to_have_text("category-not-eligible")
    expect(page.locator("#verdict-reason")).to_have_text("receiver investor category not eligible")
    # an institution is told the token's terms, never the receiver's category
    expect(page.locator("#verdict-detail")).to_contain_text(
        "the receiver's investor category is not eligible; PKTB3M admits only:"
    )
    expect(page.get_by_role("button", name="Confirm transfer")).to_have_count(0)
    assert platform.chain.journal.count() == sent_before  # nothing was sent

    inb_before, kla_before = pktb3m.read("balanceOf", inb), pktb3m.read("balanceOf", kla)
    check(kla, "1000")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pre-check: allowed")
    expect(page.locator("#verdict")).to_contain_text("1000 PKTB3M may move")
    assert platform.chain.journal.count() == sent_before  # still nothing until confirmed
    confirmation = page.locator("form[action$='/transfer/confirm'] input[type=hidden]")
    fields = dict(confirmation.evaluate_all("inputs => inputs.map(i => [i.name, i.value])"))
    page.get_by_role("button", name="Confirm transfer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Transfer settled")
    expect(page.locator("main")).to_contain_text("1,000 PKTB3M sent to Karakoram Life Assurance")
    assert pktb3m.read("balanceOf", inb) == inb_before - 1000
    assert pktb3m.read("balanceOf", kla) == kla_before + 1000

    # Submitting the same confirmation again (a double click, a resubmitted form) sends nothing.
    replay = page.request.post(console.url("/console/transfer/confirm"), form=fields)
    assert replay.status == 200 and "Already sent" in replay.text()
    assert pktb3m.read("balanceOf", kla) == kla_before + 1000


def test_sign_in_is_required_and_wrong_passwords_and_roles_are_refused(
    browser: Browser, console: LiveConsole
) -> None:
    page = browser.new_context().new_page()
    page.goto(console.url("/console/approvals"))
    assert page.url == console.url("/console/login?next=/console/approvals")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    page.get_by_label("Username").fill("treasury")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    assert page.url.startswith(console.url("/console/login"))

    page.get_by_label("Username").fill("treasury")
    page.get_by_label("Password").fill(pilot_password("treasury"))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(console.url("/console/approvals"))
    session = next(c for c in page.context.cookies() if c["name"] == "amanat_console")
    assert session["httpOnly"] and session["sameSite"] == "Strict"

    # Role restrictions are enforced by the server: a 403 page, not a traceback.
    response = page.goto(console.url("/console/transfer"))
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.get_by_role("alert")).to_contain_text("may not transfer tokens")
    response = page.goto(console.url("/console/no-such-page"))
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("there is no console page")

    # A form post without this session's CSRF token is refused.
    forged = page.request.post(console.url("/console/approvals/1/approve"), form={"csrf": "forged"})
    assert forged.status == 403
    assert "security token" in forged.text()
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    assert token
    cross_site = page.request.post(
        console.url("/console/approvals/1/approve"),
        form={"csrf": token},
        headers={"Origin": "http://attacker.example"},
    )
    assert cross_site.status == 403
    assert "not from the console" in cross_site.text()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(console.url("/console/login"))
    page.goto(console.url("/console/"))
    assert page.url == console.url("/console/login?next=/console/")

    institution = sign_in(browser, console, "retail-0001")
    response = institution.goto(console.url("/console/approvals"))
    assert response is not None and response.status == 403


def test_one_clock_an_idle_hour_of_chain_time_ends_a_timelock_everywhere(
    browser: Browser, console: LiveConsole, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15, item 14: "now" is the chain's clock (the time the next block will carry), not
    the latest block's time. The embedded chain mines only for transactions, so after an idle
    hour the latest block is an hour old: the proposal is executable, the contract would run
    it, and the services, the console and the CLI must say so and let it run."""
    platform = console.platform
    pktb3m = tokens.resolve(platform, "PKTB3M")
    proposal_id = governance.propose(
        platform, "official-1", pktb3m, "mint", [platform.address_of("fepf"), 1000]
    )
    assert governance.approve(platform, "official-2", proposal_id).state == "waiting-timelock"

    # An hour passes on the chain's clock and no block is mined: the clock offset moves as an
    # hour of wall time would.
    journal = platform.chain.journal
    journal.set_meta("clock_offset", str(int(journal.get_meta("clock_offset") or 0) + 3601))
    latest = platform.chain.block_timestamp()

    assert governance.show(platform, proposal_id).state == "ready"
    assert platform.clock.chain_time() >= latest + 3601
    page = sign_in(browser, console, "approver-1", "/console/proposals")
    expect(page.locator(f"#proposal-{proposal_id} .timelock")).to_contain_text("executable now")
    assert governance.execute(platform, "official-1", proposal_id).state == "executed"
    assert platform.chain.block_timestamp() >= latest + 3601  # stamped by the same clock

    # The wall clock is the clock's other half: injected, the services stamp what people do
    # with it (here a request's filing time), and the console labels it as wall-clock time.
    moment = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    monkeypatch.setattr(platform.clock, "wall", lambda: moment)
    treasury = accounts.get_user(platform.store, "treasury")
    filed = approvals.create(
        platform, treasury, "mint", {"token": "PKTB3M", "to": "fepf", "amount": 1000}, None
    )
    assert datetime.fromisoformat(filed["created_at"]) == moment
    page.goto(console.url("/console/approvals"))
    expect(page.locator(f"#request-{filed['id']} .summary")).to_contain_text(
        "filed 2026-12-02 09:30 UTC (wall clock)"
    )
