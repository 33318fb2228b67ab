#pragma version ~=0.4.3
"""
@title Amanat Transparency Anchor
@license Apache-2.0
@notice Anchors the signed tree heads of Amanat's public transparency log
        (an RFC 6962 Merkle tree of every chain event and administrative action)
        on chain, so that a head once anchored cannot be silently replaced: the
        log can only grow, and anyone can compare a head they were shown with
        the one anchored at its size.
@dev Only publishers appointed by governance anchor; tree sizes strictly
     increase, by at most `maxTreeGrowth` per anchor, so one leaked
     publisher key cannot anchor a size that ends anchoring. A bogus
     latest anchor is voided by governance with an evidence hash
     (`voidLatestAnchor`), which reopens anchoring from the anchor before it. `headHash` is SHA-256 of the head's signed encoding (size, root,
     timestamp), so the anchor also pins the platform's signature input.
"""

event TreeHeadAnchored:
    treeSize: indexed(uint256)
    rootHash: bytes32
    headHash: bytes32
    publisher: address

event AnchorVoided:
    treeSize: indexed(uint256)
    rootHash: bytes32
    headHash: bytes32
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
    previousSize: uint256

interface Governance:
    def executingEvidence() -> bytes32: view

DEFAULT_MAX_TREE_GROWTH: constant(uint256) = 1_000_000

governance: public(immutable(address))
maxTreeGrowth: public(uint256)
isPublisher: public(HashMap[address, bool])
latestTreeSize: public(uint256)
anchorCount: public(uint256)
anchors: HashMap[uint256, Anchor]


@deploy
def __init__(governance_: address, publishers: DynArray[address, 8]):
    """
    @param governance_ The M-of-N governance contract that appoints publishers.
    @param publishers The first publishers; later changes go through governance.
    """
    assert governance_ != empty(address), "governance is the zero address"
    governance = governance_
    self.maxTreeGrowth = DEFAULT_MAX_TREE_GROWTH
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


@external
def anchor(treeSize: uint256, rootHash: bytes32, headHash: bytes32):
    """
    @notice Anchor a signed tree head. Publishers only; sizes strictly increase,
            by at most `maxTreeGrowth`.
    @param treeSize The number of log entries the head covers.
    @param rootHash The RFC 6962 root of those entries.
    @param headHash SHA-256 of the head's signed encoding.
    """
    assert self.isPublisher[msg.sender], "caller is not a publisher"
    previous: uint256 = self.latestTreeSize
    assert treeSize > previous, "tree size does not increase"
    assert treeSize - previous <= self.maxTreeGrowth, "tree size grows more than the maximum per anchor"
    assert rootHash != empty(bytes32), "root hash is zero"
    assert headHash != empty(bytes32), "head hash is zero"
    self.anchors[treeSize] = Anchor(
        rootHash=rootHash, headHash=headHash, blockNumber=block.number, previousSize=previous
    )
    self.latestTreeSize = treeSize
    self.anchorCount += 1
    log TreeHeadAnchored(
        treeSize=treeSize, rootHash=rootHash, headHash=headHash, publisher=msg.sender
    )


@external
def voidLatestAnchor():
    """
    @notice Void the latest anchor (a bogus head anchored with a leaked key):
            anchoring resumes after the anchor before it. Governance only, with
            the evidence hash of the executing proposal.
    """
    assert msg.sender == governance, "caller is not governance"
    evidence: bytes32 = staticcall Governance(governance).executingEvidence()
    assert evidence != empty(bytes32), "voiding an anchor requires an evidence hash"
    treeSize: uint256 = self.latestTreeSize
    assert treeSize != 0, "nothing anchored"
    entry: Anchor = self.anchors[treeSize]
    self.anchors[treeSize] = empty(Anchor)
    self.latestTreeSize = entry.previousSize
    self.anchorCount -= 1
    log AnchorVoided(treeSize=treeSize, rootHash=entry.rootHash, headHash=entry.headHash, evidence=evidence)


@external
def setMaxTreeGrowth(maxTreeGrowth: uint256):
    """
    @notice Set how many entries one anchor may add to the log. Governance only.
    @param maxTreeGrowth The maximum growth per anchor (positive).
    """
    assert msg.sender == governance, "caller is not governance"
    assert maxTreeGrowth > 0, "maximum growth must be positive"
    self.maxTreeGrowth = maxTreeGrowth
    log MaxTreeGrowthSet(maxTreeGrowth=maxTreeGrowth)


@external
@view
def anchorAt(treeSize: uint256) -> (bytes32, bytes32, uint256):
    """
    @notice The anchor of a tree size (zeros if that size was never anchored).
    @param treeSize The tree size.
    @return The root hash, the head hash and the block it was anchored in.
    """
    entry: Anchor = self.anchors[treeSize]
    return entry.rootHash, entry.headHash, entry.blockNumber


@external
@view
def latest() -> (uint256, bytes32, bytes32):
    """
    @notice The latest anchored head (zeros before the first anchor).
    @return The tree size, root hash and head hash.
    """
    entry: Anchor = self.anchors[self.latestTreeSize]
    return self.latestTreeSize, entry.rootHash, entry.headHash
