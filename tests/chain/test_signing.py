"""The fast signer produces exactly the bytes eth-account produces."""

from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from amanat.chain.keys import DEV_ADDRESSES, dev_account
from amanat.chain.signing import sign_legacy

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")


@settings(max_examples=60, deadline=None)
@given(
    nonce=st.integers(0, 2**40),
    gas_price=st.integers(0, 10**12),
    gas=st.integers(21_000, 30_000_000),
    to=st.one_of(st.none(), st.binary(min_size=20, max_size=20)),
    value=st.integers(0, 10**24),
    data=st.binary(max_size=300),
    chain_id=st.sampled_from([1, 2026, 31337]),
)
def test_sign_legacy_matches_eth_account(nonce, gas_price, gas, to, value, data, chain_id):
    tx = {
        "nonce": nonce,
        "gasPrice": gas_price,
        "gas": gas,
        "value": value,
        "data": data,
        "chainId": chain_id,
    }
    if to is not None:
        tx["to"] = to_checksum_address("0x" + to.hex())
    expected = bytes(Account.sign_transaction(tx, KEY).raw_transaction)
    actual = sign_legacy(
        KEY,
        nonce=nonce,
        gas_price=gas_price,
        gas=gas,
        to=to,
        value=value,
        data=data,
        chain_id=chain_id,
    )
    assert actual == expected


def test_the_development_addresses_are_the_mnemonics_first_accounts() -> None:
    """Reads name the development roles by these addresses without deriving keys."""
    assert tuple(dev_account(i).address for i in range(len(DEV_ADDRESSES))) == DEV_ADDRESSES
