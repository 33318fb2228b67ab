"""An institution's (or an official's) client mode: `amanat --api URL --as USER --key FILE token
transfer …` (an official: `proposal approve ID --key FILE`, `proposal execute ID --key FILE`,
`approval approve|execute REQUEST --key FILE`) asks
the platform's API for the action's unsigned transaction, signs it here with the institution's
Keystore V3 file and submits the signed bytes. The key never leaves this machine; the platform
runs the same pre-check as for its own route and answers a refusal with the same rule and text.
A sealed bid and its salt are kept in the institution's own data directory until it reveals,
one file per commitment.

What the client verifies before it signs (the API is not trusted with the key's use): the
sender is the key's address, no value is sent, the chain id is the one the user expects
(`--chain-id`, else the first one seen, kept in the data directory), the gas limit is at most
MAX_GAS and the call data is exactly the requested contract function with the requested
arguments. What it still trusts: which contract the API sends it to (the token behind a
symbol, the deployment's Settlement, Distributor, Auction and Governance), and for an official's
execute the call filled in (Governance runs it only if it hashes to the call proposed).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from amanat.chain.abi import interface
from amanat.chain.artifacts import CONTRACT_NAMES
from amanat.chain.keys import load_keystore
from amanat.domain.auction import commitment
from amanat.domain.governance import plain_arguments
from amanat.errors import AmanatError, InvalidInput, NotFound, RuleViolation

PASSWORD_ENV = "AMANAT_API_PASSWORD"
TIMEOUT_SECONDS = 150.0  # a write waits for its block (up to the chain's receipt timeout)
MAX_GAS = 2_000_000  # no institution action needs more; a larger limit is refused unsigned
CHAIN_ID_FILE = "api-chain-id"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Each action's contract function and the request fields its arguments are, in order.
CALLS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "transfer": ("AssetToken", "transfer", ("to", "amount")),
    "approve": ("AssetToken", "approve", ("spender", "amount")),
    "transferFrom": ("AssetToken", "transferFrom", ("from", "to", "amount")),
    "dvp_instruct": (
        "Settlement",
        "instruct",
        ("token", "buyer", "units", "cash_minor", "deadline"),
    ),
    # the terms are the contract's to check: they must hash to the instruction's stored hash
    "dvp_affirm": ("Settlement", "affirm", ("instruction", "terms")),
    "dvp_settle": ("Settlement", "settle", ("instruction", "terms")),
    "dvp_cancel": ("Settlement", "cancel", ("instruction", "terms")),
    "claim": ("Distributor", "claim", ("distribution",)),
    "auction_commit": ("Auction", "commit", ("auction", "commitment")),
    "auction_reveal": (
        "Auction",
        "reveal",
        ("auction", "units", "yield_micro", "competitive", "salt"),
    ),
    "proposal_approve": ("Governance", "approve", ("proposal",)),
    # the call executed is the contract's to check: it must hash to the one proposed
    "proposal_execute": ("Governance", "execute", ("proposal", "target", "call", "evidence")),
}


class InstitutionClient:
    """Signs in to the API as `username` and signs transactions with the key in `key_file`;
    `data_dir` keeps the chain id first seen (unless `chain_id` names it)."""

    def __init__(
        self,
        http: httpx.Client,
        username: str,
        password: str,
        key_file: Path,
        data_dir: Path,
        chain_id: int | None = None,
    ) -> None:
        self.http = http
        self.username = username
        self.password = password
        self.key_file = key_file
        self.data_dir = data_dir
        self.chain_id = chain_id
        self._token: str | None = None
        self._unlocked: Any = None

    def act(self, action: str, **fields: Any) -> dict[str, Any]:
        """Build the action's transaction through the API, check it is the requested call,
        sign it locally and submit it; returns what the action's own route returns."""
        unsigned = self._post("/transactions/build", {"action": action, **fields})
        self._check(action, fields, unsigned)
        return self._post("/transactions", {"raw": self._sign(unsigned)})

    def approve_request(self, request_id: int) -> dict[str, Any]:
        """An official approves maker-checker request `request_id` with its own key: the API
        builds the request's proposal (the first approval) or the approval of its proposal; it
        is checked against the request as the API shows it, signed here and submitted to the
        request's route, which records it as this official's decision."""
        shown = self._call_get(f"/approvals/{request_id}")
        unsigned = self._post(
            "/transactions/build", {"action": "request_approve", "request": request_id}
        )
        self._check_envelope(unsigned)
        governance = interface("Governance")
        data = bytes.fromhex(str(unsigned.get("data", "0x")).removeprefix("0x"))
        if shown.get("proposal_id") is not None:
            self._check_call(
                "Governance", "approve", ("proposal",), {"proposal": shown["proposal_id"]}, data
            )
        else:
            try:
                target, call, evidence, _lifetime = governance.functions[
                    "propose"
                ].decode_arguments(data)
            except ValueError as exc:
                raise RuleViolation(
                    "call-mismatch", f"the API built a call that is not Governance.propose: {exc}"
                ) from None
            wanted = bytes.fromhex(str(shown.get("evidence") or "0x" + "00" * 32)[2:])
            names = {
                f.name
                for n in CONTRACT_NAMES
                for f in interface(n).functions.values()
                if f.selector == call[:4]
            }
            if (
                target.lower() != str(shown["target"]).lower()
                or shown["function"] not in names
                or evidence != wanted
            ):
                raise RuleViolation(
                    "call-mismatch",
                    f"the API built a proposal of {target} {sorted(names)} with evidence "
                    f"0x{evidence.hex()}, not request {request_id}'s {shown['function']} on "
                    f"{shown['target']}",
                )
            _check_request_arguments(request_id, shown, call)
        return self._post(f"/approvals/{request_id}/approve", {"raw": self._sign(unsigned)})

    def execute_request(self, request_id: int) -> dict[str, Any]:
        """An official executes maker-checker request `request_id` with its own key: the API
        builds the execute of the request's proposal, checked to be that proposal's execute,
        signed here and submitted; returns the request as recorded (its execution)."""
        shown = self._call_get(f"/approvals/{request_id}")
        unsigned = self._post(
            "/transactions/build", {"action": "request_execute", "request": request_id}
        )
        self._check_envelope(unsigned)
        data = bytes.fromhex(str(unsigned.get("data", "0x")).removeprefix("0x"))
        contract, name, argument_names = CALLS["proposal_execute"]
        wanted = {"proposal": shown.get("proposal_id")}
        if wanted["proposal"] is None:
            raise RuleViolation(
                "not-ready", f"request {request_id} has no proposal to execute ({shown['status']})"
            )
        self._check_call(contract, name, argument_names, wanted, data)
        self._post("/transactions", {"raw": self._sign(unsigned)})
        return self._call_get(f"/approvals/{request_id}")

    def _sign(self, unsigned: dict[str, Any]) -> str:
        """The built transaction signed with this user's key, as 0x-hex."""
        account = self._account()
        if account.address != unsigned["from"]:
            raise InvalidInput(
                f"the key in {self.key_file} is for {account.address}, but {self.username} "
                f"sends from {unsigned['from']}"
            )
        transaction = {k: v for k, v in unsigned.items() if k not in ("action", "from")}
        return "0x" + bytes(account.sign_transaction(transaction).raw_transaction).hex()

    def _check(self, action: str, fields: dict[str, Any], unsigned: dict[str, Any]) -> None:
        """Refuse to sign a built transaction that is not the requested call on the expected
        chain, or that sends value or allows more than MAX_GAS."""
        self._check_envelope(unsigned)
        contract, name, argument_names = CALLS[action]
        data = bytes.fromhex(str(unsigned.get("data", "0x")).removeprefix("0x"))
        self._check_call(contract, name, argument_names, fields, data)

    def _check_envelope(self, unsigned: dict[str, Any]) -> None:
        """Refuse a built transaction that sends value, allows more than MAX_GAS or is for
        another chain than the expected one."""
        value, gas = _quantity(unsigned.get("value", 0)), _quantity(unsigned.get("gas", 0))
        if value:
            raise RuleViolation(
                "unsafe-transaction",
                f"the API built a transaction sending {value} wei; Amanat's calls send none",
            )
        if not 0 < gas <= MAX_GAS:
            raise RuleViolation(
                "unsafe-transaction",
                f"the API built a transaction with a gas limit of {gas:,}; at most {MAX_GAS:,} is signed",
            )
        chain_id = _quantity(unsigned.get("chainId", 0))
        expected = self._expected_chain_id(chain_id)
        if chain_id != expected:
            raise RuleViolation(
                "wrong-chain",
                f"the API built a transaction for chain id {chain_id}; this client expects "
                f"{expected} (--chain-id, or kept in {self.data_dir / CHAIN_ID_FILE})",
            )

    def _check_call(
        self,
        contract: str,
        name: str,
        argument_names: tuple[str, ...],
        fields: dict[str, Any],
        data: bytes,
    ) -> None:
        """Refuse call data that is not `contract.name` with the requested arguments."""
        function = interface(contract).functions[name]
        try:
            arguments = function.decode_arguments(data)
        except ValueError as exc:
            raise RuleViolation(
                "call-mismatch", f"the API built a call that is not {contract}.{name}: {exc}"
            ) from None
        for field, argument in zip(argument_names, arguments, strict=True):
            wanted = fields.get(field)
            if wanted is not None and not _same(wanted, argument):
                raise RuleViolation(
                    "call-mismatch",
                    f"the API built {contract}.{name} with {field} {argument!r}, not the requested {wanted!r}",
                )

    def _expected_chain_id(self, reported: int) -> int:
        """The chain id to sign for: --chain-id, else the one kept from the first use (kept now
        if this is the first)."""
        if self.chain_id is not None:
            return self.chain_id
        kept = self.data_dir / CHAIN_ID_FILE
        if kept.exists():
            return int(kept.read_text().strip())
        self.data_dir.mkdir(parents=True, exist_ok=True)
        kept.write_text(f"{reported}\n")
        return reported

    def bid(
        self, auction_id: int, units: int, micro: int, competitive: bool, sealed_dir: Path
    ) -> dict[str, Any]:
        """Commit a sealed bid by its hash alone. The bid and its salt are written to
        `sealed_dir` (this machine), one file per commitment, before the commitment is sent, and
        never reach the API; a bid it replaces is forgotten only once the new one is committed."""
        wallet = self._account().address
        salt = secrets.token_bytes(32)
        sealed = "0x" + commitment(auction_id, wallet, units, micro, competitive, salt).hex()
        record = {"units": units, "yield_micro": micro, "competitive": competitive}
        earlier = self._sealed_files(auction_id, sealed_dir)
        path = sealed_dir / f"auction-{auction_id}-{wallet}-{sealed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump({**record, "salt": salt.hex(), "commitment": sealed}, handle)
        temporary.replace(path)
        # kept even if the commit fails (it may have reached the chain): reveal picks the file
        # whose commitment is the one on chain
        committed = self.act("auction_commit", auction=auction_id, commitment=sealed)
        for superseded in earlier:
            superseded.unlink(missing_ok=True)
        return {**committed, **record}

    def reveal(self, auction_id: int, sealed_dir: Path) -> dict[str, Any]:
        """Reveal the sealed bid kept in `sealed_dir` whose commitment is the one on chain."""
        wallet = self._account().address
        shown = self._call_get(f"/auctions/{auction_id}")
        on_chain = next(
            (b["commitment"] for b in shown.get("bids", []) if b.get("bidder") == wallet), None
        )
        if on_chain is None:
            raise NotFound(f"{wallet} has no sealed bid committed in auction {auction_id}")
        path = sealed_dir / f"auction-{auction_id}-{wallet}-{on_chain}.json"
        if not path.exists():
            raise NotFound(
                f"no sealed bid for commitment {on_chain} of auction {auction_id} at {path}"
            )
        kept = json.loads(path.read_text())
        return self.act(
            "auction_reveal",
            auction=auction_id,
            units=kept["units"],
            yield_micro=kept["yield_micro"],
            competitive=kept["competitive"],
            salt="0x" + kept["salt"],
        )

    def _sealed_files(self, auction_id: int, sealed_dir: Path) -> list[Path]:
        wallet = self._account().address
        return sorted(sealed_dir.glob(f"auction-{auction_id}-{wallet}-0x*.json"))

    def _account(self) -> Any:
        """The institution's key, decrypted with AMANAT_KEY_PASSPHRASE (once)."""
        if self._unlocked is None:
            self._unlocked = self._decrypt()
        return self._unlocked

    def _decrypt(self) -> Any:
        return load_keystore(self.key_file)

    def _sign_in(self) -> str:
        if self._token is None:
            body = {"username": self.username, "password": self.password}
            self._token = str(self._call("/auth/token", body, None)["access_token"])
        return self._token

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(path, body, self._sign_in())

    def _call_get(self, path: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._sign_in()}"}
        try:
            reply = self.http.get(path, headers=headers)
        except httpx.HTTPError as exc:
            raise AmanatError(f"cannot reach the API at {self.http.base_url}: {exc}") from None
        if reply.status_code >= 400:
            raise _refusal(reply)
        answer: dict[str, Any] = reply.json()
        return answer

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


def _check_request_arguments(request_id: int, shown: dict[str, Any], call: bytes) -> None:
    """Refuse a proposed call whose ABI arguments are not those request `request_id` was filed
    with (`call_arguments`): the amount, the wallets, the rules an official approves are the
    ones the maker filed, not a later rebuild's or the API's."""
    filed = shown.get("call_arguments")
    if filed is None:
        raise RuleViolation(
            "call-mismatch",
            f"request {request_id} does not state its call's arguments (filed before they were "
            "kept): it cannot be checked here; approve it in the console or have it filed again",
        )
    function = next(
        f
        for n in CONTRACT_NAMES
        for f in interface(n).functions.values()
        if f.name == shown["function"] and f.selector == call[:4]
    )
    try:
        decoded = plain_arguments(function.decode_arguments(call))
    except ValueError as exc:
        raise RuleViolation("call-mismatch", f"the API built a proposal of {exc}") from None
    if decoded != filed:
        differ = [
            f"{name} {got!r} (filed: {want!r})"
            for name, got, want in zip(function.input_names, decoded, filed, strict=False)
            if got != want
        ] or [f"{len(decoded)} arguments (filed: {len(filed)})"]
        raise RuleViolation(
            "call-mismatch",
            f"the API built a proposal of {function.name} with {', '.join(differ)}: not request "
            f"{request_id}'s call; nothing was signed",
        )


def _quantity(value: Any) -> int:
    """A JSON-RPC quantity (0x-hex) or an integer."""
    return int(value, 16) if isinstance(value, str) else int(value)


def _same(wanted: Any, argument: Any) -> bool:
    """Whether a requested field (an address, a 0x-hex value, a number or a flag) is the
    decoded argument; a token given by its symbol is the API's to resolve (not compared)."""
    if isinstance(argument, bytes):
        wanted_hex = wanted.hex() if isinstance(wanted, bytes) else str(wanted).removeprefix("0x")
        return wanted_hex.lower() == argument.hex()
    if isinstance(argument, str):
        return not str(wanted).startswith("0x") or str(wanted).lower() == argument.lower()
    if isinstance(argument, bool):
        return bool(wanted) is argument
    return bool(int(wanted) == argument)


def open_client(
    api: str,
    username: str,
    key_file: Path,
    password: str,
    data_dir: Path,
    chain_id: int | None = None,
) -> InstitutionClient:
    """The client of the API at `api`: https, or http to this machine only."""
    parts = urlsplit(api)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS):
        raise InvalidInput(
            f"the API URL {api!r} is not https: a password and signed transactions are sent to "
            "it (http is accepted for 127.0.0.1 and localhost only)"
        )
    return InstitutionClient(
        httpx.Client(base_url=api, timeout=TIMEOUT_SECONDS),
        username,
        password,
        key_file,
        data_dir,
        chain_id,
    )
