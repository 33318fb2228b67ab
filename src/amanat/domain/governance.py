"""Governed action types: which contract functions need M-of-N approval, evidence and a timelock."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any, NamedTuple


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
    IDENTITY = 14
    ANCHOR_CORRECTION = 15

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")


class Governed(NamedTuple):
    """One row of the table of governed functions."""

    action: ActionType
    # Takes, destroys, freezes or redirects a holder's property without its signature (or voids
    # the public record of it): the proposal must cite its legal basis by evidence hash, checked
    # by Governance when it is proposed and again when it runs.
    affects_holder_property: bool = False


PROPERTY = True

# Every function a proposal may call, by ABI signature: the one table Governance is deployed
# with. Governance derives the action type and the evidence rule from the selector, so a
# proposal cannot mislabel itself to skip evidence or a timelock.
GOVERNED_FUNCTIONS: dict[str, Governed] = {
    "mint(address,uint256)": Governed(ActionType.MINT),
    "batchMint(address[],uint256[])": Governed(ActionType.MINT),
    "burn(address,uint256)": Governed(ActionType.BURN, PROPERTY),
    "batchBurn(address[],uint256[])": Governed(ActionType.BURN, PROPERTY),
    "forcedTransfer(address,address,uint256)": Governed(ActionType.FORCED_TRANSFER, PROPERTY),
    "batchForcedTransfer(address[],address[],uint256[])": Governed(
        ActionType.FORCED_TRANSFER, PROPERTY
    ),
    "recoveryAddress(address,address,address)": Governed(ActionType.RECOVERY, PROPERTY),
    "setAddressFrozen(address,bool)": Governed(ActionType.FREEZE, PROPERTY),
    "batchSetAddressFrozen(address[],bool[])": Governed(ActionType.FREEZE, PROPERTY),
    "freezePartialTokens(address,uint256)": Governed(ActionType.FREEZE, PROPERTY),
    "batchFreezePartialTokens(address[],uint256[])": Governed(ActionType.FREEZE, PROPERTY),
    "unfreezePartialTokens(address,uint256)": Governed(ActionType.FREEZE, PROPERTY),
    "batchUnfreezePartialTokens(address[],uint256[])": Governed(ActionType.FREEZE, PROPERTY),
    "enforceCancel(uint256,(address,address,address,uint256,uint256,uint256))": Governed(
        ActionType.FREEZE, PROPERTY
    ),
    "enforceCancelMany(uint256[],(address,address,address,uint256,uint256,uint256)[])": Governed(
        ActionType.FREEZE, PROPERTY
    ),
    "pause()": Governed(ActionType.PAUSE),
    "unpause()": Governed(ActionType.PAUSE),
    "setRules(uint16,uint16,uint32,uint64,uint8,uint16)": Governed(ActionType.RULE_CHANGE),
    "setHoldingLimits(uint256,uint256)": Governed(ActionType.RULE_CHANGE),
    "setCountriesListed(uint16[],bool)": Governed(ActionType.RULE_CHANGE),
    "setName(string)": Governed(ActionType.RULE_CHANGE),
    "setSymbol(string)": Governed(ActionType.RULE_CHANGE),
    "setOnchainID(address)": Governed(ActionType.RULE_CHANGE),
    "setMaxDeadline(uint256)": Governed(ActionType.RULE_CHANGE),
    "setMaxTreeGrowth(uint256)": Governed(ActionType.RULE_CHANGE),
    "setMaxSuspensionsPerDay(uint256)": Governed(ActionType.RULE_CHANGE),
    "acceptValuation(uint256,uint256)": Governed(ActionType.VALUATION),
    "setStatus(uint256,uint8)": Governed(ActionType.ASSET_STATUS),
    "setAuthorisation(uint256,string,bytes32,uint256)": Governed(ActionType.ASSET_STATUS),
    "setRegistrar(address,bool)": Governed(ActionType.ROLE_CHANGE),
    "setIssuer(address,bool)": Governed(ActionType.ROLE_CHANGE),
    "setValuer(address,bool)": Governed(ActionType.ROLE_CHANGE),
    "setTokenFactory(address)": Governed(ActionType.ROLE_CHANGE, PROPERTY),
    "setPublisher(address,bool)": Governed(ActionType.ROLE_CHANGE),
    "voidAnchorsAbove(uint256)": Governed(ActionType.ANCHOR_CORRECTION, PROPERTY),
    "updateIdentity(uint256,bytes32,uint16,uint8,uint64)": Governed(ActionType.IDENTITY),
    "createToken(uint256,string,string,uint8,uint256,uint256,uint16[])": Governed(
        ActionType.TOKENIZE
    ),
    "markMatured()": Governed(ActionType.ASSET_STATUS, PROPERTY),
    "setReserveAuditor(address,bool)": Governed(ActionType.ROLE_CHANGE),
    "setSettlementAgent(address,bool)": Governed(ActionType.ROLE_CHANGE, PROPERTY),
    "setAgent(address,bool)": Governed(ActionType.ROLE_CHANGE, PROPERTY),
    "issueCash(address,uint256,bytes32)": Governed(ActionType.MINT),
    "withdrawCash(address,uint256,bytes32)": Governed(ActionType.BURN, PROPERTY),
    "settle(uint256,uint256,address[],uint256[],uint256[],uint256[])": Governed(ActionType.MINT),
    "declare(address,uint8,uint256,uint256,bytes32,uint256,uint256)": Governed(
        ActionType.DISTRIBUTION
    ),
    "declareRedemption(address,uint256,uint256,bytes32,uint256,uint256)": Governed(
        ActionType.DISTRIBUTION, PROPERTY
    ),
    "releaseHeld(uint256,address)": Governed(ActionType.DISTRIBUTION),
    "redirectHeld(uint256,address,address)": Governed(ActionType.DISTRIBUTION, PROPERTY),
    "closeDistribution(uint256)": Governed(ActionType.DISTRIBUTION, PROPERTY),
    "setOfficial(address,bool)": Governed(ActionType.GOVERNANCE),
    "setThreshold(uint256)": Governed(ActionType.GOVERNANCE),
    "setTimelock(uint8,uint256)": Governed(ActionType.GOVERNANCE),
    "setActionType(bytes4,uint8,bool)": Governed(ActionType.GOVERNANCE),
}


def affects_holder_property(function: str) -> bool:
    """Whether the governed function given by name (e.g. 'burn') takes, destroys, freezes or
    redirects a holder's property, so that its proposal must carry an evidence hash."""
    return any(
        governed.affects_holder_property
        for signature, governed in GOVERNED_FUNCTIONS.items()
        if function_name(signature) == function
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
    ActionType.IDENTITY: 3600,
    ActionType.ANCHOR_CORRECTION: 3600,
}


def function_name(signature: str) -> str:
    return signature.split("(", 1)[0]


def action_type_of(function: str) -> ActionType:
    """The action type of a governed function given by name (e.g. 'mint')."""
    for signature, governed in GOVERNED_FUNCTIONS.items():
        if function_name(signature) == function:
            return governed.action
    raise KeyError(function)


def plain_arguments(values: Sequence[Any]) -> list[Any]:
    """A call's ABI arguments as JSON and as compared: byte strings and 0x-hex text (addresses,
    hashes) in lower-case 0x-hex, structs and arrays as lists, numbers, flags and other text as
    they are. The arguments a request is filed with and those decoded from the call an official
    signs are the same call exactly when their plain forms are equal."""
    return [_plain(value) for value in values]


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        return "0x" + value[2:].lower()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)  # an IntEnum (a category, a status) as its number
    return value
