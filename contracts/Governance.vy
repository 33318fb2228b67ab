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
"""

MAX_CALLDATA: constant(uint256) = 8192
MAX_OFFICIALS: constant(uint256) = 32
MAX_SELECTORS: constant(uint256) = 64

struct GovernedFunction:
    actionType: uint8
    affectsHolderProperty: bool

struct Proposal:
    target: address
    selector: bytes4
    actionType: uint8
    evidence: bytes32
    proposer: address
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

isOfficial: public(HashMap[address, bool])
officialCount: public(uint256)
threshold: public(uint256)
timelock: public(HashMap[uint8, uint256])
governedFunction: public(HashMap[bytes4, GovernedFunction])
proposalCount: public(uint256)
proposals: HashMap[uint256, Proposal]
proposalCallData: HashMap[uint256, Bytes[MAX_CALLDATA]]
hasApproved: public(HashMap[uint256, HashMap[address, bool]])
approversOf: HashMap[uint256, DynArray[address, MAX_OFFICIALS]]
approvalEpoch: HashMap[uint256, HashMap[address, uint256]]
membershipEpoch: public(HashMap[address, uint256])
configurationEpoch: public(uint256)
timelockEpoch: HashMap[uint256, uint256]
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
def _set_official(official: address, enabled: bool):
    assert official != empty(address), "official is the zero address"
    assert self.isOfficial[official] != enabled, "official already in that state"
    self.isOfficial[official] = enabled
    if enabled:
        self.officialCount += 1
        assert self.officialCount <= MAX_OFFICIALS, "more officials than approvals can hold (32)"
        self.membershipEpoch[official] += 1
    else:
        self.officialCount -= 1
        assert self.officialCount >= self.threshold, "fewer officials than the threshold"
        self.configurationEpoch += 1
    log OfficialSet(official=official, enabled=enabled)


@internal
def _set_threshold(threshold_: uint256):
    assert threshold_ >= 1, "threshold must be at least 1"
    assert threshold_ <= self.officialCount, "threshold exceeds the number of officials"
    if threshold_ > self.threshold:
        # A raised threshold may leave running timelocks below it.
        self.configurationEpoch += 1
    self.threshold = threshold_
    log ThresholdSet(threshold=threshold_)


@internal
def _set_action_type(selector: bytes4, actionType: uint8, affectsHolderProperty: bool):
    assert actionType != 0, "action type 0 is reserved"
    self.governedFunction[selector] = GovernedFunction(
        actionType=actionType, affectsHolderProperty=affectsHolderProperty
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
def _current_approvals(proposalId: uint256) -> uint256:
    # Approvals of those who are officials now, given in their current membership: a removed
    # official's approval no longer counts, and does not count again if it is re-added.
    count: uint256 = 0
    for approver: address in self.approversOf[proposalId]:
        if self.isOfficial[approver] and self.approvalEpoch[proposalId][approver] == self.membershipEpoch[approver]:
            count += 1
    return count


@internal
@view
def _timelock_running(proposalId: uint256, proposal: Proposal) -> bool:
    # A timelock started under another configuration (an official removed or the threshold
    # raised since) no longer counts: the proposal may have dropped below the threshold.
    return proposal.readyAt != 0 and self.timelockEpoch[proposalId] == self.configurationEpoch


@internal
def _start_timelock(proposalId: uint256, proposal: Proposal) -> uint256:
    readyAt: uint256 = block.timestamp + self.timelock[proposal.actionType]
    self.proposals[proposalId].readyAt = readyAt
    self.timelockEpoch[proposalId] = self.configurationEpoch
    log TimelockStarted(proposalId=proposalId, readyAt=readyAt)
    return readyAt


@internal
def _approve(proposalId: uint256, official: address):
    epoch: uint256 = self.membershipEpoch[official]
    alreadyListed: bool = self.hasApproved[proposalId][official]
    assert not alreadyListed or self.approvalEpoch[proposalId][official] != epoch, "official already approved"
    self.hasApproved[proposalId][official] = True
    self.approvalEpoch[proposalId][official] = epoch
    if not alreadyListed:
        self.approversOf[proposalId].append(official)
    proposal: Proposal = self.proposals[proposalId]
    approvals: uint256 = proposal.approvals + 1
    readyAt: uint256 = proposal.readyAt
    if not self._timelock_running(proposalId, proposal) and self._current_approvals(proposalId) >= self.threshold:
        readyAt = self._start_timelock(proposalId, proposal)
    self.proposals[proposalId].approvals = approvals
    log ProposalApproved(
        proposalId=proposalId, official=official, approvals=approvals, readyAt=readyAt
    )


@internal
@view
def _open(proposalId: uint256) -> Proposal:
    assert proposalId > 0 and proposalId <= self.proposalCount, "unknown proposal"
    proposal: Proposal = self.proposals[proposalId]
    assert not proposal.executed, "proposal already executed"
    assert not proposal.cancelled, "proposal cancelled"
    assert block.timestamp < proposal.expiresAt, "proposal expired"
    return proposal


@external
def propose(
    target: address, callData: Bytes[MAX_CALLDATA], evidence: bytes32, lifetimeSeconds: uint256
) -> uint256:
    """
    @notice Propose a privileged call; the proposer's approval is counted.
    @param target The contract to call.
    @param callData The ABI-encoded call; its selector fixes the action type.
    @param evidence Hash of the legal basis (court order, notification).
    @param lifetimeSeconds How long the proposal may collect approvals and run.
    @return The proposal id.
    """
    assert self.isOfficial[msg.sender], "caller is not an official"
    assert target.is_contract, "target is not a contract"
    assert len(callData) >= 4, "call data has no function selector"
    assert lifetimeSeconds > 0, "lifetime must be positive"
    selector: bytes4 = convert(slice(callData, 0, 4), bytes4)
    governed: GovernedFunction = self.governedFunction[selector]
    actionType: uint8 = governed.actionType
    assert actionType != 0, "function is not a governed action"
    assert (
        evidence != empty(bytes32) or not governed.affectsHolderProperty
    ), "this action affects a holder's property and requires an evidence hash"
    proposalId: uint256 = self.proposalCount + 1
    self.proposalCount = proposalId
    expiresAt: uint256 = block.timestamp + lifetimeSeconds
    self.proposals[proposalId] = Proposal(
        target=target,
        selector=selector,
        actionType=actionType,
        evidence=evidence,
        proposer=msg.sender,
        approvals=0,
        createdAt=block.timestamp,
        expiresAt=expiresAt,
        readyAt=0,
        executed=False,
        cancelled=False,
    )
    self.proposalCallData[proposalId] = callData
    log ProposalCreated(
        proposalId=proposalId,
        proposer=msg.sender,
        target=target,
        actionType=actionType,
        evidence=evidence,
        callData=callData,
        expiresAt=expiresAt,
    )
    self._approve(proposalId, msg.sender)
    return proposalId


@external
def approve(proposalId: uint256):
    """
    @notice Approve an open proposal; each official at most once.
    @param proposalId The proposal.
    """
    assert self.isOfficial[msg.sender], "caller is not an official"
    self._open(proposalId)
    self._approve(proposalId, msg.sender)


@external
def cancel(proposalId: uint256):
    """
    @notice Withdraw an open proposal. Only its proposer may.
    @param proposalId The proposal.
    """
    proposal: Proposal = self._open(proposalId)
    assert msg.sender == proposal.proposer, "only the proposer may cancel"
    self.proposals[proposalId].cancelled = True
    log ProposalCancelled(proposalId=proposalId, official=msg.sender)


@external
def startTimelock(proposalId: uint256):
    """
    @notice Start the timelock of a proposal that reached the threshold without a new
            approval (the threshold was lowered after its last approval), or restart it
            after an official was removed or the threshold raised since it started.
    @param proposalId The proposal.
    """
    assert self.isOfficial[msg.sender], "caller is not an official"
    proposal: Proposal = self._open(proposalId)
    assert not self._timelock_running(proposalId, proposal), "timelock already started"
    assert self._current_approvals(proposalId) >= self.threshold, "not enough approvals"
    self._start_timelock(proposalId, proposal)


@external
def execute(proposalId: uint256):
    """
    @notice Run an approved proposal once its timelock has passed. Only approvals of current
            officials count; a function that affects a holder's property must still carry
            evidence under the table as it is now.
    @param proposalId The proposal.
    """
    assert self.isOfficial[msg.sender], "caller is not an official"
    proposal: Proposal = self._open(proposalId)
    assert self._current_approvals(proposalId) >= self.threshold, "not enough approvals"
    assert proposal.readyAt != 0, "timelock has not started"
    assert self.timelockEpoch[proposalId] == self.configurationEpoch, "an official was removed or the threshold raised: the timelock must restart"
    assert block.timestamp >= proposal.readyAt, "timelock has not passed"
    assert (
        proposal.evidence != empty(bytes32) or not self.governedFunction[proposal.selector].affectsHolderProperty
    ), "this action affects a holder's property and requires an evidence hash"
    self.proposals[proposalId].executed = True
    self.executingEvidence = proposal.evidence
    raw_call(proposal.target, self.proposalCallData[proposalId])
    self.executingEvidence = empty(bytes32)
    log ProposalExecuted(proposalId=proposalId, executor=msg.sender, evidence=proposal.evidence)


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
    return self.governedFunction[selector].actionType


@external
@view
def getProposal(proposalId: uint256) -> Proposal:
    """
    @notice A proposal's state.
    @param proposalId The proposal.
    @return The stored proposal.
    """
    return self.proposals[proposalId]


@external
@view
def getProposalCallData(proposalId: uint256) -> Bytes[MAX_CALLDATA]:
    """
    @notice The call a proposal will make.
    @param proposalId The proposal.
    @return The ABI-encoded call data.
    """
    return self.proposalCallData[proposalId]
