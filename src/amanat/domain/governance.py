"""Governed action types: which contract functions need M-of-N approval, evidence and a timelock."""

from __future__ import annotations

from enum import IntEnum


class ActionType(IntEnum):
    MINT = 1
    BURN = 2
    FORCED_TRANSFER = 3
    RECOVERY = 4
    FREEZE = 5
    PAUSE = 6
    RULE_CHANGE = 7
    VALUATION = 8
    ASSET_STATUS = 9
    ROLE_CHANGE = 10
    TOKENIZE = 11
    GOVERNANCE = 12
    DISTRIBUTION = 13

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")


# Every function a proposal may call, by ABI signature. Governance derives the action type
# from the selector, so a proposal cannot mislabel itself to skip evidence or a timelock.
GOVERNED_FUNCTIONS: dict[str, ActionType] = {
    "mint(address,uint256)": ActionType.MINT,
    "batchMint(address[],uint256[])": ActionType.MINT,
    "burn(address,uint256)": ActionType.BURN,
    "batchBurn(address[],uint256[])": ActionType.BURN,
    "forcedTransfer(address,address,uint256)": ActionType.FORCED_TRANSFER,
    "batchForcedTransfer(address[],address[],uint256[])": ActionType.FORCED_TRANSFER,
    "recoveryAddress(address,address,address)": ActionType.RECOVERY,
    "setAddressFrozen(address,bool)": ActionType.FREEZE,
    "batchSetAddressFrozen(address[],bool[])": ActionType.FREEZE,
    "freezePartialTokens(address,uint256)": ActionType.FREEZE,
    "batchFreezePartialTokens(address[],uint256[])": ActionType.FREEZE,
    "unfreezePartialTokens(address,uint256)": ActionType.FREEZE,
    "batchUnfreezePartialTokens(address[],uint256[])": ActionType.FREEZE,
    "pause()": ActionType.PAUSE,
    "unpause()": ActionType.PAUSE,
    "setRules(uint16,uint16,uint32,uint64,uint8,uint16)": ActionType.RULE_CHANGE,
    "setHoldingLimits(uint256,uint256)": ActionType.RULE_CHANGE,
    "setCountriesListed(uint16[],bool)": ActionType.RULE_CHANGE,
    "setName(string)": ActionType.RULE_CHANGE,
    "setSymbol(string)": ActionType.RULE_CHANGE,
    "setOnchainID(address)": ActionType.RULE_CHANGE,
    "acceptValuation(uint256,uint256)": ActionType.VALUATION,
    "setStatus(uint256,uint8)": ActionType.ASSET_STATUS,
    "setAuthorisation(uint256,string,bytes32,uint256)": ActionType.ASSET_STATUS,
    "setRegistrar(address,bool)": ActionType.ROLE_CHANGE,
    "setIssuer(address,bool)": ActionType.ROLE_CHANGE,
    "setValuer(address,bool)": ActionType.ROLE_CHANGE,
    "setTokenFactory(address)": ActionType.ROLE_CHANGE,
    "setPublisher(address,bool)": ActionType.ROLE_CHANGE,
    "createToken(uint256,string,string,uint8,uint256,uint256,uint16[])": ActionType.TOKENIZE,
    "markMatured()": ActionType.ASSET_STATUS,
    "setReserveAuditor(address,bool)": ActionType.ROLE_CHANGE,
    "setSettlementAgent(address,bool)": ActionType.ROLE_CHANGE,
    "setAgent(address,bool)": ActionType.ROLE_CHANGE,
    "issueCash(address,uint256,bytes32)": ActionType.MINT,
    "withdrawCash(address,uint256,bytes32)": ActionType.BURN,
    "settle(uint256,uint256,address[],uint256[],uint256[],uint256[])": ActionType.MINT,
    "declare(address,uint8,uint256,uint256,bytes32,uint256,uint256)": ActionType.DISTRIBUTION,
    "releaseHeld(uint256,address,address)": ActionType.DISTRIBUTION,
    "closeDistribution(uint256)": ActionType.DISTRIBUTION,
    "setOfficial(address,bool)": ActionType.GOVERNANCE,
    "setThreshold(uint256)": ActionType.GOVERNANCE,
    "setTimelock(uint8,uint256)": ActionType.GOVERNANCE,
    "setActionType(bytes4,uint8)": ActionType.GOVERNANCE,
}

# Enforcement actions must cite their legal basis (court order, notification) by hash.
EVIDENCE_REQUIRED: tuple[ActionType, ...] = (
    ActionType.FORCED_TRANSFER,
    ActionType.RECOVERY,
    ActionType.FREEZE,
)

# Seconds between the last approval and execution. Pause and freeze are emergencies: none.
DEFAULT_TIMELOCKS: dict[ActionType, int] = {
    ActionType.MINT: 3600,
    ActionType.BURN: 3600,
    ActionType.FORCED_TRANSFER: 3600,
    ActionType.RECOVERY: 86400,
    ActionType.FREEZE: 0,
    ActionType.PAUSE: 0,
    ActionType.RULE_CHANGE: 86400,
    ActionType.VALUATION: 3600,
    ActionType.ASSET_STATUS: 3600,
    ActionType.ROLE_CHANGE: 86400,
    ActionType.TOKENIZE: 3600,
    ActionType.GOVERNANCE: 172800,
    ActionType.DISTRIBUTION: 3600,
}


def function_name(signature: str) -> str:
    return signature.split("(", 1)[0]


def action_type_of(function: str) -> ActionType:
    """The action type of a governed function given by name (e.g. 'mint')."""
    for signature, action in GOVERNED_FUNCTIONS.items():
        if function_name(signature) == function:
            return action
    raise KeyError(function)
