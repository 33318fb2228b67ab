"""Client-signed writes: an institution signs its transactions with its own key, which never
reaches the platform.

`build` runs the action's own pre-check (the same service function as the action's route, with
the same refusal) and returns the unsigned transaction with JSON-RPC's field names, so that a
client needs no ABI. `submit` takes the raw signed bytes: it recovers the sender and refuses a
wallet that is not the institution's, another chain, or a contract function outside the
institution's actions (ALLOWED); it rebuilds the action from the decoded arguments through the
same service function (same pre-check, same refusal), checks the signed call is exactly that
action's, journals it durably (its hash is its idempotency key, so the same bytes twice are one
transaction), sends it and returns the result the action's own route returns.

An official signs its own approval of a proposal the same way (`proposal_approve`), and its
execution (`proposal_execute`, or `request_execute` naming a maker-checker request): the only
actions OFFICIAL_ALLOWED lets an approver submit. Accepted only from the approver's registered
governance address (its user's key name, an address on a network deployment); an approval for
a proposal that exists and is open, an execute for a proposal that is ready (approved, its
timelock run) and with exactly the call its `ProposalCreated` event recorded. The maker-checker
request carrying the proposal records the approval as that approver's decision, the execute as
its execution, each by its transaction. A request's own approval (`request_approve`: its
proposal when it is the first, else the approval of its proposal) is submitted to the request's
route (`submit_request_approval`), which binds a new proposal to the request. The platform never
signs for the official.

A sealed bid is committed by its hash alone (`auction_commit`): the bid and its salt stay with
the bidder until it reveals them (`auction_reveal`), so the platform never holds an unrevealed
bid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from amanat.chain.abi import checksum, interface
from amanat.chain.signing import MalformedTransaction, SignedTx, read_signed
from amanat.errors import InvalidInput, NotFound, RuleViolation
from amanat.services import approvals, auctions, distributions, dvp, governance, inputs, tokens
from amanat.services.accounts import Principal, Role
from amanat.services.approvals import Forbidden
from amanat.services.platform import Platform, Prepared
from amanat.store.models import Wallet

if TYPE_CHECKING:
    from amanat.chain.client import Receipt

# The contract functions an institution may submit, and the action each one is.
ALLOWED = {
    ("AssetToken", "transfer"): "transfer",
    ("AssetToken", "approve"): "approve",
    ("AssetToken", "transferFrom"): "transferFrom",
    ("Settlement", "instruct"): "dvp_instruct",
    ("Settlement", "affirm"): "dvp_affirm",
    ("Settlement", "settle"): "dvp_settle",
    ("Settlement", "cancel"): "dvp_cancel",
    ("Distributor", "claim"): "claim",
    ("Auction", "commit"): "auction_commit",
    ("Auction", "reveal"): "auction_reveal",
}
ACTIONS = tuple(ALLOWED.values())
# The contract functions an official (an approver user) may submit to POST /transactions,
# signed with its own key; a request's first approval (its proposal) goes to the request's own
# route (`submit_request_approval`), which binds the proposal to the request.
OFFICIAL_ALLOWED = {
    ("Governance", "approve"): "proposal_approve",
    ("Governance", "execute"): "proposal_execute",
}
OFFICIAL_ACTIONS = ("proposal_approve", "proposal_execute", "request_approve", "request_execute")


def _allowed(who: Principal) -> dict[tuple[str, str], str]:
    """The contract functions `who` may submit: an official's approval for an approver, an
    institution's actions for an institution user."""
    return OFFICIAL_ALLOWED if who.role is Role.APPROVER else ALLOWED


def governance_address(platform: Platform, who: Principal) -> str:
    """The registered governance address an approver signs its approvals from: its user's key
    name (an address, or on the embedded chain a development key's name)."""
    if who.role is not Role.APPROVER or not who.key_name:
        raise Forbidden(
            f"user {who.username} has no registered governance address", role=who.role.value
        )
    return platform.address_of(who.key_name)


def sender_of(platform: Platform, who: Principal) -> str:
    """The address `who` signs from: an approver's governance address, an institution user's
    wallet."""
    return (
        governance_address(platform, who) if who.role is Role.APPROVER else wallet_of(platform, who)
    )


def wallet_of(platform: Platform, who: Principal) -> str:
    """The registered wallet an institution user signs from: the one named by its key, else
    the institution's only wallet."""
    with platform.store.session() as session:
        rows = session.execute(
            select(Wallet.address, Wallet.key_name).where(
                Wallet.institution_id == who.institution_id
            )
        ).all()
    named = [wallet for wallet, key_name in rows if who.key_name and key_name == who.key_name]
    if named or len(rows) == 1:
        return str((named or [rows[0][0]])[0])
    raise Forbidden(
        f"user {who.username} has no wallet of its own among its institution's {len(rows)}",
        role=who.role.value,
    )


def prepare(
    platform: Platform,
    sender: str,
    action: str,
    fields: dict[str, Any],
    key: str | None = None,
    counterparty_detail: bool = True,
) -> Prepared:
    """The action by wallet `sender` with its route's fields, through the action's own service
    function (its pre-check and refusal); `key` is the journal's idempotency key."""
    if action in ("transfer", "approve", "transferFrom"):
        token = tokens.resolve(platform, str(fields["token"]))
        if action == "transfer":
            return tokens.prepare_transfer(
                platform,
                sender,
                token,
                inputs.checksummed(fields["to"]),
                fields["amount"],
                key,
                counterparty_detail,
            )
        if action == "approve":
            spender = inputs.checksummed(fields["spender"])
            return tokens.prepare_approve(platform, sender, token, spender, fields["amount"], key)
        return tokens.prepare_transfer_from(
            platform,
            sender,
            token,
            inputs.checksummed(fields["from"]),
            inputs.checksummed(fields["to"]),
            fields["amount"],
            key,
            counterparty_detail,
        )
    if action == "dvp_instruct":
        return dvp.prepare_instruct(
            platform,
            sender,
            tokens.resolve(platform, str(fields["token"])),
            inputs.checksummed(fields["buyer"]),
            fields["units"],
            fields["cash_minor"],
            fields["deadline"],
            key,
            counterparty_detail,
        )
    if action in ("dvp_affirm", "dvp_settle", "dvp_cancel"):
        step = action.removeprefix("dvp_")
        dvp.check_step(dvp.show(platform, fields["instruction"]), sender, step)
        return dvp.prepare_step(platform, sender, fields["instruction"], step, key)
    if action == "claim":
        return distributions.prepare_claim(platform, sender, fields["distribution"], key)
    if action == "auction_commit":
        sealed = _bytes32(fields["commitment"])
        return auctions.prepare_commit(platform, sender, fields["auction"], sealed, key)
    if action in ("proposal_approve", "proposal_execute") and not platform.chain.seen(key):
        approvals.require_not_rejected(platform, fields["proposal"])
    if action == "proposal_approve":
        return governance.prepare_approve(platform, sender, fields["proposal"], key)
    if action == "proposal_execute":
        return governance.prepare_execute(platform, sender, fields["proposal"], key)
    if action == "auction_reveal":
        return auctions.prepare_reveal(
            platform,
            sender,
            fields["auction"],
            fields["units"],
            fields["yield_micro"],
            fields["competitive"],
            _bytes32(fields["salt"]),
            key,
        )
    known = ", ".join((*ACTIONS, *OFFICIAL_ACTIONS))
    raise InvalidInput(f"unknown action {action!r}; one of: {known}")


def build(
    platform: Platform,
    who: Principal,
    action: str,
    fields: dict[str, Any],
    counterparty_detail: bool = True,
) -> dict[str, Any]:
    """The unsigned transaction of `who`'s action, pre-checked, with the fields JSON-RPC names
    (`from`, `to`, `data`, `value`, `nonce`, `gas`, `chainId`, `type` and `gasPrice` or
    `maxFeePerGas`/`maxPriorityFeePerGas`, as hex quantities)."""
    allowed = OFFICIAL_ACTIONS if who.role is Role.APPROVER else ACTIONS
    if action not in allowed:
        raise Forbidden(
            f"a {who.role.value} may not submit {action} (allowed: {', '.join(allowed)})",
            role=who.role.value,
        )
    sender = sender_of(platform, who)
    if action == "request_approve":
        prepared = approvals.prepare_own_approval(platform, who, fields["request"], sender)
    elif action == "request_execute":
        prepared = approvals.prepare_own_execution(platform, who, fields["request"], sender)
    else:
        prepared = prepare(platform, sender, action, fields, None, counterparty_detail)
    return {"action": action, **platform.chain.unsigned(sender, prepared.request)}


def _read(
    platform: Platform, who: Principal, raw: bytes, wallets: frozenset[str] = frozenset()
) -> SignedTx:
    """The signed transaction, refused unless it is for this chain, sends no value and is signed
    by `who`: an approver from its governance address, an institution user from one of its
    `wallets`."""
    try:
        signed = read_signed(raw)
    except MalformedTransaction as exc:
        raise InvalidInput(str(exc)) from None
    _check_chain(platform, signed)
    sender = checksum(signed.sender)
    if who.role is Role.APPROVER:
        if sender != governance_address(platform, who):
            raise Forbidden(
                f"the transaction is signed by {sender}, which is not the governance address of "
                f"{who.username}",
                sender=sender,
            )
    elif sender not in wallets:
        raise Forbidden(
            f"the transaction is signed by {sender}, which is not a registered wallet of this "
            "institution",
            sender=sender,
        )
    if signed.value:
        raise InvalidInput(f"the transaction sends {signed.value} wei; Amanat's calls send none")
    return signed


def submit_request_approval(
    platform: Platform, who: Principal, request_id: int, raw: bytes
) -> dict[str, Any]:
    """An approver's own signed approval of a maker-checker request (its proposal, if it is the
    first, else its approval of the proposal), checked to be exactly the transaction the request
    needs from it, sent and recorded as its decision; the same bytes again: the request as
    recorded."""
    signed = _read(platform, who, raw)

    def send(prepared: Prepared) -> Receipt:
        same_target = (prepared.request.to or "").lower() == (signed.fields.to or "").lower()
        if not same_target or prepared.request.data != signed.fields.data:
            raise RuleViolation(
                "call-mismatch",
                f"the signed transaction is not the one request {request_id} needs from "
                f"{who.username}: build it with POST /transactions/build (action request_approve)",
                request=request_id,
            )
        return platform.chain.transact_signed(
            signed, raw, description=prepared.request.description, built_gas=prepared.request.gas
        )

    return approvals.submit_own_approval(
        platform, who, request_id, checksum(signed.sender), signed.hash, send
    )


def _check_chain(platform: Platform, signed: SignedTx) -> None:
    chain_id = platform.chain.chain_id
    if signed.chain_id != chain_id:
        signed_for = "without a chain id" if signed.chain_id is None else "for another chain"
        raise RuleViolation(
            "wrong-chain",
            f"the transaction is signed {signed_for} (chain id {signed.chain_id}); this chain's "
            f"id is {chain_id}",
            chain_id=signed.chain_id,
            expected=chain_id,
        )


def submit(
    platform: Platform,
    who: Principal,
    wallets: frozenset[str],
    raw: bytes,
    counterparty_detail: bool = True,
) -> dict[str, Any]:
    """Decode, check, journal, send and confirm a transaction `who` signed itself: an
    institution user from one of its `wallets`, an approver from its governance address;
    returns the action's result (the same bytes again: the first transaction's result)."""
    signed = _read(platform, who, raw, wallets)
    sender = checksum(signed.sender)
    action, fields = decode_call(platform, signed.fields.to, signed.fields.data, _allowed(who))
    prepared = prepare(platform, sender, action, fields, signed.hash, counterparty_detail)
    if prepared.request.data != signed.fields.data:
        raise RuleViolation(
            "call-mismatch",
            f"the signed {action} call's arguments differ from the ones the platform computes "
            "for it: build it with POST /transactions/build",
            action=action,
        )
    receipt = platform.chain.transact_signed(
        signed, raw, description=action, built_gas=prepared.request.gas
    )
    result = prepared.finish(receipt)
    if action == "proposal_approve":
        result["request"] = approvals.record_chain_approval(
            platform, who, fields["proposal"], receipt.tx_hash
        )
    elif action == "proposal_execute":
        result["request"] = approvals.record_chain_execution(
            platform, who, fields["proposal"], receipt.tx_hash
        )
    return result


def decode_call(
    platform: Platform,
    to: str | None,
    data: bytes,
    allowed: dict[tuple[str, str], str] = ALLOWED,
) -> tuple[str, dict[str, Any]]:
    """The action of a call (contract `to`, call data) among `allowed` (an institution's, or an
    official's), with its route's fields; anything else is refused."""
    kind = _contract_kind(platform, to)
    functions = interface(kind).functions.values() if kind else ()
    function = next((f for f in functions if f.selector == data[:4]), None)
    action = allowed.get((kind or "", function.name if function else ""))
    if kind is None or function is None or action is None:
        called = f"{kind}.{function.name}" if kind and function else f"a call to {to}"
        who = "an official" if allowed is OFFICIAL_ALLOWED else "an institution"
        raise Forbidden(
            f"{called} is not an action {who} may submit (allowed: {', '.join(allowed.values())})",
            contract=to,
        )
    try:
        args = function.decode_arguments(data)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    assert to is not None
    if kind == "AssetToken":
        names = {"transfer": ("to", "amount"), "approve": ("spender", "amount")}.get(
            function.name, ("from", "to", "amount")
        )
        return action, {"token": checksum(to), **dict(zip(names, args, strict=True))}
    if action == "dvp_instruct":
        instruct = ("token", "buyer", "units", "cash_minor", "deadline")
        return action, dict(zip(instruct, args, strict=True))
    if kind == "Settlement":
        return action, {"instruction": args[0]}
    if action == "auction_commit":
        return action, {"auction": args[0], "commitment": args[1]}
    if action == "auction_reveal":
        reveal = ("auction", "units", "yield_micro", "competitive", "salt")
        return action, dict(zip(reveal, args, strict=True))
    if action in ("proposal_approve", "proposal_execute"):
        # an execute's call is checked whole: rebuilt from the proposal's event, compared
        return action, {"proposal": args[0]}
    return action, {"distribution": args[0]}


def _bytes32(value: str | bytes) -> bytes:
    """A 32-byte value given as 0x-hex (a route's field) or as bytes (a decoded call)."""
    raw = value if isinstance(value, bytes) else bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 32:
        raise InvalidInput(f"{len(raw)} bytes where 32 are expected")
    return raw


def _contract_kind(platform: Platform, to: str | None) -> str | None:
    """Which of the deployment's contracts `to` is: Settlement, Distributor, Auction, Governance
    or one of its AssetTokens; None for anything else."""
    if to is None:
        return None
    for name in ("Settlement", "Distributor", "Auction", "Governance"):
        if platform.manifest.address(name).lower() == to.lower():
            return name
    try:
        tokens.resolve(platform, checksum(to))
    except NotFound:
        return None
    return "AssetToken"
