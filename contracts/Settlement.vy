#pragma version ~=0.4.3
"""
@title Amanat DvP Settlement
@license Apache-2.0
@notice Secondary-market delivery versus payment between two verified
        institutions. The seller instructs (its units are locked), the buyer
        affirms (its cash is locked), and settlement moves both legs in one
        transaction with every rule of both tokens checked, or not at all.
        Either party may cancel before settlement; after the deadline anyone
        may expire the instruction. Locked legs are released on cancel and
        expiry. Enforcement always wins over a lock: governance may cancel
        any open instruction with an evidence hash (`enforceCancel`), after
        which forced transfer, burn, partial freeze and recovery reach the
        units. A deadline may lie at most `maxDeadlineSeconds` ahead (a
        governed maximum, 30 days at deployment), and an instruction to a
        wallet of the seller's own identity is refused.
@dev An instruction is one storage word: keccak256(abi_encode(terms)) with its
     low byte replaced by the state. `DvPInstructed` carries the terms in
     full; every later step (affirm, settle, cancel, expire, enforceCancel)
     is passed the terms and refuses any that do not hash to the stored word,
     as OpenZeppelin's Governor does with a proposal's call. Amanat reads the
     terms from the event.
"""

interface AssetToken:
    def settlementLock(wallet: address, amount: uint256): nonpayable
    def settlementUnlock(wallet: address, amount: uint256): nonpayable
    def settlementTransfer(sender: address, receiver: address, amount: uint256): nonpayable
    def detectTransferRestriction(sender: address, receiver: address, amount: uint256) -> uint8: view
    def messageForTransferRestriction(code: uint8) -> String[64]: view
    def assetId() -> uint256: view
    def matured() -> bool: view
    def identityRegistry() -> address: view

interface AssetRegistry:
    def tokenOf(assetId: uint256) -> address: view
    def governance() -> address: view

interface IdentityRegistry:
    def walletRecords(first: address, second: address) -> (uint256, uint256): view

interface Governance:
    def executingEvidence() -> bytes32: view

interface CashToken:
    def lock(wallet: address, amount: uint256): nonpayable
    def unlock(wallet: address, amount: uint256): nonpayable
    def settleLocked(sender: address, receiver: address, amount: uint256): nonpayable
    def mayHold(wallet: address) -> bool: view

STATE_INSTRUCTED: constant(uint256) = 1
STATE_AFFIRMED: constant(uint256) = 2
STATE_SETTLED: constant(uint256) = 3
STATE_CANCELLED: constant(uint256) = 4
STATE_EXPIRED: constant(uint256) = 5
STATE_MASK: constant(uint256) = 255
IDENTITY_MASK: constant(uint256) = 2**39 - 1
DEFAULT_MAX_DEADLINE: constant(uint256) = 30 * 86400
MAX_ENFORCE_BATCH: constant(uint256) = 250

struct Terms:
    seller: address
    buyer: address
    token: address
    units: uint256
    cashAmount: uint256
    deadline: uint256

struct InstructionRecord:
    termsHash: bytes32
    state: uint8

event DvPInstructed:
    instructionId: indexed(uint256)
    seller: indexed(address)
    buyer: indexed(address)
    token: address
    units: uint256
    cashAmount: uint256
    deadline: uint256

event DvPAffirmed:
    instructionId: indexed(uint256)
    buyer: indexed(address)

event DvPSettled:
    instructionId: indexed(uint256)
    seller: indexed(address)
    buyer: indexed(address)
    token: address
    units: uint256
    cashAmount: uint256

event DvPCancelled:
    instructionId: indexed(uint256)
    by: indexed(address)

event DvPExpired:
    instructionId: indexed(uint256)

event DvPEnforcementCancelled:
    instructionId: indexed(uint256)
    seller: indexed(address)
    evidence: bytes32

event MaxDeadlineSet:
    maxDeadlineSeconds: uint256

assetRegistry: public(immutable(address))
cashToken: public(immutable(address))
instructionCount: public(uint256)
# instruction id -> keccak256(abi_encode(terms)) with its low byte replaced by the state
_records: HashMap[uint256, uint256]
maxDeadlineSeconds: public(uint256)


@deploy
def __init__(assetRegistry_: address, cashToken_: address):
    """
    @param assetRegistry_ The AssetRegistry (it lists tokens and this contract as an agent).
    @param cashToken_ The cash token of the payment leg.
    """
    assetRegistry = assetRegistry_
    cashToken = cashToken_
    self.maxDeadlineSeconds = DEFAULT_MAX_DEADLINE
    log MaxDeadlineSet(maxDeadlineSeconds=DEFAULT_MAX_DEADLINE)


@internal
@view
def _governance() -> address:
    return staticcall AssetRegistry(assetRegistry).governance()


@internal
@pure
def _hash_bits(terms: Terms) -> uint256:
    # The terms' hash without its low byte (where the record keeps the state).
    return convert(keccak256(abi_encode(terms)), uint256) & ~STATE_MASK


@internal
@view
def _record(instructionId: uint256, terms: Terms) -> uint256:
    # The instruction's stored word, once the terms are proven to be its own.
    record: uint256 = self._records[instructionId]
    assert record != 0, "unknown instruction"
    assert record & ~STATE_MASK == self._hash_bits(terms), "terms do not match the instruction"
    return record


@internal
@view
def _open(instructionId: uint256, terms: Terms) -> uint256:
    record: uint256 = self._record(instructionId, terms)
    assert record & STATE_MASK <= STATE_AFFIRMED, "instruction is no longer open"
    return record


@internal
def _release(instructionId: uint256, record: uint256, terms: Terms, state: uint256):
    self._records[instructionId] = record & ~STATE_MASK | state
    extcall AssetToken(terms.token).settlementUnlock(terms.seller, terms.units)
    if record & STATE_MASK == STATE_AFFIRMED:
        extcall CashToken(cashToken).unlock(terms.buyer, terms.cashAmount)


@external
def instruct(
    token: address, buyer: address, units: uint256, cashAmount: uint256, deadline: uint256
) -> uint256:
    """
    @notice The seller instructs a DvP: its units are locked at once. The
            transfer must pass the token's rules now; it is checked again at
            settlement. Only the terms' hash is stored: `DvPInstructed`
            carries the terms, which every later step is passed.
    @param token The asset token delivered (an Amanat token).
    @param buyer The buyer's wallet.
    @param units Units delivered.
    @param cashAmount Cash paid, in minor units.
    @param deadline Unix time after which the instruction can only expire; at most
           `maxDeadlineSeconds` ahead.
    @return The instruction id.
    """
    assert units > 0, "units must be positive"
    assert cashAmount > 0, "cash amount must be positive"
    assert buyer != msg.sender, "buyer and seller are the same wallet"
    assert deadline > block.timestamp, "deadline has passed"
    assert deadline <= block.timestamp + self.maxDeadlineSeconds, "deadline beyond the maximum settlement period"
    assetId: uint256 = staticcall AssetToken(token).assetId()
    assert staticcall AssetRegistry(assetRegistry).tokenOf(assetId) == token, "not an Amanat asset token"
    sellerRecord: uint256 = 0
    buyerRecord: uint256 = 0
    sellerRecord, buyerRecord = staticcall IdentityRegistry(
        staticcall AssetToken(token).identityRegistry()
    ).walletRecords(msg.sender, buyer)
    # The identity number: bits 88..126 of the record (bit 127 is the registry's sole-wallet flag).
    sellerIdentity: uint256 = (sellerRecord >> 88) & IDENTITY_MASK
    assert sellerIdentity == 0 or sellerIdentity != (buyerRecord >> 88) & IDENTITY_MASK, "buyer is a wallet of the seller's own identity"
    code: uint8 = staticcall AssetToken(token).detectTransferRestriction(msg.sender, buyer, units)
    if code != 0:
        raw_revert(
            abi_encode(
                staticcall AssetToken(token).messageForTransferRestriction(code),
                method_id=method_id("Error(string)"),
            )
        )
    assert staticcall CashToken(cashToken).mayHold(msg.sender), "seller may not receive cash"
    instructionId: uint256 = self.instructionCount + 1
    self.instructionCount = instructionId
    terms: Terms = Terms(
        seller=msg.sender, buyer=buyer, token=token, units=units, cashAmount=cashAmount, deadline=deadline
    )
    self._records[instructionId] = self._hash_bits(terms) | STATE_INSTRUCTED
    extcall AssetToken(token).settlementLock(msg.sender, units)
    log DvPInstructed(
        instructionId=instructionId,
        seller=msg.sender,
        buyer=buyer,
        token=token,
        units=units,
        cashAmount=cashAmount,
        deadline=deadline,
    )
    return instructionId


@external
def affirm(instructionId: uint256, terms: Terms):
    """
    @notice The buyer affirms the instruction: its cash is locked.
    @param instructionId The instruction.
    @param terms The instruction's terms, as `DvPInstructed` carries them.
    """
    record: uint256 = self._open(instructionId, terms)
    assert msg.sender == terms.buyer, "caller is not the buyer"
    assert record & STATE_MASK == STATE_INSTRUCTED, "instruction already affirmed"
    assert block.timestamp <= terms.deadline, "instruction has expired"
    self._records[instructionId] = record & ~STATE_MASK | STATE_AFFIRMED
    extcall CashToken(cashToken).lock(msg.sender, terms.cashAmount)
    log DvPAffirmed(instructionId=instructionId, buyer=msg.sender)


@external
def settle(instructionId: uint256, terms: Terms):
    """
    @notice Settle an affirmed instruction: units to the buyer and cash to
            the seller atomically, every rule checked. Either party may call.
    @param instructionId The instruction.
    @param terms The instruction's terms, as `DvPInstructed` carries them.
    """
    record: uint256 = self._open(instructionId, terms)
    assert msg.sender == terms.buyer or msg.sender == terms.seller, "caller is not a party"
    assert record & STATE_MASK == STATE_AFFIRMED, "buyer has not affirmed"
    assert block.timestamp <= terms.deadline, "instruction has expired"
    self._records[instructionId] = record & ~STATE_MASK | STATE_SETTLED
    extcall AssetToken(terms.token).settlementTransfer(terms.seller, terms.buyer, terms.units)
    extcall CashToken(cashToken).settleLocked(terms.buyer, terms.seller, terms.cashAmount)
    log DvPSettled(
        instructionId=instructionId,
        seller=terms.seller,
        buyer=terms.buyer,
        token=terms.token,
        units=terms.units,
        cashAmount=terms.cashAmount,
    )


@external
def cancel(instructionId: uint256, terms: Terms):
    """
    @notice Cancel an open instruction and release both locked legs. Either
            party may cancel before settlement; once the token has matured
            (it can no longer settle) anyone may, so that redemption is not
            blocked by locked units.
    @param instructionId The instruction.
    @param terms The instruction's terms, as `DvPInstructed` carries them.
    """
    record: uint256 = self._open(instructionId, terms)
    assert msg.sender == terms.buyer or msg.sender == terms.seller or staticcall AssetToken(terms.token).matured(), "caller is not a party"
    self._release(instructionId, record, terms, STATE_CANCELLED)
    log DvPCancelled(instructionId=instructionId, by=msg.sender)


@external
def expire(instructionId: uint256, terms: Terms):
    """
    @notice Expire an instruction past its deadline and release both locked
            legs. Anyone may call.
    @param instructionId The instruction.
    @param terms The instruction's terms, as `DvPInstructed` carries them.
    """
    record: uint256 = self._open(instructionId, terms)
    assert block.timestamp > terms.deadline, "deadline has not passed"
    self._release(instructionId, record, terms, STATE_EXPIRED)
    log DvPExpired(instructionId=instructionId)


@internal
def _enforcement_evidence() -> bytes32:
    governance: address = self._governance()
    assert msg.sender == governance, "caller is not governance"
    evidence: bytes32 = staticcall Governance(governance).executingEvidence()
    assert evidence != empty(bytes32), "enforcement action requires an evidence hash"
    return evidence


@internal
def _enforce_cancel(instructionId: uint256, record: uint256, terms: Terms, evidence: bytes32):
    self._release(instructionId, record, terms, STATE_CANCELLED)
    log DvPCancelled(instructionId=instructionId, by=msg.sender)
    log DvPEnforcementCancelled(instructionId=instructionId, seller=terms.seller, evidence=evidence)


@external
def enforceCancel(instructionId: uint256, terms: Terms):
    """
    @notice Cancel any open instruction and release both locked legs, so that
            enforcement (forced transfer, burn, freeze, recovery) reaches the
            seller's units. Governance only, with the evidence hash of the
            executing proposal.
    @param instructionId The instruction.
    @param terms The instruction's terms, as `DvPInstructed` carries them.
    """
    evidence: bytes32 = self._enforcement_evidence()
    self._enforce_cancel(instructionId, self._open(instructionId, terms), terms, evidence)


@external
def enforceCancelMany(
    instructionIds: DynArray[uint256, MAX_ENFORCE_BATCH], terms: DynArray[Terms, MAX_ENFORCE_BATCH]
):
    """
    @notice Cancel many open instructions in one enforcement proposal (a holder
            cannot delay enforcement by splitting its units over many small
            instructions). Instructions already closed (settled, cancelled or
            expired meanwhile) are skipped, so a party cannot make the batch
            revert (an instruction's terms never change). Governance only, with
            the evidence hash of the executing proposal.
    @param instructionIds The instructions (at most 250).
    @param terms Each instruction's terms, in the same order.
    """
    evidence: bytes32 = self._enforcement_evidence()
    assert len(terms) == len(instructionIds), "instructions and terms differ in length"
    for i: uint256 in range(len(instructionIds), bound=MAX_ENFORCE_BATCH):
        record: uint256 = self._record(instructionIds[i], terms[i])
        if record & STATE_MASK <= STATE_AFFIRMED:
            self._enforce_cancel(instructionIds[i], record, terms[i], evidence)


@external
def setMaxDeadline(maxDeadlineSeconds: uint256):
    """
    @notice Set how far ahead an instruction's deadline may lie. Governance only.
    @param maxDeadlineSeconds The maximum in seconds (1 second to 365 days).
    """
    assert msg.sender == self._governance(), "caller is not governance"
    assert maxDeadlineSeconds > 0 and maxDeadlineSeconds <= 365 * 86400, "maximum settlement period must be 1 second to 365 days"
    self.maxDeadlineSeconds = maxDeadlineSeconds
    log MaxDeadlineSet(maxDeadlineSeconds=maxDeadlineSeconds)


@external
@view
def getInstruction(instructionId: uint256) -> InstructionRecord:
    """
    @notice A DvP instruction's stored record (its terms are in `DvPInstructed`).
    @param instructionId The instruction.
    @return keccak256(abi_encode(terms)) with its low byte zeroed, and the state
            (0 unknown, 1 instructed, 2 affirmed, 3 settled, 4 cancelled, 5 expired).
    """
    record: uint256 = self._records[instructionId]
    return InstructionRecord(
        termsHash=convert(record & ~STATE_MASK, bytes32), state=convert(record & STATE_MASK, uint8)
    )
