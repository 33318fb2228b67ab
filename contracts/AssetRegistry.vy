#pragma version ~=0.4.3
"""
@title Amanat Asset Registry
@license Apache-2.0
@notice The register of government assets put on chain: class, legal
        identifier, owning ministry, document hashes, valuation history,
        lifecycle status and the statutory authorisation that caps minting.
@dev Status moves proposed -> approved -> tokenized -> redeemed or retired
     (a proposed or approved asset may also be retired). The issuer
     registers assets and attaches documents; valuers submit valuations;
     governance approves, accepts valuations and changes status; the token
     factory marks an asset tokenized. Reserve auditors attest commodity
     reserves, and a commodity token can never be minted beyond the last
     attested reserve. An Ijara sukuk names its underlying asset, which
     cannot be retired while the sukuk is outstanding. The registry also
     lists the settlement agents (auction, DvP, distributor contracts)
     that asset tokens accept for settlement operations.
     Decisions on single-key power:
     - A reserve auditor alone records an attestation, which may raise a
       commodity's minting cap. It creates no units: every mint is an
       M-of-N governance action (and settlement mints follow a
       governance-approved allocation), so the auditor's key can only
       widen a ceiling that governance still has to choose to use; the
       statutory authorisation caps it in any case. Kept single-key.
     - An issuer alone links an underlying to a sukuk, only while the sukuk
       is proposed: it holds no value then, the link is fixed afterwards and
       governance sees it when it approves the sukuk. Kept single-key.
"""

interface Supply:
    def totalSupply() -> uint256: view
    def matured() -> bool: view

STATUS_PROPOSED: constant(uint8) = 1
STATUS_APPROVED: constant(uint8) = 2
STATUS_TOKENIZED: constant(uint8) = 3
STATUS_REDEEMED: constant(uint8) = 4
STATUS_RETIRED: constant(uint8) = 5
MAX_ASSET_CLASS: constant(uint8) = 6
CLASS_SUKUK: constant(uint8) = 3
CLASS_COMMODITY: constant(uint8) = 6

struct Asset:
    assetClass: uint8
    status: uint8
    legalId: String[64]
    name: String[128]
    ministry: String[128]
    token: address
    authorisationRef: String[128]
    authorisationHash: bytes32
    maxUnits: uint256

struct Document:
    kind: uint8
    contentHash: bytes32
    addedBy: address
    addedAt: uint256

struct ReserveAttestation:
    quantity: uint256
    auditor: address
    reportHash: bytes32
    attestedAt: uint256

struct Valuation:
    amountMinor: uint256
    valuationDate: uint256
    valuer: address
    reportHash: bytes32
    accepted: bool

event AssetRegistered:
    assetId: indexed(uint256)
    assetClass: uint8
    legalId: String[64]
    name: String[128]
    ministry: String[128]
    issuer: indexed(address)

event AuthorisationSet:
    assetId: indexed(uint256)
    reference: String[128]
    documentHash: bytes32
    maxUnits: uint256

event DocumentAttached:
    assetId: indexed(uint256)
    kind: uint8
    contentHash: bytes32
    addedBy: indexed(address)

event ValuationSubmitted:
    assetId: indexed(uint256)
    index: uint256
    amountMinor: uint256
    valuationDate: uint256
    valuer: indexed(address)
    reportHash: bytes32

event ValuationAccepted:
    assetId: indexed(uint256)
    index: uint256
    amountMinor: uint256

event StatusChanged:
    assetId: indexed(uint256)
    previous: uint8
    status: uint8

event TokenLinked:
    assetId: indexed(uint256)
    token: indexed(address)

event ReserveAttested:
    assetId: indexed(uint256)
    index: uint256
    quantity: uint256
    auditor: indexed(address)
    reportHash: bytes32

event UnderlyingLinked:
    sukukId: indexed(uint256)
    underlyingId: indexed(uint256)

event RoleSet:
    role: indexed(String[16])
    account: indexed(address)
    enabled: bool

governance: public(immutable(address))
tokenFactory: public(address)
isIssuer: public(HashMap[address, bool])
isValuer: public(HashMap[address, bool])
isReserveAuditor: public(HashMap[address, bool])
isSettlementAgent: public(HashMap[address, bool])
assetCount: public(uint256)
assets: HashMap[uint256, Asset]
documentCount: public(HashMap[uint256, uint256])
documents: HashMap[uint256, HashMap[uint256, Document]]
valuationCount: public(HashMap[uint256, uint256])
valuations: HashMap[uint256, HashMap[uint256, Valuation]]
latestAcceptedValuation: public(HashMap[uint256, uint256])
attestationCount: public(HashMap[uint256, uint256])
attestations: HashMap[uint256, HashMap[uint256, ReserveAttestation]]
attestedReserve: public(HashMap[uint256, uint256])
underlyingOf: public(HashMap[uint256, uint256])
outstandingSukuk: public(HashMap[uint256, uint256])


@deploy
def __init__(
    governance_: address,
    issuers: DynArray[address, 8],
    valuers: DynArray[address, 8],
    tokenFactory_: address,
    reserveAuditors: DynArray[address, 8],
    settlementAgents: DynArray[address, 8],
):
    """
    @param governance_ The M-of-N governance contract.
    @param issuers The first issuers (treasury desks).
    @param valuers The first valuers.
    @param tokenFactory_ The token factory (its address may be precomputed).
    @param reserveAuditors The first commodity-reserve auditors.
    @param settlementAgents The settlement contracts (addresses may be precomputed).
    @dev Later role changes go through governance.
    """
    assert governance_ != empty(address), "governance is the zero address"
    governance = governance_
    for account: address in issuers:
        self.isIssuer[account] = True
        log RoleSet(role="issuer", account=account, enabled=True)
    for account: address in valuers:
        self.isValuer[account] = True
        log RoleSet(role="valuer", account=account, enabled=True)
    self.tokenFactory = tokenFactory_
    log RoleSet(role="tokenFactory", account=tokenFactory_, enabled=True)
    for account: address in reserveAuditors:
        self.isReserveAuditor[account] = True
        log RoleSet(role="reserveAuditor", account=account, enabled=True)
    for account: address in settlementAgents:
        self.isSettlementAgent[account] = True
        log RoleSet(role="settlementAgent", account=account, enabled=True)


@internal
@view
def _only_governance():
    assert msg.sender == governance, "caller is not governance"


@internal
@view
def _existing(assetId: uint256):
    assert assetId > 0 and assetId <= self.assetCount, "unknown asset"


@internal
def _set_status(assetId: uint256, status: uint8):
    previous: uint8 = self.assets[assetId].status
    self.assets[assetId].status = status
    log StatusChanged(assetId=assetId, previous=previous, status=status)


@external
def setIssuer(account: address, enabled: bool):
    """
    @notice Appoint or remove an issuer (treasury desk). Governance only.
    @param account The issuer's address.
    @param enabled True to appoint, false to remove.
    """
    self._only_governance()
    self.isIssuer[account] = enabled
    log RoleSet(role="issuer", account=account, enabled=enabled)


@external
def setValuer(account: address, enabled: bool):
    """
    @notice Appoint or remove a valuer. Governance only.
    @param account The valuer's address.
    @param enabled True to appoint, false to remove.
    """
    self._only_governance()
    self.isValuer[account] = enabled
    log RoleSet(role="valuer", account=account, enabled=enabled)


@external
def setReserveAuditor(account: address, enabled: bool):
    """
    @notice Appoint or remove a commodity-reserve auditor. Governance only.
    @param account The auditor's address.
    @param enabled True to appoint, false to remove.
    """
    self._only_governance()
    self.isReserveAuditor[account] = enabled
    log RoleSet(role="reserveAuditor", account=account, enabled=enabled)


@external
def setSettlementAgent(account: address, enabled: bool):
    """
    @notice List or delist a settlement contract that asset tokens accept
            for locks, delivery, primary issuance and redemption (it moves
            holders' units without their signature: a contract, never an
            ordinary key). Governance only, with evidence (the table of
            governed functions).
    @param account The settlement contract.
    @param enabled True to list, false to delist.
    """
    self._only_governance()
    assert account.is_contract or not enabled, "settlement agent is not a contract"
    self.isSettlementAgent[account] = enabled
    log RoleSet(role="settlementAgent", account=account, enabled=enabled)


@external
def setTokenFactory(factory: address):
    """
    @notice Set the factory allowed to link tokens to assets (settlement trusts
            what it links: a contract, never an ordinary key). Governance only,
            with evidence (the table of governed functions).
    @param factory The token factory.
    """
    self._only_governance()
    assert factory.is_contract, "token factory is not a contract"
    self.tokenFactory = factory
    log RoleSet(role="tokenFactory", account=factory, enabled=True)


@external
def registerAsset(
    assetClass: uint8,
    legalId: String[64],
    name: String[128],
    ministry: String[128],
    authorisationRef: String[128],
    authorisationHash: bytes32,
    maxUnits: uint256,
) -> uint256:
    """
    @notice Register a government asset in status proposed. Issuer only.
    @param assetClass 1 t-bill, 2 bond, 3 sukuk, 4 equity, 5 real estate, 6 commodity reserve.
    @param legalId ISIN, cadastral parcel id or company registration number.
    @param name A human-readable name.
    @param ministry The owning ministry or agency.
    @param authorisationRef Reference of the statutory authorisation.
    @param authorisationHash Hash of the authorisation document.
    @param maxUnits Maximum units the authorisation allows to be issued.
    @return The new asset id.
    """
    assert self.isIssuer[msg.sender], "caller is not an issuer"
    assert assetClass >= 1 and assetClass <= MAX_ASSET_CLASS, "unknown asset class"
    assert len(legalId) > 0, "legal identifier is empty"
    assert len(authorisationRef) > 0, "authorisation reference is empty"
    assert authorisationHash != empty(bytes32), "authorisation document hash is empty"
    assert maxUnits > 0, "authorised units must be positive"
    assetId: uint256 = self.assetCount + 1
    self.assetCount = assetId
    self.assets[assetId] = Asset(
        assetClass=assetClass,
        status=STATUS_PROPOSED,
        legalId=legalId,
        name=name,
        ministry=ministry,
        token=empty(address),
        authorisationRef=authorisationRef,
        authorisationHash=authorisationHash,
        maxUnits=maxUnits,
    )
    log AssetRegistered(
        assetId=assetId,
        assetClass=assetClass,
        legalId=legalId,
        name=name,
        ministry=ministry,
        issuer=msg.sender,
    )
    log AuthorisationSet(
        assetId=assetId,
        reference=authorisationRef,
        documentHash=authorisationHash,
        maxUnits=maxUnits,
    )
    log StatusChanged(assetId=assetId, previous=0, status=STATUS_PROPOSED)
    return assetId


@external
def setAuthorisation(
    assetId: uint256, reference: String[128], documentHash: bytes32, maxUnits: uint256
):
    """
    @notice Replace the statutory authorisation (e.g. an amended act).
            Governance only; the cap never drops below the units issued.
    @param assetId The asset.
    @param reference Reference of the new authorisation.
    @param documentHash Hash of the new authorisation document.
    @param maxUnits The new maximum issuable units.
    """
    self._only_governance()
    self._existing(assetId)
    assert len(reference) > 0, "authorisation reference is empty"
    assert documentHash != empty(bytes32), "authorisation document hash is empty"
    assert maxUnits > 0, "authorised units must be positive"
    token: address = self.assets[assetId].token
    if token != empty(address):
        assert maxUnits >= staticcall Supply(token).totalSupply(), "cap below units issued"
    self.assets[assetId].authorisationRef = reference
    self.assets[assetId].authorisationHash = documentHash
    self.assets[assetId].maxUnits = maxUnits
    log AuthorisationSet(
        assetId=assetId, reference=reference, documentHash=documentHash, maxUnits=maxUnits
    )


@external
def attachDocument(assetId: uint256, kind: uint8, contentHash: bytes32):
    """
    @notice Record the hash of a document about an asset. Issuer only.
    @param assetId The asset.
    @param kind 1 title deed, 2 valuation report, 3 legal authorisation, 4 other.
    @param contentHash SHA-256 of the document.
    """
    assert self.isIssuer[msg.sender], "caller is not an issuer"
    self._existing(assetId)
    assert kind >= 1 and kind <= 4, "unknown document kind"
    assert contentHash != empty(bytes32), "document hash is empty"
    index: uint256 = self.documentCount[assetId]
    self.documents[assetId][index] = Document(
        kind=kind, contentHash=contentHash, addedBy=msg.sender, addedAt=block.timestamp
    )
    self.documentCount[assetId] = index + 1
    log DocumentAttached(assetId=assetId, kind=kind, contentHash=contentHash, addedBy=msg.sender)


@external
def submitValuation(
    assetId: uint256, amountMinor: uint256, valuationDate: uint256, reportHash: bytes32
) -> uint256:
    """
    @notice A valuer records a valuation (PKR minor units); it counts once
            governance accepts it.
    @param assetId The asset.
    @param amountMinor Value in PKR minor units (paisa).
    @param valuationDate Unix time of the valuation date.
    @param reportHash SHA-256 of the valuation report.
    @return The valuation's index for the asset.
    """
    assert self.isValuer[msg.sender], "caller is not a valuer"
    self._existing(assetId)
    assert amountMinor > 0, "valuation must be positive"
    assert reportHash != empty(bytes32), "valuation report hash is empty"
    assert valuationDate <= block.timestamp, "valuation date is in the future"
    index: uint256 = self.valuationCount[assetId]
    self.valuations[assetId][index] = Valuation(
        amountMinor=amountMinor,
        valuationDate=valuationDate,
        valuer=msg.sender,
        reportHash=reportHash,
        accepted=False,
    )
    self.valuationCount[assetId] = index + 1
    log ValuationSubmitted(
        assetId=assetId,
        index=index,
        amountMinor=amountMinor,
        valuationDate=valuationDate,
        valuer=msg.sender,
        reportHash=reportHash,
    )
    return index


@external
def acceptValuation(assetId: uint256, index: uint256):
    """
    @notice Accept a submitted valuation as the asset's current value.
            Governance only.
    @param assetId The asset.
    @param index The valuation's index.
    """
    self._only_governance()
    self._existing(assetId)
    assert index < self.valuationCount[assetId], "unknown valuation"
    assert not self.valuations[assetId][index].accepted, "valuation already accepted"
    self.valuations[assetId][index].accepted = True
    latest: uint256 = self.latestAcceptedValuation[assetId]
    # The current value is the accepted valuation with the latest valuation date.
    if latest == 0 or (
        self.valuations[assetId][index].valuationDate
        >= self.valuations[assetId][latest - 1].valuationDate
    ):
        self.latestAcceptedValuation[assetId] = index + 1
    log ValuationAccepted(
        assetId=assetId, index=index, amountMinor=self.valuations[assetId][index].amountMinor
    )


@external
def setStatus(assetId: uint256, status: uint8):
    """
    @notice Move an asset along its lifecycle. Governance only.
    @param assetId The asset.
    @param status 2 approved (from proposed), 4 redeemed (from tokenized,
           once its token has matured and every unit is redeemed), 5 retired
           (from proposed, approved or redeemed).
    """
    self._only_governance()
    self._existing(assetId)
    current: uint8 = self.assets[assetId].status
    if status == STATUS_APPROVED:
        assert current == STATUS_PROPOSED, "only a proposed asset can be approved"
    elif status == STATUS_REDEEMED:
        assert current == STATUS_TOKENIZED, "only a tokenized asset can be redeemed"
        token: address = self.assets[assetId].token
        assert staticcall Supply(token).matured(), "token has not matured"
        assert staticcall Supply(token).totalSupply() == 0, "units are still outstanding"
    elif status == STATUS_RETIRED:
        assert current != STATUS_TOKENIZED, "a tokenized asset must be redeemed first"
        assert current != STATUS_RETIRED, "asset already retired"
        assert self.outstandingSukuk[assetId] == 0, "asset backs an outstanding sukuk"
    else:
        raise "status change not allowed"
    underlying: uint256 = self.underlyingOf[assetId]
    if underlying != 0 and current != STATUS_REDEEMED and status >= STATUS_REDEEMED:
        # The sukuk is no longer outstanding: its underlying is released.
        self.outstandingSukuk[underlying] -= 1
    self._set_status(assetId, status)


@external
def linkUnderlying(sukukId: uint256, underlyingId: uint256):
    """
    @notice Tie an Ijara sukuk to the asset whose usufruct backs it; the
            underlying cannot be retired until the sukuk is redeemed or
            retired. Issuer only, while the sukuk is still proposed.
    @dev Single-key decision (issue 9, item 8): one issuer key suffices. A
         proposed sukuk holds no value and has no token; the link is fixed
         and shown to governance, which must approve the sukuk before it
         can be tokenized. The only effect on the underlying is that it
         cannot be retired while linked; governance lifts that by retiring
         the proposed sukuk.
    @param sukukId The sukuk asset.
    @param underlyingId The underlying asset (e.g. a public building).
    """
    assert self.isIssuer[msg.sender], "caller is not an issuer"
    self._existing(sukukId)
    self._existing(underlyingId)
    assert self.assets[sukukId].assetClass == CLASS_SUKUK, "asset is not a sukuk"
    assert self.assets[underlyingId].assetClass != CLASS_SUKUK, "underlying cannot be a sukuk"
    assert self.assets[sukukId].status == STATUS_PROPOSED, "sukuk is no longer proposed"
    assert self.underlyingOf[sukukId] == 0, "sukuk already has an underlying"
    status: uint8 = self.assets[underlyingId].status
    assert status != STATUS_RETIRED, "underlying asset is retired"
    self.underlyingOf[sukukId] = underlyingId
    self.outstandingSukuk[underlyingId] += 1
    log UnderlyingLinked(sukukId=sukukId, underlyingId=underlyingId)


@external
def attestReserve(assetId: uint256, quantity: uint256, reportHash: bytes32) -> uint256:
    """
    @notice Record a proof-of-reserve attestation for a commodity asset: the
            units in its vault as counted by an auditor. Minting is capped
            by the latest attestation. Reserve auditors only.
    @dev Single-key decision (issue 9, item 8): one auditor key suffices. A
         higher attestation only widens a ceiling: it creates no units, and
         every mint is an M-of-N governance action (settlement mints follow
         an auction governance settles); the statutory authorisation caps
         minting whatever the attestation. A lower attestation (a shortfall)
         binds at once, as it should.
    @param assetId The commodity reserve asset.
    @param quantity Units of the commodity in the vault (token base units).
    @param reportHash SHA-256 of the auditor's report.
    @return The attestation's index for the asset.
    """
    assert self.isReserveAuditor[msg.sender], "caller is not a reserve auditor"
    self._existing(assetId)
    assert self.assets[assetId].assetClass == CLASS_COMMODITY, "asset is not a commodity reserve"
    assert reportHash != empty(bytes32), "attestation report hash is empty"
    index: uint256 = self.attestationCount[assetId]
    self.attestations[assetId][index] = ReserveAttestation(
        quantity=quantity, auditor=msg.sender, reportHash=reportHash, attestedAt=block.timestamp
    )
    self.attestationCount[assetId] = index + 1
    self.attestedReserve[assetId] = quantity
    log ReserveAttested(
        assetId=assetId, index=index, quantity=quantity, auditor=msg.sender, reportHash=reportHash
    )
    return index


@external
@view
def getAttestation(assetId: uint256, index: uint256) -> ReserveAttestation:
    """
    @notice One of a commodity asset's reserve attestations.
    @param assetId The asset.
    @param index The attestation's index.
    @return The stored attestation.
    """
    return self.attestations[assetId][index]


@external
def linkToken(assetId: uint256, token: address):
    """
    @notice Mark an approved asset tokenized by its new token. Factory only.
    @param assetId The asset.
    @param token The asset's token.
    """
    assert msg.sender == self.tokenFactory, "caller is not the token factory"
    self._existing(assetId)
    assert self.assets[assetId].status == STATUS_APPROVED, "asset is not approved"
    self.assets[assetId].token = token
    log TokenLinked(assetId=assetId, token=token)
    self._set_status(assetId, STATUS_TOKENIZED)


@external
@view
def getAsset(assetId: uint256) -> Asset:
    """
    @notice An asset's record.
    @param assetId The asset.
    @return The stored asset.
    """
    return self.assets[assetId]


@external
@view
def tokenOf(assetId: uint256) -> address:
    """
    @notice The token of a tokenized asset (cheaper than reading the whole record).
    @param assetId The asset.
    @return The token, or the zero address.
    """
    return self.assets[assetId].token


@external
@view
def getDocument(assetId: uint256, index: uint256) -> Document:
    """
    @notice One of an asset's documents.
    @param assetId The asset.
    @param index The document's index.
    @return The stored document.
    """
    return self.documents[assetId][index]


@external
@view
def getValuation(assetId: uint256, index: uint256) -> Valuation:
    """
    @notice One of an asset's valuations.
    @param assetId The asset.
    @param index The valuation's index.
    @return The stored valuation.
    """
    return self.valuations[assetId][index]


@external
@view
def mintingTerms(assetId: uint256) -> (uint8, uint256):
    """
    @notice What a token needs before minting: status and the most units
            that may be outstanding (the statutory authorisation, and for a
            commodity reserve also the last attested reserve).
    @param assetId The asset.
    @return The asset's status and its maximum outstanding units.
    """
    maxUnits: uint256 = self.assets[assetId].maxUnits
    if self.assets[assetId].assetClass == CLASS_COMMODITY:
        maxUnits = min(maxUnits, self.attestedReserve[assetId])
    return self.assets[assetId].status, maxUnits
