"""The fast signer produces exactly the bytes eth-account produces."""

import pytest
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from amanat.chain.keys import DEV_ADDRESSES, dev_account
from amanat.chain.signing import MalformedTransaction, read_signed, sign_legacy

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


def test_read_signed_recovers_sender_chain_and_fields_of_any_signer():
    sender = Account.from_key(KEY).address
    to = to_checksum_address("0x" + "ab" * 20)
    legacy = {"nonce": 7, "gasPrice": 5, "gas": 90_000, "to": to, "value": 0, "data": b"\x01"}
    dynamic = {
        "nonce": 8,
        "maxFeePerGas": 9,
        "maxPriorityFeePerGas": 2,
        "gas": 90_000,
        "to": to,
        "value": 3,
        "data": b"\x02",
        "chainId": 2026,
    }
    for tx, chain_id in (({**legacy, "chainId": 31337}, 31337), (legacy, None), (dynamic, 2026)):
        raw = bytes(Account.sign_transaction(tx, KEY).raw_transaction)
        signed = read_signed(raw)
        assert to_checksum_address(signed.sender) == sender
        assert signed.chain_id == chain_id and signed.hash == "0x" + keccak(raw).hex()
        assert signed.fields.nonce == tx["nonce"] and signed.fields.to == to.lower()
        assert signed.value == tx["value"] and signed.fields.data == tx["data"]
    for junk in (b"", b"\x01\xc0", b"\xc0", b"\x02\xc3\x01\x02\x03", b"\xff" * 40):
        with pytest.raises(MalformedTransaction):
            read_signed(junk)


def test_the_development_addresses_are_the_mnemonics_first_accounts() -> None:
    """Reads name the development roles by these addresses without deriving keys."""
    assert tuple(dev_account(i).address for i in range(len(DEV_ADDRESSES))) == DEV_ADDRESSES
