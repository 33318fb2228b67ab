#pragma version ~=0.4.3
#pragma optimize codesize
"""
@title Amanat Asset Token
@license Apache-2.0
@notice A permissioned token for one government asset: ERC-20 with the
        ERC-3643 token surface (pre-check, pause, freezes, forced transfer,
        recovery, mint, burn, batches). Compliance rules are built in and set
        only by governance: eligible investor categories, country allow or
        deny list, foreign-ownership cap, maximum number of holders,
        per-identity holding cap, minimum holding and a lock-up date.
        Minting is capped by the asset's statutory authorisation.
@dev Gas: each wallet's state is one storage word
       bits   0..95   balance
       bits  96..191  unavailable tokens: partially frozen by governance
                      plus locked for settlement (settlementLocked)
       bits 192..231  identity number the balance is booked to
       bit  254       a sole wallet's holding is counted as foreign
       bit  255       wallet frozen
     and all rules fit in two words, so an ordinary transfer reads two
     wallet words, the rules and one registry call, plus the identity
     holding of a party that is not a sole wallet.
     Holdings are booked per identity (the registry's identity number when
     a wallet's balance rises from zero), so caps and the holder count are
     per institution, not per wallet. An identity whose only wallet is a
     sole wallet (registry record bit 127) has its holding booked as that
     wallet's balance, with the foreign flag in bit 254, and no identity
     word; when the registry ends the sole wallet (a second wallet linked,
     or a country change), `rebookIdentity` moves the holding into the
     identity word in the same transaction. Forced transfers, freezes and recovery
     must carry the evidence hash of the governance proposal executing them;
     so must a governance burn (units destroyed without the holder's
     signature). Redemption at maturity goes through a settlement agent.
     A wallet holding units cannot be unlinked from its identity (the
     IdentityRegistry refuses), and a change of an identity's country
     re-books its holding here in the same transaction (`rebookIdentity`),
     so `foreignHeld` is always exact and a booked identity always matches
     the wallet's current record.
     Units locked for a DvP settlement are released for enforcement by
     governance cancelling the instruction (Settlement.enforceCancel, with
     evidence); an instruction's deadline is capped by a governed maximum.
     Settlement agents (contracts the AssetRegistry lists: auction, DvP,
     distributor) may lock units for a pending settlement, settle them with
     every rule checked, issue units at a governance-approved primary
     settlement and redeem units once the token has matured.
"""

interface IdentityRegistry:
    def walletRecords(first: address, second: address) -> (uint256, uint256): view
    def walletRecord(wallet: address) -> uint256: view
    def soleWalletOf(identityNumber: uint256) -> address: view

interface AssetRegistry:
    def mintingTerms(assetId: uint256) -> (uint8, uint256): view
    def isSettlementAgent(account: address) -> bool: view

interface Governance:
    def executingEvidence() -> bytes32: view

MAX_BATCH: constant(uint256) = 200
MAX_COUNTRIES: constant(uint256) = 64
MASK_39: constant(uint256) = 2**39 - 1
MASK_40: constant(uint256) = 2**40 - 1
MASK_64: constant(uint256) = 2**64 - 1
MASK_96: constant(uint256) = 2**96 - 1
MASK_128: constant(uint256) = 2**128 - 1
WALLET_FROZEN: constant(uint256) = 2**255
COUNTED_FOREIGN: constant(uint256) = 2**255
# A wallet's account: its sole-wallet holding counted as foreign (COUNTED_FOREIGN >> 1).
ACCOUNT_FOREIGN: constant(uint256) = 2**254
# Registry record: the wallet is its identity's sole wallet.
SOLE_WALLET: constant(uint256) = 2**127
RULES_PAUSED: constant(uint256) = 2**152
RULES_MATURED: constant(uint256) = 2**153
RULES_FLAGS: constant(uint256) = RULES_PAUSED | RULES_MATURED
# bits 160..223 of the rules word: maturity date (unix seconds, 0 = none), set at creation
MATURITY_SHIFT: constant(uint256) = 160
RULES_MATURITY: constant(uint256) = MASK_64 << MATURITY_SHIFT
BPS: constant(uint256) = 10000
ASSET_TOKENIZED: constant(uint8) = 3

# Restriction codes returned by detectTransferRestriction / detectMintRestriction.
OK: constant(uint8) = 0
PAUSED: constant(uint8) = 1
SENDER_NOT_VERIFIED: constant(uint8) = 2
RECEIVER_NOT_VERIFIED: constant(uint8) = 3
SENDER_FROZEN: constant(uint8) = 4
RECEIVER_FROZEN: constant(uint8) = 5
INSUFFICIENT_BALANCE: constant(uint8) = 6
TOKENS_FROZEN: constant(uint8) = 7
CATEGORY_NOT_ELIGIBLE: constant(uint8) = 8
COUNTRY_NOT_ALLOWED: constant(uint8) = 9
LOCKED_UP: constant(uint8) = 10
HOLDING_CAP: constant(uint8) = 11
MINIMUM_HOLDING: constant(uint8) = 12
MAX_HOLDERS: constant(uint8) = 13
FOREIGN_CAP: constant(uint8) = 14
AUTHORISATION_CAP: constant(uint8) = 15
ASSET_NOT_TOKENIZED: constant(uint8) = 16
MATURED: constant(uint8) = 17

# Kinds of EnforcementAction.
ENFORCE_FREEZE_WALLET: constant(uint8) = 1
ENFORCE_UNFREEZE_WALLET: constant(uint8) = 2
ENFORCE_FREEZE_TOKENS: constant(uint8) = 3
ENFORCE_UNFREEZE_TOKENS: constant(uint8) = 4
ENFORCE_FORCED_TRANSFER: constant(uint8) = 5
ENFORCE_RECOVERY: constant(uint8) = 6
ENFORCE_BURN: constant(uint8) = 7

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event AddressFrozen:
    userAddress: indexed(address)
    isFrozen: indexed(bool)
    owner: indexed(address)

event TokensFrozen:
    userAddress: indexed(address)
    amount: uint256

event TokensUnfrozen:
    userAddress: indexed(address)
    amount: uint256

event Paused:
    userAddress: address

event Unpaused:
    userAddress: address

event RecoverySuccess:
    lostWallet: indexed(address)
    newWallet: indexed(address)
    investorOnchainID: indexed(address)

event UpdatedTokenInformation:
    newName: String[64]
    newSymbol: String[32]
    newDecimals: uint8
    newVersion: String[8]
    newOnchainID: indexed(address)

event EnforcementAction:
    kind: indexed(uint8)
    wallet: indexed(address)
    counterparty: indexed(address)
    amount: uint256
    evidence: bytes32

event RulesUpdated:
    eligibleCategories: uint16
    foreignCapBps: uint16
    maxHolders: uint32
    lockupUntil: uint64
    countryMode: uint8
    domesticCountry: uint16

event HoldingLimitsUpdated:
    holdingCap: uint256
    minimumHolding: uint256

event CountriesListed:
    countries: DynArray[uint16, MAX_COUNTRIES]
    listed: bool

event SettlementLocked:
    wallet: indexed(address)
    agent: indexed(address)
    amount: uint256

event SettlementUnlocked:
    wallet: indexed(address)
    agent: indexed(address)
    amount: uint256

event Matured:
    maturedAt: uint256

event IdentityRebooked:
    identityNumber: indexed(uint256)
    country: uint16
    holding: uint256
    foreign: bool

event Redeemed:
    wallet: indexed(address)
    agent: indexed(address)
    amount: uint256

TOKEN_VERSION: constant(String[8]) = "1.0.0"

name: public(String[64])
symbol: public(String[32])
decimals: public(immutable(uint8))
assetId: public(immutable(uint256))
identityRegistry: public(immutable(address))
assetRegistry: public(immutable(address))
governance: public(immutable(address))
onchainID: public(address)
totalSupply: public(uint256)
allowance: public(HashMap[address, HashMap[address, uint256]])
settlementLocked: public(HashMap[address, uint256])
maturedBlock: public(uint256)

_accounts: HashMap[address, uint256]
_holdings: HashMap[uint256, uint256]
_rules: uint256
_limits: uint256
_stats: uint256
_listedCountries: HashMap[uint256, uint256]


@deploy
def __init__(
    name_: String[64],
    symbol_: String[32],
    decimals_: uint8,
    assetId_: uint256,
    identityRegistry_: address,
    assetRegistry_: address,
    governance_: address,
    rules: uint256,
    limits: uint256,
    listedCountries: DynArray[uint16, MAX_COUNTRIES],
):
    """
    @param name_ Token name.
    @param symbol_ Token symbol.
    @param decimals_ Decimals of one unit.
    @param assetId_ The asset in the AssetRegistry this token represents.
    @param identityRegistry_ The shared IdentityRegistry.
    @param assetRegistry_ The AssetRegistry.
    @param governance_ The governance contract (owner and sole agent).
    @param rules Packed rules word (see amanat.domain.rules); bits 160..223
           carry the maturity date (0 = none), kept for the token's life.
    @param limits Packed holding cap (low 128 bits) and minimum holding (high 128 bits).
    @param listedCountries Countries on the allow or deny list.
    """
    self.name = name_
    self.symbol = symbol_
    decimals = decimals_
    assetId = assetId_
    identityRegistry = identityRegistry_
    assetRegistry = assetRegistry_
    governance = governance_
    self._store_rules(rules & ~RULES_FLAGS)
    self._store_limits(limits & MASK_128, limits >> 128)
    self._list_countries(listedCountries, True)


# ---------------------------------------------------------------- internals


@internal
@view
def _only_governance():
    assert msg.sender == governance, "caller is not governance (agent)"


@internal
@view
def _evidence() -> bytes32:
    evidence: bytes32 = staticcall Governance(governance).executingEvidence()
    assert evidence != empty(bytes32), "enforcement action requires an evidence hash"
    return evidence


@internal
def _store_rules(rules: uint256):
    assert (rules >> 16) & 65535 <= BPS, "foreign cap above 10000 bps"
    assert (rules >> 128) & 255 <= 2, "country mode must be 0, 1 or 2"
    assert (rules >> 136) & 65535 != 0, "domestic country not set"
    self._rules = rules
    log RulesUpdated(
        eligibleCategories=convert(rules & 65535, uint16),
        foreignCapBps=convert((rules >> 16) & 65535, uint16),
        maxHolders=convert((rules >> 32) & 2**32 - 1, uint32),
        lockupUntil=convert((rules >> 64) & MASK_64, uint64),
        countryMode=convert((rules >> 128) & 255, uint8),
        domesticCountry=convert((rules >> 136) & 65535, uint16),
    )


@internal
def _store_limits(holdingCap: uint256, minimumHolding: uint256):
    assert holdingCap <= MASK_96 and minimumHolding <= MASK_96, "limit too large"
    assert holdingCap == 0 or minimumHolding <= holdingCap, "minimum holding above holding cap"
    self._limits = holdingCap | (minimumHolding << 128)
    log HoldingLimitsUpdated(holdingCap=holdingCap, minimumHolding=minimumHolding)


@internal
def _list_countries(countries: DynArray[uint16, MAX_COUNTRIES], listed: bool):
    for country: uint16 in countries:
        c: uint256 = convert(country, uint256)
        assert c > 0 and c < 1000, "country is not an ISO-3166 numeric code"
        word: uint256 = self._listedCountries[c >> 8]
        bit: uint256 = 1 << (c & 255)
        if listed:
            word = word | bit
        else:
            word = word & ~bit
        self._listedCountries[c >> 8] = word
    if len(countries) > 0:
        log CountriesListed(countries=countries, listed=listed)


@internal
@view
def _booked_identity(account: uint256, record: uint256) -> uint256:
    # A wallet holding tokens stays booked to the identity it was booked to.
    if account & MASK_96 != 0:
        return (account >> 192) & MASK_40
    return (record >> 88) & MASK_39


@internal
@view
def _held(identityNumber: uint256, account: uint256, record: uint256) -> uint256:
    # The identity's holding slot (units | COUNTED_FOREIGN): a sole wallet's own balance and
    # foreign flag, otherwise the identity word.
    if record & SOLE_WALLET != 0:
        return (account & MASK_96) | ((account & ACCOUNT_FOREIGN) << 1)
    return self._holdings[identityNumber]


@internal
@view
def _receiver_restriction(rules: uint256, record: uint256) -> uint8:
    if record == 0 or record & MASK_64 <= block.timestamp:
        return RECEIVER_NOT_VERIFIED
    if (rules >> ((record >> 80) & 255)) & 1 == 0:
        return CATEGORY_NOT_ELIGIBLE
    mode: uint256 = (rules >> 128) & 255
    if mode != 0:
        country: uint256 = (record >> 64) & 65535
        listed: bool = (self._listedCountries[country >> 8] >> (country & 255)) & 1 == 1
        if (mode == 1) != listed:
            return COUNTRY_NOT_ALLOWED
    return OK


@internal
@view
def _holding_restriction(
    rules: uint256,
    fromIdentity: uint256,
    fromSlot: uint256,
    fromRecord: uint256,
    toIdentity: uint256,
    toSlot: uint256,
    toRecord: uint256,
    amount: uint256,
    minted: uint256,
) -> uint8:
    # fromIdentity is 0 for a mint; the slots are the parties' holdings (_held); minted is the
    # amount a mint adds to the supply (0 for a transfer). The supply is read only when the
    # foreign total would rise.
    if fromIdentity == toIdentity:
        return OK
    limits: uint256 = self._limits
    toHeld: uint256 = toSlot & MASK_128
    toAfter: uint256 = toHeld + amount
    holdingCap: uint256 = limits & MASK_128
    if holdingCap != 0 and toAfter > holdingCap:
        return HOLDING_CAP
    minimum: uint256 = limits >> 128
    fromAfter: uint256 = 0
    if fromIdentity != 0:
        fromAfter = (fromSlot & MASK_128) - amount
    if minimum != 0 and (toAfter < minimum or (fromAfter != 0 and fromAfter < minimum)):
        return MINIMUM_HOLDING
    maxHolders: uint256 = (rules >> 32) & (2**32 - 1)
    if maxHolders != 0 and toHeld == 0 and (fromIdentity == 0 or fromAfter != 0):
        if (self._stats & MASK_128) + 1 > maxHolders:
            return MAX_HOLDERS
    foreignCap: uint256 = (rules >> 16) & 65535
    if foreignCap < BPS:
        # The foreign total exactly as _move will book it (holdings are re-classified by the
        # parties' current countries); refuse only a move that raises it above the cap.
        domestic: uint256 = (rules >> 136) & 65535
        before: uint256 = self._stats >> 128
        foreign: uint256 = before
        slot: uint256 = 0
        if fromIdentity != 0:
            slot, foreign = self._rebooked(fromSlot, fromRecord, amount, False, domestic, foreign)
        slot, foreign = self._rebooked(toSlot, toRecord, amount, True, domestic, foreign)
        if foreign > before and foreign * BPS > foreignCap * (self.totalSupply + minted):
            return FOREIGN_CAP
    return OK


@internal
@view
def _transfer_restriction(
    sender: address, receiver: address, amount: uint256
) -> (uint8, uint256, uint256):
    # Returns the restriction code and both wallets' identity records.
    rules: uint256 = self._rules
    fromRecord: uint256 = 0
    toRecord: uint256 = 0
    fromRecord, toRecord = staticcall IdentityRegistry(identityRegistry).walletRecords(
        sender, receiver
    )
    if rules & RULES_FLAGS != 0:
        if rules & RULES_MATURED != 0:
            return MATURED, fromRecord, toRecord
        return PAUSED, fromRecord, toRecord
    if fromRecord == 0 or fromRecord & MASK_64 <= block.timestamp:
        return SENDER_NOT_VERIFIED, fromRecord, toRecord
    code: uint8 = self._receiver_restriction(rules, toRecord)
    if code != OK:
        return code, fromRecord, toRecord
    fromAccount: uint256 = self._accounts[sender]
    toAccount: uint256 = self._accounts[receiver]
    if fromAccount & WALLET_FROZEN != 0:
        return SENDER_FROZEN, fromRecord, toRecord
    if toAccount & WALLET_FROZEN != 0:
        return RECEIVER_FROZEN, fromRecord, toRecord
    balance: uint256 = fromAccount & MASK_96
    if balance < amount:
        return INSUFFICIENT_BALANCE, fromRecord, toRecord
    if balance - ((fromAccount >> 96) & MASK_96) < amount:
        return TOKENS_FROZEN, fromRecord, toRecord
    if block.timestamp < (rules >> 64) & MASK_64:
        return LOCKED_UP, fromRecord, toRecord
    fromIdentity: uint256 = self._booked_identity(fromAccount, fromRecord)
    toIdentity: uint256 = self._booked_identity(toAccount, toRecord)
    if fromIdentity == toIdentity:
        return OK, fromRecord, toRecord
    code = self._holding_restriction(
        rules,
        fromIdentity,
        self._held(fromIdentity, fromAccount, fromRecord),
        fromRecord,
        toIdentity,
        self._held(toIdentity, toAccount, toRecord),
        toRecord,
        amount,
        0,
    )
    return code, fromRecord, toRecord


@internal
@view
def _mint_restriction(receiver: address, amount: uint256) -> (uint8, uint256):
    # Returns the restriction code and the receiver's identity record.
    toRecord: uint256 = staticcall IdentityRegistry(identityRegistry).walletRecord(receiver)
    status: uint8 = 0
    maxUnits: uint256 = 0
    status, maxUnits = staticcall AssetRegistry(assetRegistry).mintingTerms(assetId)
    if status != ASSET_TOKENIZED:
        return ASSET_NOT_TOKENIZED, toRecord
    supplyAfter: uint256 = self.totalSupply + amount
    if supplyAfter > maxUnits or supplyAfter > MASK_96:
        return AUTHORISATION_CAP, toRecord
    rules: uint256 = self._rules
    if rules & RULES_FLAGS != 0:
        if rules & RULES_MATURED != 0:
            return MATURED, toRecord
        return PAUSED, toRecord
    code: uint8 = self._receiver_restriction(rules, toRecord)
    if code != OK:
        return code, toRecord
    toAccount: uint256 = self._accounts[receiver]
    if toAccount & WALLET_FROZEN != 0:
        return RECEIVER_FROZEN, toRecord
    toIdentity: uint256 = self._booked_identity(toAccount, toRecord)
    code = self._holding_restriction(
        rules, 0, 0, 0, toIdentity, self._held(toIdentity, toAccount, toRecord), toRecord, amount, amount
    )
    return code, toRecord


@internal
@pure
def _message(code: uint8) -> String[64]:
    if code == OK:
        return "transfer allowed"
    if code == PAUSED:
        return "token is paused"
    if code == SENDER_NOT_VERIFIED:
        return "sender is not a verified institution"
    if code == RECEIVER_NOT_VERIFIED:
        return "receiver is not a verified institution"
    if code == SENDER_FROZEN:
        return "sender wallet is frozen"
    if code == RECEIVER_FROZEN:
        return "receiver wallet is frozen"
    if code == INSUFFICIENT_BALANCE:
        return "insufficient balance"
    if code == TOKENS_FROZEN:
        return "amount exceeds unfrozen balance"
    if code == CATEGORY_NOT_ELIGIBLE:
        return "receiver investor category not eligible"
    if code == COUNTRY_NOT_ALLOWED:
        return "receiver country not allowed"
    if code == LOCKED_UP:
        return "lock-up period has not ended"
    if code == HOLDING_CAP:
        return "receiver would exceed the holding cap"
    if code == MINIMUM_HOLDING:
        return "holding would fall below the minimum"
    if code == MAX_HOLDERS:
        return "maximum number of holders reached"
    if code == FOREIGN_CAP:
        return "foreign-ownership cap would be exceeded"
    if code == AUTHORISATION_CAP:
        return "mint exceeds the statutory authorisation"
    if code == ASSET_NOT_TOKENIZED:
        return "asset is not in tokenized status"
    if code == MATURED:
        return "token has matured"
    return "unknown restriction"


@internal
def _log_token_information():
    log UpdatedTokenInformation(newName=self.name, newSymbol=self.symbol, newDecimals=decimals, newVersion=TOKEN_VERSION, newOnchainID=self.onchainID)


@internal
@pure
def _refuse(code: uint8):
    raw_revert(abi_encode(self._message(code), method_id=method_id("Error(string)")))


@internal
@pure
def _rebooked(
    slot: uint256, record: uint256, amount: uint256, credit: bool, domestic: uint256, foreign: uint256
) -> (uint256, uint256):
    # An identity's holdings slot after crediting or debiting `amount`, re-classified as foreign
    # or domestic by its current country, and the foreign total after that. An unlinked wallet
    # (record 0) keeps its identity's classification.
    held: uint256 = slot & MASK_128
    isForeign: bool = slot & COUNTED_FOREIGN != 0
    if isForeign:
        foreign -= held
    if record != 0:
        isForeign = (record >> 64) & 65535 != domestic
    after: uint256 = 0
    if credit:
        after = held + amount
    else:
        after = held - amount
    if isForeign:
        return after | COUNTED_FOREIGN, foreign + after
    return after, foreign


@internal
def _book(
    identityNumber: uint256,
    wallet: address,
    account: uint256,
    record: uint256,
    amount: uint256,
    credit: bool,
    domestic: uint256,
    stats: uint256,
) -> uint256:
    # Re-books an identity's holding (`account` is the wallet's word before the move, whose
    # balance the caller has already moved) and returns the updated (holders | foreign << 128)
    # stats. A sole wallet's holding is its balance: only its foreign flag may change.
    slot: uint256 = self._held(identityNumber, account, record)
    held: uint256 = slot & MASK_128
    holders: uint256 = stats & MASK_128
    newSlot: uint256 = 0
    foreign: uint256 = 0
    newSlot, foreign = self._rebooked(slot, record, amount, credit, domestic, stats >> 128)
    after: uint256 = newSlot & MASK_128
    if held == 0 and after != 0:
        holders += 1
    elif held != 0 and after == 0:
        holders -= 1
    if record & SOLE_WALLET == 0:
        self._holdings[identityNumber] = newSlot
    elif (newSlot ^ slot) & COUNTED_FOREIGN != 0:
        self._accounts[wallet] ^= ACCOUNT_FOREIGN
    return holders | (foreign << 128)


@internal
def _move(sender: address, receiver: address, amount: uint256, fromRecord: uint256, toRecord: uint256):
    # Moves `amount` between wallets (either may be empty for mint / burn)
    # and re-books identity holdings. Checks are the caller's job.
    fromAccount: uint256 = 0
    toAccount: uint256 = 0
    fromIdentity: uint256 = 0
    toIdentity: uint256 = 0
    if sender != empty(address):
        fromAccount = self._accounts[sender]
        fromIdentity = self._booked_identity(fromAccount, fromRecord)
        after: uint256 = fromAccount - amount
        if after & MASK_96 == 0:
            after = after & ~(MASK_40 << 192)
        self._accounts[sender] = after
    if receiver != empty(address):
        toAccount = self._accounts[receiver]
        toIdentity = self._booked_identity(toAccount, toRecord)
        self._accounts[receiver] = ((toAccount & ~(MASK_40 << 192)) | (toIdentity << 192)) + amount
    if fromIdentity != toIdentity:
        domestic: uint256 = (self._rules >> 136) & 65535
        stats: uint256 = self._stats
        if sender != empty(address):
            stats = self._book(fromIdentity, sender, fromAccount, fromRecord, amount, False, domestic, stats)
        if receiver != empty(address):
            stats = self._book(toIdentity, receiver, toAccount, toRecord, amount, True, domestic, stats)
        self._stats = stats
    log Transfer(sender=sender, receiver=receiver, value=amount)


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    code: uint8 = 0
    fromRecord: uint256 = 0
    toRecord: uint256 = 0
    code, fromRecord, toRecord = self._transfer_restriction(sender, receiver, amount)
    if code != OK:
        self._refuse(code)
    self._move(sender, receiver, amount, fromRecord, toRecord)


@internal
def _release_frozen(wallet: address, amount: uint256):
    # Unfreezes just enough partially frozen tokens for `amount` to leave.
    account: uint256 = self._accounts[wallet]
    balance: uint256 = account & MASK_96
    assert balance >= amount, "insufficient balance"
    frozen: uint256 = (account >> 96) & MASK_96
    free: uint256 = balance - frozen
    if amount > free:
        released: uint256 = amount - free
        assert released <= frozen - self.settlementLocked[wallet], "tokens are locked for settlement"
        self._accounts[wallet] = account - (released << 96)
        log TokensUnfrozen(userAddress=wallet, amount=released)


@internal
def _mint(receiver: address, amount: uint256):
    assert amount > 0, "amount must be positive"
    code: uint8 = 0
    toRecord: uint256 = 0
    code, toRecord = self._mint_restriction(receiver, amount)
    if code != OK:
        self._refuse(code)
    self.totalSupply += amount
    self._move(empty(address), receiver, amount, 0, toRecord)


@internal
def _burn(wallet: address, amount: uint256):
    assert amount > 0, "amount must be positive"
    self._release_frozen(wallet, amount)
    self.totalSupply -= amount
    self._move(
        wallet,
        empty(address),
        amount,
        staticcall IdentityRegistry(identityRegistry).walletRecord(wallet),
        0,
    )


@internal
def _enforced_burn(wallet: address, amount: uint256, evidence: bytes32):
    self._burn(wallet, amount)
    log EnforcementAction(
        kind=ENFORCE_BURN, wallet=wallet, counterparty=empty(address), amount=amount, evidence=evidence
    )


@internal
def _forced_transfer(sender: address, receiver: address, amount: uint256, evidence: bytes32):
    assert amount > 0, "amount must be positive"
    assert receiver != empty(address), "receiver is the zero address"
    fromRecord: uint256 = 0
    toRecord: uint256 = 0
    fromRecord, toRecord = staticcall IdentityRegistry(identityRegistry).walletRecords(
        sender, receiver
    )
    assert toRecord != 0, "receiver is not registered"
    self._release_frozen(sender, amount)
    self._move(sender, receiver, amount, fromRecord, toRecord)
    log EnforcementAction(
        kind=ENFORCE_FORCED_TRANSFER, wallet=sender, counterparty=receiver, amount=amount, evidence=evidence
    )


@internal
def _set_address_frozen(wallet: address, freeze: bool, evidence: bytes32):
    account: uint256 = self._accounts[wallet]
    if freeze:
        account = account | WALLET_FROZEN
    else:
        account = account & ~WALLET_FROZEN
    self._accounts[wallet] = account
    log AddressFrozen(userAddress=wallet, isFrozen=freeze, owner=msg.sender)
    kind: uint8 = ENFORCE_UNFREEZE_WALLET
    if freeze:
        kind = ENFORCE_FREEZE_WALLET
    log EnforcementAction(kind=kind, wallet=wallet, counterparty=empty(address), amount=0, evidence=evidence)


@internal
def _freeze_partial(wallet: address, amount: uint256, evidence: bytes32):
    account: uint256 = self._accounts[wallet]
    frozen: uint256 = (account >> 96) & MASK_96
    assert frozen + amount <= account & MASK_96, "amount exceeds unfrozen balance"
    self._accounts[wallet] = account + (amount << 96)
    log TokensFrozen(userAddress=wallet, amount=amount)
    log EnforcementAction(kind=ENFORCE_FREEZE_TOKENS, wallet=wallet, counterparty=empty(address), amount=amount, evidence=evidence)


@internal
def _unfreeze_partial(wallet: address, amount: uint256, evidence: bytes32):
    account: uint256 = self._accounts[wallet]
    assert ((account >> 96) & MASK_96) - self.settlementLocked[wallet] >= amount, "amount exceeds frozen tokens"
    self._accounts[wallet] = account - (amount << 96)
    log TokensUnfrozen(userAddress=wallet, amount=amount)
    log EnforcementAction(kind=ENFORCE_UNFREEZE_TOKENS, wallet=wallet, counterparty=empty(address), amount=amount, evidence=evidence)


# ------------------------------------------------------------------ ERC-20


@external
@view
def balanceOf(wallet: address) -> uint256:
    """
    @notice ERC-20 balance, frozen tokens included.
    @param wallet The wallet.
    @return The balance.
    """
    return self._accounts[wallet] & MASK_96


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """
    @notice ERC-20 transfer, subject to every compliance rule.
    @param receiver The receiving wallet.
    @param amount Units to send.
    @return True; refusals revert with the rule's reason.
    """
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice ERC-20 transferFrom, subject to every compliance rule. The
            allowance is checked before anything else.
    @param sender The wallet debited.
    @param receiver The wallet credited.
    @param amount Units to send.
    @return True; refusals revert with the rule's reason.
    """
    allowed: uint256 = self.allowance[sender][msg.sender]
    assert allowed >= amount, "insufficient allowance"
    if allowed != max_value(uint256):
        self.allowance[sender][msg.sender] = allowed - amount
        log Approval(owner=sender, spender=msg.sender, value=allowed - amount)
    self._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice ERC-20 approve.
    @param spender The spender.
    @param amount The allowance.
    @return True.
    """
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def batchTransfer(receivers: DynArray[address, MAX_BATCH], amounts: DynArray[uint256, MAX_BATCH]):
    """
    @notice ERC-3643 batch transfer from the caller.
    @param receivers The receiving wallets.
    @param amounts Units for each receiver.
    """
    assert len(receivers) == len(amounts), "receivers and amounts differ in length"
    for i: uint256 in range(len(receivers), bound=MAX_BATCH):
        self._transfer(msg.sender, receivers[i], amounts[i])


# ------------------------------------------------------------- pre-checks


@external
@view
def detectTransferRestriction(sender: address, receiver: address, amount: uint256) -> uint8:
    """
    @notice ERC-1404 pre-check of an ordinary transfer.
    @param sender The wallet debited.
    @param receiver The wallet credited.
    @param amount Units.
    @return 0 if allowed, otherwise the restriction code.
    """
    return self._transfer_restriction(sender, receiver, amount)[0]


@external
@view
def detectMintRestriction(receiver: address, amount: uint256) -> uint8:
    """
    @notice Pre-check of a mint.
    @param receiver The wallet credited.
    @param amount Units.
    @return 0 if allowed, otherwise the restriction code.
    """
    return self._mint_restriction(receiver, amount)[0]


@external
@view
def detectEligibility(investor: address) -> uint8:
    """
    @notice Whether a wallet may hold this token at all (e.g. to bid in its
            auction): verified, eligible category and country, not frozen,
            token not matured. Holding limits are checked per transfer.
    @param investor The wallet.
    @return 0 if eligible, otherwise the restriction code.
    """
    rules: uint256 = self._rules
    if rules & RULES_MATURED != 0:
        return MATURED
    code: uint8 = self._receiver_restriction(
        rules, staticcall IdentityRegistry(identityRegistry).walletRecord(investor)
    )
    if code == OK and self._accounts[investor] & WALLET_FROZEN != 0:
        return RECEIVER_FROZEN
    return code


@external
@pure
def messageForTransferRestriction(code: uint8) -> String[64]:
    """
    @notice ERC-1404 text of a restriction code.
    @param code The restriction code.
    @return A readable reason.
    """
    return self._message(code)


@external
@view
def canTransfer(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice ERC-3643 compliance pre-check.
    @param sender The wallet debited.
    @param receiver The wallet credited.
    @param amount Units.
    @return True if the transfer would succeed.
    """
    return self._transfer_restriction(sender, receiver, amount)[0] == OK


# ------------------------------------------------------ agent (governance)


@external
def mint(receiver: address, amount: uint256):
    """
    @notice Issue units to a verified, eligible, unfrozen wallet within the
            statutory authorisation, while the token is not paused. Governance only.
    @param receiver The receiving wallet.
    @param amount Units to issue.
    """
    self._only_governance()
    self._mint(receiver, amount)


@external
def batchMint(receivers: DynArray[address, MAX_BATCH], amounts: DynArray[uint256, MAX_BATCH]):
    """
    @notice Mint to several wallets. Governance only.
    @param receivers The receiving wallets.
    @param amounts Units for each.
    """
    self._only_governance()
    assert len(receivers) == len(amounts), "receivers and amounts differ in length"
    for i: uint256 in range(len(receivers), bound=MAX_BATCH):
        self._mint(receivers[i], amounts[i])


@external
def burn(wallet: address, amount: uint256):
    """
    @notice Destroy a holder's units without its signature (e.g. a court
            order); frozen tokens are released first if needed. Governance
            only, with evidence. Redemption at maturity goes through the
            Distributor instead.
    @param wallet The wallet debited.
    @param amount Units to burn.
    """
    self._only_governance()
    self._enforced_burn(wallet, amount, self._evidence())


@external
def batchBurn(wallets: DynArray[address, MAX_BATCH], amounts: DynArray[uint256, MAX_BATCH]):
    """
    @notice Burn from several wallets under one evidence hash. Governance only.
    @param wallets The wallets debited.
    @param amounts Units for each.
    """
    self._only_governance()
    assert len(wallets) == len(amounts), "wallets and amounts differ in length"
    evidence: bytes32 = self._evidence()
    for i: uint256 in range(len(wallets), bound=MAX_BATCH):
        self._enforced_burn(wallets[i], amounts[i], evidence)


@external
def forcedTransfer(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice Move units without the compliance rules, e.g. on a court order.
            The executing proposal must carry an evidence hash; the receiver
            must be a registered identity. Governance only.
    @param sender The wallet debited.
    @param receiver The wallet credited.
    @param amount Units.
    @return True.
    """
    self._only_governance()
    self._forced_transfer(sender, receiver, amount, self._evidence())
    return True


@external
def batchForcedTransfer(
    senders: DynArray[address, MAX_BATCH],
    receivers: DynArray[address, MAX_BATCH],
    amounts: DynArray[uint256, MAX_BATCH],
):
    """
    @notice Several forced transfers under one evidence hash. Governance only.
    @param senders The wallets debited.
    @param receivers The wallets credited.
    @param amounts Units for each.
    """
    self._only_governance()
    assert len(senders) == len(receivers) and len(senders) == len(amounts), "batch lengths differ"
    evidence: bytes32 = self._evidence()
    for i: uint256 in range(len(senders), bound=MAX_BATCH):
        self._forced_transfer(senders[i], receivers[i], amounts[i], evidence)


@external
def recoveryAddress(lostWallet: address, newWallet: address, investorOnchainID: address) -> bool:
    """
    @notice Move a lost wallet's balance, frozen tokens and frozen status to
            a new wallet of the same identity (with the TokensFrozen and
            AddressFrozen events of the new wallet). Governance only, with evidence.
    @param lostWallet The wallet whose key was lost.
    @param newWallet A wallet the registrar linked to the same identity.
    @param investorOnchainID Kept for ERC-3643 compatibility; Amanat keeps
           identities in the IdentityRegistry, so this must be the zero address.
    @return True.
    """
    self._only_governance()
    evidence: bytes32 = self._evidence()
    assert investorOnchainID == empty(address), "onchain identity contracts are not used"
    assert self.settlementLocked[lostWallet] == 0, "lost wallet has units locked for settlement"
    lost: uint256 = self._accounts[lostWallet]
    balance: uint256 = lost & MASK_96
    assert balance > 0, "lost wallet holds no tokens"
    newRecord: uint256 = staticcall IdentityRegistry(identityRegistry).walletRecord(newWallet)
    assert (newRecord >> 88) & MASK_39 == (lost >> 192) & MASK_40, "new wallet belongs to another identity"
    frozenTokens: uint256 = (lost >> 96) & MASK_96
    self._accounts[lostWallet] = lost - (frozenTokens << 96)
    self._move(
        lostWallet,
        newWallet,
        balance,
        staticcall IdentityRegistry(identityRegistry).walletRecord(lostWallet),
        newRecord,
    )
    moved: uint256 = self._accounts[newWallet] + (frozenTokens << 96)
    if frozenTokens != 0:
        log TokensUnfrozen(userAddress=lostWallet, amount=frozenTokens)
        log TokensFrozen(userAddress=newWallet, amount=frozenTokens)
    if lost & WALLET_FROZEN != 0 and moved & WALLET_FROZEN == 0:
        moved = moved | WALLET_FROZEN
        log AddressFrozen(userAddress=newWallet, isFrozen=True, owner=msg.sender)
    self._accounts[newWallet] = moved
    log RecoverySuccess(lostWallet=lostWallet, newWallet=newWallet, investorOnchainID=investorOnchainID)
    log EnforcementAction(kind=ENFORCE_RECOVERY, wallet=lostWallet, counterparty=newWallet, amount=balance, evidence=evidence)
    return True


@external
def setAddressFrozen(wallet: address, freeze: bool):
    """
    @notice Freeze or unfreeze a whole wallet. Governance only, with evidence.
    @param wallet The wallet.
    @param freeze True to freeze, false to unfreeze.
    """
    self._only_governance()
    self._set_address_frozen(wallet, freeze, self._evidence())


@external
def batchSetAddressFrozen(wallets: DynArray[address, MAX_BATCH], freeze: DynArray[bool, MAX_BATCH]):
    """
    @notice Freeze or unfreeze several wallets. Governance only, with evidence.
    @param wallets The wallets.
    @param freeze For each wallet, true to freeze.
    """
    self._only_governance()
    assert len(wallets) == len(freeze), "wallets and flags differ in length"
    evidence: bytes32 = self._evidence()
    for i: uint256 in range(len(wallets), bound=MAX_BATCH):
        self._set_address_frozen(wallets[i], freeze[i], evidence)


@external
def freezePartialTokens(wallet: address, amount: uint256):
    """
    @notice Freeze part of a wallet's balance. Governance only, with evidence.
    @param wallet The wallet.
    @param amount Units to freeze.
    """
    self._only_governance()
    self._freeze_partial(wallet, amount, self._evidence())


@external
def batchFreezePartialTokens(wallets: DynArray[address, MAX_BATCH], amounts: DynArray[uint256, MAX_BATCH]):
    """
    @notice Freeze part of several balances. Governance only, with evidence.
    @param wallets The wallets.
    @param amounts Units for each.
    """
    self._only_governance()
    assert len(wallets) == len(amounts), "wallets and amounts differ in length"
    evidence: bytes32 = self._evidence()
    for i: uint256 in range(len(wallets), bound=MAX_BATCH):
        self._freeze_partial(wallets[i], amounts[i], evidence)


@external
def unfreezePartialTokens(wallet: address, amount: uint256):
    """
    @notice Release partially frozen tokens. Governance only, with evidence.
    @param wallet The wallet.
    @param amount Units to release.
    """
    self._only_governance()
    self._unfreeze_partial(wallet, amount, self._evidence())


@external
def batchUnfreezePartialTokens(wallets: DynArray[address, MAX_BATCH], amounts: DynArray[uint256, MAX_BATCH]):
    """
    @notice Release partially frozen tokens of several wallets. Governance
            only, with evidence.
    @param wallets The wallets.
    @param amounts Units for each.
    """
    self._only_governance()
    assert len(wallets) == len(amounts), "wallets and amounts differ in length"
    evidence: bytes32 = self._evidence()
    for i: uint256 in range(len(wallets), bound=MAX_BATCH):
        self._unfreeze_partial(wallets[i], amounts[i], evidence)


@external
def markMatured():
    """
    @notice Mark the instrument matured: from now on no ordinary transfer,
            settlement or mint; units can only be redeemed. Irreversible.
            Governance only, not before the maturity date the token was
            created with (`maturity`); a token created without one (0: a
            commodity receipt or an instrument without a fixed term) matures
            when governance decides.
    """
    self._only_governance()
    # one assert for both refusals: AssetToken's code is within bytes of the EIP-170 limit
    assert (
        self._rules & RULES_MATURED == 0 and block.timestamp >= self._rules >> MATURITY_SHIFT
    ), "token already matured or maturity date not reached"
    self._rules = self._rules | RULES_MATURED
    self.maturedBlock = block.number
    log Matured(maturedAt=block.timestamp)


@external
def pause():
    """
    @notice Stop all ordinary transfers. Governance only.
    """
    self._only_governance()
    assert self._rules & RULES_PAUSED == 0, "token already paused"
    self._rules = self._rules | RULES_PAUSED
    log Paused(userAddress=msg.sender)


@external
def unpause():
    """
    @notice Resume ordinary transfers. Governance only.
    """
    self._only_governance()
    assert self._rules & RULES_PAUSED != 0, "token not paused"
    self._rules = self._rules & ~RULES_PAUSED
    log Unpaused(userAddress=msg.sender)


@external
def setRules(
    eligibleCategories: uint16,
    foreignCapBps: uint16,
    maxHolders: uint32,
    lockupUntil: uint64,
    countryMode: uint8,
    domesticCountry: uint16,
):
    """
    @notice Replace the compliance rules. Governance only.
    @param eligibleCategories Bit i set = investor category i may receive.
    @param foreignCapBps Max share of supply held by non-domestic identities (10000 = no cap).
    @param maxHolders Max number of holding identities (0 = no limit).
    @param lockupUntil No ordinary transfer before this unix time.
    @param countryMode 0 no country rule, 1 allow-list, 2 deny-list.
    @param domesticCountry ISO-3166 numeric code of the home country (fixed once
           units are issued, so the foreign total stays exact).
    """
    self._only_governance()
    assert (
        self.totalSupply == 0 or convert(domesticCountry, uint256) == (self._rules >> 136) & 65535
    ), "domestic country cannot change once units are issued"
    self._store_rules(
        convert(eligibleCategories, uint256)
        | (convert(foreignCapBps, uint256) << 16)
        | (convert(maxHolders, uint256) << 32)
        | (convert(lockupUntil, uint256) << 64)
        | (convert(countryMode, uint256) << 128)
        | (convert(domesticCountry, uint256) << 136)
        | (self._rules & (RULES_FLAGS | RULES_MATURITY))
    )


@external
def setHoldingLimits(holdingCap: uint256, minimumHolding: uint256):
    """
    @notice Set the per-identity holding cap and minimum holding. Governance only.
    @param holdingCap Max units one identity may hold (0 = no cap).
    @param minimumHolding Min units a holding identity must keep (0 = none).
    """
    self._only_governance()
    self._store_limits(holdingCap, minimumHolding)


@external
def setCountriesListed(countries: DynArray[uint16, MAX_COUNTRIES], listed: bool):
    """
    @notice Put countries on or off the token's allow/deny list. Governance only.
    @param countries ISO-3166 numeric codes.
    @param listed True to list, false to unlist.
    """
    self._only_governance()
    self._list_countries(countries, listed)


@external
def setName(newName: String[64]):
    """
    @notice ERC-3643: rename the token. Governance only.
    @param newName The new name.
    """
    self._only_governance()
    self.name = newName
    self._log_token_information()


@external
def setSymbol(newSymbol: String[32]):
    """
    @notice ERC-3643: change the symbol. Governance only.
    @param newSymbol The new symbol.
    """
    self._only_governance()
    self.symbol = newSymbol
    self._log_token_information()


@external
def setOnchainID(newOnchainID: address):
    """
    @notice ERC-3643: set the token issuer's onchain identity reference. Governance only.
    @param newOnchainID The reference address.
    """
    self._only_governance()
    self.onchainID = newOnchainID
    self._log_token_information()


@external
def rebookIdentity(identityNumber: uint256, soleWallet: address, country: uint16):
    """
    @notice Re-classify an identity's booked holding as foreign or domestic
            after its country changed, so that `foreignHeld` stays exact;
            first, if its sole wallet ends (a second wallet linked, or the
            country change), move that wallet's holding into the identity
            word. Identity registry only, in the same transaction as the change.
    @param identityNumber The identity.
    @param soleWallet The sole wallet that ends, or the zero address.
    @param country Its ISO-3166 numeric country (new, or unchanged).
    """
    assert msg.sender == identityRegistry, "caller is not the identity registry"
    slot: uint256 = self._holdings[identityNumber]
    if soleWallet != empty(address):
        # The identity word of an identity with a sole wallet is empty: its holding is the balance.
        account: uint256 = self._accounts[soleWallet]
        if account & MASK_96 != 0:
            slot = (account & MASK_96) | ((account & ACCOUNT_FOREIGN) << 1)
            self._accounts[soleWallet] = account & ~ACCOUNT_FOREIGN
            self._holdings[identityNumber] = slot
    held: uint256 = slot & MASK_128
    isForeign: bool = convert(country, uint256) != (self._rules >> 136) & 65535
    if (slot & COUNTED_FOREIGN != 0) == isForeign:
        return
    stats: uint256 = self._stats
    if isForeign:
        self._holdings[identityNumber] = held | COUNTED_FOREIGN
        stats += held << 128
    else:
        self._holdings[identityNumber] = held
        stats -= held << 128
    self._stats = stats
    log IdentityRebooked(identityNumber=identityNumber, country=country, holding=held, foreign=isForeign)


# ------------------------------------------------------ settlement agents


@internal
@view
def _only_settlement_agent():
    assert staticcall AssetRegistry(assetRegistry).isSettlementAgent(msg.sender), "caller is not a settlement agent"


@internal
def _unlock(wallet: address, amount: uint256):
    locked: uint256 = self.settlementLocked[wallet]
    assert locked >= amount, "amount exceeds units locked for settlement"
    self.settlementLocked[wallet] = locked - amount
    self._accounts[wallet] = self._accounts[wallet] - (amount << 96)
    log SettlementUnlocked(wallet=wallet, agent=msg.sender, amount=amount)


@external
def settlementLock(wallet: address, amount: uint256):
    """
    @notice Lock a wallet's units for a pending settlement; they stay the
            wallet's (and count for distributions) but cannot move until
            settled or unlocked. Settlement agents only.
    @param wallet The delivering wallet.
    @param amount Units to lock.
    """
    self._only_settlement_agent()
    assert amount > 0, "amount must be positive"
    assert self._rules & RULES_MATURED == 0, "token has matured"
    account: uint256 = self._accounts[wallet]
    assert ((account >> 96) & MASK_96) + amount <= account & MASK_96, "amount exceeds available balance"
    self._accounts[wallet] = account + (amount << 96)
    self.settlementLocked[wallet] += amount
    log SettlementLocked(wallet=wallet, agent=msg.sender, amount=amount)


@external
def settlementUnlock(wallet: address, amount: uint256):
    """
    @notice Release units locked for a settlement that was cancelled or
            expired. Settlement agents only.
    @param wallet The wallet.
    @param amount Units to release.
    """
    self._only_settlement_agent()
    self._unlock(wallet, amount)


@external
def settlementTransfer(sender: address, receiver: address, amount: uint256):
    """
    @notice Deliver locked units to the buyer, with every compliance rule
            checked as for an ordinary transfer. Settlement agents only.
    @param sender The delivering wallet (its units were locked).
    @param receiver The receiving wallet.
    @param amount Units delivered.
    """
    self._only_settlement_agent()
    self._unlock(sender, amount)
    self._transfer(sender, receiver, amount)


@external
def settlementMint(receiver: address, amount: uint256):
    """
    @notice Issue units at a primary settlement (an auction allocation that
            governance approved), within the statutory authorisation and
            every rule of a governance mint; a wallet frozen since it bid is
            refused. Settlement agents only.
    @param receiver The successful bidder's wallet.
    @param amount Units issued.
    """
    self._only_settlement_agent()
    self._mint(receiver, amount)


@external
def redeem(wallet: address, amount: uint256):
    """
    @notice Cancel units at maturity against their cash payment (made by the
            calling agent in the same transaction). Settlement agents only,
            and only once the token has matured.
    @param wallet The holder.
    @param amount Units cancelled.
    """
    self._only_settlement_agent()
    assert self._rules & RULES_MATURED != 0, "token has not matured"
    self._burn(wallet, amount)
    log Redeemed(wallet=wallet, agent=msg.sender, amount=amount)


# ------------------------------------------------------------------ getters


@external
@view
def paused() -> bool:
    """
    @notice ERC-3643: whether ordinary transfers are stopped.
    @return True if paused.
    """
    return self._rules & RULES_PAUSED != 0


@external
@view
def matured() -> bool:
    """
    @notice Whether the instrument has matured (only redemption remains).
    @return True once matured.
    """
    return self._rules & RULES_MATURED != 0


@external
@view
def maturity() -> uint256:
    """
    @notice The maturity date the token was created with; `markMatured` is
            refused before it. Fixed for the token's life.
    @return Unix seconds, 0 if the instrument has no fixed maturity.
    """
    return self._rules >> MATURITY_SHIFT


@external
@view
def isFrozen(wallet: address) -> bool:
    """
    @notice ERC-3643: whether a whole wallet is frozen.
    @param wallet The wallet.
    @return True if frozen.
    """
    return self._accounts[wallet] & WALLET_FROZEN != 0


@external
@view
def getFrozenTokens(wallet: address) -> uint256:
    """
    @notice ERC-3643: partially frozen units of a wallet.
    @param wallet The wallet.
    @return Frozen units.
    """
    return ((self._accounts[wallet] >> 96) & MASK_96) - self.settlementLocked[wallet]


@external
@view
def version() -> String[8]:
    """
    @notice ERC-3643: the token implementation version.
    @return The version string.
    """
    return TOKEN_VERSION


@external
@view
def compliance() -> address:
    """
    @notice ERC-3643: the compliance contract; rules are built into this token.
    @return This token's address.
    """
    return self


@external
@view
def owner() -> address:
    """
    @notice The token's owner: the governance contract.
    @return The governance address.
    """
    return governance


@external
@view
def isAgent(account: address) -> bool:
    """
    @notice ERC-3643 agent role: only the governance contract acts as agent.
    @param account The account.
    @return True for the governance contract.
    """
    return account == governance


@external
@view
def rules() -> (uint16, uint16, uint32, uint64, uint8, uint16):
    """
    @notice The compliance rules.
    @return eligibleCategories, foreignCapBps, maxHolders, lockupUntil, countryMode, domesticCountry.
    """
    r: uint256 = self._rules
    return (
        convert(r & 65535, uint16),
        convert((r >> 16) & 65535, uint16),
        convert((r >> 32) & (2**32 - 1), uint32),
        convert((r >> 64) & MASK_64, uint64),
        convert((r >> 128) & 255, uint8),
        convert((r >> 136) & 65535, uint16),
    )


@external
@view
def holdingLimits() -> (uint256, uint256):
    """
    @notice The per-identity holding cap and minimum holding (0 = none).
    @return holdingCap, minimumHolding.
    """
    return self._limits & MASK_128, self._limits >> 128


@external
@view
def isCountryListed(country: uint16) -> bool:
    """
    @notice Whether a country is on the token's allow/deny list.
    @param country ISO-3166 numeric code.
    @return True if listed.
    """
    c: uint256 = convert(country, uint256)
    return (self._listedCountries[c >> 8] >> (c & 255)) & 1 == 1


@external
@view
def holderCount() -> uint256:
    """
    @notice Number of identities holding units.
    @return The holder count.
    """
    return self._stats & MASK_128


@external
@view
def foreignHeld() -> uint256:
    """
    @notice Units booked to non-domestic identities.
    @return Units held by foreign identities.
    """
    return self._stats >> 128


@external
@view
def identityHolding(identityNumber: uint256) -> uint256:
    """
    @notice Units booked to an identity across its wallets (a sole wallet's
            balance, see IdentityRegistry.soleWalletOf).
    @param identityNumber The identity.
    @return Units held.
    """
    held: uint256 = self._holdings[identityNumber] & MASK_128
    if held == 0:
        wallet: address = staticcall IdentityRegistry(identityRegistry).soleWalletOf(identityNumber)
        if wallet != empty(address):
            return self._accounts[wallet] & MASK_96
    return held
