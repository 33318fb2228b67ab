#pragma version ~=0.4.3
"""
@title Amanat Transparency Anchor
@license Apache-2.0
@notice Anchors the signed tree heads of Amanat's public transparency log
        (an RFC 6962 Merkle tree of every chain event and administrative action)
        on chain, so that a head once anchored cannot be silently replaced: the
        log can only grow, and anyone can compare a head they were shown with
        the one anchored at its size.
@dev Only publishers appointed by governance anchor, and tree sizes strictly
     increase. What a publisher alone may anchor is rate-limited: the log may
     grow by at most `maxTreeGrowth` entries per day (an allowance that refills
     continuously up to one day's worth), so one leaked publisher key can
     neither anchor a size that ends anchoring nor keep pre-anchoring future
     sizes. Governance voids every anchor above a good head in one
     evidence-backed proposal (`voidAnchorsAbove`), however many were anchored
     on top of a bogus one; anchoring resumes from the good head. Anchors are
     numbered in order; an anchor is live while its number is within
     `anchorCount` and still names its size, so voiding is O(1).
     `headHash` is SHA-256 of the head's signed encoding (size, root,
     timestamp), so the anchor also pins the platform's signature input.
"""

event TreeHeadAnchored:
    treeSize: indexed(uint256)
    rootHash: bytes32
    headHash: bytes32
    publisher: address

event AnchorsVoided:
    keptSize: indexed(uint256)
    voidedUpTo: uint256
    count: uint256
    evidence: bytes32

event MaxTreeGrowthSet:
    maxTreeGrowth: uint256

event PublisherSet:
    publisher: indexed(address)
    enabled: bool

struct Anchor:
    rootHash: bytes32
    headHash: bytes32
    blockNumber: uint256
    number: uint256

interface Governance:
    def executingEvidence() -> bytes32: view

DEFAULT_MAX_TREE_GROWTH: constant(uint256) = 1_000_000
MAX_TREE_GROWTH_LIMIT: constant(uint256) = 10**30
GROWTH_PERIOD: constant(uint256) = 86400

governance: public(immutable(address))
maxTreeGrowth: public(uint256)
isPublisher: public(HashMap[address, bool])
latestTreeSize: public(uint256)
anchorCount: public(uint256)
voidingCount: public(uint256)
anchors: HashMap[uint256, Anchor]
sizeOfAnchor: HashMap[uint256, uint256]
growthAllowance: uint256
allowanceUpdatedAt: uint256


@deploy
def __init__(governance_: address, publishers: DynArray[address, 8]):
    """
    @param governance_ The M-of-N governance contract that appoints publishers.
    @param publishers The first publishers; later changes go through governance.
    """
    assert governance_ != empty(address), "governance is the zero address"
    governance = governance_
    self.maxTreeGrowth = DEFAULT_MAX_TREE_GROWTH
    self.growthAllowance = DEFAULT_MAX_TREE_GROWTH
    self.allowanceUpdatedAt = block.timestamp
    log MaxTreeGrowthSet(maxTreeGrowth=DEFAULT_MAX_TREE_GROWTH)
    for publisher: address in publishers:
        assert publisher != empty(address), "publisher is the zero address"
        self.isPublisher[publisher] = True
        log PublisherSet(publisher=publisher, enabled=True)


@external
def setPublisher(publisher: address, enabled: bool):
    """
    @notice Appoint or remove a tree-head publisher. Governance only.
    @param publisher The publisher's address.
    @param enabled True to appoint, false to remove.
    """
    assert msg.sender == governance, "caller is not governance"
    assert publisher != empty(address), "publisher is the zero address"
    self.isPublisher[publisher] = enabled
    log PublisherSet(publisher=publisher, enabled=enabled)


@internal
@view
def _allowance() -> uint256:
    # The growth a publisher may still anchor: refilled at maxTreeGrowth per day, up to a day's.
    elapsed: uint256 = min(block.timestamp - self.allowanceUpdatedAt, GROWTH_PERIOD)
    return min(self.growthAllowance + elapsed * self.maxTreeGrowth // GROWTH_PERIOD, self.maxTreeGrowth)


@internal
@view
def _live(treeSize: uint256) -> Anchor:
    # The anchor of a size if it is live (not voided), else zeros.
    entry: Anchor = self.anchors[treeSize]
    if entry.number == 0 or entry.number > self.anchorCount or self.sizeOfAnchor[entry.number] != treeSize:
        return empty(Anchor)
    return entry


@external
def anchor(treeSize: uint256, rootHash: bytes32, headHash: bytes32):
    """
    @notice Anchor a signed tree head. Publishers only; sizes strictly increase,
            by no more than the publisher's growth allowance (`maxTreeGrowth`
            per day, see `maxAnchorableSize`).
    @param treeSize The number of log entries the head covers.
    @param rootHash The RFC 6962 root of those entries.
    @param headHash SHA-256 of the head's signed encoding.
    """
    assert self.isPublisher[msg.sender], "caller is not a publisher"
    previous: uint256 = self.latestTreeSize
    assert treeSize > previous, "tree size does not increase"
    allowance: uint256 = self._allowance()
    assert treeSize - previous <= allowance, "tree size grows faster than the publisher may anchor"
    assert rootHash != empty(bytes32), "root hash is zero"
    assert headHash != empty(bytes32), "head hash is zero"
    self.growthAllowance = allowance - (treeSize - previous)
    self.allowanceUpdatedAt = block.timestamp
    number: uint256 = self.anchorCount + 1
    self.anchors[treeSize] = Anchor(
        rootHash=rootHash, headHash=headHash, blockNumber=block.number, number=number
    )
    self.sizeOfAnchor[number] = treeSize
    self.latestTreeSize = treeSize
    self.anchorCount = number
    log TreeHeadAnchored(
        treeSize=treeSize, rootHash=rootHash, headHash=headHash, publisher=msg.sender
    )


@external
def voidAnchorsAbove(keepSize: uint256):
    """
    @notice Void every anchor above a good head (bogus heads anchored with a
            leaked key, and whatever was anchored on top of them) in one step:
            anchoring resumes after `keepSize`. Governance only, with the
            evidence hash of the executing proposal.
    @param keepSize The tree size of the last good anchor, kept (0 voids all).
    """
    assert msg.sender == governance, "caller is not governance"
    evidence: bytes32 = staticcall Governance(governance).executingEvidence()
    assert evidence != empty(bytes32), "voiding anchors requires an evidence hash"
    kept: uint256 = 0
    if keepSize != 0:
        kept = self._live(keepSize).number
        assert kept != 0, "keep size is not an anchored tree head"
    count: uint256 = self.anchorCount
    assert count > kept, "nothing anchored above that size"
    voidedUpTo: uint256 = self.latestTreeSize
    self.anchorCount = kept
    self.latestTreeSize = keepSize
    self.voidingCount += 1
    log AnchorsVoided(keptSize=keepSize, voidedUpTo=voidedUpTo, count=count - kept, evidence=evidence)


@external
def setMaxTreeGrowth(maxTreeGrowth: uint256):
    """
    @notice Set how many entries publishers may add to the log per day (and at
            most in one anchor). Governance only; the allowance restarts full.
    @param maxTreeGrowth The maximum growth per day (1 to 10**30).
    """
    assert msg.sender == governance, "caller is not governance"
    assert maxTreeGrowth > 0 and maxTreeGrowth <= MAX_TREE_GROWTH_LIMIT, "maximum growth must be 1 to 10**30"
    self.maxTreeGrowth = maxTreeGrowth
    self.growthAllowance = maxTreeGrowth
    self.allowanceUpdatedAt = block.timestamp
    log MaxTreeGrowthSet(maxTreeGrowth=maxTreeGrowth)


@external
@view
def anchorAt(treeSize: uint256) -> (bytes32, bytes32, uint256):
    """
    @notice The anchor of a tree size (zeros if that size was never anchored or
            its anchor was voided).
    @param treeSize The tree size.
    @return The root hash, the head hash and the block it was anchored in.
    """
    entry: Anchor = self._live(treeSize)
    return entry.rootHash, entry.headHash, entry.blockNumber


@external
@view
def maxAnchorableSize() -> uint256:
    """
    @notice The largest tree size a publisher may anchor now (the latest size
            plus the growth allowance left).
    @return The tree size.
    """
    return self.latestTreeSize + self._allowance()


@external
@view
def latest() -> (uint256, bytes32, bytes32):
    """
    @notice The latest anchored head (zeros before the first anchor).
    @return The tree size, root hash and head hash.
    """
    entry: Anchor = self._live(self.latestTreeSize)
    return self.latestTreeSize, entry.rootHash, entry.headHash
