"""An institution's client mode: `amanat --api URL --as USER --key FILE token transfer …` asks
the platform's API for the action's unsigned transaction, signs it here with the institution's
Keystore V3 file and submits the signed bytes. The key never leaves this machine; the platform
runs the same pre-check as for its own route and answers a refusal with the same rule and text.
A sealed bid and its salt are kept in the institution's own data directory until it reveals.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import httpx

from amanat.chain.keys import PASSPHRASE_ENV, eth_account_class
from amanat.domain.auction import commitment
from amanat.errors import AmanatError, InvalidInput, NotFound, RuleViolation

PASSWORD_ENV = "AMANAT_API_PASSWORD"
TIMEOUT_SECONDS = 150.0  # a write waits for its block (up to the chain's receipt timeout)


class InstitutionClient:
    """Signs in to the API as `username` and signs transactions with the key in `key_file`."""

    def __init__(self, http: httpx.Client, username: str, password: str, key_file: Path) -> None:
        self.http = http
        self.username = username
        self.password = password
        self.key_file = key_file
        self._token: str | None = None
        self._unlocked: Any = None

    def act(self, action: str, **fields: Any) -> dict[str, Any]:
        """Build the action's transaction through the API, sign it locally and submit it;
        returns what the action's own route returns."""
        unsigned = self._post("/transactions/build", {"action": action, **fields})
        account = self._account()
        if account.address != unsigned["from"]:
            raise InvalidInput(
                f"the key in {self.key_file} is for {account.address}, but {self.username} "
                f"sends from {unsigned['from']}"
            )
        transaction = {k: v for k, v in unsigned.items() if k not in ("action", "from")}
        raw = bytes(account.sign_transaction(transaction).raw_transaction)
        return self._post("/transactions", {"raw": "0x" + raw.hex()})

    def bid(
        self, auction_id: int, units: int, micro: int, competitive: bool, sealed_dir: Path
    ) -> dict[str, Any]:
        """Commit a sealed bid by its hash alone. The bid and its salt are written to
        `sealed_dir` (this machine) before the commitment is sent, and never reach the API."""
        wallet = self._account().address
        salt = secrets.token_bytes(32)
        sealed = "0x" + commitment(auction_id, wallet, units, micro, competitive, salt).hex()
        record = {"units": units, "yield_micro": micro, "competitive": competitive}
        path = sealed_dir / f"auction-{auction_id}-{wallet}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump({**record, "salt": salt.hex(), "commitment": sealed}, handle)
        temporary.replace(path)
        return {**self.act("auction_commit", auction=auction_id, commitment=sealed), **record}

    def reveal(self, auction_id: int, sealed_dir: Path) -> dict[str, Any]:
        """Reveal the sealed bid kept in `sealed_dir` after the close."""
        path = sealed_dir / f"auction-{auction_id}-{self._account().address}.json"
        if not path.exists():
            raise NotFound(f"no sealed bid for auction {auction_id} at {path}")
        kept = json.loads(path.read_text())
        return self.act(
            "auction_reveal",
            auction=auction_id,
            units=kept["units"],
            yield_micro=kept["yield_micro"],
            competitive=kept["competitive"],
            salt="0x" + kept["salt"],
        )

    def _account(self) -> Any:
        """The institution's key, decrypted with AMANAT_KEY_PASSPHRASE (once)."""
        if self._unlocked is None:
            self._unlocked = self._decrypt()
        return self._unlocked

    def _decrypt(self) -> Any:
        if not self.key_file.exists():
            raise InvalidInput(f"no key file at {self.key_file}")
        passphrase = os.environ.get(PASSPHRASE_ENV)
        if passphrase is None:
            raise AmanatError(f"{self.key_file} is encrypted: set {PASSPHRASE_ENV}")
        account_type = eth_account_class()
        try:
            key = account_type.decrypt(json.loads(self.key_file.read_text()), passphrase)
        except ValueError:
            raise AmanatError(f"wrong passphrase for {self.key_file}") from None
        return account_type.from_key(key)

    def _sign_in(self) -> str:
        if self._token is None:
            body = {"username": self.username, "password": self.password}
            self._token = str(self._call("/auth/token", body, None)["access_token"])
        return self._token

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(path, body, self._sign_in())

    def _call(self, path: str, body: dict[str, Any], token: str | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            reply = self.http.post(path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise AmanatError(f"cannot reach the API at {self.http.base_url}: {exc}") from None
        if reply.status_code >= 400:
            raise _refusal(reply)
        answer: dict[str, Any] = reply.json()
        return answer


def _refusal(reply: httpx.Response) -> AmanatError:
    """The API's problem+json as the CLI's own error (same rule, same text, same exit code)."""
    try:
        problem = reply.json()
    except ValueError:
        problem = {}
    rule = str(problem.get("rule", "http-error"))
    detail = str(problem.get("detail", reply.text[:200]))
    if reply.status_code == 404:
        return NotFound(detail)
    if reply.status_code == 400 or rule == "invalid-input":
        return InvalidInput(detail)
    if reply.status_code in (403, 409, 422):
        error = RuleViolation(rule, detail)
        if reply.status_code == 403:
            error.exit_code = 4  # as a Forbidden raised locally
        return error
    return AmanatError(f"the API answered {reply.status_code} [{rule}]: {detail}")


def open_client(api: str, username: str, key_file: Path, password: str) -> InstitutionClient:
    return InstitutionClient(
        httpx.Client(base_url=api, timeout=TIMEOUT_SECONDS), username, password, key_file
    )
