"""Nothing half-written, service by service: a write whose later step cannot be done (no data
key to seal with, a stale store row, a governed call refused at execution, a sealed bid that
cannot be kept) leaves neither half — nothing on chain or in the journal and no row — or both
halves complete, so that the chain and the store always agree.

The model is `test_policy.py::test_onboarding_without_a_data_key_leaves_nothing_on_chain`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from amanat.api import deps
from amanat.domain.identity import InvestorCategory
from amanat.domain.transparency import TreeHead
from amanat.errors import AmanatError, ChainUnavailable, RuleViolation
from amanat.services import (
    approvals,
    assets,
    auctions,
    audit,
    governance,
    identities,
    rotation,
    transparency,
)
from amanat.store import crypto
from amanat.store.crypto import KEY_ENV
from amanat.store.models import (
    ActionDecision,
    AuditEntry,
    Document,
    IdempotencyRecord,
    Institution,
    Wallet,
)
from amanat.store.models import TreeHead as TreeHeadRow
from tests.api.conftest import Api

HOUR = 3600


def _writes(api: Api) -> tuple[int, int]:
    """(chain height, journal entries): both stay put when nothing was sent."""
    return api.platform.chain.block_number(), api.platform.chain.journal.count()


@pytest.fixture
def no_data_key(api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The data key is gone (as in the onboarding model test): nothing can be sealed."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setattr(api.platform, "_cipher", None)
    load_key = crypto.load_key
    monkeypatch.setattr(crypto, "load_key", lambda _dir, create: load_key(tmp_path, create=False))
    yield
    monkeypatch.undo()


@pytest.fixture(scope="module")
def newcomer(api: Api) -> tuple[int, str]:
    """(identity number, wallet) of an institution onboarded for this module only, so that
    its wallets, KYC and freezes touch no pilot institution."""
    wallet = api.platform.address_of(f"half-write-{api.backend}", new=True)
    number = identities.onboard(
        api.platform,
        "registrar",
        f"Half Write Bank {api.backend}",
        {"lei": "5493001KJTIIGC8Y1R12", "contact": "compliance@halfwrite.example"},
        586,
        InvestorCategory.BANK,
        api.platform.clock.chain_time() + 365 * 24 * HOUR,
        [wallet],
    )
    return number, wallet


def _keyed_writes(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    """(who, path, JSON body) of one keyed write per service the API fronts."""
    asset = api.get("/assets", None).json()["items"][0]["id"]
    now = api.platform.clock.chain_time()
    return [
        ("inb", "/transfers", {"token": "PKTB3M", "to": api.address("kla"), "amount": 1}),
        (
            "treasury",
            "/approvals",
            {"kind": "mint", "params": {"token": "PKTB3M", "to": api.address("kla"), "amount": 1}},
        ),
        (
            "valuer",
            f"/assets/{asset}/valuations",
            {"amount_minor": 100_000, "date": "2026-01-01", "report_sha256": "0x" + "ab" * 32},
        ),
        (
            "inb",
            "/dvp",
            {
                "token": "PKTB3M",
                "buyer": api.address("kla"),
                "units": 1,
                "cash_minor": 100,
                "deadline": now + HOUR,
            },
        ),
        (
            "treasury",
            "/auctions",
            {
                "token": "PKTB3M",
                "offered_units": 1_000,
                "close_time": now + 2 * HOUR,
                "reveal_deadline": now + 3 * HOUR,
                "settlement_date": now + 4 * HOUR,
            },
        ),
    ]


def test_a_keyed_write_of_any_service_without_a_data_key_leaves_nothing(
    api: Api, no_data_key: None
) -> None:
    """A keyed POST's result is sealed when it is remembered: with no data key every service
    refuses before its first write (chain, journal or row), and the key stays unused."""
    for index, (who, path, body) in enumerate(_keyed_writes(api)):
        before = _writes(api)
        key = f"keyless-{api.backend}-{index}"
        reply = api.post(path, who, key=key, json=body)
        assert reply.status_code == 400 and "no data key" in reply.json()["detail"], (
            path,
            reply.text,
        )
        assert _writes(api) == before, path
        with api.platform.store.session() as session:
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(IdempotencyRecord)
                    .where(IdempotencyRecord.key == key)
                )
                == 0
            ), path


def test_a_kyc_update_without_a_data_key_leaves_the_chain_as_it_was(
    api: Api, newcomer: tuple[int, str], no_data_key: None
) -> None:
    """The new KYC record must be sealed into the store: without a data key the update is
    refused before the registry is written (the chain's KYC hash and the stored record agree)."""
    number, _ = newcomer
    country, category, expiry = api.platform.contract("IdentityRegistry").read("identityOf", number)
    on_chain = identities.kyc_hashes_on_chain(api.platform, [number])[number]
    before = _writes(api)
    with pytest.raises(AmanatError, match="no data key"):
        identities.update(
            api.platform,
            "registrar",
            number,
            {"lei": "5493001KJTIIGC8Y1R12", "contact": "new@halfwrite.example"},
            country,
            InvestorCategory(category),
            expiry,
        )
    assert _writes(api) == before
    assert identities.kyc_hashes_on_chain(api.platform, [number])[number] == on_chain


def test_linking_a_wallet_over_a_stale_store_row_completes_both_halves(
    api: Api, newcomer: tuple[int, str]
) -> None:
    """A wallet row left in the store (say by an unlink whose store step was lost) does not stop
    the store's half of a link once the registry has linked the wallet: both agree after."""
    number, _ = newcomer
    address = api.platform.address_of(f"half-write-second-{api.backend}", new=True)
    with api.platform.store.session() as session, session.begin():
        pilot = session.scalar(select(Institution.id).where(Institution.identity_number == 1))
        session.add(Wallet(address=address, institution_id=pilot, key_name=None))
    assert identities.link_wallet(api.platform, "registrar", number, address) == address
    registry = api.platform.contract("IdentityRegistry")
    assert registry.read("identityNumberOf", address) == number
    with api.platform.store.session() as session:
        stored = session.get(Wallet, address)
        institution = session.get(Institution, stored.institution_id) if stored else None
        assert institution is not None and institution.identity_number == number


def test_an_approval_whose_execution_is_refused_is_recorded_as_the_chain_holds_it(
    api: Api, newcomer: tuple[int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The approval that meets the threshold of a call with no timelock also executes it; when
    the execution is refused, the approval (already on chain) is recorded all the same and the
    request waits to be executed: the database and the chain count the same approvals."""
    _, wallet = newcomer
    order = "0x" + hashlib.sha256(f"half-write order {api.backend}".encode()).hexdigest()
    filed = api.post(
        "/approvals",
        "enforcement",
        json={"kind": "freeze", "params": {"token": "PKTB3M", "wallet": wallet}, "evidence": order},
    )
    assert filed.status_code == 201, filed.text
    number = filed.json()["id"]
    assert api.post(f"/approvals/{number}/approve", "approver-1").status_code == 200

    def refused(*_args: Any) -> Any:
        raise RuleViolation("chain-refused", "the governed call reverted")

    monkeypatch.setattr(governance, "prepare_execute", refused)
    reply = api.post(f"/approvals/{number}/approve", "approver-2")
    assert reply.status_code == 422 and reply.json()["rule"] == "chain-refused", reply.text
    monkeypatch.undo()
    shown = approvals.get(api.platform, number)
    proposal = governance.show(api.platform, shown["proposal_id"])
    with api.platform.store.session() as session:
        recorded = session.scalar(
            select(func.count())
            .select_from(ActionDecision)
            .where(ActionDecision.request_id == number)
        )
    assert (recorded, proposal.approvals) == (2, 2)
    assert shown["status"] == "waiting-timelock" and proposal.state == "ready"


def test_a_sealed_bid_that_cannot_be_kept_is_not_committed(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The bid's salt is what reveals it: a bid that cannot be kept (its directory cannot be
    written) is refused before the commitment goes on chain, where it could never be revealed
    and its deposit would be lost."""
    now = api.platform.chain.block_timestamp()
    terms = {
        "token": "PKTB3M",
        "offered_units": 1_000,
        "close_time": now + 2 * HOUR,
        "reveal_deadline": now + 3 * HOUR,
        "settlement_date": now + 4 * HOUR,
    }
    announced = api.post("/auctions", "treasury", json=terms)
    assert announced.status_code == 201, announced.text
    auction = announced.json()["auction"]
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setattr(
        auctions, "_sealed_path", lambda _platform, number, wallet: blocked / f"{number}-{wallet}"
    )
    before = _writes(api)
    reply = api.post(f"/auctions/{auction}/bids", "inb", json={"units": 100, "yield": "12%"})
    assert reply.status_code == 400 and "cannot be kept" in reply.json()["detail"], reply.text
    assert _writes(api) == before
    assert api.get(f"/auctions/{auction}", "auditor").json()["bids"] == []


def test_an_anchor_whose_store_step_was_lost_is_recorded_from_the_journal(api: Api) -> None:
    """A tree head anchored on chain whose anchor was not recorded in the store (the store step
    failed after the chain's) is recorded by the next publish from the journal, with the first
    transaction: nothing is sent twice and no anchored head stays unanchored in the store."""
    size = transparency.publish(api.platform)["tree_size"]
    with api.platform.store.session() as session, session.begin():
        row = session.get(TreeHeadRow, size)
        assert row is not None and row.anchor_tx is not None
        first = (row.anchor_tx, row.anchor_block)
        row.anchor_tx = row.anchor_block = None
    transparency.publish(api.platform)
    with api.platform.store.session() as session:
        row = session.get(TreeHeadRow, size)
        assert row is not None and (row.anchor_tx, row.anchor_block) == first


def test_an_unlink_whose_store_step_failed_is_completed_by_its_retry(
    api: Api, newcomer: tuple[int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry unlinked the wallet but the store's step (the row and its audit entry, one
    transaction) failed: the store still shows the wallet, and a retry completes the store's
    half instead of answering that the wallet is not linked."""
    number, _ = newcomer
    address = identities.link_wallet(
        api.platform,
        "registrar",
        number,
        api.platform.address_of(f"half-write-third-{api.backend}", new=True),
    )
    record = audit.record

    def failing(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError("the database went away")

    monkeypatch.setattr(audit, "record", failing)
    with pytest.raises(OSError):
        rotation.unlink_wallet(api.platform, "registrar", address)
    monkeypatch.setattr(audit, "record", record)
    assert api.platform.contract("IdentityRegistry").read("identityNumberOf", address) == 0
    with api.platform.store.session() as session:
        assert session.get(Wallet, address) is not None  # the store's half is whole: not done
    before = _writes(api)
    done = rotation.unlink_wallet(api.platform, "registrar", address)
    assert done["identity"] == number and done["unlinked"] and _writes(api) == before
    with api.platform.store.session() as session:
        assert session.get(Wallet, address) is None
        unlinked = session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "wallet.unlink", AuditEntry.resource.endswith(address)
            )
        )
        assert unlinked is not None and unlinked.username == "registrar"


def test_a_document_the_chain_refuses_to_attach_is_not_kept(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload is stored, then its hash attached on chain: when the chain refuses the attach,
    the stored copy goes too (the store holds no upload the chain does not reference)."""
    asset = api.get("/assets", None).json()["items"][0]["id"]
    content = f"a valuation annex nobody attached ({api.backend})".encode()
    digest = "0x" + hashlib.sha256(content).hexdigest()

    def refused(*_args: Any) -> None:
        raise RuleViolation("chain-refused", "caller is not an issuer")

    monkeypatch.setattr(assets, "attach_document", refused)
    before = _writes(api)
    reply = api.client.post(
        f"/assets/{asset}/documents",
        headers=api.headers("treasury"),
        data={"kind": "valuation_report"},
        files={"file": ("annex.txt", content, "text/plain")},
    )
    assert reply.status_code == 422 and reply.json()["rule"] == "chain-refused", reply.text
    assert _writes(api) == before
    with api.platform.store.session() as session:
        assert session.get(Document, digest) is None


def test_a_keyed_write_whose_result_was_not_stored_completes_on_its_retry(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every API write stores its result and audit entry after the chain (one transaction). If
    that step fails, the key is given back and its retry completes the write from the journal:
    the same transaction, sent once, now remembered and audited."""
    body = {"token": "PKTB3M", "to": api.address("kla"), "amount": 1}
    key = f"unremembered-{api.backend}"
    remember = deps.remember

    def lost(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("the database went away")

    monkeypatch.setattr(deps, "remember", lost)
    sent = api.platform.chain.journal.count()
    with pytest.raises(OSError):
        api.post("/transfers", "inb", key=key, json=body)
    assert api.platform.chain.journal.count() == sent + 1
    monkeypatch.setattr(deps, "remember", remember)
    retried = api.post("/transfers", "inb", key=key, json=body)
    assert retried.status_code == 201, retried.text
    assert api.platform.chain.journal.count() == sent + 1
    again = api.post("/transfers", "inb", key=key, json=body)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == retried.json()


def _auction(api: Api) -> int:
    now = api.platform.chain.block_timestamp()
    terms = {
        "token": "PKTB3M",
        "offered_units": 1_000,
        "close_time": now + 2 * HOUR,
        "reveal_deadline": now + 3 * HOUR,
        "settlement_date": now + 4 * HOUR,
    }
    announced = api.post("/auctions", "treasury", json=terms)
    assert announced.status_code == 201, announced.text
    return int(announced.json()["auction"])


def test_a_sealed_bid_journaled_before_its_send_failed_keeps_its_salt(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The send fails after the commitment was journaled (no receipt in time: it is mined, or
    resent, later): its salt is kept, a retry under its key answers with that commitment, and the
    bid is revealed from it even if no retry ever comes (the process died)."""
    platform, auction = api.platform, _auction(api)
    confirm = platform.chain.confirm

    def no_receipt(hashes: Any) -> Any:
        confirm(hashes)  # mined, but the client gives up waiting
        raise ChainUnavailable("no receipt in time; they stay journaled and will be resent")

    monkeypatch.setattr(platform.chain, "confirm", no_receipt)
    key = f"late-bid-{api.backend}"
    with pytest.raises(ChainUnavailable):
        auctions.bid(platform, "inb", auction, 120, Decimal("0.12"), key)
    monkeypatch.undo()
    held = platform.contract("Auction").read("getBid", auction, api.address("inb"))[0]
    again = auctions.bid(platform, "inb", auction, 999, Decimal("0.2"), key)
    assert again["commitment"] == "0x" + held.hex() and again["units"] == 120
    platform.chain.advance_time(3 * HOUR - 60)
    assert auctions.reveal(platform, "inb", auction)["units"] == 120


def test_a_refused_second_bid_does_not_take_the_committed_bids_place(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two bids of one bidder in one auction at once: the first is committed while the second,
    refused, is being kept. The salt kept for the reveal is the first's (what the chain holds)."""
    import threading

    platform, auction = api.platform, _auction(api)
    send = platform.send
    second: dict[str, Any] = {}

    def refuse_second(signer: Any, prepared: Any) -> Any:
        if threading.current_thread().name == "second":
            raise RuleViolation("bidding-closed", "refused for the test")
        runner = threading.Thread(target=bid_second, name="second")
        runner.start()
        runner.join(timeout=1)  # the second bid goes as far as it may while the first is sent
        second["runner"] = runner
        return send(signer, prepared)

    def bid_second() -> None:
        try:
            auctions.bid(platform, "inb", auction, 70, Decimal("0.13"), None)
        except RuleViolation as refused:
            second["refused"] = refused

    monkeypatch.setattr(platform, "send", refuse_second)
    first = auctions.bid(platform, "inb", auction, 50, Decimal("0.12"), None)
    second["runner"].join()
    monkeypatch.undo()
    assert "refused" in second
    platform.chain.advance_time(3 * HOUR - 60)
    revealed = auctions.reveal(platform, "inb", auction)
    assert revealed["units"] == 50 and first["commitment"].startswith("0x")


def test_an_anchor_that_reverted_is_passed_over_and_later_heads_are_anchored(api: Api) -> None:
    """A head whose journaled anchor reverted on chain (another publisher anchored a larger size
    in the same block) is passed over: every later publish does not fail on it for ever, and the
    next head is anchored."""
    platform = api.platform
    anchor = platform.contract(transparency.ANCHOR)
    signer = platform.signer(platform.settings.publisher_key)
    key = transparency.signing_key(platform)

    def grown_head() -> TreeHeadRow:
        before = transparency.publish(platform)["tree_size"]
        _auction(api)  # an audited write: the log grows
        transparency._sign_head(platform, key)
        with platform.store.session() as session:
            row = session.scalars(
                select(TreeHeadRow).order_by(TreeHeadRow.tree_size.desc())
            ).first()
        assert row is not None and row.tree_size > before and row.anchor_tx is None
        return row

    def anchoring(row: TreeHeadRow, idempotency_key: str | None) -> Any:
        head = TreeHead(row.tree_size, bytes.fromhex(row.root_hash[2:]), row.timestamp)
        return anchor.tx(
            "anchor", row.tree_size, head.root_hash, head.head_hash, key=idempotency_key
        )

    smaller = grown_head()
    _auction(api)
    transparency._sign_head(platform, key)
    with platform.store.session() as session:
        larger = session.scalars(select(TreeHeadRow).order_by(TreeHeadRow.tree_size.desc())).first()
    assert larger is not None and larger.tree_size > smaller.tree_size
    voidings = anchor.read("voidingCount")
    journaled = f"transparency-anchor-{anchor.address}-{smaller.tree_size}" + (
        f"-after-voiding-{voidings}" if voidings else ""
    )
    first, reverted = platform.chain.transact(
        signer, [anchoring(larger, None), anchoring(smaller, journaled)], check=False
    )
    assert first.status and not reverted.status
    _auction(api)
    latest = transparency.publish(platform)
    assert anchor.read("latestTreeSize") == latest["tree_size"] > larger.tree_size
    with platform.store.session() as session:
        stored = session.get(TreeHeadRow, latest["tree_size"])
        assert stored is not None and stored.anchor_tx is not None
        skipped = session.get(TreeHeadRow, smaller.tree_size)
        assert skipped is not None and skipped.anchor_tx is None
