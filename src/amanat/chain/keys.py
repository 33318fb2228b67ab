"""Signing keys: encrypted Keystore V3 files, and a development mnemonic for the embedded chain only."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from amanat.errors import AmanatError, InvalidInput

if (
    TYPE_CHECKING
):  # eth_account costs ~0.5 s to import: loaded on first use (see `eth_account_class`)
    from eth_account import Account as AccountType
    from eth_account.signers.local import LocalAccount

# Foundry's well-known test mnemonic: DEVELOPMENT ONLY, never for a real network.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
PASSPHRASE_ENV = "AMANAT_KEY_PASSPHRASE"
# The addresses of its first accounts (m/44'/60'/0'/0/i), as every Foundry user knows them: a
# read (naming who proposed what) needs no key derivation and no eth_account import.
DEV_ADDRESSES = (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
)


@cache
def eth_account_class() -> type[AccountType]:
    """eth_account's Account, imported on first use, with mnemonic derivation enabled."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return Account


@cache
def dev_account(index: int) -> LocalAccount:
    """Account `index` of the development mnemonic (embedded chain only)."""
    return eth_account_class().from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def load_keystore(path: Path) -> LocalAccount:
    """The key in a Keystore V3 file its owner keeps (`--key FILE`), decrypted with
    AMANAT_KEY_PASSPHRASE."""
    if not path.exists():
        raise InvalidInput(f"no key file at {path}")
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is None:
        raise AmanatError(f"{path} is encrypted: set {PASSPHRASE_ENV}")
    account_type = eth_account_class()
    try:
        key = account_type.decrypt(json.loads(path.read_text()), passphrase)
    except ValueError:
        raise AmanatError(f"wrong passphrase for {path}") from None
    return account_type.from_key(key)


class Keyring:
    """Keystore V3 files in <data dir>/keys/<name>.json, decrypted once per process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._unlocked: dict[str, LocalAccount] = {}

    def path(self, name: str) -> Path:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise InvalidInput(f"key name {name!r} may use letters, digits, '-' and '_' only")
        return self.directory / f"{name}.json"

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.json"))

    def create(self, name: str, passphrase: str, private_key: bytes | None = None) -> str:
        path = self.path(name)
        if path.exists():
            raise InvalidInput(f"key {name!r} already exists at {path}")
        if len(passphrase) < 8:
            raise InvalidInput("passphrase must be at least 8 characters")
        account_type = eth_account_class()
        account = account_type.from_key(private_key) if private_key else account_type.create()
        keystore = account_type.encrypt(account.key, passphrase)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(keystore, handle)
        return str(account.address)

    def address(self, name: str) -> str:
        path = self.path(name)
        if not path.exists():
            raise InvalidInput(f"no key named {name!r} in {self.directory}")
        return "0x" + json.loads(path.read_text())["address"].removeprefix("0x")

    def unlock(self, name: str, passphrase: str | None = None) -> LocalAccount:
        if name in self._unlocked:
            return self._unlocked[name]
        path = self.path(name)
        if not path.exists():
            raise InvalidInput(f"no key named {name!r} in {self.directory}")
        secret = passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV)
        if secret is None:
            raise AmanatError(f"key {name!r} is encrypted: set {PASSPHRASE_ENV} to its passphrase")
        try:
            key = eth_account_class().decrypt(json.loads(path.read_text()), secret)
        except ValueError:
            raise AmanatError(f"wrong passphrase for key {name!r}") from None
        account = eth_account_class().from_key(key)
        self._unlocked[name] = account
        return account
