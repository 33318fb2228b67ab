"""Shared benchmark setup: a tokenized bond held by many onboarded bank identities.

Holder keys are plain keys derived from their names (deriving thousands of development keys from
the mnemonic would take longer than the benchmarks themselves).
"""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from amanat.domain.assets import AssetClass, AssetStatus
from amanat.domain.identity import COUNTRY_CODES, InvestorCategory
from amanat.domain.rules import TokenRules
from amanat.services import assets, governance, tokens
from amanat.services.platform import Bound, Platform

OFFICIALS = ["official-1", "official-2"]
MINT_BATCH = 100  # calldata of a proposal is bounded (Governance MAX_CALLDATA)
ONBOARD_BATCH = 250


class BenchPlatform(Platform):
    """A platform whose holder keys are plain derived keys."""

    holder_keys: dict[str, LocalAccount] = {}

    def signer(self, name: str, new: bool = False) -> LocalAccount:
        key = self.holder_keys.get(name)
        return key if key is not None else super().signer(name, new=new)


def bond_with_holders(
    platform: BenchPlatform, legal_id: str, symbol: str, holders: int, units_each: int = 10**6
) -> tuple[Bound, list[str]]:
    """Deploy, tokenize a bond for banks, onboard `holders` bank identities and mint
    `units_each` to each; returns the token and the holders' key names."""
    names = [f"bench-holder-{i}" for i in range(holders)]
    platform.holder_keys = {n: Account.from_key(keccak(text=n)) for n in names}
    platform.deploy_development()
    asset_id = assets.register(
        platform,
        "issuer",
        AssetClass.BOND,
        legal_id,
        f"{symbol} benchmark bond",
        "Ministry of Finance",
        "Benchmark authorisation",
        "0x" + "11" * 32,
        10**15,
    )
    governance.govern(
        platform,
        OFFICIALS,
        platform.contract("AssetRegistry"),
        "setStatus",
        [asset_id, int(AssetStatus.APPROVED)],
        advance_clock=True,
    )
    governance.govern(
        platform,
        OFFICIALS,
        platform.contract("TokenFactory"),
        "createToken",
        tokens.tokenize_args(
            asset_id,
            f"{symbol} bench bond",
            symbol,
            0,
            TokenRules(eligible_categories=frozenset({InvestorCategory.BANK})),
        ),
        advance_clock=True,
    )
    token = tokens.token_for_asset(platform, asset_id)
    identity = platform.contract("IdentityRegistry")
    registrar = platform.signer("registrar")
    expiry = platform.chain.block_timestamp() + 365 * 86400
    for start in range(0, holders, ONBOARD_BATCH):
        platform.chain.transact(
            registrar,
            [
                identity.tx(
                    "registerIdentity",
                    keccak(text=f"kyc {name}"),
                    COUNTRY_CODES["PK"],
                    int(InvestorCategory.BANK),
                    expiry,
                    [platform.address_of(name)],
                )
                for name in names[start : start + ONBOARD_BATCH]
            ],
        )
    for start in range(0, holders, MINT_BATCH):
        chunk = names[start : start + MINT_BATCH]
        governance.govern(
            platform,
            OFFICIALS,
            token,
            "batchMint",
            [[platform.address_of(n) for n in chunk], [units_each] * len(chunk)],
            advance_clock=True,
        )
    return token, names
