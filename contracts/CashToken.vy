#pragma version ~=0.4.3
"""
@title Amanat Cash Token
@license Apache-2.0
@notice Tokenized PKR for the cash leg of settlements: a stand-in for a
        wholesale deposit token or central-bank token. ERC-20, held and
        moved only by verified institutions (the shared IdentityRegistry),
        by the treasury (the governance contract) and by the settlement
        contracts. Issued and withdrawn only through M-of-N governance
        against off-chain deposits and withdrawals.
@dev Each wallet is one storage word: bits 0..127 balance, bits 128..255
     units locked by a settlement agent for a pending settlement (the
     cash leg of a DvP or an auction bid). Locked cash stays the wallet's
     but cannot move except by the agent settling it.
"""

interface IdentityRegistry:
    def walletRecord(wallet: address) -> uint256: view
    def identityNumberOf(wallet: address) -> uint256: view

interface Governance:
    def executingEvidence() -> bytes32: view

MASK_64: constant(uint256) = 2**64 - 1
MASK_128: constant(uint256) = 2**128 - 1

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event CashIssued:
    receiver: indexed(address)
    amount: uint256
    depositReference: bytes32

event CashWithdrawn:
    wallet: indexed(address)
    amount: uint256
    withdrawalReference: bytes32

event CashRecovered:
    lostWallet: indexed(address)
    newWallet: indexed(address)
    amount: uint256
    evidence: bytes32

event CashLocked:
    wallet: indexed(address)
    agent: indexed(address)
    amount: uint256

event CashUnlocked:
    wallet: indexed(address)
    agent: indexed(address)
    amount: uint256

event AgentSet:
    agent: indexed(address)
    enabled: bool

name: public(String[64])
symbol: public(String[32])
decimals: public(immutable(uint8))
identityRegistry: public(immutable(address))
governance: public(immutable(address))
totalSupply: public(uint256)
allowance: public(HashMap[address, HashMap[address, uint256]])
isAgent: public(HashMap[address, bool])

_accounts: HashMap[address, uint256]


@deploy
def __init__(
    name_: String[64],
    symbol_: String[32],
    decimals_: uint8,
    identityRegistry_: address,
    governance_: address,
    agents: DynArray[address, 8],
    treasurySpender: address,
):
    """
    @param name_ Token name.
    @param symbol_ Token symbol.
    @param decimals_ Decimals (2 for paisa).
    @param identityRegistry_ The shared IdentityRegistry.
    @param governance_ The governance contract: the cash issuer and the treasury account.
    @param agents Settlement contracts (auction, DvP, distributor).
    @param treasurySpender The distributor, allowed to draw declared
           distributions from the treasury (zero address for none).
    """
    assert governance_ != empty(address), "governance is the zero address"
    self.name = name_
    self.symbol = symbol_
    decimals = decimals_
    identityRegistry = identityRegistry_
    governance = governance_
    for agent: address in agents:
        self.isAgent[agent] = True
        log AgentSet(agent=agent, enabled=True)
    if treasurySpender != empty(address):
        self.allowance[governance_][treasurySpender] = max_value(uint256)
        log Approval(owner=governance_, spender=treasurySpender, value=max_value(uint256))


# ---------------------------------------------------------------- internals


@internal
@view
def _only_governance():
    assert msg.sender == governance, "caller is not governance"


@internal
@view
def _only_agent():
    assert self.isAgent[msg.sender], "caller is not a settlement agent"


@internal
@view
def _verified(wallet: address) -> bool:
    record: uint256 = staticcall IdentityRegistry(identityRegistry).walletRecord(wallet)
    return record != 0 and record & MASK_64 > block.timestamp


@internal
@view
def _may_hold(wallet: address) -> bool:
    if wallet == governance or self.isAgent[wallet]:
        return True
    return self._verified(wallet)


@internal
@view
def _may_receive(wallet: address) -> bool:
    # The same rule as _may_hold, asked in the order that costs least for the usual receiver:
    # the treasury; the calling settlement contract paying itself (a deposit, a distribution's
    # draw); then the registry, since institutions receive almost every payment; an agent's
    # flag last.
    if wallet == governance:
        return True
    if wallet == msg.sender:
        if self.isAgent[wallet]:
            return True
    if self._verified(wallet):
        return True
    return self.isAgent[wallet]


@internal
def _move(sender: address, receiver: address, amount: uint256):
    assert self._may_hold(sender), "sender is not a verified institution"
    assert self._may_receive(receiver), "receiver is not a verified institution"
    account: uint256 = self._accounts[sender]
    assert (account & MASK_128) - (account >> 128) >= amount, "insufficient unlocked cash"
    self._accounts[sender] = account - amount
    self._accounts[receiver] += amount
    log Transfer(sender=sender, receiver=receiver, value=amount)


@internal
def _unlock(wallet: address, amount: uint256):
    account: uint256 = self._accounts[wallet]
    assert account >> 128 >= amount, "amount exceeds cash locked for settlement"
    self._accounts[wallet] = account - (amount << 128)
    log CashUnlocked(wallet=wallet, agent=msg.sender, amount=amount)


# ------------------------------------------------------------------ ERC-20


@external
@view
def balanceOf(wallet: address) -> uint256:
    """
    @notice ERC-20 balance, locked cash included.
    @param wallet The wallet.
    @return The balance in minor units.
    """
    return self._accounts[wallet] & MASK_128


@external
@view
def lockedOf(wallet: address) -> uint256:
    """
    @notice Cash locked for pending settlements.
    @param wallet The wallet.
    @return Locked minor units.
    """
    return self._accounts[wallet] >> 128


@external
@view
def mayHold(wallet: address) -> bool:
    """
    @notice Whether a wallet may hold and receive cash (a verified
            institution with unexpired KYC, the treasury or an agent).
    @param wallet The wallet.
    @return True if it may.
    """
    return self._may_hold(wallet)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """
    @notice ERC-20 transfer between verified institutions.
    @param receiver The receiving wallet.
    @param amount Minor units.
    @return True; refusals revert with the reason.
    """
    self._move(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice ERC-20 transferFrom between verified institutions.
    @param sender The wallet debited.
    @param receiver The wallet credited.
    @param amount Minor units.
    @return True; refusals revert with the reason.
    """
    allowed: uint256 = self.allowance[sender][msg.sender]
    assert allowed >= amount, "insufficient allowance"
    if allowed != max_value(uint256):
        self.allowance[sender][msg.sender] = allowed - amount
        log Approval(owner=sender, spender=msg.sender, value=allowed - amount)
    self._move(sender, receiver, amount)
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


# ---------------------------------------------------------- cash issuer


@external
def issueCash(receiver: address, amount: uint256, depositReference: bytes32):
    """
    @notice Issue cash against an off-chain deposit. Governance only.
    @param receiver The depositing institution's wallet.
    @param amount Minor units deposited.
    @param depositReference Hash of the deposit record (bank reference).
    """
    self._only_governance()
    assert amount > 0, "amount must be positive"
    assert depositReference != empty(bytes32), "deposit reference is empty"
    assert self._may_hold(receiver), "receiver is not a verified institution"
    supply: uint256 = self.totalSupply + amount
    assert supply <= MASK_128, "supply too large"
    self.totalSupply = supply
    self._accounts[receiver] += amount
    log Transfer(sender=empty(address), receiver=receiver, value=amount)
    log CashIssued(receiver=receiver, amount=amount, depositReference=depositReference)


@external
def withdrawCash(wallet: address, amount: uint256, withdrawalReference: bytes32):
    """
    @notice Cancel cash paid out off chain on the holder's withdrawal
            instruction. Governance only, with the evidence hash of the
            executing proposal (the institution's cash leaves without its
            on-chain signature).
    @param wallet The withdrawing wallet.
    @param amount Minor units withdrawn (unlocked cash only).
    @param withdrawalReference Hash of the holder's withdrawal instruction.
    """
    self._only_governance()
    assert staticcall Governance(governance).executingEvidence() != empty(bytes32), "withdrawal requires an evidence hash"
    assert amount > 0, "amount must be positive"
    assert withdrawalReference != empty(bytes32), "withdrawal reference is empty"
    account: uint256 = self._accounts[wallet]
    assert (account & MASK_128) - (account >> 128) >= amount, "insufficient unlocked cash"
    self._accounts[wallet] = account - amount
    self.totalSupply -= amount
    log Transfer(sender=wallet, receiver=empty(address), value=amount)
    log CashWithdrawn(wallet=wallet, amount=amount, withdrawalReference=withdrawalReference)


@external
def recoveryAddress(lostWallet: address, newWallet: address, investorOnchainID: address) -> bool:
    """
    @notice Move a lost wallet's cash to a new wallet of the same identity
            (the ERC-3643 recovery of the asset tokens, for the cash leg), so
            that the lost wallet can be unlinked. Governance only, with the
            evidence hash of the executing proposal. Refused while any of the
            lost wallet's cash is locked for a settlement.
    @param lostWallet The wallet whose key was lost.
    @param newWallet A wallet the registrar linked to the same identity.
    @param investorOnchainID Kept for the same signature as the asset tokens'
           recovery; must be the zero address.
    @return True.
    """
    self._only_governance()
    evidence: bytes32 = staticcall Governance(governance).executingEvidence()
    assert evidence != empty(bytes32), "recovery requires an evidence hash"
    assert investorOnchainID == empty(address), "onchain identity contracts are not used"
    account: uint256 = self._accounts[lostWallet]
    assert account >> 128 == 0, "lost wallet has cash locked for settlement"
    amount: uint256 = account & MASK_128
    assert amount > 0, "lost wallet holds no cash"
    identityNumber: uint256 = staticcall IdentityRegistry(identityRegistry).identityNumberOf(lostWallet)
    assert identityNumber != 0 and staticcall IdentityRegistry(identityRegistry).identityNumberOf(newWallet) == identityNumber, "new wallet belongs to another identity"
    self._accounts[lostWallet] = 0
    self._accounts[newWallet] += amount
    log Transfer(sender=lostWallet, receiver=newWallet, value=amount)
    log CashRecovered(lostWallet=lostWallet, newWallet=newWallet, amount=amount, evidence=evidence)
    return True


@external
def setAgent(agent: address, enabled: bool):
    """
    @notice List or delist a settlement contract. Governance only, with
            evidence: an agent can lock and move any institution's cash.
    @dev An agent must be a contract (code that can be read and audited),
         never an ordinary key; delisting is always allowed.
    @param agent The settlement contract.
    @param enabled True to list, false to delist.
    """
    self._only_governance()
    assert agent.is_contract or not enabled, "cash agent is not a contract"
    self.isAgent[agent] = enabled
    log AgentSet(agent=agent, enabled=enabled)


# ---------------------------------------------------- settlement agents


@external
def lock(wallet: address, amount: uint256):
    """
    @notice Lock a wallet's cash for a pending settlement. Agents only.
    @param wallet The paying wallet.
    @param amount Minor units to lock.
    """
    self._only_agent()
    assert amount > 0, "amount must be positive"
    account: uint256 = self._accounts[wallet]
    assert (account & MASK_128) - (account >> 128) >= amount, "insufficient unlocked cash"
    self._accounts[wallet] = account + (amount << 128)
    log CashLocked(wallet=wallet, agent=msg.sender, amount=amount)


@external
def unlock(wallet: address, amount: uint256):
    """
    @notice Release locked cash of a cancelled or expired settlement.
            Agents only.
    @param wallet The wallet.
    @param amount Minor units to release.
    """
    self._only_agent()
    self._unlock(wallet, amount)


@external
def settleLocked(sender: address, receiver: address, amount: uint256):
    """
    @notice Pay locked cash to the other party of a settlement. Agents only.
    @param sender The paying wallet (its cash was locked).
    @param receiver The receiving wallet.
    @param amount Minor units paid.
    """
    self._only_agent()
    self._unlock(sender, amount)
    self._move(sender, receiver, amount)
