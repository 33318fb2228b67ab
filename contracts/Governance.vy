#pragma version ~=0.4.3
"""
@title Amanat Governance
@license Apache-2.0
@notice M-of-N approval of every privileged action on Amanat contracts.
        An official proposes a call (target + calldata) with an evidence
        hash (court order, ministry notification); it runs only after
        `threshold` distinct officials approved it and the timelock of its
        action type has passed. The action type is derived from the call's
        function selector, so a proposal cannot dodge the evidence rule or
        timelock by mislabelling itself.
        Every governed function is one row of one table (`governedFunction`):
        its action type and whether it affects a holder's property (takes,
        destroys, freezes or redirects what a holder owns without its
        signature, or voids the public record of it). Such a function
        needs an evidence hash when it is proposed and again when it runs.
@dev While a proposal executes, its evidence hash is readable by the
     target through `executingEvidence()` (transient storage), so tokens
     can refuse enforcement actions that cite no legal basis.
     Approvals carry the official's membership epoch: an official removed
     and re-added must approve again. A timelock belongs to the
     configuration (officials and threshold) it started under: after an
     official is removed or the threshold is raised, a proposal must reach
     the threshold again and wait its timelock anew.
     Storage, as OpenZeppelin's Governor does it: a proposal keeps only the
     hash of its call (target, call data, evidence); `ProposalCreated`
     carries the call in full and `execute` is given it again and checks it
     against the hash. Each official holds one of 32 slots; the slot's mark
     (one byte of `slotMarks`) is odd while it is held and moves on at every
     addition and removal, so it is the holder's membership epoch. A
     proposal's approvals are one word: per slot, the mark its approver held
     when approving. An approval counts while the slot still bears that mark.
"""

MAX_CALLDATA: constant(uint256) = 8192
MAX_OFFICIALS: constant(uint256) = 32
MAX_SELECTORS: constant(uint256) = 64

# A slot's mark is odd while an official holds it; after 127 memberships (mark 254) the slot is
# retired, so a mark is never reused and an old approval never counts again.
LAST_FREE_MARK: constant(uint256) = 252
BYTE: constant(uint256) = 255
ONE_PER_BYTE: constant(uint256) = max_value(uint256) // 255  # 0x0101...01
LOW_7_BITS: constant(uint256) = ONE_PER_BYTE * 127  # 0x7f7f...7f
HIGH_BITS: constant(uint256) = ONE_PER_BYTE * 128  # 0x8080...80

# One word of state per proposal (`proposalState`), from the lowest bit.
TIME_BITS: constant(uint256) = 48
MAX_TIME: constant(uint256) = 2**48 - 1
CREATED_AT: constant(uint256) = 0
EXPIRES_AT: constant(uint256) = 48
READY_AT: constant(uint256) = 96
TIMELOCK_EPOCH: constant(uint256) = 144
ACTION_TYPE: constant(uint256) = 208
EXECUTED: constant(uint256) = 216
CANCELLED: constant(uint256) = 217
PROPOSER_SLOT: constant(uint256) = 224
PROPOSER_MARK: constant(uint256) = 232

# The counters, one word (`counters`) read and written together, from the lowest bit.
PROPOSAL_COUNT: constant(uint256) = 0
THRESHOLD: constant(uint256) = 64
OFFICIAL_COUNT: constant(uint256) = 72
CONFIGURATION_EPOCH: constant(uint256) = 80

# A governed function's row, one word: its action type, then whether it affects holders' property.
AFFECTS_HOLDER_PROPERTY: constant(uint256) = 256  # bit 8

struct GovernedFunction:
    actionType: uint8
    affectsHolderProperty: bool

struct Proposal:
    callHash: bytes32
    actionType: uint8
    approvals: uint256
    createdAt: uint256
    expiresAt: uint256
    readyAt: uint256
    executed: bool
    cancelled: bool

event ProposalCreated:
    proposalId: indexed(uint256)
    proposer: indexed(address)
    target: indexed(address)
    actionType: uint8
    evidence: bytes32
    callData: Bytes[MAX_CALLDATA]
    expiresAt: uint256

event ProposalApproved:
    proposalId: indexed(uint256)
    official: indexed(address)
    approvals: uint256
    readyAt: uint256

event TimelockStarted:
    proposalId: indexed(uint256)
    readyAt: uint256

event ProposalExecuted:
    proposalId: indexed(uint256)
    executor: indexed(address)
    evidence: bytes32

event ProposalCancelled:
    proposalId: indexed(uint256)
    official: indexed(address)

event OfficialSet:
    official: indexed(address)
    enabled: bool

event ThresholdSet:
    threshold: uint256

event TimelockSet:
    actionType: uint8
    delaySeconds: uint256

event ActionTypeSet:
    selector: bytes4
    actionType: uint8
    affectsHolderProperty: bool

counters: uint256  # proposal count, threshold, official count, configuration epoch
officialSlot: HashMap[address, uint256]  # slot + 1; 0 for one who is not an official
slotMarks: public(uint256)  # byte i: the mark of slot i
timelock: public(HashMap[uint8, uint256])
governedRow: HashMap[bytes4, uint256]  # action type | affects holder property << 8
proposalCallHash: HashMap[uint256, bytes32]
proposalState: HashMap[uint256, uint256]
approvalMarks: HashMap[uint256, uint256]  # byte i: the mark of slot i when its holder approved
executingEvidence: public(transient(bytes32))


@deploy
def __init__(
    officials: DynArray[address, MAX_OFFICIALS],
    threshold_: uint256,
    selectors: DynArray[bytes4, MAX_SELECTORS],
    actionTypes: DynArray[uint8, MAX_SELECTORS],
    affectsHolderProperty: DynArray[bool, MAX_SELECTORS],
    delayTypes: DynArray[uint8, MAX_SELECTORS],
    delaySeconds: DynArray[uint256, MAX_SELECTORS],
):
    """
    @param officials The approving officials (N).
    @param threshold_ Approvals needed (M), 1 <= M <= N.
    @param selectors Function selectors that may be proposed.
    @param actionTypes The action type (1..255) of each selector.
    @param affectsHolderProperty For each selector, whether it takes, destroys,
           freezes or redirects a holder's property without its signature
           (its proposals must carry evidence).
    @param delayTypes Action types with a timelock (others have none).
    @param delaySeconds The timelock of each of `delayTypes`.
    """
    assert len(selectors) == len(actionTypes), "selectors and action types differ in length"
    assert len(selectors) == len(affectsHolderProperty), "selectors and property flags differ in length"
    assert len(delayTypes) == len(delaySeconds), "delay types and delays differ in length"
    for official: address in officials:
        self._set_official(official, True)
    self._set_threshold(threshold_)
    for i: uint256 in range(len(selectors), bound=MAX_SELECTORS):
        self._set_action_type(selectors[i], actionTypes[i], affectsHolderProperty[i])
    for i: uint256 in range(len(delayTypes), bound=MAX_SELECTORS):
        self._set_timelock(delayTypes[i], delaySeconds[i])


@internal
@pure
def _field(word: uint256, offset: uint256, bits: uint256) -> uint256:
    return (word >> offset) & ((1 << bits) - 1)


@internal
@pure
def _with_field(word: uint256, offset: uint256, bits: uint256, content: uint256) -> uint256:
    assert content < 1 << bits, "counter overflow"
    return (word & ~(((1 << bits) - 1) << offset)) | (content << offset)


@internal
@pure
def _mark(marks: uint256, slot: uint256) -> uint256:
    return (marks >> (8 * slot)) & BYTE


@internal
@pure
def _count(approvals: uint256, slotMarks: uint256) -> uint256:
    # Slots whose approval mark is set and equal to the slot's mark now, counted byte-wise
    # without a loop: the high bit of each byte flags a zero byte of the difference (resp. a
    # non-zero mark); the flags are summed into the top byte by one multiplication.
    difference: uint256 = approvals ^ slotMarks
    same: uint256 = ~(((difference & LOW_7_BITS) + LOW_7_BITS) | difference | LOW_7_BITS)
    given: uint256 = (((approvals & LOW_7_BITS) + LOW_7_BITS) | approvals) & HIGH_BITS
    return unsafe_mul((same & given) >> 7, ONE_PER_BYTE) >> 248


@internal
def _set_official(official: address, enabled: bool):
    assert official != empty(address), "official is the zero address"
    assert (self.officialSlot[official] != 0) != enabled, "official already in that state"
    marks: uint256 = self.slotMarks
    counters: uint256 = self.counters
    officials: uint256 = self._field(counters, OFFICIAL_COUNT, 8)
    if enabled:
        officials += 1
        assert officials <= MAX_OFFICIALS, "more officials than approvals can hold (32)"
        slot: uint256 = MAX_OFFICIALS
        for i: uint256 in range(MAX_OFFICIALS):
            mark: uint256 = self._mark(marks, i)
            if mark % 2 == 0 and mark <= LAST_FREE_MARK:
                slot = i
                break
        assert slot < MAX_OFFICIALS, "every official slot is held or retired (127 memberships each)"
        self.officialSlot[official] = slot + 1
        self.slotMarks = marks + (1 << (8 * slot))
    else:
        slot: uint256 = self.officialSlot[official] - 1
        self.officialSlot[official] = 0
        self.slotMarks = marks + (1 << (8 * slot))
        officials -= 1
        assert officials >= self._field(counters, THRESHOLD, 8), "fewer officials than the threshold"
        counters = self._next_configuration(counters)
    self.counters = self._with_field(counters, OFFICIAL_COUNT, 8, officials)
    log OfficialSet(official=official, enabled=enabled)


@internal
@pure
def _next_configuration(counters: uint256) -> uint256:
    # Timelocks started under the configuration before stop counting.
    return self._with_field(
        counters, CONFIGURATION_EPOCH, 64, self._field(counters, CONFIGURATION_EPOCH, 64) + 1
    )


@internal
def _set_threshold(threshold_: uint256):
    counters: uint256 = self.counters
    assert threshold_ >= 1, "threshold must be at least 1"
    assert threshold_ <= self._field(counters, OFFICIAL_COUNT, 8), "threshold exceeds the number of officials"
    if threshold_ > self._field(counters, THRESHOLD, 8):
        # A raised threshold may leave running timelocks below it.
        counters = self._next_configuration(counters)
    self.counters = self._with_field(counters, THRESHOLD, 8, threshold_)
    log ThresholdSet(threshold=threshold_)


@internal
def _set_action_type(selector: bytes4, actionType: uint8, affectsHolderProperty: bool):
    assert actionType != 0, "action type 0 is reserved"
    self.governedRow[selector] = convert(actionType, uint256) | (
        convert(affectsHolderProperty, uint256) << 8
    )
    log ActionTypeSet(
        selector=selector,
        actionType=actionType,
        affectsHolderProperty=affectsHolderProperty,
    )


@internal
def _set_timelock(actionType: uint8, delaySeconds: uint256):
    self.timelock[actionType] = delaySeconds
    log TimelockSet(actionType=actionType, delaySeconds=delaySeconds)


@internal
@view
def _only_self():
    assert msg.sender == self, "only through an approved proposal"


@internal
@view
def _official_slot(official: address) -> uint256:
    slot: uint256 = self.officialSlot[official]
    assert slot != 0, "caller is not an official"
    return slot - 1


@internal
@pure
def _timelock_running(state: uint256, counters: uint256) -> bool:
    # A timelock started under another configuration (an official removed or the threshold
    # raised since) no longer counts: the proposal may have dropped below the threshold.
    return self._field(state, READY_AT, TIME_BITS) != 0 and self._field(
        state, TIMELOCK_EPOCH, 64
    ) == self._field(counters, CONFIGURATION_EPOCH, 64)


@internal
def _start_timelock(proposalId: uint256, state: uint256, counters: uint256) -> uint256:
    # The state word with the timelock started now under the current configuration.
    # A delay past the representable time (an action type set never to run) ends at MAX_TIME,
    # some 8.9 million years away.
    delay: uint256 = self.timelock[convert(self._field(state, ACTION_TYPE, 8), uint8)]
    readyAt: uint256 = MAX_TIME
    if delay < MAX_TIME - block.timestamp:
        readyAt = block.timestamp + delay
    log TimelockStarted(proposalId=proposalId, readyAt=readyAt)
    cleared: uint256 = state & ~(((1 << (TIME_BITS + 64)) - 1) << READY_AT)
    return cleared | (readyAt << READY_AT) | (
        self._field(counters, CONFIGURATION_EPOCH, 64) << TIMELOCK_EPOCH
    )


@internal
def _approve(
    proposalId: uint256,
    state: uint256,
    approvals: uint256,
    slot: uint256,
    official: address,
    counters: uint256,
):
    # Records `official`'s approval (it holds `slot`) in the approvals word and starts the
    # timelock when the threshold is reached; writes both words once.
    slotMarks: uint256 = self.slotMarks
    mark: uint256 = self._mark(slotMarks, slot)
    assert self._mark(approvals, slot) != mark, "official already approved"
    position: uint256 = 8 * slot
    given: uint256 = (approvals & ~(BYTE << position)) | (mark << position)
    self.approvalMarks[proposalId] = given
    count: uint256 = self._count(given, slotMarks)
    newState: uint256 = state
    if not self._timelock_running(state, counters) and count >= self._field(counters, THRESHOLD, 8):
        newState = self._start_timelock(proposalId, state, counters)
    if newState != state:
        self.proposalState[proposalId] = newState
    log ProposalApproved(
        proposalId=proposalId,
        official=official,
        approvals=count,
        readyAt=self._field(newState, READY_AT, TIME_BITS),
    )


@internal
@view
def _open(proposalId: uint256) -> uint256:
    state: uint256 = self.proposalState[proposalId]
    assert state != 0, "unknown proposal"
    assert self._field(state, EXECUTED, 1) == 0, "proposal already executed"
    assert self._field(state, CANCELLED, 1) == 0, "proposal cancelled"
    assert block.timestamp < self._field(state, EXPIRES_AT, TIME_BITS), "proposal expired"
    return state


@internal
@pure
def _call_hash(target: address, callData: Bytes[MAX_CALLDATA], evidence: bytes32) -> bytes32:
    return keccak256(abi_encode(target, callData, evidence))


@external
def propose(
    target: address, callData: Bytes[MAX_CALLDATA], evidence: bytes32, lifetimeSeconds: uint256
) -> uint256:
    """
    @notice Propose a privileged call; the proposer's approval is counted. Only the call's
            hash is stored: `ProposalCreated` carries the call, and `execute` must be given it.
    @param target The contract to call.
    @param callData The ABI-encoded call; its selector fixes the action type.
    @param evidence Hash of the legal basis (court order, notification).
    @param lifetimeSeconds How long the proposal may collect approvals and run.
    @return The proposal id.
    """
    slot: uint256 = self._official_slot(msg.sender)
    assert target.is_contract, "target is not a contract"
    assert len(callData) >= 4, "call data has no function selector"
    assert lifetimeSeconds > 0, "lifetime must be positive"
    assert lifetimeSeconds <= MAX_TIME - block.timestamp, "lifetime ends beyond the representable time"
    row: uint256 = self.governedRow[convert(slice(callData, 0, 4), bytes4)]
    actionType: uint8 = convert(row & BYTE, uint8)
    assert actionType != 0, "function is not a governed action"
    assert (
        evidence != empty(bytes32) or row & AFFECTS_HOLDER_PROPERTY == 0
    ), "this action affects a holder's property and requires an evidence hash"
    counters: uint256 = self.counters
    proposalId: uint256 = self._field(counters, PROPOSAL_COUNT, 64) + 1
    counters = self._with_field(counters, PROPOSAL_COUNT, 64, proposalId)
    self.counters = counters
    expiresAt: uint256 = block.timestamp + lifetimeSeconds
    self.proposalCallHash[proposalId] = self._call_hash(target, callData, evidence)
    state: uint256 = (
        (block.timestamp << CREATED_AT)
        | (expiresAt << EXPIRES_AT)
        | (convert(actionType, uint256) << ACTION_TYPE)
        | (slot << PROPOSER_SLOT)
        | (self._mark(self.slotMarks, slot) << PROPOSER_MARK)
    )
    self.proposalState[proposalId] = state
    log ProposalCreated(
        proposalId=proposalId,
        proposer=msg.sender,
        target=target,
        actionType=actionType,
        evidence=evidence,
        callData=callData,
        expiresAt=expiresAt,
    )
    self._approve(proposalId, state, 0, slot, msg.sender, counters)
    return proposalId


@external
def approve(proposalId: uint256):
    """
    @notice Approve an open proposal; each official at most once per membership.
    @param proposalId The proposal.
    """
    slot: uint256 = self._official_slot(msg.sender)
    state: uint256 = self._open(proposalId)
    self._approve(
        proposalId, state, self.approvalMarks[proposalId], slot, msg.sender, self.counters
    )


@external
def cancel(proposalId: uint256):
    """
    @notice Withdraw an open proposal. Only its proposer may, while still an official of the
            membership it proposed under.
    @param proposalId The proposal.
    """
    state: uint256 = self._open(proposalId)
    slot: uint256 = self.officialSlot[msg.sender]
    assert (
        slot != 0
        and slot - 1 == self._field(state, PROPOSER_SLOT, 8)
        and self._mark(self.slotMarks, slot - 1) == self._field(state, PROPOSER_MARK, 8)
    ), "only the proposer may cancel"
    self.proposalState[proposalId] = state | (1 << CANCELLED)
    log ProposalCancelled(proposalId=proposalId, official=msg.sender)


@external
def startTimelock(proposalId: uint256):
    """
    @notice Start the timelock of a proposal that reached the threshold without a new
            approval (the threshold was lowered after its last approval), or restart it
            after an official was removed or the threshold raised since it started.
    @param proposalId The proposal.
    """
    self._official_slot(msg.sender)
    state: uint256 = self._open(proposalId)
    counters: uint256 = self.counters
    assert not self._timelock_running(state, counters), "timelock already started"
    assert self._count(self.approvalMarks[proposalId], self.slotMarks) >= self._field(
        counters, THRESHOLD, 8
    ), "not enough approvals"
    self.proposalState[proposalId] = self._start_timelock(proposalId, state, counters)


@external
def execute(proposalId: uint256, target: address, callData: Bytes[MAX_CALLDATA], evidence: bytes32):
    """
    @notice Run an approved proposal once its timelock has passed, given its call as
            `ProposalCreated` recorded it. Only approvals of current officials count; under
            the table as it is now, the function must still have the action type it was
            proposed with, and carry evidence if it affects a holder's property.
    @param proposalId The proposal.
    @param target The contract to call, as proposed.
    @param callData The ABI-encoded call, as proposed.
    @param evidence The evidence hash, as proposed.
    """
    self._official_slot(msg.sender)
    state: uint256 = self._open(proposalId)
    assert self._call_hash(target, callData, evidence) == self.proposalCallHash[proposalId], "call differs from the proposed call"
    counters: uint256 = self.counters
    assert self._count(self.approvalMarks[proposalId], self.slotMarks) >= self._field(
        counters, THRESHOLD, 8
    ), "not enough approvals"
    readyAt: uint256 = self._field(state, READY_AT, TIME_BITS)
    assert readyAt != 0, "timelock has not started"
    assert self._timelock_running(state, counters), "an official was removed or the threshold raised: the timelock must restart"
    assert block.timestamp >= readyAt, "timelock has not passed"
    row: uint256 = self.governedRow[convert(slice(callData, 0, 4), bytes4)]
    # Its timelock was its action type's when proposed: a function moved to another type since
    # (perhaps one with a longer timelock) runs only as a new proposal.
    assert row & BYTE == self._field(state, ACTION_TYPE, 8), "function reclassified since it was proposed: propose it again"
    assert (
        evidence != empty(bytes32) or row & AFFECTS_HOLDER_PROPERTY == 0
    ), "this action affects a holder's property and requires an evidence hash"
    self.proposalState[proposalId] = state | (1 << EXECUTED)
    self.executingEvidence = evidence
    raw_call(target, callData)
    self.executingEvidence = empty(bytes32)
    log ProposalExecuted(proposalId=proposalId, executor=msg.sender, evidence=evidence)


@external
def setOfficial(official: address, enabled: bool):
    """
    @notice Add or remove an official. Only through an approved proposal.
    @param official The official's address.
    @param enabled True to add, false to remove.
    """
    self._only_self()
    self._set_official(official, enabled)


@external
def setThreshold(threshold_: uint256):
    """
    @notice Change M. Only through an approved proposal.
    @param threshold_ The new number of approvals needed.
    """
    self._only_self()
    self._set_threshold(threshold_)


@external
def setTimelock(actionType: uint8, delaySeconds: uint256):
    """
    @notice Set the delay between the last approval and execution for an
            action type (0 for emergency pause and freeze). Only through an
            approved proposal.
    @param actionType The action type.
    @param delaySeconds The delay in seconds.
    """
    self._only_self()
    self._set_timelock(actionType, delaySeconds)


@external
def setActionType(selector: bytes4, actionType: uint8, affectsHolderProperty: bool):
    """
    @notice Classify a function selector as a governed action type. Only
            through an approved proposal.
    @param selector The function selector.
    @param actionType Its action type (non-zero).
    @param affectsHolderProperty Whether it takes, destroys, freezes or redirects a
           holder's property without its signature (proposals then need evidence).
    """
    self._only_self()
    self._set_action_type(selector, actionType, affectsHolderProperty)


@external
@view
def actionTypeOf(selector: bytes4) -> uint8:
    """
    @notice The action type of a governed function (0 if it is not governed).
    @param selector The function selector.
    @return The action type.
    """
    return convert(self.governedRow[selector] & BYTE, uint8)


@external
@view
def governedFunction(selector: bytes4) -> GovernedFunction:
    """
    @notice A function's row of the governed table.
    @param selector The function selector.
    @return Its action type (0 if it is not governed) and whether it affects a holder's property.
    """
    row: uint256 = self.governedRow[selector]
    return GovernedFunction(
        actionType=convert(row & BYTE, uint8),
        affectsHolderProperty=row & AFFECTS_HOLDER_PROPERTY != 0,
    )


@external
@view
def proposalCount() -> uint256:
    """
    @notice How many proposals were made; ids run from 1 to this.
    @return The number of proposals.
    """
    return self._field(self.counters, PROPOSAL_COUNT, 64)


@external
@view
def threshold() -> uint256:
    """
    @notice Approvals needed (M).
    @return The threshold.
    """
    return self._field(self.counters, THRESHOLD, 8)


@external
@view
def officialCount() -> uint256:
    """
    @notice The number of officials (N).
    @return The number of officials.
    """
    return self._field(self.counters, OFFICIAL_COUNT, 8)


@external
@view
def configurationEpoch() -> uint256:
    """
    @notice Moves on when an official is removed or the threshold raised; a timelock counts
            only under the configuration it started under.
    @return The configuration epoch.
    """
    return self._field(self.counters, CONFIGURATION_EPOCH, 64)


@external
@view
def getProposal(proposalId: uint256) -> Proposal:
    """
    @notice A proposal's state; its call is in its `ProposalCreated` event.
    @param proposalId The proposal.
    @return The proposal: its call's hash, action type, approvals of current officials in
            their current membership, times and whether it was executed or cancelled.
    """
    state: uint256 = self.proposalState[proposalId]
    return Proposal(
        callHash=self.proposalCallHash[proposalId],
        actionType=convert(self._field(state, ACTION_TYPE, 8), uint8),
        approvals=self._count(self.approvalMarks[proposalId], self.slotMarks),
        createdAt=self._field(state, CREATED_AT, TIME_BITS),
        expiresAt=self._field(state, EXPIRES_AT, TIME_BITS),
        readyAt=self._field(state, READY_AT, TIME_BITS),
        executed=self._field(state, EXECUTED, 1) == 1,
        cancelled=self._field(state, CANCELLED, 1) == 1,
    )


@external
@view
def timelockRunning(proposalId: uint256) -> bool:
    """
    @notice Whether a proposal's timelock is running under the current configuration: false
            if it never started, or if an official was removed or the threshold raised since
            it started (then `startTimelock` restarts it).
    @param proposalId The proposal.
    @return True if it is running (or has passed) under the current configuration.
    """
    return self._timelock_running(self.proposalState[proposalId], self.counters)


@external
@view
def callHash(target: address, callData: Bytes[MAX_CALLDATA], evidence: bytes32) -> bytes32:
    """
    @notice The hash a proposal of this call stores: keccak256(abi.encode(target, callData,
            evidence)).
    @param target The contract to call.
    @param callData The ABI-encoded call.
    @param evidence The evidence hash.
    @return The call's hash.
    """
    return self._call_hash(target, callData, evidence)


@external
@view
def isOfficial(official: address) -> bool:
    """
    @notice Whether an address is an official now.
    @param official The address.
    @return True if it is.
    """
    return self.officialSlot[official] != 0


@external
@view
def hasApproved(proposalId: uint256, official: address) -> bool:
    """
    @notice Whether an official's approval of a proposal counts: given in its current
            membership.
    @param proposalId The proposal.
    @param official The official.
    @return True if it counts.
    """
    slot: uint256 = self.officialSlot[official]
    if slot == 0:
        return False
    mark: uint256 = self._mark(self.approvalMarks[proposalId], slot - 1)
    return mark != 0 and mark == self._mark(self.slotMarks, slot - 1)
