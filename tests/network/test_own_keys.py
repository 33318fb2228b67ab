"""Network mode: institutions and officials sign on their own machines. After an institution
transferred and committed a sealed bid through the API, and two officials approved a
maker-checker request with their own keys through the API (the first approval proposing its
call), the server's data directory and database (SQLite, in the data directory) hold no
institution's or official's private key and no unrevealed bid; the server refuses to sign for
either, and refuses a key it holds for either (own-key-required)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from cryptography.fernet import Fernet
from eth_account import Account
from fastapi.testclient import TestClient
from sqlalchemy import select

from amanat.api.app import create_app
from amanat.chain.deploy import GovernanceSetup, deploy
from amanat.chain.keys import dev_account
from amanat.cli import client
from amanat.config import Settings
from amanat.domain.assets import AssetClass
from amanat.domain.auction import Pricing
from amanat.domain.governance import ActionType
from amanat.domain.identity import InvestorCategory
from amanat.errors import OwnKeyRequired
from amanat.services import accounts, approvals, assets, auctions, governance, identities, tokens
from amanat.services.accounts import Role
from amanat.services.platform import Platform
from amanat.store.models import Wallet
from amanat.web.session import LOGIN_COOKIE

PASSPHRASE = "own keys passphrase"
PAKISTAN = 586


def _keystore(path: Path, account: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(Account.encrypt(account.key, PASSPHRASE, kdf="pbkdf2", iterations=2))
    )
    return path


def test_the_server_holds_no_institution_key_and_no_unrevealed_bid(
    node_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMANAT_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("AMANAT_DATA_KEY", Fernet.generate_key().decode())
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    server = tmp_path / "server"
    operational = {
        "deployer": dev_account(0),
        "registrar": dev_account(4),
        "issuer": dev_account(5),
    }
    for name, account in operational.items():
        _keystore(server / "keys" / f"{name}.json", account)
    officials = [dev_account(i) for i in (1, 2, 3)]
    inb, kla = dev_account(8), dev_account(9)
    platform = Platform.open(Settings(server, rpc_url=node_url), require_deployment=False)
    setup = GovernanceSetup(
        officials=tuple(o.address for o in officials),
        threshold=2,
        registrars=(operational["registrar"].address,),
        issuers=(operational["issuer"].address,),
        valuers=(dev_account(6).address,),
        timelocks={action: 0 for action in ActionType},
    )
    platform.set_manifest(deploy(platform.chain, platform.signer("deployer"), setup))
    expiry = platform.clock.chain_time() + 365 * 86400
    for name, account, category in (
        ("Indus National Bank", inb, InvestorCategory.BANK),
        ("Karakoram Life Assurance", kla, InvestorCategory.INSURER),
    ):
        identities.onboard(
            platform, "registrar", name, {"registration": name}, PAKISTAN, category, expiry,
            [account.address],
        )  # fmt: skip
    asset = assets.register(
        platform, "issuer", AssetClass.T_BILL, "PK0777TB3M27", "3M T-bill (network)",
        "Ministry of Finance", "Notification NM-1", "0x" + hashlib.sha256(b"NM-1").hexdigest(),
        1_000_000,
    )  # fmt: skip

    def govern(kind: str, params: dict[str, Any]) -> None:
        # officials 1 and 2 propose, approve and execute on their own machines (keys in hand)
        target, function, args, _ = approvals.KINDS[kind].build(platform, params)
        governance.govern(platform, [officials[0], officials[1]], target, function, args)

    govern("approve_asset", {"asset": asset})
    govern("tokenize", {"asset": asset, "name": "3M T-Bill NM", "symbol": "PKTBNM"})
    govern("mint", {"token": "PKTBNM", "to": inb.address, "amount": 500_000})
    govern("issue_cash", {"to": inb.address, "amount_minor": 1_000_000, "reference": "RTGS NM-1"})
    now = platform.clock.chain_time()
    auction = auctions.announce(
        platform, "issuer", tokens.resolve(platform, "PKTBNM"), 1_000, 100_00,
        now + 3600, now + 7200, now + 10_800, Pricing.MULTIPLE, 100_00,
    )  # fmt: skip
    with platform.store.session() as session:
        bank = session.scalar(select(Wallet.institution_id).where(Wallet.address == inb.address))
    accounts.create_user(platform.store, "inb", "inb-password", Role.INSTITUTION, None, bank)
    for number, official in ((1, officials[0]), (2, officials[1])):
        accounts.create_user(
            platform.store,
            f"approver-{number}",
            f"approver-password-{number}",
            Role.APPROVER,
            official.address,
        )
    accounts.create_user(platform.store, "treasury", "treasury-password", Role.ISSUER, "issuer")

    with TestClient(create_app(platform)) as http:
        # the institution: a transfer and a sealed bid, signed with its own key file
        home = tmp_path / "inb-home"
        bank_client = client.InstitutionClient(
            http, "inb", "inb-password", _keystore(home / "inb.json", inb), home
        )
        moved = bank_client.act("transfer", token="PKTBNM", to=kla.address, amount=10)
        assert moved["amount"] == 10 and moved["from"] == inb.address
        bank_client.bid(auction, 100, 118_000, True, home / "sealed-bids")
        (sealed,) = (home / "sealed-bids").iterdir()
        salt = bytes.fromhex(json.loads(sealed.read_text())["salt"])

        # a maker-checker request: officials 1 and 2 approve it with their own keys through
        # the API (the first approval proposes its call); the request records each transaction
        def bearer(username: str, password: str) -> dict[str, str]:
            body = {"username": username, "password": password}
            token = http.post("/auth/token", json=body).json()["access_token"]
            return {"Authorization": f"Bearer {token}"}

        filed = http.post(
            "/approvals",
            json={"kind": "mint", "params": {"token": "PKTBNM", "to": kla.address, "amount": 5}},
            headers=bearer("treasury", "treasury-password"),
        )
        assert filed.status_code == 201, filed.text
        request_id = filed.json()["id"]
        # the console shows the command, and its server-signed Approve button is disabled
        console = TestClient(http.app)
        console.cookies.set(LOGIN_COOKIE, "nonce-approver-1")
        login = {
            "username": "approver-1",
            "password": "approver-password-1",
            "csrf": "nonce-approver-1",
        }
        assert console.post("/console/login", data=login, follow_redirects=False).status_code == 303
        page = console.get(f"/console/approvals/{request_id}").text
        assert f"--as approver-1 approval approve {request_id} --key YOUR-KEY.json" in page
        assert "platform holds no official&#39;s key" in page and "development key" not in page
        for number, account in ((1, officials[0]), (2, officials[1])):
            home = tmp_path / f"official-{number}-home"
            official = client.InstitutionClient(
                http,
                f"approver-{number}",
                f"approver-password-{number}",
                _keystore(home / f"official-{number}.json", account),
                home,
            )
            view = official.approve_request(request_id)
        assert view["proposal_id"] and view["status"] == "waiting-timelock"
        assert [d["username"] for d in view["decisions"]] == ["approver-1", "approver-2"]
        assert all(d["tx"] for d in view["decisions"])
        shown = governance.show(platform, view["proposal_id"])
        assert shown.approvals == 2 and shown.proposer == officials[0].address

        # the server signs for neither: each refusal names the rule
        refused = http.post(
            "/transfers",
            json={"token": "PKTBNM", "to": kla.address, "amount": 1},
            headers=bearer("inb", "inb-password"),
        )
        assert refused.status_code == 403 and refused.json()["rule"] == "own-key-required"
        assert "holds no institution's key" in refused.json()["detail"]
        filed = http.post(
            "/approvals",
            json={"kind": "mint", "params": {"token": "PKTBNM", "to": kla.address, "amount": 1}},
            headers=bearer("treasury", "treasury-password"),
        )
        assert filed.status_code == 201, filed.text
        refused = http.post(
            f"/approvals/{filed.json()['id']}/approve",
            headers=bearer("approver-2", "approver-password-2"),
        )
        assert refused.status_code == 403 and refused.json()["rule"] == "own-key-required"
        assert "proposal approve PROPOSAL --key" in refused.json()["detail"]

    # the server's data directory, its database among it, holds no participant's key nor the bid
    participants = {
        "inb": inb,
        "kla": kla,
        **{f"official-{i}": o for i, o in enumerate(officials, 1)},
    }
    secrets = [bytes(a.key) for a in participants.values()]
    needles = [*secrets, *(s.hex().encode() for s in secrets), salt, salt.hex().encode()]
    files = [path for path in server.rglob("*") if path.is_file()]
    assert any(path.name == "amanat.sqlite" for path in files)
    for path in files:
        content = path.read_bytes().lower()
        leaked = [needle for needle in needles if needle.lower() in content]
        assert not leaked, f"{path} holds a participant's secret"
    assert sorted(p.stem for p in (server / "keys").iterdir()) == sorted(operational)
    assert not (server / "sealed-bids").exists()

    # a participant's key placed on the server is refused, whoever it would sign for
    for name, account in (("inb", inb), ("official-3", officials[2])):
        _keystore(server / "keys" / f"{name}.json", account)
        with pytest.raises(OwnKeyRequired, match=f"key '{name}'"):
            platform.signer(name)
    assert platform.signer("issuer").address == operational["issuer"].address
    # an official's own machine (its own data directory: no users, no institutions) signs with
    # its own key as before
    own = tmp_path / "official-3-machine"
    _keystore(own / "keys" / "official-3.json", officials[2])
    (own / "deployment.json").write_text((server / "deployment.json").read_text())
    machine = Platform.open(Settings(own, rpc_url=node_url))
    assert machine.signer("official-3").address == officials[2].address
