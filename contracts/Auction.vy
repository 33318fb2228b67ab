#pragma version ~=0.4.3
"""
@title Amanat Primary Auction
@license Apache-2.0
@notice Sealed-bid primary auctions of government securities. The issuer
        announces an auction; eligible institutions commit to sealed bids
        (a hash) before the close; after the close they reveal them, and the
        bid's face value in cash is locked. Governance (M-of-N) settles on the
        settlement date with the allocation computed from the revealed bids:
        for each bidder, units are issued and cash paid to the treasury in
        one step, all or nothing; a bidder whose leg fails (e.g. the rules
        refuse it) is released and the reason is logged.
@dev Commitment = keccak256(abi_encode(auctionId, bidder, units, yieldMicro,
     competitive, salt)); yields are in millionths (0.1234 = 123400). The
     allocation rule lives off chain (amanat.domain.auction) so anyone can
     recompute it from the BidRevealed events; on chain, settlement refuses
     to issue more than offered or to fill a bid above the cut-off.
"""

interface AssetToken:
    def settlementMint(receiver: address, amount: uint256): nonpayable
    def detectEligibility(investor: address) -> uint8: view
    def messageForTransferRestriction(code: uint8) -> String[64]: view
    def assetId() -> uint256: view

interface AssetRegistry:
    def isIssuer(account: address) -> bool: view
    def tokenOf(assetId: uint256) -> address: view

interface CashToken:
    def lock(wallet: address, amount: uint256): nonpayable
    def unlock(wallet: address, amount: uint256): nonpayable
    def settleLocked(sender: address, receiver: address, amount: uint256): nonpayable

MAX_BIDS: constant(uint256) = 100
RECLAIM_AFTER: constant(uint256) = 7 * 86400

struct AuctionTerms:
    token: address
    offeredUnits: uint256
    faceMinorPerUnit: uint256
    closeTime: uint256
    revealDeadline: uint256
    settlementDate: uint256
    revealedCount: uint256
    settled: bool

struct Bid:
    commitment: bytes32
    units: uint256
    yieldMicro: uint256
    competitive: bool
    revealed: bool
    lockedCash: uint256
    done: bool

event AuctionAnnounced:
    auctionId: indexed(uint256)
    token: indexed(address)
    offeredUnits: uint256
    faceMinorPerUnit: uint256
    closeTime: uint256
    revealDeadline: uint256
    settlementDate: uint256
    issuer: indexed(address)

event BidCommitted:
    auctionId: indexed(uint256)
    bidder: indexed(address)
    commitment: bytes32

event BidRevealed:
    auctionId: indexed(uint256)
    bidder: indexed(address)
    units: uint256
    yieldMicro: uint256
    competitive: bool
    lockedCash: uint256

event BidSettled:
    auctionId: indexed(uint256)
    bidder: indexed(address)
    units: uint256
    payment: uint256

event BidRefused:
    auctionId: indexed(uint256)
    bidder: indexed(address)
    units: uint256
    reason: Bytes[256]

event BidReleased:
    auctionId: indexed(uint256)
    bidder: indexed(address)
    cash: uint256

event AuctionSettled:
    auctionId: indexed(uint256)
    cutoffYieldMicro: uint256
    issuedUnits: uint256
    proceeds: uint256

assetRegistry: public(immutable(address))
cashToken: public(immutable(address))
governance: public(immutable(address))
auctionCount: public(uint256)
auctions: HashMap[uint256, AuctionTerms]
bids: HashMap[uint256, HashMap[address, Bid]]


@deploy
def __init__(assetRegistry_: address, cashToken_: address, governance_: address):
    """
    @param assetRegistry_ The AssetRegistry (issuers, tokens; lists this contract as an agent).
    @param cashToken_ The cash token bids are paid in.
    @param governance_ The governance contract: settles auctions and receives the proceeds as treasury.
    """
    assetRegistry = assetRegistry_
    cashToken = cashToken_
    governance = governance_


@external
def announce(
    token: address,
    offeredUnits: uint256,
    faceMinorPerUnit: uint256,
    closeTime: uint256,
    revealDeadline: uint256,
    settlementDate: uint256,
) -> uint256:
    """
    @notice Announce an auction of units of a tokenized security. Issuer only.
    @param token The security's token.
    @param offeredUnits Units offered.
    @param faceMinorPerUnit Face value of one unit in cash minor units (the most a bidder pays).
    @param closeTime Bids can be committed until this unix time.
    @param revealDeadline Bids must be revealed by this unix time.
    @param settlementDate Settlement may not happen before this unix time.
    @return The auction id.
    """
    assert staticcall AssetRegistry(assetRegistry).isIssuer(msg.sender), "caller is not an issuer"
    assetId: uint256 = staticcall AssetToken(token).assetId()
    assert staticcall AssetRegistry(assetRegistry).tokenOf(assetId) == token, "not an Amanat asset token"
    assert offeredUnits > 0, "offered units must be positive"
    assert faceMinorPerUnit > 0, "face value must be positive"
    assert closeTime > block.timestamp, "close time has passed"
    assert revealDeadline > closeTime, "reveal deadline must be after the close"
    assert settlementDate >= revealDeadline, "settlement must be after the reveal deadline"
    auctionId: uint256 = self.auctionCount + 1
    self.auctionCount = auctionId
    self.auctions[auctionId] = AuctionTerms(
        token=token,
        offeredUnits=offeredUnits,
        faceMinorPerUnit=faceMinorPerUnit,
        closeTime=closeTime,
        revealDeadline=revealDeadline,
        settlementDate=settlementDate,
        revealedCount=0,
        settled=False,
    )
    log AuctionAnnounced(
        auctionId=auctionId,
        token=token,
        offeredUnits=offeredUnits,
        faceMinorPerUnit=faceMinorPerUnit,
        closeTime=closeTime,
        revealDeadline=revealDeadline,
        settlementDate=settlementDate,
        issuer=msg.sender,
    )
    return auctionId


@internal
@view
def _auction(auctionId: uint256) -> AuctionTerms:
    assert auctionId > 0 and auctionId <= self.auctionCount, "unknown auction"
    return self.auctions[auctionId]


@external
def commit(auctionId: uint256, commitment: bytes32):
    """
    @notice Submit (or replace) a sealed bid before the close. The bidder
            must be eligible to hold the security (verified, category and
            country rules, not frozen); holding limits apply at settlement.
    @param auctionId The auction.
    @param commitment keccak256(abi_encode(auctionId, bidder, units, yieldMicro, competitive, salt)).
    """
    terms: AuctionTerms = self._auction(auctionId)
    assert block.timestamp < terms.closeTime, "auction is closed"
    assert commitment != empty(bytes32), "commitment is empty"
    code: uint8 = staticcall AssetToken(terms.token).detectEligibility(msg.sender)
    if code != 0:
        raw_revert(
            abi_encode(
                staticcall AssetToken(terms.token).messageForTransferRestriction(code),
                method_id=method_id("Error(string)"),
            )
        )
    self.bids[auctionId][msg.sender].commitment = commitment
    log BidCommitted(auctionId=auctionId, bidder=msg.sender, commitment=commitment)


@external
def reveal(auctionId: uint256, units: uint256, yieldMicro: uint256, competitive: bool, salt: bytes32):
    """
    @notice Open a sealed bid after the close; the bid's face value in cash
            is locked until settlement.
    @param auctionId The auction.
    @param units Units bid for.
    @param yieldMicro Bid yield in millionths (ignored for a non-competitive bid; pass 0).
    @param competitive False for a non-competitive bid (takes the average accepted yield).
    @param salt The secret salt of the commitment.
    """
    terms: AuctionTerms = self._auction(auctionId)
    assert block.timestamp >= terms.closeTime, "auction has not closed"
    assert block.timestamp <= terms.revealDeadline, "reveal deadline has passed"
    bid: Bid = self.bids[auctionId][msg.sender]
    assert bid.commitment != empty(bytes32), "no sealed bid from this wallet"
    assert not bid.revealed, "bid already revealed"
    assert units > 0, "units must be positive"
    assert competitive or yieldMicro == 0, "a non-competitive bid has no yield"
    assert keccak256(abi_encode(auctionId, msg.sender, units, yieldMicro, competitive, salt)) == bid.commitment, "bid does not match its commitment"
    assert terms.revealedCount < MAX_BIDS, "too many bids"
    locked: uint256 = units * terms.faceMinorPerUnit
    self.bids[auctionId][msg.sender] = Bid(
        commitment=bid.commitment,
        units=units,
        yieldMicro=yieldMicro,
        competitive=competitive,
        revealed=True,
        lockedCash=locked,
        done=False,
    )
    self.auctions[auctionId].revealedCount = terms.revealedCount + 1
    extcall CashToken(cashToken).lock(msg.sender, locked)
    log BidRevealed(
        auctionId=auctionId,
        bidder=msg.sender,
        units=units,
        yieldMicro=yieldMicro,
        competitive=competitive,
        lockedCash=locked,
    )


@external
def settleBid(token: address, bidder: address, units: uint256, payment: uint256, locked: uint256):
    """
    @notice One bidder's leg of a settlement: issue units and pay the
            treasury, atomically. Callable only by this contract, so that a
            failing leg can be undone without undoing the others.
    @param token The security's token.
    @param bidder The bidder.
    @param units Units issued.
    @param payment Cash paid to the treasury.
    @param locked The bidder's locked cash; the rest is released.
    """
    assert msg.sender == self, "internal settlement step"
    extcall AssetToken(token).settlementMint(bidder, units)
    extcall CashToken(cashToken).settleLocked(bidder, governance, payment)
    if locked > payment:
        extcall CashToken(cashToken).unlock(bidder, locked - payment)


@external
def settle(
    auctionId: uint256,
    cutoffYieldMicro: uint256,
    bidders: DynArray[address, MAX_BIDS],
    units: DynArray[uint256, MAX_BIDS],
    payments: DynArray[uint256, MAX_BIDS],
):
    """
    @notice Settle an auction with its allocation: every revealed bidder
            exactly once (0 units to release an unsuccessful bid). Each
            bidder settles all or nothing. Governance only, within seven
            days of the settlement date (after that, bidders reclaim).
    @param auctionId The auction.
    @param cutoffYieldMicro The cut-off yield set by the issuer.
    @param bidders Every bidder that revealed.
    @param units Units allocated to each.
    @param payments Cash each pays (at most the bid's face value).
    """
    assert msg.sender == governance, "caller is not governance"
    terms: AuctionTerms = self._auction(auctionId)
    assert not terms.settled, "auction already settled"
    assert block.timestamp >= terms.settlementDate, "settlement date not reached"
    assert block.timestamp <= terms.settlementDate + RECLAIM_AFTER, "settlement window has passed: bidders may reclaim"
    assert len(bidders) == terms.revealedCount, "allocation must list every revealed bidder"
    assert len(units) == len(bidders) and len(payments) == len(bidders), "allocation lists differ in length"
    self.auctions[auctionId].settled = True
    allocated: uint256 = 0
    issued: uint256 = 0
    proceeds: uint256 = 0
    for i: uint256 in range(len(bidders), bound=MAX_BIDS):
        bidder: address = bidders[i]
        bid: Bid = self.bids[auctionId][bidder]
        assert bid.revealed and not bid.done, "bidder listed twice or never revealed"
        assert units[i] <= bid.units, "allocation exceeds the bid"
        assert units[i] == 0 or not bid.competitive or bid.yieldMicro <= cutoffYieldMicro, "bid above the cut-off allocated"
        assert payments[i] <= units[i] * terms.faceMinorPerUnit, "payment above face value"
        assert units[i] == 0 or payments[i] > 0, "allocated units need a payment"
        self.bids[auctionId][bidder].done = True
        allocated += units[i]
        if units[i] == 0:
            extcall CashToken(cashToken).unlock(bidder, bid.lockedCash)
            log BidReleased(auctionId=auctionId, bidder=bidder, cash=bid.lockedCash)
            continue
        success: bool = False
        response: Bytes[256] = b""
        success, response = raw_call(
            self,
            abi_encode(
                terms.token, bidder, units[i], payments[i], bid.lockedCash,
                method_id=method_id("settleBid(address,address,uint256,uint256,uint256)"),
            ),
            max_outsize=256,
            revert_on_failure=False,
        )
        if success:
            issued += units[i]
            proceeds += payments[i]
            log BidSettled(auctionId=auctionId, bidder=bidder, units=units[i], payment=payments[i])
        else:
            extcall CashToken(cashToken).unlock(bidder, bid.lockedCash)
            log BidRefused(auctionId=auctionId, bidder=bidder, units=units[i], reason=response)
    assert allocated <= terms.offeredUnits, "allocation exceeds the units offered"
    log AuctionSettled(
        auctionId=auctionId, cutoffYieldMicro=cutoffYieldMicro, issuedUnits=issued, proceeds=proceeds
    )


@external
def reclaim(auctionId: uint256):
    """
    @notice Release a revealed bid's cash if the auction was not settled
            within seven days of its settlement date. The bidder only.
    @param auctionId The auction.
    """
    terms: AuctionTerms = self._auction(auctionId)
    assert not terms.settled, "auction already settled"
    assert block.timestamp > terms.settlementDate + RECLAIM_AFTER, "auction may still settle"
    bid: Bid = self.bids[auctionId][msg.sender]
    assert bid.revealed and not bid.done, "no locked bid from this wallet"
    self.bids[auctionId][msg.sender].done = True
    extcall CashToken(cashToken).unlock(msg.sender, bid.lockedCash)
    log BidReleased(auctionId=auctionId, bidder=msg.sender, cash=bid.lockedCash)


@external
@view
def getAuction(auctionId: uint256) -> AuctionTerms:
    """
    @notice An auction's terms and progress.
    @param auctionId The auction.
    @return The stored terms.
    """
    return self.auctions[auctionId]


@external
@view
def getBid(auctionId: uint256, bidder: address) -> Bid:
    """
    @notice A bidder's bid (units and yield are zero until revealed).
    @param auctionId The auction.
    @param bidder The bidder.
    @return The stored bid.
    """
    return self.bids[auctionId][bidder]
