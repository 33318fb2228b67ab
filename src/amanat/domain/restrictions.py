"""Transfer restriction codes of AssetToken, with a stable rule name and a readable reason."""

from __future__ import annotations

from enum import IntEnum


class Restriction(IntEnum):
    OK = 0
    PAUSED = 1
    SENDER_NOT_VERIFIED = 2
    RECEIVER_NOT_VERIFIED = 3
    SENDER_FROZEN = 4
    RECEIVER_FROZEN = 5
    INSUFFICIENT_BALANCE = 6
    TOKENS_FROZEN = 7
    CATEGORY_NOT_ELIGIBLE = 8
    COUNTRY_NOT_ALLOWED = 9
    LOCKED_UP = 10
    HOLDING_CAP = 11
    MINIMUM_HOLDING = 12
    MAX_HOLDERS = 13
    FOREIGN_CAP = 14
    AUTHORISATION_CAP = 15
    ASSET_NOT_TOKENIZED = 16
    MATURED = 17

    @property
    def rule(self) -> str:
        return self.name.lower().replace("_", "-")

    @property
    def reason(self) -> str:
        return REASONS[self]


# The same texts as AssetToken._message, so an on-chain revert and a pre-check read alike.
REASONS: dict[Restriction, str] = {
    Restriction.OK: "transfer allowed",
    Restriction.PAUSED: "token is paused",
    Restriction.SENDER_NOT_VERIFIED: "sender is not a verified institution",
    Restriction.RECEIVER_NOT_VERIFIED: "receiver is not a verified institution",
    Restriction.SENDER_FROZEN: "sender wallet is frozen",
    Restriction.RECEIVER_FROZEN: "receiver wallet is frozen",
    Restriction.INSUFFICIENT_BALANCE: "insufficient balance",
    Restriction.TOKENS_FROZEN: "amount exceeds unfrozen balance",
    Restriction.CATEGORY_NOT_ELIGIBLE: "receiver investor category not eligible",
    Restriction.COUNTRY_NOT_ALLOWED: "receiver country not allowed",
    Restriction.LOCKED_UP: "lock-up period has not ended",
    Restriction.HOLDING_CAP: "receiver would exceed the holding cap",
    Restriction.MINIMUM_HOLDING: "holding would fall below the minimum",
    Restriction.MAX_HOLDERS: "maximum number of holders reached",
    Restriction.FOREIGN_CAP: "foreign-ownership cap would be exceeded",
    Restriction.AUTHORISATION_CAP: "mint exceeds the statutory authorisation",
    Restriction.ASSET_NOT_TOKENIZED: "asset is not in tokenized status",
    Restriction.MATURED: "token has matured",
}
BY_REASON = {reason: code for code, reason in REASONS.items()}
