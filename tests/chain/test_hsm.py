"""Keys held in a hardware token (PKCS#11, against SoftHSM2): generated inside the token and
never extractable, signing transactions the chain accepts, configured per key name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak

from amanat.chain.client import Chain, TxRequest
from amanat.chain.hsm import SECP256K1_ORDER, HsmConfig, HsmSigner, generate_key
from amanat.chain.signing import decode_signed, sign_legacy
from amanat.config import Settings
from amanat.errors import AmanatError, InvalidInput

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN = "amanat-test"
PIN = "246810"
SINK = "0x000000000000000000000000000000000000d00d"


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HsmConfig]:
    """A fresh SoftHSM2 token in a directory of its own (SOFTHSM2_CONF names it)."""
    if not Path(MODULE).exists() or shutil.which("softhsm2-util") is None:
        pytest.skip("no softhsm2 (PKCS#11 module and softhsm2-util): apt-get install softhsm2")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", TOKEN]
        + ["--pin", PIN, "--so-pin", "13579"],
        check=True,
        capture_output=True,
    )
    yield HsmConfig(MODULE, TOKEN, PIN)
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


def test_a_key_made_in_the_token_never_leaves_it_and_signs_what_the_chain_accepts(
    token: HsmConfig, data_dir: Path
) -> None:
    from pkcs11 import Attribute, ObjectClass

    address = generate_key(token, "official-7")
    signer = HsmSigner(token, "official-7")
    assert signer.address == address
    private = signer._private
    assert private[Attribute.SENSITIVE] and not private[Attribute.EXTRACTABLE]
    assert private.object_class is ObjectClass.PRIVATE_KEY
    with pytest.raises(InvalidInput, match="already holds a key labelled 'official-7'"):
        generate_key(token, "official-7")

    for n in range(24):  # low-s (EIP-2) and the right recovery id, every time
        digest = keccak(n.to_bytes(4, "big"))
        recovery_id, r, s = signer.sign_digest(digest)
        assert 0 < s <= SECP256K1_ORDER // 2
        vrs = (recovery_id, r, s)
        assert Account._recover_hash(digest, vrs=vrs) == address

    chain = Chain.embedded(data_dir)
    (receipt,) = chain.transact(signer, [TxRequest(SINK, b"signed in the token", gas=40_000)])
    assert receipt.status
    mined = chain.rpc.call("eth_getTransactionByHash", [receipt.tx_hash])
    assert mined["from"].lower() == address.lower()


def test_an_imported_key_signs_the_same_transaction_as_the_software_signer(
    token: HsmConfig,
) -> None:
    """For a key that can be imported, the token's transaction commits to the same fields and
    the same sender as the software signer's (the signatures differ: a token picks a random
    nonce per signature, RFC 6979 software a deterministic one; both verify)."""
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11.util.ec import encode_named_curve_parameters

    from amanat.chain.hsm import _open_session

    secret = keccak(b"an official's key, imported for this comparison only")
    account = Account.from_key(secret)
    point = bytes.fromhex("04" + account._key_obj.public_key.to_bytes().hex())
    session, _ = _open_session(token)
    params = encode_named_curve_parameters("secp256k1")
    session.create_object(
        {
            Attribute.CLASS: ObjectClass.PRIVATE_KEY,
            Attribute.KEY_TYPE: KeyType.EC,
            Attribute.LABEL: "imported",
            Attribute.EC_PARAMS: params,
            Attribute.VALUE: secret,
            Attribute.SIGN: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.TOKEN: True,
        }
    )
    session.create_object(
        {
            Attribute.CLASS: ObjectClass.PUBLIC_KEY,
            Attribute.KEY_TYPE: KeyType.EC,
            Attribute.LABEL: "imported",
            Attribute.EC_PARAMS: params,
            Attribute.EC_POINT: bytes([0x04, 0x41]) + point,
            Attribute.TOKEN: True,
        }
    )
    signer = HsmSigner(token, "imported")
    assert signer.address == account.address
    fields = dict(nonce=3, gas_price=0, gas=50_000, to=bytes.fromhex(SINK[2:]), value=0)
    software = sign_legacy(secret, data=b"same", chain_id=31337, **fields)
    hardware = sign_legacy(signer, data=b"same", chain_id=31337, **fields)
    assert decode_signed(software) == decode_signed(hardware)
    assert software[: len(software) - 67] == hardware[: len(hardware) - 67]  # all but v, r, s
    for raw in (software, hardware):
        assert Account.recover_transaction(raw) == account.address


def test_key_names_are_configured_per_backend_in_amanat_toml(
    token: HsmConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    amanat = [str(Path(sys.executable).parent / "amanat"), "--data-dir", str(tmp_path)]

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*amanat, *argv], capture_output=True, text=True, env=os.environ)

    (tmp_path / "amanat.toml").write_text(
        f'[hsm]\nmodule = "{MODULE}"\ntoken = "{TOKEN}"\npin_env = "TEST_HSM_PIN"\n\n'
        '[keys]\npublisher = "hsm"\nregistrar = "keystore"\n'
    )
    settings = Settings.resolve(str(tmp_path))
    assert settings.hsm_keys == {"publisher"} and settings.hsm is not None
    made = run("keys", "hsm-new", "publisher", "--json")
    assert made.returncode != 0 and "TEST_HSM_PIN, which is not set" in made.stderr
    assert "Traceback" not in made.stderr
    monkeypatch.setenv("TEST_HSM_PIN", PIN)
    made = run("keys", "hsm-new", "publisher", "--json")
    assert made.returncode == 0, made.stderr
    address = json.loads(made.stdout)["address"]
    listed = run("keys", "list", "--json")
    assert {"name": "publisher", "address": address, "kind": "hardware token"} in json.loads(
        listed.stdout
    )
    (tmp_path / "amanat.toml").write_text('[keys]\npublisher = "hsm"\n')
    with pytest.raises(InvalidInput, match=r"no \[hsm\] section"):
        Settings.resolve(str(tmp_path))
    (tmp_path / "amanat.toml").write_text('[keys]\npublisher = "usb-stick"\n')
    with pytest.raises(InvalidInput, match="keystore, hsm"):
        Settings.resolve(str(tmp_path))


def test_a_lost_session_is_opened_again_and_the_pin_is_never_shown(token: HsmConfig) -> None:
    from amanat.chain import hsm

    generate_key(token, "publisher-2")
    signer = HsmSigner(token, "publisher-2")
    session, _ = hsm._sessions[token]
    session.close()  # the token restarted or failed over: the session is gone
    digest = keccak(b"after the failover")
    recovery_id, r, s = signer.sign_digest(digest)
    assert Account._recover_hash(digest, vrs=(recovery_id, r, s)) == signer.address
    assert PIN not in repr(token) and PIN not in str(token)
    wrong = HsmConfig(MODULE, "no-such-token", PIN)
    with pytest.raises(AmanatError, match="token 'no-such-token'"):
        HsmSigner(wrong, "publisher-2")
