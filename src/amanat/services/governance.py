"""M-of-N governance: propose a privileged call with its evidence, approve, execute, inspect.

Governance stores only the hash of a proposal's call (target, call data, evidence), as
OpenZeppelin's Governor does; the call itself is read from the proposal's `ProposalCreated` event
(checked against the stored hash) and passed again at execution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from amanat.chain.abi import interface, proposal_call_hash
from amanat.chain.artifacts import CONTRACT_NAMES
from amanat.domain.governance import ActionType, affects_holder_property
from amanat.errors import InvalidInput, NotFound, RuleViolation
from amanat.services.governed_calls import DecodedCall, Directory, decode, duration, utc
from amanat.services.platform import Bound, Platform, Prepared, read_many

if TYPE_CHECKING:
    from amanat.chain.client import Receipt, Signer

DEFAULT_LIFETIME_SECONDS = 7 * 86400


@dataclass(frozen=True)
class ProposalView:
    id: int
    target: str
    action: str
    function: str
    evidence: str
    proposer: str
    approvals: int
    threshold: int
    created_at: int
    expires_at: int
    ready_at: int
    state: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_evidence(text: str | None) -> bytes:
    """A 32-byte evidence hash given as 0x-prefixed hex (SHA-256 of the legal document)."""
    if not text:
        return b"\x00" * 32
    raw = text.removeprefix("0x")
    if len(raw) != 64:
        raise InvalidInput(f"evidence hash {text!r} must be 32 bytes of hex (64 characters)")
    try:
        return bytes.fromhex(raw)
    except ValueError:
        raise InvalidInput(f"evidence hash {text!r} is not hexadecimal") from None


def _signer(platform: Platform, official: str | Signer) -> Signer:
    """An official's key: a key name the platform resolves, or a key the official brought
    (its own Keystore V3 file, `--key`)."""
    return platform.signer(official) if isinstance(official, str) else official


def propose(
    platform: Platform,
    official: str | Signer,
    target: Bound,
    function: str,
    args: list[Any],
    evidence: str | None = None,
    lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS,
    idempotency_key: str | None = None,
) -> int:
    """Propose `target.function(*args)`; the proposer's approval counts. Returns the proposal id."""
    signer = _signer(platform, official)
    prepared = prepare_propose(
        platform,
        signer.address,
        target,
        function,
        args,
        evidence,
        lifetime_seconds,
        idempotency_key,
    )
    return int(platform.send(signer, prepared)["proposal"])


def prepare_propose(
    platform: Platform,
    official: str,
    target: Bound,
    function: str,
    args: list[Any],
    evidence: str | None = None,
    lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS,
    idempotency_key: str | None = None,
) -> Prepared:
    """Official `official` (an address) proposes `target.function(*args)`, signed by the
    platform (embedded development keys) or by the official itself (services/client_tx)."""
    if not evidence and affects_holder_property(function):
        raise InvalidInput(
            f"{function} affects a holder's property and requires an evidence hash (SHA-256 "
            "of the legal basis, e.g. a court order)"
        )
    governance = platform.contract("Governance")
    call_data = target.encode(function, *args)
    request = governance.tx(
        "propose",
        target.address,
        call_data,
        parse_evidence(evidence),
        lifetime_seconds,
        key=idempotency_key,
        description=f"propose {target.abi.name}.{function}",
    )

    def finish(receipt: Receipt) -> dict[str, Any]:
        created = governance.events(receipt, "ProposalCreated")
        if not created:
            # An idempotent replay: the earlier transaction's receipt carries the event.
            raise RuleViolation(
                "proposal-missing", "proposal transaction emitted no ProposalCreated event"
            )
        proposal_id = int(created[0]["proposalId"])
        return _signed_result(platform, proposal_id, official, receipt)

    return Prepared(official, request, finish)


@dataclass(frozen=True)
class ProposedCall:
    """A proposal's call as its `ProposalCreated` event records it."""

    target: str
    call_data: bytes
    evidence: bytes
    proposer: str

    @property
    def execute_args(self) -> tuple[str, bytes, bytes]:
        """The arguments `Governance.execute` takes after the proposal id."""
        return (self.target, self.call_data, self.evidence)


def _creation_blocks(platform: Platform, proposal_ids: list[int]) -> dict[int, int]:
    """The blocks in which the index saw these proposals created (those it has indexed, in a
    block the chain has: an index ahead of its chain names none)."""
    from amanat.indexer import queries

    with platform.store.session() as session:
        blocks = queries.proposal_creation_blocks(
            session, platform.contract("Governance").address, proposal_ids
        )
    head = platform.chain.block_number() if blocks else 0
    return {proposal: block for proposal, block in blocks.items() if block <= head}


def _calls(logs: list[dict[str, Any]]) -> dict[int, ProposedCall]:
    return {
        log["proposalId"]: ProposedCall(
            log["target"], log["callData"], log["evidence"], log["proposer"]
        )
        for log in logs
        if log["event"] == "ProposalCreated"
    }


def proposed_calls(platform: Platform, proposal_ids: list[int]) -> dict[int, ProposedCall]:
    """The calls of these proposals, from their `ProposalCreated` events: read in the block the
    index says each was created in; the chain is scanned from the deployment for any the index
    lacks or whose event is not in that block (one log query)."""
    governance = platform.contract("Governance")
    calls: dict[int, ProposedCall] = {}
    blocks = _creation_blocks(platform, proposal_ids)
    for block in sorted(set(blocks.values())):
        ids = [i for i, created in blocks.items() if created == block]
        logs = platform.decoded_logs(
            governance, ["ProposalCreated"], block, first_indexed=ids, from_block=block
        )
        calls.update(_calls(logs))
    missing = [i for i in proposal_ids if i not in calls]
    if missing:
        calls.update(
            _calls(platform.decoded_logs(governance, ["ProposalCreated"], first_indexed=missing))
        )
    return calls


def prepare_approve(
    platform: Platform, official: str, proposal_id: int, idempotency_key: str | None = None
) -> Prepared:
    """Official `official` (an address) approves proposal `proposal_id`: refused unless the
    proposal exists and is open and the address is a current official. Signed by the platform
    (embedded development keys) or by the official itself (services/client_tx)."""
    governance = platform.contract("Governance")
    view = show(platform, proposal_id)
    # sent already (the same approval again): its first result, whatever happened since
    if not platform.chain.seen(idempotency_key):
        if view.state in ("executed", "cancelled", "expired"):
            raise RuleViolation(
                "proposal-closed",
                f"proposal {proposal_id} is {view.state}: only an open proposal is approved",
                proposal=proposal_id,
                state=view.state,
            )
        if not governance.read("isOfficial", official):
            raise RuleViolation(
                "not-an-official",
                f"{official} is not an official of the governance contract",
                official=official,
            )
    request = governance.tx(
        "approve", proposal_id, key=idempotency_key, description=f"approve proposal {proposal_id}"
    )

    def finish(receipt: Receipt) -> dict[str, Any]:
        return _signed_result(platform, proposal_id, official, receipt)

    return Prepared(official, request, finish)


def _signed_result(
    platform: Platform, proposal_id: int, official: str, receipt: Receipt
) -> dict[str, Any]:
    """What a proposal or an approval returns: the proposal's standing after it, and its
    transaction."""
    after = show(platform, proposal_id)
    return {
        "proposal": proposal_id,
        "official": official,
        "approvals": after.approvals,
        "threshold": after.threshold,
        "state": after.state,
        "ready_at": after.ready_at,
        "tx": receipt.tx_hash,
    }


def approve(platform: Platform, official: str | Signer, proposal_id: int) -> ProposalView:
    signer = _signer(platform, official)
    platform.send(signer, prepare_approve(platform, signer.address, proposal_id))
    return show(platform, proposal_id)


def execute(platform: Platform, official: str | Signer, proposal_id: int) -> ProposalView:
    """Execute proposal `proposal_id` with an official's key (a key name the platform holds, or
    the official's own key file)."""
    signer = _signer(platform, official)
    platform.send(signer, prepare_execute(platform, signer.address, proposal_id))
    return show(platform, proposal_id)


def prepare_execute(
    platform: Platform, official: str, proposal_id: int, idempotency_key: str | None = None
) -> Prepared:
    """Official `official` (an address) executes proposal `proposal_id` with the call its
    `ProposalCreated` event recorded (checked against the stored hash): refused, before anything
    is signed, unless the proposal is ready (approved, its timelock run) and the address is a
    current official. Signed by the platform (embedded development keys) or by the official
    itself (services/client_tx)."""
    governance = platform.contract("Governance")
    view, call = _show(platform, proposal_id)
    # sent already (the same execute again): its first result, whatever happened since
    if not platform.chain.seen(idempotency_key):
        _require_ready(platform, view)
        if not governance.read("isOfficial", official):
            raise RuleViolation(
                "not-an-official",
                f"{official} is not an official of the governance contract",
                official=official,
            )
    request = governance.tx(
        "execute",
        proposal_id,
        *call.execute_args,
        key=idempotency_key,
        description=f"execute proposal {proposal_id}",
    )

    def finish(receipt: Receipt) -> dict[str, Any]:
        return {
            "proposal": proposal_id,
            "official": official,
            "action": view.action,
            "state": show(platform, proposal_id).state,
            "tx": receipt.tx_hash,
        }

    return Prepared(official, request, finish)


def _require_ready(platform: Platform, view: ProposalView) -> None:
    """Refuse to execute a proposal that is not ready, saying what it still waits for."""
    proposal_id = view.id
    if view.state in ("executed", "cancelled", "expired"):
        raise RuleViolation(
            "proposal-closed",
            f"proposal {proposal_id} is {view.state}: only an approved open proposal is executed",
            proposal=proposal_id,
            state=view.state,
        )
    if view.state == "waiting-timelock":
        remaining = view.ready_at - platform.clock.chain_time()
        raise RuleViolation(
            "timelock",
            f"proposal {proposal_id} ({view.action}) is in its timelock for {duration(remaining)} "
            f"more: executable from {utc(view.ready_at)} (chain time)",
            ready_at=view.ready_at,
        )
    if view.state == "collecting-approvals":
        raise RuleViolation(
            "approvals",
            f"proposal {proposal_id} has {view.approvals} of {view.threshold} approvals "
            "(of current officials: a removed official's approval no longer counts)",
            approvals=view.approvals,
            threshold=view.threshold,
        )
    if view.state == "timelock-restart":
        raise RuleViolation(
            "timelock-restart",
            f"proposal {proposal_id} has {view.approvals} of {view.threshold} approvals, but its "
            "timelock is not running (an official was removed or the threshold raised since it "
            "started, or the threshold was lowered after the last approval): start it "
            f"(`amanat proposal restart-timelock {proposal_id}`) and wait it out",
        )


def restart_timelock(platform: Platform, official: str | Signer, proposal_id: int) -> ProposalView:
    """Start the timelock anew of a proposal that has its approvals but whose timelock an
    official's removal or a raised threshold stopped (`startTimelock`)."""
    view = show(platform, proposal_id)
    if view.state != "timelock-restart":
        raise RuleViolation(
            "timelock-running" if view.state in ("waiting-timelock", "ready") else view.state,
            f"proposal {proposal_id} is {view.state.replace('-', ' ')}: there is no stopped "
            "timelock to restart",
        )
    governance = platform.contract("Governance")
    platform.chain.transact(
        _signer(platform, official),
        [
            governance.tx(
                "startTimelock", proposal_id, description=f"restart timelock {proposal_id}"
            )
        ],
    )
    return show(platform, proposal_id)


def cancel(platform: Platform, official: str | Signer, proposal_id: int) -> ProposalView:
    governance = platform.contract("Governance")
    _require_exists(platform, proposal_id)
    platform.chain.transact(_signer(platform, official), [governance.tx("cancel", proposal_id)])
    return show(platform, proposal_id)


def _require_exists(platform: Platform, proposal_id: int) -> None:
    count = platform.contract("Governance").read("proposalCount")
    if not 1 <= proposal_id <= count:
        raise NotFound(f"no proposal {proposal_id} (there are {count})", proposal=proposal_id)


def _function_name(target_selector: bytes) -> str:
    for name in CONTRACT_NAMES:
        for fn in interface(name).functions.values():
            if fn.selector == target_selector:
                return fn.name
    return "0x" + target_selector.hex()


def show(platform: Platform, proposal_id: int) -> ProposalView:
    return _show(platform, proposal_id)[0]


def _show(platform: Platform, proposal_id: int) -> tuple[ProposalView, ProposedCall]:
    governance = platform.contract("Governance")
    _require_exists(platform, proposal_id)
    stored, threshold, running = read_many(
        [
            (governance, "getProposal", (proposal_id,)),
            (governance, "threshold", ()),
            (governance, "timelockRunning", (proposal_id,)),
        ]
    )
    call = _checked(proposal_id, stored, proposed_calls(platform, [proposal_id]).get(proposal_id))
    now = platform.clock.chain_time()
    return _view(proposal_id, stored, call, threshold, now, running), call


def _checked(proposal_id: int, stored: Any, call: ProposedCall | None) -> ProposedCall:
    """The proposal's call from its event, refused unless it is the call whose hash the
    contract stores (a node serving another log cannot change what approvers read)."""
    if call is None or proposal_call_hash(*call.execute_args) != stored[0]:
        raise RuleViolation(
            "proposal-call",
            f"the chain's ProposalCreated event of proposal {proposal_id} is missing or does not "
            f"match the call hash the proposal stores (0x{bytes(stored[0]).hex()})",
            proposal=proposal_id,
        )
    return call


def _view(
    proposal_id: int, stored: Any, call: ProposedCall, threshold: int, now: int, running: bool
) -> ProposalView:
    """A proposal's view from its stored struct, its (checked) call, the threshold, the chain's
    time and whether its timelock runs under the current configuration; `approvals` counts
    current officials' approvals in their current membership."""
    (
        _call_hash,
        action,
        approvals,
        created,
        expires,
        ready,
        executed,
        cancelled,
    ) = stored
    if executed:
        state = "executed"
    elif cancelled:
        state = "cancelled"
    elif now >= expires:
        state = "expired"
    elif approvals < threshold:
        state = "collecting-approvals"
    elif not running:
        state = "timelock-restart"
    elif now < ready:
        state = "waiting-timelock"
    else:
        state = "ready"
    return ProposalView(
        id=proposal_id,
        target=call.target,
        action=ActionType(action).label,
        function=_function_name(call.call_data[:4]),
        evidence="0x" + call.evidence.hex(),
        proposer=call.proposer,
        approvals=approvals,
        threshold=threshold,
        created_at=created,
        expires_at=expires,
        ready_at=ready,
        state=state,
    )


HISTORY_EVENTS = {
    "ProposalCreated": ("proposed", "proposer"),
    "ProposalApproved": ("approved", "official"),
    "TimelockStarted": ("timelock started", None),
    "ProposalExecuted": ("executed", "executor"),
    "ProposalCancelled": ("cancelled", "official"),
}


@dataclass(frozen=True)
class ProposalDetail:
    """A proposal as an approver needs it: its state, the call in words, its evidence with the
    document it names, when it becomes executable, and its history on chain."""

    view: ProposalView
    call: DecodedCall
    evidence_document: str | None
    evidence_text: str
    timelock_seconds: int
    chain_time: int
    request: str | None
    history: list[dict[str, Any]]

    @property
    def executable_in(self) -> int | None:
        """Seconds until it may be executed: 0 when it may be now, None when it never will
        (closed) or its timelock has not started (approvals missing)."""
        view = self.view
        if view.state == "waiting-timelock":
            return view.ready_at - self.chain_time
        return 0 if view.state == "ready" else None

    @property
    def timelock(self) -> str:
        """When the proposal becomes executable, in chain time."""
        view = self.view
        if view.state == "collecting-approvals":
            missing = view.threshold - view.approvals
            return (
                f"needs {missing} more approval{'s' if missing != 1 else ''}; then a timelock "
                f"of {duration(self.timelock_seconds)} (chain time)"
            )
        if view.state == "waiting-timelock":
            return (
                f"executable from {utc(view.ready_at)} (chain time), "
                f"in {duration(view.ready_at - self.chain_time)}"
            )
        if view.state == "ready":
            return f"executable now (since {utc(view.ready_at)}, chain time)"
        if view.state == "timelock-restart":
            return (
                "stopped: an official was removed or the threshold raised since it started; "
                f"restart it for another {duration(self.timelock_seconds)}"
            )
        if view.state == "expired":
            return f"expired at {utc(view.expires_at)} (chain time)"
        return view.state

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.view.as_dict(),
            "contract": self.call.contract,
            "signature": self.call.function,
            "call": self.call.summary,
            "arguments": [{"name": a.name, "value": a.text} for a in self.call.arguments],
            "affects_holder_property": self.call.affects_holder_property,
            "evidence_document": self.evidence_document,
            "evidence_text": self.evidence_text,
            "request": self.request,
            "chain_time": self.chain_time,
            "created": utc(self.view.created_at),
            "expires": utc(self.view.expires_at),
            "timelock_seconds": self.timelock_seconds,
            "executable_in": self.executable_in,
            "timelock": self.timelock,
            "history": self.history,
        }


def describe(platform: Platform, proposal_ids: list[int] | None = None) -> list[ProposalDetail]:
    """The proposals (all when `proposal_ids` is None), decoded into words with their history.

    Reads are batched: one JSON-RPC batch for the proposals, one log query for the history and
    one batch for the blocks' times, whatever the number of proposals."""
    governance = platform.contract("Governance")
    count, threshold = read_many([(governance, "proposalCount", ()), (governance, "threshold", ())])
    every = proposal_ids is None  # all of them: read from the deployment, no index lookup
    if proposal_ids is None:
        proposal_ids = list(range(1, count + 1))
    for proposal_id in proposal_ids:
        if not 1 <= proposal_id <= count:
            raise NotFound(f"no proposal {proposal_id} (there are {count})", proposal=proposal_id)
    if not proposal_ids:
        return []
    now = platform.clock.chain_time()
    replies = read_many(
        [(governance, fn, (i,)) for i in proposal_ids for fn in ("getProposal", "timelockRunning")]
    )
    stored, running = replies[0::2], replies[1::2]
    logs = _logs(platform, proposal_ids, use_index=not every)
    calls = _calls(logs)
    views = {
        i: _view(i, raw, _checked(i, raw, calls.get(i)), threshold, now, runs)
        for i, raw, runs in zip(proposal_ids, stored, running, strict=True)
    }
    actions = sorted({ActionType(raw[1]) for raw in stored})
    delays = dict(
        zip(actions, read_many([(governance, "timelock", (int(a),)) for a in actions]), strict=True)
    )
    directory = Directory(platform)
    directory.load_documents([bytes.fromhex(v.evidence[2:]) for v in views.values()])
    history = _history(platform, directory, logs, views)
    from sqlalchemy import select  # the store: imported by the reads that name requests

    from amanat.store.models import ActionRequest

    with platform.store.session() as session:
        requests = {
            row.proposal_id: f"request {row.id} ({row.kind.replace('_', ' ')}): {row.summary}"
            for row in session.scalars(
                select(ActionRequest).where(ActionRequest.proposal_id.in_(proposal_ids))
            )
        }
    return [
        ProposalDetail(
            view=views[i],
            call=decode(platform, directory, views[i].target, calls[i].call_data),
            evidence_document=directory.document(bytes.fromhex(views[i].evidence[2:])),
            evidence_text=directory.hash_text(bytes.fromhex(views[i].evidence[2:])),
            timelock_seconds=delays[ActionType(raw[1])],
            chain_time=now,
            request=requests.get(i),
            history=history.get(i, []),
        )
        for i, raw in zip(proposal_ids, stored, strict=True)
    ]


def _logs(platform: Platform, proposal_ids: list[int], use_index: bool) -> list[dict[str, Any]]:
    """The governance events of these proposals, oldest first: with `use_index`, read from the
    first block the index says one of them was created in (every event of a proposal follows its
    creation); from the deployment otherwise, or when the index lacks one or that range misses
    one's creation."""
    wanted = set(proposal_ids)
    blocks = _creation_blocks(platform, proposal_ids) if use_index else {}
    first = min(blocks.values()) if blocks and wanted <= blocks.keys() else None
    for from_block in ([first] if first is not None else []) + [None]:
        logs = [
            log
            for log in platform.decoded_logs(
                platform.contract("Governance"), list(HISTORY_EVENTS), from_block=from_block
            )
            if log["proposalId"] in wanted
        ]
        if wanted <= _calls(logs).keys():
            break
    return logs


def _history(
    platform: Platform,
    directory: Directory,
    logs: list[dict[str, Any]],
    views: dict[int, ProposalView],
) -> dict[int, list[dict[str, Any]]]:
    """Each proposal's events, oldest first: who proposed, approved, executed or cancelled it,
    when (chain time) and in which transaction."""
    times = platform.chain.block_timestamps([log["block"] for log in logs])
    out: dict[int, list[dict[str, Any]]] = {}
    for log in logs:
        event, actor = HISTORY_EVENTS[log["event"]]
        view = views[log["proposalId"]]
        detail = ""
        if log["event"] == "ProposalApproved":
            detail = f"{log['approvals']} of {view.threshold}"
        elif log["event"] == "TimelockStarted":
            detail = f"executable from {utc(log['readyAt'])}"
        out.setdefault(log["proposalId"], []).append(
            {
                "event": event,
                "by": directory.name(log[actor]) if actor else None,
                "at": utc(times[log["block"]]),
                "block": log["block"],
                "tx": log["tx"],
                "detail": detail,
            }
        )
    return out


def govern(
    platform: Platform,
    officials: list[str | Signer],
    target: Bound,
    function: str,
    args: list[Any],
    evidence: str | None = None,
    advance_clock: bool = False,
) -> ProposalView:
    """Propose with officials[0], approve with the others up to the threshold, execute.

    On the embedded chain `advance_clock` moves the chain clock past the action's timelock (a
    simulation aid for demos and tests; real deployments wait it out)."""
    proposal_id = propose(platform, officials[0], target, function, args, evidence)
    view = show(platform, proposal_id)
    for official in officials[1:]:
        if view.approvals >= view.threshold:
            break
        view = approve(platform, official, proposal_id)
    if view.state == "waiting-timelock" and advance_clock:
        platform.chain.advance_time(view.ready_at - platform.clock.chain_time())
    return execute(platform, officials[0], proposal_id)
