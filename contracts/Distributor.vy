#pragma version ~=0.4.3
"""
@title Amanat Distributor
@license Apache-2.0
@notice Pays coupons, rent, dividends and redemptions in cash tokens to the
        holders of record. Governance declares a distribution with the
        Merkle root of its payout list (holders of record at a block, from
        the indexer snapshot) and the total, which is drawn from the
        treasury at once. Anyone may then push payments in batches, and a
        holder may claim its own; each payout is proven against the root
        and paid at most once. A payout to a wallet that is frozen on the
        asset token, or that may not receive cash, is held here until
        governance releases it; so is a redemption payout for a holder with
        units frozen by governance. A redemption also cancels the holder's units
        (the token must have matured) in the same step as paying them; it is
        declared with `declareRedemption`, which, like closing a distribution
        (unpaid payouts are forfeited to the treasury), needs an evidence hash.
        A held payout is released to its holder by governance; paying it to
        anyone else (a recovery wallet, a court-ordered beneficiary) is
        `redirectHeld` and needs an evidence hash. In a pushed batch a row
        that cannot be made now (already claimed, or units that can no longer
        be redeemed) is skipped and logged; the rest of the batch is paid.
@dev Leaf = keccak256(abi_encode(token, recordBlock, index, holder, units,
     amount)): bound to the snapshot it was computed from, and independent
     of the distribution id, which is only known when the declaration
     executes. The tree is a perfect binary tree of 2**depth leaves padded
     with zero leaves, hashed by position: at level k the node is
     keccak256(left ++ right) and bit k of the index says which side the
     running hash is on. Proofs are passed flat, `depth` hashes per payout.
"""

interface AssetToken:
    def isFrozen(wallet: address) -> bool: view
    def getFrozenTokens(wallet: address) -> uint256: view
    def matured() -> bool: view
    def maturedBlock() -> uint256: view
    def redeem(wallet: address, amount: uint256): nonpayable

interface Governance:
    def executingEvidence() -> bytes32: view

interface CashToken:
    def transferFrom(sender: address, receiver: address, amount: uint256) -> bool: nonpayable
    def transfer(receiver: address, amount: uint256) -> bool: nonpayable

KIND_COUPON: constant(uint8) = 1
KIND_RENT: constant(uint8) = 2
KIND_DIVIDEND: constant(uint8) = 3
KIND_REDEMPTION: constant(uint8) = 4
MAX_DEPTH: constant(uint256) = 16
MAX_BATCH: constant(uint256) = 100
MAX_PROOF: constant(uint256) = MAX_BATCH * MAX_DEPTH

struct Distribution:
    token: address
    kind: uint8
    recordBlock: uint256
    total: uint256
    root: bytes32
    holderCount: uint256
    depth: uint256
    paidCount: uint256
    paidTotal: uint256
    heldTotal: uint256
    closed: bool

event DistributionDeclared:
    distributionId: indexed(uint256)
    token: indexed(address)
    kind: uint8
    recordBlock: uint256
    total: uint256
    root: bytes32
    holderCount: uint256

event PayoutPaid:
    distributionId: indexed(uint256)
    holder: indexed(address)
    amount: uint256
    units: uint256

event PayoutHeld:
    distributionId: indexed(uint256)
    holder: indexed(address)
    amount: uint256
    units: uint256

event HeldPayoutReleased:
    distributionId: indexed(uint256)
    holder: indexed(address)
    receiver: indexed(address)
    amount: uint256

event HeldPayoutRedirected:
    distributionId: indexed(uint256)
    holder: indexed(address)
    receiver: indexed(address)
    amount: uint256
    evidence: bytes32

event PayoutSkipped:
    distributionId: indexed(uint256)
    index: indexed(uint256)
    holder: indexed(address)
    reason: String[64]

event DistributionClosed:
    distributionId: indexed(uint256)
    returned: uint256

event DistributionCompleted:
    distributionId: indexed(uint256)
    paidTotal: uint256
    heldTotal: uint256

struct Declared:
    token: address
    kind: uint8
    recordBlock: uint256
    holderCount: uint256
    depth: uint256
    root: bytes32

# A distribution is four storage words (a claim reads three and writes one besides its bit):
# _declarations: token (bits 0-159), kind (160-167), depth (168-175), closed flag (176-183),
#     holder count (184-207), record block (208-255: it is below block.number, far below 2**48);
#     never zero once declared (kind >= 1);
# _roots: the payout list's Merkle root;
# _progress: payouts made (bits 0-31), cash paid (32-143) and cash not yet paid or held
#     (144-255), so a payout is checked against what remains of the total without reading it;
# _totals: the declared total (read by views, completion and closing only).
# Held cash is derived: total - paid - remaining.
AMOUNT_BITS: constant(uint256) = 112
MAX_TOTAL: constant(uint256) = (1 << AMOUNT_BITS) - 1
CLOSED_FLAG: constant(uint256) = 1 << 176
MASK_8: constant(uint256) = 255
MASK_24: constant(uint256) = (1 << 24) - 1
MASK_32: constant(uint256) = (1 << 32) - 1
MASK_160: constant(uint256) = (1 << 160) - 1

cashToken: public(immutable(address))
governance: public(immutable(address))
distributionCount: public(uint256)
_declarations: HashMap[uint256, uint256]
_roots: HashMap[uint256, bytes32]
_progress: HashMap[uint256, uint256]
_totals: HashMap[uint256, uint256]
held: public(HashMap[uint256, HashMap[address, uint256]])
_paidBits: HashMap[uint256, HashMap[uint256, uint256]]


@deploy
def __init__(cashToken_: address, governance_: address):
    """
    @param cashToken_ The cash token payouts are made in.
    @param governance_ The governance contract: declares distributions and is the treasury they are drawn from.
    """
    cashToken = cashToken_
    governance = governance_


@internal
def _declare(
    token: address,
    kind: uint8,
    recordBlock: uint256,
    total: uint256,
    root: bytes32,
    holderCount: uint256,
    depth: uint256,
) -> uint256:
    assert msg.sender == governance, "caller is not governance"
    assert recordBlock < block.number, "record block is not in the past"
    assert holderCount > 0, "no holders of record"
    assert depth <= MAX_DEPTH and holderCount <= 1 << depth, "tree depth does not fit the holders"
    assert root != empty(bytes32), "payout root is empty"
    assert total <= MAX_TOTAL, "total exceeds 2**112 - 1 minor units"
    distributionId: uint256 = self.distributionCount + 1
    self.distributionCount = distributionId
    self._declarations[distributionId] = (
        convert(token, uint256)
        | convert(kind, uint256) << 160
        | depth << 168
        | holderCount << 184
        | recordBlock << 208
    )
    self._roots[distributionId] = root
    self._progress[distributionId] = total << 144
    self._totals[distributionId] = total
    if total > 0:
        assert extcall CashToken(cashToken).transferFrom(governance, self, total), "treasury draw failed"
    log DistributionDeclared(
        distributionId=distributionId,
        token=token,
        kind=kind,
        recordBlock=recordBlock,
        total=total,
        root=root,
        holderCount=holderCount,
    )
    return distributionId


@external
def declare(
    token: address,
    kind: uint8,
    recordBlock: uint256,
    total: uint256,
    root: bytes32,
    holderCount: uint256,
    depth: uint256,
) -> uint256:
    """
    @notice Declare a coupon, rent or dividend to the holders of record and
            draw its total from the treasury. Governance only. A redemption
            (which cancels units) is declared with `declareRedemption`.
    @param token The asset token whose holders are paid.
    @param kind 1 coupon, 2 rent, 3 dividend.
    @param recordBlock The block of the holders-of-record snapshot.
    @param total Cash minor units to pay; the payout list sums to exactly this.
    @param root Merkle root of the payout list.
    @param holderCount Number of payouts in the list.
    @param depth Depth of the padded tree (2**depth >= holderCount).
    @return The distribution id.
    """
    assert kind != KIND_REDEMPTION, "a redemption is declared with declareRedemption"
    assert kind >= KIND_COUPON and kind <= KIND_DIVIDEND, "unknown distribution kind"
    return self._declare(token, kind, recordBlock, total, root, holderCount, depth)


@external
def declareRedemption(
    token: address,
    recordBlock: uint256,
    total: uint256,
    root: bytes32,
    holderCount: uint256,
    depth: uint256,
) -> uint256:
    """
    @notice Declare the redemption of a matured token: each payout cancels the
            holder's units of record against its cash, without the holder's
            signature. Governance only, with the evidence hash of the
            executing proposal (the redemption notice).
    @param token The matured asset token.
    @param recordBlock The holders-of-record block, at or after the block in
           which the token matured.
    @param total Cash minor units to pay; the payout list sums to exactly this.
    @param root Merkle root of the payout list.
    @param holderCount Number of payouts in the list.
    @param depth Depth of the padded tree (2**depth >= holderCount).
    @return The distribution id.
    """
    assert msg.sender == governance, "caller is not governance"
    assert staticcall Governance(governance).executingEvidence() != empty(bytes32), "declaring a redemption requires an evidence hash"
    assert staticcall AssetToken(token).matured(), "token has not matured"
    assert recordBlock >= staticcall AssetToken(token).maturedBlock(), "record block is before maturity"
    return self._declare(token, KIND_REDEMPTION, recordBlock, total, root, holderCount, depth)


@internal
def _settle_payout(
    distributionId: uint256,
    d: Declared,
    index: uint256,
    holder: address,
    units: uint256,
    amount: uint256,
    node: bytes32,
    skipUnpayable: bool,
) -> (bool, uint256, uint256):
    # Pays (or holds) one payout whose proof gave `node`; returns whether it was made and the
    # amounts paid and held. With skipUnpayable a payout already made, or a redemption whose
    # units can no longer be cancelled, is logged as skipped instead of reverting.
    assert index < d.holderCount, "payout index out of range"
    assert node == d.root, "payout is not in the declared list"
    word: uint256 = self._paidBits[distributionId][index >> 8]
    bit: uint256 = 1 << (index & 255)
    if word & bit != 0 and skipUnpayable:
        log PayoutSkipped(distributionId=distributionId, index=index, holder=holder, reason="payout already made")
        return False, 0, 0
    assert word & bit == 0, "payout already made"
    self._paidBits[distributionId][index >> 8] = word | bit
    # Units frozen by governance (e.g. a court order) are cancelled by a redemption; their
    # cash is held like a frozen wallet's rather than paid out free of the order.
    frozenUnits: uint256 = 0
    if d.kind == KIND_REDEMPTION:
        frozenUnits = staticcall AssetToken(d.token).getFrozenTokens(holder)
        if skipUnpayable:
            redeemed: bool = raw_call(
                d.token,
                abi_encode(holder, units, method_id=method_id("redeem(address,uint256)")),
                revert_on_failure=False,
            )
            if not redeemed:
                self._paidBits[distributionId][index >> 8] = word
                log PayoutSkipped(distributionId=distributionId, index=index, holder=holder, reason="units can no longer be redeemed")
                return False, 0, 0
        else:
            extcall AssetToken(d.token).redeem(holder, units)
    if amount == 0:
        return True, 0, 0
    if frozenUnits == 0 and not staticcall AssetToken(d.token).isFrozen(holder):
        success: bool = raw_call(
            cashToken,
            abi_encode(holder, amount, method_id=method_id("transfer(address,uint256)")),
            revert_on_failure=False,
        )
        if success:
            log PayoutPaid(distributionId=distributionId, holder=holder, amount=amount, units=units)
            return True, amount, 0
    self.held[distributionId][holder] += amount
    log PayoutHeld(distributionId=distributionId, holder=holder, amount=amount, units=units)
    return True, 0, amount


@internal
def _record(distributionId: uint256, holderCount: uint256, count: uint256, paid: uint256, heldAmount: uint256):
    # One read and one write of the progress word; the total is read only at completion.
    progress: uint256 = self._progress[distributionId]
    remaining: uint256 = progress >> 144
    assert paid + heldAmount <= remaining, "payouts exceed the declared total"
    remaining -= paid + heldAmount
    paidCount: uint256 = (progress & MASK_32) + count
    paidTotal: uint256 = ((progress >> 32) & MAX_TOTAL) + paid
    self._progress[distributionId] = paidCount | paidTotal << 32 | remaining << 144
    if paidCount == holderCount:
        assert remaining == 0, "payouts do not sum to the declared total"
        log DistributionCompleted(
            distributionId=distributionId,
            paidTotal=paidTotal,
            heldTotal=self._totals[distributionId] - paidTotal,
        )


@internal
@view
def _declared(distributionId: uint256) -> Declared:
    declaration: uint256 = self._declarations[distributionId]
    assert declaration != 0, "unknown distribution"
    assert declaration & CLOSED_FLAG == 0, "distribution is closed"
    return Declared(
        token=convert(declaration & MASK_160, address),
        kind=convert((declaration >> 160) & MASK_8, uint8),
        recordBlock=declaration >> 208,
        holderCount=(declaration >> 184) & MASK_24,
        depth=(declaration >> 168) & MASK_8,
        root=self._roots[distributionId],
    )


@external
def pay(
    distributionId: uint256,
    indices: DynArray[uint256, MAX_BATCH],
    holders: DynArray[address, MAX_BATCH],
    units: DynArray[uint256, MAX_BATCH],
    amounts: DynArray[uint256, MAX_BATCH],
    proofs: DynArray[bytes32, MAX_PROOF],
):
    """
    @notice Push a batch of payouts, each proven against the declared root.
            Anyone may call (the paying agent); a payout is made only once. A
            row already made (e.g. claimed first) or a redemption row whose
            units can no longer be redeemed is skipped with PayoutSkipped.
    @param distributionId The distribution.
    @param indices Each payout's position in the list.
    @param holders Each payout's holder.
    @param units Each holder's units of record.
    @param amounts Each payout in cash minor units.
    @param proofs The payouts' proofs, `depth` hashes each, in order.
    """
    d: Declared = self._declared(distributionId)
    count: uint256 = len(indices)
    assert len(holders) == count and len(units) == count and len(amounts) == count, "payout lists differ in length"
    assert len(proofs) == count * d.depth, "proofs do not match the tree depth"
    paid: uint256 = 0
    heldAmount: uint256 = 0
    made: uint256 = 0
    for i: uint256 in range(count, bound=MAX_BATCH):
        index: uint256 = indices[i]
        node: bytes32 = keccak256(abi_encode(d.token, d.recordBlock, index, holders[i], units[i], amounts[i]))
        for level: uint256 in range(d.depth, bound=MAX_DEPTH):
            if (index >> level) & 1 == 0:
                node = keccak256(abi_encode(node, proofs[i * d.depth + level]))
            else:
                node = keccak256(abi_encode(proofs[i * d.depth + level], node))
        ok: bool = False
        p: uint256 = 0
        k: uint256 = 0
        ok, p, k = self._settle_payout(distributionId, d, index, holders[i], units[i], amounts[i], node, True)
        if ok:
            made += 1
        paid += p
        heldAmount += k
    self._record(distributionId, d.holderCount, made, paid, heldAmount)


@external
def claim(
    distributionId: uint256, index: uint256, units: uint256, amount: uint256, proof: DynArray[bytes32, MAX_DEPTH]
):
    """
    @notice A holder claims its own payout with its Merkle proof.
    @param distributionId The distribution.
    @param index The payout's position in the list.
    @param units The caller's units of record.
    @param amount The payout in cash minor units.
    @param proof The payout's proof (`depth` hashes).
    """
    d: Declared = self._declared(distributionId)
    assert len(proof) == d.depth, "proof does not match the tree depth"
    node: bytes32 = keccak256(abi_encode(d.token, d.recordBlock, index, msg.sender, units, amount))
    position: uint256 = index
    for sibling: bytes32 in proof:
        if position & 1 == 0:
            node = keccak256(abi_encode(node, sibling))
        else:
            node = keccak256(abi_encode(sibling, node))
        position >>= 1
    ok: bool = False
    p: uint256 = 0
    k: uint256 = 0
    ok, p, k = self._settle_payout(distributionId, d, index, msg.sender, units, amount, node, False)
    self._record(distributionId, d.holderCount, 1, p, k)


@internal
def _release(distributionId: uint256, holder: address, receiver: address) -> uint256:
    # Held cash becomes paid cash: the paid total rises, the remaining total is unchanged.
    assert msg.sender == governance, "caller is not governance"
    amount: uint256 = self.held[distributionId][holder]
    assert amount > 0, "nothing held for this holder"
    self.held[distributionId][holder] = 0
    self._progress[distributionId] += amount << 32
    assert extcall CashToken(cashToken).transfer(receiver, amount), "cash transfer failed"
    log HeldPayoutReleased(distributionId=distributionId, holder=holder, receiver=receiver, amount=amount)
    return amount


@external
def releaseHeld(distributionId: uint256, holder: address):
    """
    @notice Pay a held payout to its holder once its cause is resolved (wallet
            unfrozen, KYC renewed). Governance only.
    @param distributionId The distribution.
    @param holder The holder whose payout was held; it is paid.
    """
    self._release(distributionId, holder, holder)


@external
def redirectHeld(distributionId: uint256, holder: address, receiver: address):
    """
    @notice Pay a held payout to someone other than its holder (its recovery
            wallet, a court-ordered beneficiary). Governance only, with the
            evidence hash of the executing proposal.
    @param distributionId The distribution.
    @param holder The holder whose payout was held.
    @param receiver The wallet paid instead of the holder.
    """
    evidence: bytes32 = staticcall Governance(governance).executingEvidence()
    assert evidence != empty(bytes32), "paying a held payout to another wallet requires an evidence hash"
    assert receiver != holder, "receiver is the holder: use releaseHeld"
    amount: uint256 = self._release(distributionId, holder, receiver)
    log HeldPayoutRedirected(distributionId=distributionId, holder=holder, receiver=receiver, amount=amount, evidence=evidence)


@external
def closeDistribution(distributionId: uint256):
    """
    @notice Close a distribution that cannot complete (a payout list that
            does not sum to its total, a payout that can never be made) and
            return to the treasury what was neither paid nor held; held
            payouts stay releasable: payouts not yet made are forfeited, so
            governance only, with the evidence hash of the executing proposal.
    @param distributionId The distribution.
    """
    assert msg.sender == governance, "caller is not governance"
    assert staticcall Governance(governance).executingEvidence() != empty(bytes32), "closing a distribution requires an evidence hash"
    d: Declared = self._declared(distributionId)
    progress: uint256 = self._progress[distributionId]
    assert progress & MASK_32 < d.holderCount, "distribution is complete"
    # The remaining figure is kept (held cash stays derivable); the closed flag stops payouts.
    self._declarations[distributionId] |= CLOSED_FLAG
    returned: uint256 = progress >> 144
    if returned > 0:
        assert extcall CashToken(cashToken).transfer(governance, returned), "cash transfer failed"
    log DistributionClosed(distributionId=distributionId, returned=returned)


@external
@view
def getDistribution(distributionId: uint256) -> Distribution:
    """
    @notice A distribution and its progress.
    @param distributionId The distribution.
    @return The distribution (all zero if unknown); heldTotal is what is held and not yet
            released.
    """
    declaration: uint256 = self._declarations[distributionId]
    progress: uint256 = self._progress[distributionId]
    total: uint256 = self._totals[distributionId]
    paidTotal: uint256 = (progress >> 32) & MAX_TOTAL
    return Distribution(
        token=convert(declaration & MASK_160, address),
        kind=convert((declaration >> 160) & MASK_8, uint8),
        recordBlock=declaration >> 208,
        total=total,
        root=self._roots[distributionId],
        holderCount=(declaration >> 184) & MASK_24,
        depth=(declaration >> 168) & MASK_8,
        paidCount=progress & MASK_32,
        paidTotal=paidTotal,
        heldTotal=total - paidTotal - (progress >> 144),
        closed=declaration & CLOSED_FLAG != 0,
    )


@external
@view
def isPaid(distributionId: uint256, index: uint256) -> bool:
    """
    @notice Whether a payout has been made (paid or held).
    @param distributionId The distribution.
    @param index The payout's position in the list.
    @return True once made.
    """
    return (self._paidBits[distributionId][index >> 8] >> (index & 255)) & 1 == 1
