#pragma version ~=0.4.3
"""
@title Amanat Primary Auction
@license Apache-2.0
@notice Sealed-bid primary auctions of government securities. The issuer
        announces an auction with its pricing method (uniform or multiple
        price) and a deposit per sealed bid; eligible institutions commit to
        sealed bids (a hash) before the close, each paying the deposit into
        this contract; after the close they reveal them: the deposit is
        returned and the bid's face value in cash is locked. A deposit whose
        bid is not revealed by the deadline is forfeited to the treasury.
        Governance (M-of-N) settles on the settlement date with the
        allocation computed from the revealed bids: for each bidder, units
        are issued and cash paid to the treasury in one step, all or
        nothing; a bidder whose leg fails (e.g. the rules refuse it) is
        released and the reason is logged.
@dev Commitment = keccak256(abi_encode(auctionId, bidder, units, yieldMicro,
     competitive, salt)); yields are in millionths (0.1234 = 123400).
     One institution (identity), one live sealed bid per auction: a second
     wallet of the same identity cannot commit, so a bidder cannot hold
     several sealed bids and reveal only the one that suits it, and the
     MAX_BIDS slots are taken at commit (each by a distinct identity paying a
     deposit), never exhausted at reveal. Bids are numbered in commitment
     order (a replacement takes a new number); ties at the cut-off are
     broken by that order. The allocation rule lives off chain
     (amanat.domain.auction) so anyone can recompute it from the events; on
     chain, settlement refuses to issue more than offered, a cut-off that is
     not the yield of the marginal accepted bid, a bid below the cut-off
     filled less than in full, and an allocation yield other than the
     pricing method's (uniform: the cut-off; multiple: the bid's own yield,
     non-competitive the units-weighted average of the accepted competitive
     yields, rounded half-even to a millionth).
"""

interface AssetToken:
    def settlementMint(receiver: address, amount: uint256): nonpayable
    def detectEligibility(investor: address) -> uint8: view
    def messageForTransferRestriction(code: uint8) -> String[64]: view
    def assetId() -> uint256: view
    def identityRegistry() -> address: view

interface IdentityRegistry:
    def identityNumberOf(wallet: address) -> uint256: view

interface AssetRegistry:
    def isIssuer(account: address) -> bool: view
    def tokenOf(assetId: uint256) -> address: view

interface CashToken:
    def lock(wallet: address, amount: uint256): nonpayable
    def unlock(wallet: address, amount: uint256): nonpayable
    def settleLocked(sender: address, receiver: address, amount: uint256): nonpayable
    def transfer(receiver: address, amount: uint256) -> bool: nonpayable

# ------------------------------------------------------------------ constants

MAX_BIDS: constant(uint256) = 100  # sealed bids (identities) per auction
RECLAIM_AFTER: constant(uint256) = 7 * 86400
UNIFORM_PRICE: constant(uint8) = 1  # every accepted bid pays the cut-off yield
MULTIPLE_PRICE: constant(uint8) = 2  # each accepted bid pays its own yield

# --------------------------------------------------------------------- types

struct AuctionTerms:
    token: address
    offeredUnits: uint256
    faceMinorPerUnit: uint256
    closeTime: uint256
    revealDeadline: uint256
    settlementDate: uint256
    pricing: uint8  # UNIFORM_PRICE or MULTIPLE_PRICE
    depositMinor: uint256  # cash paid in with each sealed bid, returned at reveal
    committedCount: uint256  # identities with a sealed bid (slots taken)
    commitSequence: uint256  # the last commitment number given
    revealedCount: uint256
    settled: bool

struct Bid:
    commitment: bytes32
    sequence: uint256  # commitment order, from 1 (ties at the cut-off)
    identityNumber: uint256  # the bidding institution
    depositHeld: uint256  # deposit this contract holds for the bid (0 once returned or forfeited)
    units: uint256
    yieldMicro: uint256
    competitive: bool
    revealed: bool
    lockedCash: uint256
    done: bool

# -------------------------------------------------------------------- events

event AuctionAnnounced:
    auctionId: indexed(uint256)
    token: indexed(address)
    offeredUnits: uint256
    faceMinorPerUnit: uint256
    closeTime: uint256
    revealDeadline: uint256
    settlementDate: uint256
    pricing: uint8
    depositMinor: uint256
    issuer: indexed(address)

event BidCommitted:
    auctionId: indexed(uint256)
    bidder: indexed(address)
    commitment: bytes32
    sequence: uint256
    identityNumber: uint256
    deposit: uint256

event BidRevealed:
    auctionId: indexed(uint256)
    bidder: indexed(address)
    units: uint256
    yieldMicro: uint256
    competitive: bool
    lockedCash: uint256
    sequence: uint256

event DepositReturned:
    auctionId: indexed(uint256)
    bidder: indexed(address)
    amount: uint256

event DepositForfeited:
    auctionId: indexed(uint256)
    bidder: indexed(address)
    amount: uint256
    treasury: address

event BidSettled:
    auctionId: indexed(uint256)
    bidder: indexed(address)
    units: uint256
    payment: uint256
    yieldMicro: uint256

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

# ------------------------------------------------------------------- storage

assetRegistry: public(immutable(address))
cashToken: public(immutable(address))
governance: public(immutable(address))
auctionCount: public(uint256)
auctions: HashMap[uint256, AuctionTerms]
# auction -> wallet -> its sealed (then revealed) bid
bids: HashMap[uint256, HashMap[address, Bid]]
# auction -> identity -> the wallet holding that identity's sealed bid
bidderOfIdentity: public(HashMap[uint256, HashMap[uint256, address]])
# auction -> wallets that committed, in order of their first commitment
committers: HashMap[uint256, DynArray[address, MAX_BIDS]]


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
    pricing: uint8,
    depositMinor: uint256,
) -> uint256:
    """
    @notice Announce an auction of units of a tokenized security. Issuer only.
    @param token The security's token.
    @param offeredUnits Units offered.
    @param faceMinorPerUnit Face value of one unit in cash minor units (the most a bidder pays).
    @param closeTime Bids can be committed until this unix time.
    @param revealDeadline Bids must be revealed by this unix time.
    @param settlementDate Settlement may not happen before this unix time.
    @param pricing 1 uniform price (every accepted bid at the cut-off), 2 multiple price
           (each accepted bid at its own yield).
    @param depositMinor Cash each sealed bid pays in at commit; returned at reveal,
           forfeited to the treasury if the bid is not revealed.
    @return The auction id.
    """
    assert staticcall AssetRegistry(assetRegistry).isIssuer(msg.sender), "caller is not an issuer"
    assetId: uint256 = staticcall AssetToken(token).assetId()
    assert staticcall AssetRegistry(assetRegistry).tokenOf(assetId) == token, "not an Amanat asset token"
    assert offeredUnits > 0, "offered units must be positive"
    assert faceMinorPerUnit > 0, "face value must be positive"
    assert closeTime > block.timestamp, "close time has passed"
    assert revealDeadline > closeTime, "reveal deadline must be after the close"
    assert settlementDate > revealDeadline, "settlement must be after the reveal deadline"
    assert pricing == UNIFORM_PRICE or pricing == MULTIPLE_PRICE, "pricing must be 1 (uniform) or 2 (multiple)"
    assert depositMinor > 0, "a sealed bid needs a deposit"
    auctionId: uint256 = self.auctionCount + 1
    self.auctionCount = auctionId
    self.auctions[auctionId] = AuctionTerms(
        token=token,
        offeredUnits=offeredUnits,
        faceMinorPerUnit=faceMinorPerUnit,
        closeTime=closeTime,
        revealDeadline=revealDeadline,
        settlementDate=settlementDate,
        pricing=pricing,
        depositMinor=depositMinor,
        committedCount=0,
        commitSequence=0,
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
        pricing=pricing,
        depositMinor=depositMinor,
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
            One sealed bid per institution: another wallet of the same
            identity is refused. A first commitment pays the auction's
            deposit into this contract; a replacement pays nothing more and
            takes a new place in the commitment order.
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
    registry: address = staticcall AssetToken(terms.token).identityRegistry()
    identityNumber: uint256 = staticcall IdentityRegistry(registry).identityNumberOf(msg.sender)
    holder: address = self.bidderOfIdentity[auctionId][identityNumber]
    assert holder == empty(address) or holder == msg.sender, "this institution already has a sealed bid in this auction"
    sequence: uint256 = terms.commitSequence + 1
    self.auctions[auctionId].commitSequence = sequence
    deposit: uint256 = 0
    if holder == empty(address):
        assert self.bids[auctionId][msg.sender].commitment == empty(bytes32), "this wallet has a sealed bid for another identity"
        assert terms.committedCount < MAX_BIDS, "all bid slots of this auction are taken"
        self.auctions[auctionId].committedCount = terms.committedCount + 1
        self.bidderOfIdentity[auctionId][identityNumber] = msg.sender
        self.committers[auctionId].append(msg.sender)
        deposit = terms.depositMinor
        self.bids[auctionId][msg.sender].identityNumber = identityNumber
        self.bids[auctionId][msg.sender].depositHeld = deposit
        extcall CashToken(cashToken).lock(msg.sender, deposit)
        extcall CashToken(cashToken).settleLocked(msg.sender, self, deposit)
    self.bids[auctionId][msg.sender].commitment = commitment
    self.bids[auctionId][msg.sender].sequence = sequence
    log BidCommitted(
        auctionId=auctionId,
        bidder=msg.sender,
        commitment=commitment,
        sequence=sequence,
        identityNumber=identityNumber,
        deposit=deposit,
    )


@external
def reveal(auctionId: uint256, units: uint256, yieldMicro: uint256, competitive: bool, salt: bytes32):
    """
    @notice Open a sealed bid after the close: the deposit is returned and
            the bid's face value in cash is locked until settlement.
    @param auctionId The auction.
    @param units Units bid for.
    @param yieldMicro Bid yield in millionths (ignored for a non-competitive bid; pass 0).
    @param competitive False for a non-competitive bid (takes the average accepted yield).
    @param salt The secret salt of the commitment.
    """
    terms: AuctionTerms = self._auction(auctionId)
    assert block.timestamp >= terms.closeTime, "auction has not closed"
    assert block.timestamp <= terms.revealDeadline, "reveal deadline has passed"
    assert not terms.settled, "auction already settled"
    bid: Bid = self.bids[auctionId][msg.sender]
    assert bid.commitment != empty(bytes32), "no sealed bid from this wallet"
    registry: address = staticcall AssetToken(terms.token).identityRegistry()
    assert staticcall IdentityRegistry(registry).identityNumberOf(msg.sender) == bid.identityNumber, "wallet was re-linked to another institution since its sealed bid"
    assert not bid.revealed, "bid already revealed"
    assert units > 0, "units must be positive"
    assert competitive or yieldMicro == 0, "a non-competitive bid has no yield"
    assert keccak256(abi_encode(auctionId, msg.sender, units, yieldMicro, competitive, salt)) == bid.commitment, "bid does not match its commitment"
    locked: uint256 = units * terms.faceMinorPerUnit
    self.bids[auctionId][msg.sender] = Bid(
        commitment=bid.commitment,
        sequence=bid.sequence,
        identityNumber=bid.identityNumber,
        depositHeld=0,
        units=units,
        yieldMicro=yieldMicro,
        competitive=competitive,
        revealed=True,
        lockedCash=locked,
        done=False,
    )
    self.auctions[auctionId].revealedCount = terms.revealedCount + 1
    extcall CashToken(cashToken).transfer(msg.sender, bid.depositHeld)
    log DepositReturned(auctionId=auctionId, bidder=msg.sender, amount=bid.depositHeld)
    extcall CashToken(cashToken).lock(msg.sender, locked)
    log BidRevealed(
        auctionId=auctionId,
        bidder=msg.sender,
        units=units,
        yieldMicro=yieldMicro,
        competitive=competitive,
        lockedCash=locked,
        sequence=bid.sequence,
    )


@internal
def _forfeit(auctionId: uint256, bidder: address) -> bool:
    held: uint256 = self.bids[auctionId][bidder].depositHeld
    if held == 0 or self.bids[auctionId][bidder].revealed:
        return False
    self.bids[auctionId][bidder].depositHeld = 0
    extcall CashToken(cashToken).transfer(governance, held)
    log DepositForfeited(auctionId=auctionId, bidder=bidder, amount=held, treasury=governance)
    return True


@external
def forfeitDeposit(auctionId: uint256, bidder: address):
    """
    @notice Pay the deposit of a sealed bid that was not revealed by the
            deadline to the treasury. Anyone, after the reveal deadline
            (settlement does it for every such bid).
    @param auctionId The auction.
    @param bidder The wallet that committed and did not reveal.
    """
    terms: AuctionTerms = self._auction(auctionId)
    assert block.timestamp > terms.revealDeadline, "bids may still be revealed"
    assert self._forfeit(auctionId, bidder), "no unrevealed deposit from this wallet"


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


@internal
@pure
def _half_even_div(numerator: uint256, denominator: uint256) -> uint256:
    quotient: uint256 = numerator // denominator
    twice: uint256 = 2 * (numerator % denominator)
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        return quotient + 1
    return quotient


@internal
@view
def _accepted_yields(
    auctionId: uint256,
    cutoffYieldMicro: uint256,
    bidders: DynArray[address, MAX_BIDS],
    units: DynArray[uint256, MAX_BIDS],
) -> uint256:
    """
    @dev Checks the cut-off against the accepted competitive bids (it must be
         the highest accepted yield, every competitive bid below it filled
         in full, none above it filled) and returns their units-weighted
         average yield (the cut-off if none is accepted; non-competitive
         bids allocated alone are then priced at the lowest competitive
         yield bid).
    """
    acceptedUnits: uint256 = 0
    weighted: uint256 = 0
    highest: uint256 = 0
    for i: uint256 in range(len(bidders), bound=MAX_BIDS):
        bid: Bid = self.bids[auctionId][bidders[i]]
        if not bid.competitive:
            continue
        assert units[i] == 0 or bid.yieldMicro <= cutoffYieldMicro, "bid above the cut-off allocated"
        if units[i] > 0:
            acceptedUnits += units[i]
            weighted += units[i] * bid.yieldMicro
            highest = max(highest, bid.yieldMicro)
    if acceptedUnits == 0:
        # Non-competitive bids alone are priced at the best (lowest) competitive yield bid;
        # with no competitive bid at all nothing prices them, so none may be allocated.
        lowest: uint256 = max_value(uint256)
        nonCompetitiveUnits: uint256 = 0
        for i: uint256 in range(len(bidders), bound=MAX_BIDS):
            bid: Bid = self.bids[auctionId][bidders[i]]
            if bid.competitive:
                lowest = min(lowest, bid.yieldMicro)
            else:
                nonCompetitiveUnits += units[i]
        if nonCompetitiveUnits > 0:
            assert lowest != max_value(uint256), "no competitive bid prices the non-competitive bids"
            assert cutoffYieldMicro == lowest, "with no competitive bid accepted the cut-off is the lowest competitive yield"
        return cutoffYieldMicro
    assert highest == cutoffYieldMicro, "cut-off is not the yield of the marginal accepted bid"
    for i: uint256 in range(len(bidders), bound=MAX_BIDS):
        bid: Bid = self.bids[auctionId][bidders[i]]
        if bid.competitive and bid.yieldMicro < cutoffYieldMicro:
            assert units[i] >= bid.units, "a bid below the cut-off must be filled in full"
    return self._half_even_div(weighted, acceptedUnits)


@external
def settle(
    auctionId: uint256,
    cutoffYieldMicro: uint256,
    bidders: DynArray[address, MAX_BIDS],
    units: DynArray[uint256, MAX_BIDS],
    yieldsMicro: DynArray[uint256, MAX_BIDS],
    payments: DynArray[uint256, MAX_BIDS],
):
    """
    @notice Settle an auction with its allocation: every revealed bidder
            exactly once (0 units to release an unsuccessful bid). Each
            bidder settles all or nothing. The deposits of bids never
            revealed go to the treasury. Governance only, within seven days
            of the settlement date (after that, bidders reclaim).
    @param auctionId The auction.
    @param cutoffYieldMicro The cut-off yield: the yield of the marginal accepted bid.
    @param bidders Every bidder that revealed.
    @param units Units allocated to each.
    @param yieldsMicro The yield each allocation is priced at (0 for none): the
           cut-off in a uniform-price auction; in a multiple-price auction the
           bid's own yield, and for a non-competitive bid the weighted average
           accepted competitive yield.
    @param payments Cash each pays (at most the bid's face value), priced at its yield.
    """
    assert msg.sender == governance, "caller is not governance"
    terms: AuctionTerms = self._auction(auctionId)
    assert not terms.settled, "auction already settled"
    assert block.timestamp >= terms.settlementDate, "settlement date not reached"
    assert block.timestamp > terms.revealDeadline, "bids may still be revealed"
    assert block.timestamp <= terms.settlementDate + RECLAIM_AFTER, "settlement window has passed: bidders may reclaim"
    assert len(bidders) == terms.revealedCount, "allocation must list every revealed bidder"
    assert len(units) == len(bidders) and len(payments) == len(bidders) and len(yieldsMicro) == len(bidders), "allocation lists differ in length"
    self.auctions[auctionId].settled = True
    for bidder: address in self.committers[auctionId]:
        self._forfeit(auctionId, bidder)
    averageYield: uint256 = self._accepted_yields(auctionId, cutoffYieldMicro, bidders, units)
    allocated: uint256 = 0
    issued: uint256 = 0
    proceeds: uint256 = 0
    for i: uint256 in range(len(bidders), bound=MAX_BIDS):
        bidder: address = bidders[i]
        bid: Bid = self.bids[auctionId][bidder]
        assert bid.revealed and not bid.done, "bidder listed twice or never revealed"
        assert units[i] <= bid.units, "allocation exceeds the bid"
        assert payments[i] <= units[i] * terms.faceMinorPerUnit, "payment above face value"
        assert units[i] == 0 or payments[i] > 0, "allocated units need a payment"
        if units[i] == 0:
            assert yieldsMicro[i] == 0, "an unallocated bid has no yield"
        elif terms.pricing == UNIFORM_PRICE:
            assert yieldsMicro[i] == cutoffYieldMicro, "uniform price: every allocation is priced at the cut-off"
        elif bid.competitive:
            assert yieldsMicro[i] == bid.yieldMicro, "multiple price: a competitive bid is priced at its own yield"
        else:
            assert yieldsMicro[i] == averageYield, "multiple price: a non-competitive bid is priced at the weighted average accepted yield"
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
            log BidSettled(auctionId=auctionId, bidder=bidder, units=units[i], payment=payments[i], yieldMicro=yieldsMicro[i])
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
