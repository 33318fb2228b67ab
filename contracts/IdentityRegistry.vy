#pragma version ~=0.4.3
"""
@title Amanat Identity Registry
@license Apache-2.0
@notice One registry of verified institutions shared by every Amanat token.
        An identity is the hash of an off-chain KYC record plus its ISO-3166
        numeric country, investor category and KYC expiry; several wallets may
        belong to one identity. No personal data is kept on chain.
@dev Gas: onboarding an investor with one wallet writes two new storage
     words, the identity word and the wallet word; the KYC record hash is
     carried by the IdentityRegistered / IdentityUpdated events only (the
     index and services read it there).
     Identity word (one per identity):
       bits   0..63   KYC expiry (unix seconds)
       bits  64..79   country (ISO-3166 numeric)
       bits  80..87   investor category
       bits  88..247  first linked wallet (head of the identity's wallet list)
       bits 248..252  number of linked wallets
     Wallet word (one per linked wallet; 0 = unlinked), laid out so that
     masking it gives the record tokens decode (below):
       bits   0..41   KYC expiry (copy, saturated at 2**42 - 1; the exact
                      value is then read from the identity word)
       bits  64..73   country (copy)
       bits  80..83   investor category (copy)
       bits  88..126  identity number (1-based)
       bit   127      sole wallet: the identity's only wallet, registered
                      or linked alone; tokens book the identity's holding
                      as this wallet's balance (no identity word written
                      for a new holder). Cleared, one way, when a second
                      wallet is linked or the country changes: each token
                      then moves the holding into its identity word in the
                      same transaction (`rebookIdentity`)
       the other 160 bits (42..63, 74..79, 84..87, 128..255): the next
       wallet of the same identity (0 = last)
     so a token reads both parties of a transfer with one call and two
     storage loads. `walletRecord` returns the record in the packed form
     tokens decode:
       bits   0..63   KYC expiry
       bits  64..79   country
       bits  80..87   investor category
       bits  88..126  identity number (0 = unregistered)
       bit   127      sole wallet (above)
     Only registrars (appointed by governance) change identities.
     Decisions on single-key power (a registrar is one key):
     - KYC hash and expiry: the registrar alone. Renewing or suspending
       KYC is routine; a suspension only stops new transfers and moves no
       units. But suspending everyone would stop the market as a pause
       does (a governed action), so the registrar alone may shorten at
       most `maxSuspensionsPerDay` KYC expiries per UTC day; governance
       (which may also call `updateIdentity`) suspends beyond that.
     - Country and category of an identity that holds units of any token:
       governance only (M-of-N, through `updateIdentity`). Both decide the
       foreign-ownership cap and eligibility of value already held; the
       registrar alone may set them while the identity holds nothing. A
       country change re-books the identity's holding in every token in
       the same transaction, so each token's foreign total stays exact.
     - Wallets: a wallet holding units of any token, or cash (the
       CashToken, locked cash included), cannot be unlinked (so not
       re-linked to another identity either): an unlinked wallet may
       neither send nor receive, so what it held would be stranded. Its
       units and cash leave it by the holder's own transfers to another
       wallet of the same identity, by recovery to such a wallet, or by an
       evidence-backed governance action. Linking a new, empty wallet to
       an identity stays with the registrar alone (the wallet gains
       nothing: units reach it only with a holder's signature or an
       evidence-backed recovery, whose proposal names it).
"""

interface AssetRegistry:
    def assetCount() -> uint256: view
    def tokenOf(assetId: uint256) -> address: view

interface AssetToken:
    def balanceOf(wallet: address) -> uint256: view
    def identityHolding(identityNumber: uint256) -> uint256: view
    def rebookIdentity(identityNumber: uint256, soleWallet: address, country: uint16): nonpayable

interface CashToken:
    def balanceOf(wallet: address) -> uint256: view

MAX_WALLETS: constant(uint256) = 16
MAX_ASSETS: constant(uint256) = 1024
DEFAULT_MAX_SUSPENSIONS_PER_DAY: constant(uint256) = 10
DAY: constant(uint256) = 86400

MASK_39: constant(uint256) = 2**39 - 1
MASK_42: constant(uint256) = 2**42 - 1
MASK_64: constant(uint256) = 2**64 - 1
MASK_88: constant(uint256) = 2**88 - 1
MASK_160: constant(uint256) = 2**160 - 1
MASK_128: constant(uint256) = 2**128 - 1
SOLE_WALLET: constant(uint256) = 1 << 127
# The bits of a wallet word that are its record; the other 160 hold the next wallet.
RECORD_BITS: constant(uint256) = MASK_42 | (1023 << 64) | (15 << 80) | (MASK_39 << 88) | SOLE_WALLET

struct Identity:
    country: uint16
    category: uint8
    kycExpiry: uint64

event IdentityRegistered:
    identityNumber: indexed(uint256)
    kycHash: bytes32
    country: uint16
    category: uint8
    kycExpiry: uint64
    registrar: indexed(address)

event IdentityUpdated:
    identityNumber: indexed(uint256)
    kycHash: bytes32
    country: uint16
    category: uint8
    kycExpiry: uint64
    registrar: indexed(address)

event WalletLinked:
    identityNumber: indexed(uint256)
    wallet: indexed(address)
    registrar: indexed(address)

event WalletUnlinked:
    identityNumber: indexed(uint256)
    wallet: indexed(address)
    registrar: indexed(address)

event MaxSuspensionsPerDaySet:
    maxSuspensionsPerDay: uint256

event RegistrarSet:
    registrar: indexed(address)
    enabled: bool

governance: public(immutable(address))
assetRegistry: public(immutable(address))
cashToken: public(immutable(address))
isRegistrar: public(HashMap[address, bool])
maxSuspensionsPerDay: public(uint256)
suspensionDay: uint256
suspensionsOnDay: uint256
identityCount: public(uint256)
_identities: HashMap[uint256, uint256]
_wallets: HashMap[address, uint256]


@deploy
def __init__(
    governance_: address,
    registrars: DynArray[address, 8],
    assetRegistry_: address,
    cashToken_: address,
):
    """
    @param governance_ The M-of-N governance contract that appoints registrars.
    @param registrars The first registrars; later changes go through governance.
    @param assetRegistry_ The AssetRegistry listing every asset token (its address may be
           precomputed).
    @param cashToken_ The CashToken whose holders' wallets stay linked while they hold cash
           (its address may be precomputed; the zero address for a deployment without one).
    """
    assert governance_ != empty(address), "governance is the zero address"
    governance = governance_
    assetRegistry = assetRegistry_
    cashToken = cashToken_
    self.maxSuspensionsPerDay = DEFAULT_MAX_SUSPENSIONS_PER_DAY
    log MaxSuspensionsPerDaySet(maxSuspensionsPerDay=DEFAULT_MAX_SUSPENSIONS_PER_DAY)
    for registrar: address in registrars:
        self.isRegistrar[registrar] = True
        log RegistrarSet(registrar=registrar, enabled=True)


@internal
@view
def _suspensions_left() -> uint256:
    if self.suspensionDay != block.timestamp // DAY:
        return self.maxSuspensionsPerDay
    return self.maxSuspensionsPerDay - min(self.suspensionsOnDay, self.maxSuspensionsPerDay)


@internal
def _count_suspension():
    # A registrar shortening a KYC expiry: one of its suspensions of the day.
    assert self._suspensions_left() > 0, "the registrar's suspensions for today are used: governance may suspend more"
    today: uint256 = block.timestamp // DAY
    if self.suspensionDay != today:
        self.suspensionDay = today
        self.suspensionsOnDay = 0
    self.suspensionsOnDay += 1


@internal
@pure
def _fields(country: uint16, category: uint8, kycExpiry: uint64) -> uint256:
    # The identity word without its wallet list.
    return (
        convert(kycExpiry, uint256)
        | (convert(country, uint256) << 64)
        | (convert(category, uint256) << 80)
    )


@internal
@pure
def _wallet_word(identityNumber: uint256, fields: uint256) -> uint256:
    # A wallet word with no next wallet: its identity and copies of the identity's fields.
    return (
        min(fields & MASK_64, MASK_42)
        | (fields & ((1023 << 64) | (15 << 80)))
        | (identityNumber << 88)
    )


@internal
@pure
def _with_next(word: uint256, nextWallet: address) -> uint256:
    # The wallet word pointing to nextWallet: its 160 bits spread over the non-record bits.
    n: uint256 = convert(nextWallet, uint256)
    return (
        (word & RECORD_BITS)
        | ((n & MASK_128) << 128)
        | (((n >> 128) & (2**22 - 1)) << 42)
        | (((n >> 150) & 63) << 74)
        | ((n >> 156) << 84)
    )


@internal
@pure
def _next(word: uint256) -> address:
    n: uint256 = (
        (word >> 128)
        | (((word >> 42) & (2**22 - 1)) << 128)
        | (((word >> 74) & 63) << 150)
        | (((word >> 84) & 15) << 156)
    )
    return convert(convert(n, uint160), address)


@internal
@pure
def _head(identity: uint256) -> address:
    return convert(convert((identity >> 88) & MASK_160, uint160), address)


@internal
@pure
def _with_list(identity: uint256, head: address, count: uint256) -> uint256:
    return (identity & MASK_88) | (convert(head, uint256) << 88) | (count << 248)


@internal
@view
def _record(wallet: address) -> uint256:
    # The wallet's record in the packed form tokens decode (0 for an unlinked wallet).
    record: uint256 = self._wallets[wallet] & RECORD_BITS
    if record & MASK_42 == MASK_42:
        record = (record & ~MASK_64) | (self._identities[(record >> 88) & MASK_39] & MASK_64)
    return record


@internal
@view
def _only_registrar():
    assert self.isRegistrar[msg.sender], "caller is not a registrar"


@internal
def _check_fields(country: uint16, category: uint8):
    assert country > 0 and country < 1000, "country is not an ISO-3166 numeric code"
    assert category < 16, "investor category out of range"


@internal
def _link(wallet: address, word: uint256):
    # Links the wallet, with its wallet word, as the last of its identity's list (the caller
    # points the list to it).
    assert wallet != empty(address), "wallet is the zero address"
    assert self._wallets[wallet] == 0, "wallet already linked to an identity"
    self._wallets[wallet] = word
    log WalletLinked(identityNumber=(word >> 88) & MASK_39, wallet=wallet, registrar=msg.sender)


@internal
@view
def _holds_units(identityNumber: uint256, wallet: address) -> bool:
    # Whether the wallet (if set; a sole wallet's balance is its identity's holding) or the
    # identity's word (if identityNumber is set) holds units of any asset token.
    for assetId: uint256 in range(1, MAX_ASSETS + 1):
        if assetId > staticcall AssetRegistry(assetRegistry).assetCount():
            break
        token: address = staticcall AssetRegistry(assetRegistry).tokenOf(assetId)
        if token == empty(address):
            continue
        if wallet != empty(address):
            if staticcall AssetToken(token).balanceOf(wallet) != 0:
                return True
        if identityNumber != 0:
            if staticcall AssetToken(token).identityHolding(identityNumber) != 0:
                return True
    return False


@internal
def _rebook(identityNumber: uint256, soleWallet: address, country: uint16):
    # In every token: the sole wallet's holding (if any) moves into the identity word, then the
    # identity word is classified by the country.
    for assetId: uint256 in range(1, MAX_ASSETS + 1):
        if assetId > staticcall AssetRegistry(assetRegistry).assetCount():
            break
        token: address = staticcall AssetRegistry(assetRegistry).tokenOf(assetId)
        if token != empty(address):
            extcall AssetToken(token).rebookIdentity(identityNumber, soleWallet, country)


@internal
@view
def _sole_wallet(identity: uint256) -> address:
    # The identity's wallet if it is a sole wallet, else the zero address.
    head: address = self._head(identity)
    if head != empty(address) and self._wallets[head] & SOLE_WALLET != 0:
        return head
    return empty(address)


@external
def setRegistrar(registrar: address, enabled: bool):
    """
    @notice Appoint or remove a registrar. Governance only.
    @param registrar The registrar's address.
    @param enabled True to appoint, false to remove.
    """
    assert msg.sender == governance, "caller is not governance"
    self.isRegistrar[registrar] = enabled
    log RegistrarSet(registrar=registrar, enabled=enabled)


@external
def setMaxSuspensionsPerDay(maxSuspensionsPerDay: uint256):
    """
    @notice Set how many KYC expiries a registrar alone may shorten (suspend)
            per UTC day. Governance only.
    @param maxSuspensionsPerDay The daily number (0: only governance suspends).
    """
    assert msg.sender == governance, "caller is not governance"
    self.maxSuspensionsPerDay = maxSuspensionsPerDay
    log MaxSuspensionsPerDaySet(maxSuspensionsPerDay=maxSuspensionsPerDay)


@external
@view
def suspensionsLeft() -> uint256:
    """
    @notice How many more KYC expiries a registrar alone may shorten today.
    @return The number left of `maxSuspensionsPerDay` for the current UTC day.
    """
    return self._suspensions_left()


@external
def registerIdentity(
    kycHash: bytes32,
    country: uint16,
    category: uint8,
    kycExpiry: uint64,
    wallets: DynArray[address, MAX_WALLETS],
) -> uint256:
    """
    @notice Register a verified institution with its first wallets.
    @dev The KYC hash is recorded in the IdentityRegistered event, not in storage.
    @param kycHash SHA-256 or keccak hash of the off-chain KYC record.
    @param country ISO-3166 numeric country code (1..999).
    @param category Investor category (0..15, see amanat.domain.identity).
    @param kycExpiry Unix time after which the KYC must be renewed.
    @param wallets Wallets that belong to this identity.
    @return The new identity number.
    """
    assert self.isRegistrar[msg.sender], "caller is not a registrar"
    assert kycHash != empty(bytes32), "KYC record hash is empty"
    self._check_fields(country, category)
    identityNumber: uint256 = unsafe_add(self.identityCount, 1)
    assert identityNumber <= MASK_39, "identity numbers exhausted"
    self.identityCount = identityNumber
    log IdentityRegistered(
        identityNumber=identityNumber,
        kycHash=kycHash,
        country=country,
        category=category,
        kycExpiry=kycExpiry,
        registrar=msg.sender,
    )
    # _fields and _wallet_word written out (this is the onboarding path)
    expiry: uint256 = convert(kycExpiry, uint256)
    kind: uint256 = (convert(country, uint256) << 64) | (convert(category, uint256) << 80)
    fields: uint256 = expiry | kind
    # One wallet: a sole wallet (bit 127).
    word: uint256 = (
        min(expiry, MASK_42) | kind | (identityNumber << 88) | (convert(len(wallets) == 1, uint256) << 127)
    )
    # Linked in order: each wallet word points to the next wallet of the list.
    previous: address = empty(address)
    for wallet: address in wallets:
        if previous != empty(address):
            self._wallets[previous] = self._with_next(word, wallet)
        self._link(wallet, word)
        previous = wallet
    if len(wallets) == 0:
        self._identities[identityNumber] = fields
    else:
        self._identities[identityNumber] = (
            fields | (convert(wallets[0], uint256) << 88) | (len(wallets) << 248)
        )
    return identityNumber


@external
def updateIdentity(
    identityNumber: uint256, kycHash: bytes32, country: uint16, category: uint8, kycExpiry: uint64
):
    """
    @notice Change an identity's KYC hash, country, category or expiry (a
            past expiry suspends it). Every linked wallet follows at once.
            A registrar may; a change of country or category of an identity
            that holds units needs governance, and a registrar shortens at
            most `maxSuspensionsPerDay` expiries a day. A country change
            re-books the identity's holding in every asset token.
    @dev The KYC hash is recorded in the IdentityUpdated event, not in storage.
    @dev Single-key decision (issue 9, item 8): country and category of an
         identity holding units need M-of-N governance (they classify value
         already held); KYC hash and expiry stay with one registrar key:
         renewal and suspension move no units, and the key's reach is
         bounded by `maxSuspensionsPerDay`. A registrar may renew a KYC that
         governance suspended: stopping a holder for cause is a governed,
         evidence-backed freeze in the token, which no registrar can lift.
    @param identityNumber The identity to change.
    @param kycHash Hash of the renewed off-chain KYC record.
    @param country ISO-3166 numeric country code.
    @param category Investor category.
    @param kycExpiry New KYC expiry (unix seconds).
    """
    assert self.isRegistrar[msg.sender] or msg.sender == governance, "caller is not a registrar"
    assert identityNumber > 0 and identityNumber <= self.identityCount, "unknown identity"
    assert kycHash != empty(bytes32), "KYC record hash is empty"
    self._check_fields(country, category)
    previous: uint256 = self._identities[identityNumber]
    if convert(kycExpiry, uint256) < previous & MASK_64 and msg.sender != governance:
        self._count_suspension()
    reclassified: bool = (previous >> 64) & 65535 != convert(country, uint256) or (
        previous >> 80
    ) & 255 != convert(category, uint256)
    soleWallet: address = self._sole_wallet(previous)
    if reclassified:
        assert msg.sender == governance or not self._holds_units(identityNumber, soleWallet), "identity holds units: a change of country or category needs governance"
    # A country change ends a sole wallet (its holding moves into the identity word).
    sole: uint256 = 0
    if (previous >> 64) & 65535 != convert(country, uint256):
        self._rebook(identityNumber, soleWallet, country)
    elif soleWallet != empty(address):
        sole = SOLE_WALLET
    fields: uint256 = self._fields(country, category, kycExpiry)
    self._identities[identityNumber] = fields | (previous & ~MASK_88)
    wallet: address = self._head(previous)
    for i: uint256 in range(MAX_WALLETS):
        if wallet == empty(address):
            break
        word: uint256 = self._wallets[wallet]
        self._wallets[wallet] = self._with_next(self._wallet_word(identityNumber, fields) | sole, self._next(word))
        wallet = self._next(word)
    log IdentityUpdated(
        identityNumber=identityNumber,
        kycHash=kycHash,
        country=country,
        category=category,
        kycExpiry=kycExpiry,
        registrar=msg.sender,
    )


@external
def linkWallet(identityNumber: uint256, wallet: address):
    """
    @notice Add a wallet to an existing identity (last in its wallet list).
    @dev Single-key decision (issue 9, item 8): one registrar key suffices.
         The new wallet gains nothing: units and cash reach it only with a
         holder's signature or an evidence-backed recovery whose proposal
         names it; it must not be linked to any identity yet.
    @param identityNumber The identity.
    @param wallet The wallet to add; must not belong to any identity.
    """
    self._only_registrar()
    assert identityNumber > 0 and identityNumber <= self.identityCount, "unknown identity"
    identity: uint256 = self._identities[identityNumber]
    count: uint256 = identity >> 248
    assert count < MAX_WALLETS, "identity has too many wallets"
    if count == 0:
        # Alone: a sole wallet (an identity without wallets holds nothing in any token).
        self._link(wallet, self._wallet_word(identityNumber, identity & MASK_88) | SOLE_WALLET)
        self._identities[identityNumber] = self._with_list(identity, wallet, 1)
        return
    self._link(wallet, self._wallet_word(identityNumber, identity & MASK_88))
    soleWallet: address = self._sole_wallet(identity)
    if soleWallet != empty(address):
        # The first wallet stops being sole: every token moves its holding into the identity word.
        self._wallets[soleWallet] = self._wallets[soleWallet] & ~SOLE_WALLET
        self._rebook(identityNumber, soleWallet, convert((identity >> 64) & 65535, uint16))
    last: address = self._head(identity)
    for i: uint256 in range(MAX_WALLETS):
        following: address = self._next(self._wallets[last])
        if following == empty(address):
            break
        last = following
    self._wallets[last] = self._with_next(self._wallets[last], wallet)
    self._identities[identityNumber] = self._with_list(identity, self._head(identity), count + 1)


@external
def unlinkWallet(wallet: address):
    """
    @notice Remove a wallet from its identity; it can no longer receive or send.
            A wallet holding units of any asset token, or cash, cannot be
            unlinked: they move to another wallet of the identity first.
    @dev Single-key decision (issue 9, item 8): one registrar key suffices
         because only an empty wallet can be unlinked (and so re-linked to
         another identity); a wallet holding value changes hands only by
         its holder's transfer or a governed recovery.
    @param wallet The wallet to remove.
    """
    self._only_registrar()
    word: uint256 = self._wallets[wallet]
    identityNumber: uint256 = (word >> 88) & MASK_39
    assert identityNumber != 0, "wallet is not linked"
    assert not self._holds_units(0, wallet), "wallet holds units: recover them to another wallet of its identity first"
    if cashToken != empty(address):
        assert staticcall CashToken(cashToken).balanceOf(wallet) == 0, "wallet holds cash: recover it to another wallet of its identity first"
    identity: uint256 = self._identities[identityNumber]
    head: address = self._head(identity)
    following: address = self._next(word)
    if head == wallet:
        head = following
    else:
        previous: address = head
        for i: uint256 in range(MAX_WALLETS):
            previousWord: uint256 = self._wallets[previous]
            if self._next(previousWord) == wallet:
                self._wallets[previous] = self._with_next(previousWord, following)
                break
            previous = self._next(previousWord)
    self._identities[identityNumber] = self._with_list(identity, head, (identity >> 248) - 1)
    self._wallets[wallet] = 0
    log WalletUnlinked(identityNumber=identityNumber, wallet=wallet, registrar=msg.sender)


@external
@view
def walletRecord(wallet: address) -> uint256:
    """
    @notice The wallet's packed record: KYC expiry (bits 0..63), country
            (64..79), investor category (80..87), identity number (88..126)
            and the sole-wallet flag (127).
    @param wallet The wallet.
    @return The packed record, 0 for an unlinked wallet.
    """
    return self._record(wallet)


@external
@view
def walletRecords(first: address, second: address) -> (uint256, uint256):
    """
    @notice Packed records of two wallets, for a token's transfer check.
    @param first Usually the sender.
    @param second Usually the receiver.
    @return The two packed records (0 for an unlinked wallet).
    """
    # _record twice, written out: the transfer path of every token calls this.
    a: uint256 = self._wallets[first] & RECORD_BITS
    b: uint256 = self._wallets[second] & RECORD_BITS
    if a & MASK_42 == MASK_42:
        a = (a & ~MASK_64) | (self._identities[(a >> 88) & MASK_39] & MASK_64)
    if b & MASK_42 == MASK_42:
        b = (b & ~MASK_64) | (self._identities[(b >> 88) & MASK_39] & MASK_64)
    return a, b


@external
@view
def identityOf(identityNumber: uint256) -> Identity:
    """
    @notice The stored identity record. Its KYC record hash is in the last
            IdentityRegistered or IdentityUpdated event of the identity.
    @param identityNumber The identity.
    @return country, category and KYC expiry.
    """
    identity: uint256 = self._identities[identityNumber]
    return Identity(
        country=convert((identity >> 64) & 65535, uint16),
        category=convert((identity >> 80) & 255, uint8),
        kycExpiry=convert(identity & MASK_64, uint64),
    )


@external
@view
def walletsOfIdentity(identityNumber: uint256) -> DynArray[address, MAX_WALLETS]:
    """
    @notice Wallets linked to an identity, in the order they were linked.
    @param identityNumber The identity.
    @return The linked wallets.
    """
    wallets: DynArray[address, MAX_WALLETS] = []
    wallet: address = self._head(self._identities[identityNumber])
    for i: uint256 in range(MAX_WALLETS):
        if wallet == empty(address):
            break
        wallets.append(wallet)
        wallet = self._next(self._wallets[wallet])
    return wallets


@external
@view
def identityNumberOf(wallet: address) -> uint256:
    """
    @notice The identity a wallet belongs to.
    @param wallet The wallet.
    @return The identity number, 0 if the wallet is not linked.
    """
    return (self._wallets[wallet] >> 88) & MASK_39


@external
@view
def soleWalletOf(identityNumber: uint256) -> address:
    """
    @notice The identity's sole wallet, whose balance in each token is the
            identity's holding there (tokens book no identity word for it).
    @param identityNumber The identity.
    @return The wallet, or the zero address if the identity has none or
            several (or had several).
    """
    return self._sole_wallet(self._identities[identityNumber])


@external
@view
def contains(wallet: address) -> bool:
    """
    @notice ERC-3643: whether the wallet is linked to an identity.
    @param wallet The wallet.
    @return True if linked.
    """
    return self._wallets[wallet] != 0


@external
@view
def isVerified(wallet: address) -> bool:
    """
    @notice ERC-3643: whether the wallet is linked and its KYC is current.
    @param wallet The wallet.
    @return True if linked and the KYC expiry is in the future.
    """
    record: uint256 = self._record(wallet)
    return record != 0 and (record & MASK_64) > block.timestamp


@external
@view
def investorCountry(wallet: address) -> uint16:
    """
    @notice ERC-3643: the wallet's ISO-3166 numeric country.
    @param wallet The wallet.
    @return The country code, 0 if not linked.
    """
    return convert((self._wallets[wallet] >> 64) & 1023, uint16)
