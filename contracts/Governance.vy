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
@dev While a proposal executes, its evidence hash is readable by the
     target through `executingEvidence()` (transient storage), so tokens
     can refuse enforcement actions that cite no legal basis.
"""

MAX_CALLDATA: constant(uint256) = 8192
MAX_OFFICIALS: constant(uint256) = 32
MAX_SELECTORS: constant(uint256) = 64

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
    evidenceRequired: bool

isOfficial: public(HashMap[address, bool])
officialCount: public(uint256)
threshold: public(uint256)
timelock: public(HashMap[uint8, uint256])
actionTypeOf: public(HashMap[bytes4, uint8])
evidenceRequired: public(HashMap[uint8, bool])
proposalCount: public(uint256)
proposals: HashMap[uint256, Proposal]
proposalCallData: HashMap[uint256, Bytes[MAX_CALLDATA]]
hasApproved: public(HashMap[uint256, HashMap[address, bool]])
approversOf: HashMap[uint256, DynArray[address, MAX_OFFICIALS]]
executingEvidence: public(transient(bytes32))


@deploy
def __init__(
    officials: DynArray[address, MAX_OFFICIALS],
    threshold_: uint256,
    selectors: DynArray[bytes4, MAX_SELECTORS],
    actionTypes: DynArray[uint8, MAX_SELECTORS],
    evidenceTypes: DynArray[uint8, MAX_SELECTORS],
    delayTypes: DynArray[uint8, MAX_SELECTORS],
    delaySeconds: DynArray[uint256, MAX_SELECTORS],
):
    """
    @param officials The approving officials (N).
    @param threshold_ Approvals needed (M), 1 <= M <= N.
    @param selectors Function selectors that may be proposed.
    @param actionTypes The action type (1..255) of each selector.
    @param evidenceTypes Action types whose proposals must carry evidence.
    @param delayTypes Action types with a timelock (others have none).
    @param delaySeconds The timelock of each of `delayTypes`.
    """
    assert len(selectors) == len(actionTypes), "selectors and action types differ in length"
    assert len(delayTypes) == len(delaySeconds), "delay types and delays differ in length"
    for official: address in officials:
        self._set_official(official, True)
    self._set_threshold(threshold_)
    for actionType: uint8 in evidenceTypes:
        self.evidenceRequired[actionType] = True
    for i: uint256 in range(len(selectors), bound=MAX_SELECTORS):
        self._set_action_type(selectors[i], actionTypes[i])
    for i: uint256 in range(len(delayTypes), bound=MAX_SELECTORS):
        self._set_timelock(delayTypes[i], delaySeconds[i])


@internal
def _set_official(official: address, enabled: bool):
    assert official != empty(address), "official is the zero address"
    assert self.isOfficial[official] != enabled, "official already in that state"
    self.isOfficial[official] = enabled
    if enabled:
        self.officialCount += 1
    else:
        self.officialCount -= 1
        assert self.officialCount >= self.threshold, "fewer officials than the threshold"
    log OfficialSet(official=official, enabled=enabled)


@internal
def _set_threshold(threshold_: uint256):
    assert threshold_ >= 1, "threshold must be at least 1"
    assert threshold_ <= self.officialCount, "threshold exceeds the number of officials"
    self.threshold = threshold_
    log ThresholdSet(threshold=threshold_)


@internal
def _set_action_type(selector: bytes4, actionType: uint8):
    assert actionType != 0, "action type 0 is reserved"
    self.actionTypeOf[selector] = actionType
    log ActionTypeSet(
        selector=selector,
        actionType=actionType,
        evidenceRequired=self.evidenceRequired[actionType],
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
    # Approvals of those who are officials now: a removed official's approval no longer counts.
    count: uint256 = 0
    for approver: address in self.approversOf[proposalId]:
        if self.isOfficial[approver]:
            count += 1
    return count


@internal
def _approve(proposalId: uint256, official: address):
    assert not self.hasApproved[proposalId][official], "official already approved"
    self.hasApproved[proposalId][official] = True
    self.approversOf[proposalId].append(official)
    proposal: Proposal = self.proposals[proposalId]
    approvals: uint256 = proposal.approvals + 1
    readyAt: uint256 = proposal.readyAt
    if readyAt == 0 and self._current_approvals(proposalId) >= self.threshold:
        readyAt = block.timestamp + self.timelock[proposal.actionType]
        self.proposals[proposalId].readyAt = readyAt
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
    actionType: uint8 = self.actionTypeOf[selector]
    assert actionType != 0, "function is not a governed action"
    assert (
        evidence != empty(bytes32) or not self.evidenceRequired[actionType]
    ), "this action requires an evidence hash"
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
            approval (the threshold was lowered after its last approval).
    @param proposalId The proposal.
    """
    assert self.isOfficial[msg.sender], "caller is not an official"
    proposal: Proposal = self._open(proposalId)
    assert proposal.readyAt == 0, "timelock already started"
    assert self._current_approvals(proposalId) >= self.threshold, "not enough approvals"
    readyAt: uint256 = block.timestamp + self.timelock[proposal.actionType]
    self.proposals[proposalId].readyAt = readyAt
    log TimelockStarted(proposalId=proposalId, readyAt=readyAt)


@external
def execute(proposalId: uint256):
    """
    @notice Run an approved proposal once its timelock has passed. Only approvals of current
            officials count.
    @param proposalId The proposal.
    """
    assert self.isOfficial[msg.sender], "caller is not an official"
    proposal: Proposal = self._open(proposalId)
    assert self._current_approvals(proposalId) >= self.threshold, "not enough approvals"
    assert proposal.readyAt != 0, "timelock has not started"
    assert block.timestamp >= proposal.readyAt, "timelock has not passed"
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
def setActionType(selector: bytes4, actionType: uint8):
    """
    @notice Classify a function selector as a governed action type. Only
            through an approved proposal.
    @param selector The function selector.
    @param actionType Its action type (non-zero).
    """
    self._only_self()
    self._set_action_type(selector, actionType)


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
