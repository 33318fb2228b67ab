"""`amanat verify` against a real chain: an honest log passes every check, from the exported
bundle and from the live public API; each kind of tampering is caught and named, exit 1."""

from __future__ import annotations

import base64
import json
import sqlite3
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from amanat.domain import merkle
from amanat.domain.transparency import TreeHead
from amanat.services import accounts, governance, transparency
from amanat.services.pilot import pilot_password
from tests.transparency.conftest import Published

CHECKS = {"deployment", "entries", "signature", "root", "inclusion", "consistency", "anchor",
          "chain-log", "supply", "cap", "reserve"}  # fmt: skip


def failures(result: Any) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("FAIL")]


def test_honest_bundle_passes_every_check(published: Published) -> None:
    result = published.verify("--bundle", published.bundle, "--json")
    report = result.json
    assert report["ok"] is True
    assert {c["name"] for c in report["checks"]} == CHECKS
    details = " | ".join(c["detail"] for c in report["checks"])
    assert "PKTB3M (asset 1): totalSupply 800,000 = sum of 4 holders' balances 800,000" in details
    assert "PKWHEAT: supply 35,000 <= attested reserve 40,000" in details
    assert "cash token: totalSupply 13,500,000,000 = sum of 7 holders' balances" in details
    first, second = (h["tree_size"] for h in published.heads)
    assert f"head {first} is a prefix of head {second}" in details
    assert "2 heads match their on-chain anchors" in details


def _auditor_token(published: Published) -> str:
    token, _expires = accounts.sign_in(
        published.platform.store, "auditor", pilot_password("auditor"), "10.7.0.1"
    )
    return token


def test_live_api_passes_with_its_own_proofs(published: Published) -> None:
    """The public gets chain events by their hashes only: heads, roots, inclusion, consistency
    and anchors still verify; chain-log needs an auditor's token and then passes too."""
    first, second = (h["tree_size"] for h in published.heads)
    result = published.verify(
        "--api", published.base_url, "--entry", "0", "--entry", str(second - 1),
        "--first", str(first), "--second", str(second),
    )  # fmt: skip
    assert failures(result) == []
    assert "leaves withheld from the public" in result.stdout
    assert "ok    chain-log    not checked" in result.stdout
    audited = published.verify("--api", published.base_url, "--token", _auditor_token(published))
    assert failures(audited) == []
    assert "logged chain events match the chain" in audited.stdout
    # inclusion is checked in the latest head (other tests may have published more by now)
    assert f"ok    inclusion    entry {second - 1} is included in the head at size" in result.stdout
    assert f"ok    consistency  head {first} is a prefix of head {second}" in result.stdout


def test_a_rewritten_log_entry_is_caught(published: Published) -> None:
    def rewrite(bundle: dict[str, Any]) -> None:
        entry = bundle["entries"][7]
        leaf = json.loads(entry["leaf"])
        leaf["block"] += 1
        entry["leaf"] = json.dumps(leaf, sort_keys=True, separators=(",", ":"))
        entry["leaf_hash"] = "0x" + merkle.leaf_hash(entry["leaf"].encode()).hex()

    result = published.verify("--bundle", published.tampered("rewritten.json", rewrite), expect=1)
    lines = failures(result)
    assert any("root" in line and "the published entries give" in line for line in lines)
    assert any("chain-log" in line and "entry 7 claims an event" in line for line in lines)
    assert "error [verification-failed]" in result.stderr


def test_a_dropped_entry_is_caught(published: Published) -> None:
    result = published.verify(
        "--bundle", published.tampered("dropped.json", lambda b: b["entries"].pop(12)), expect=1
    )
    lines = failures(result)
    assert "entry 12 is missing (the next published entry is 13)" in lines[0]
    assert any("covers more than the 12 entries published" in line for line in lines)
    assert any("chain-log" in line and "is on chain but not in the log" in line for line in lines)


def test_a_forged_head_is_caught(published: Published) -> None:
    """A head signed by someone else's key over a root of the forger's choosing."""
    forger = Ed25519PrivateKey.generate()

    def forge(bundle: dict[str, Any]) -> None:
        head = TreeHead.from_dict(bundle["heads"][-1])
        fake = TreeHead(head.tree_size, b"\x11" * 32, head.timestamp)
        bundle["heads"][-1] = TreeHead(
            fake.tree_size, fake.root_hash, fake.timestamp, forger.sign(fake.encoding())
        ).as_dict()

    result = published.verify("--bundle", published.tampered("forged.json", forge), expect=1)
    size = published.heads[-1]["tree_size"]
    lines = failures(result)
    assert any(f"head at size {size}: the signature is not the platform key's" in x for x in lines)
    assert any(f"head at size {size}: chain anchored root" in x for x in lines)


def test_a_consistently_rewritten_history_still_fails_its_anchor(published: Published) -> None:
    """The platform itself rewrites an entry and re-signs the heads with its own key: entries,
    roots and signatures agree, but the chain kept the anchored roots (and the events)."""
    key = transparency.signing_key(published.platform)

    def rewrite_and_resign(bundle: dict[str, Any]) -> None:
        entry = bundle["entries"][3]
        leaf = json.loads(entry["leaf"])
        leaf["args"] = {**leaf["args"], "enabled": False}
        entry["leaf"] = json.dumps(leaf, sort_keys=True, separators=(",", ":"))
        entry["leaf_hash"] = "0x" + merkle.leaf_hash(entry["leaf"].encode()).hex()
        hashes = [bytes.fromhex(e["leaf_hash"][2:]) for e in bundle["entries"]]
        for i, raw in enumerate(bundle["heads"]):
            head = TreeHead.from_dict(raw)
            root = merkle.root(hashes[: head.tree_size])
            unsigned = TreeHead(head.tree_size, root, head.timestamp)
            bundle["heads"][i] = TreeHead(
                head.tree_size, root, head.timestamp, key.sign(unsigned.encoding())
            ).as_dict()

    result = published.verify(
        "--bundle", published.tampered("resigned.json", rewrite_and_resign), expect=1
    )
    lines = failures(result)
    assert {line.split()[1] for line in lines} == {"anchor", "chain-log"}
    assert sum("chain anchored root" in line for line in lines) == 2
    assert any("entry 3 (" in line and "differs from the chain in args" in line for line in lines)


def test_a_changed_database_row_is_caught_through_the_api(published: Published) -> None:
    """Someone with database access edits a log entry: the API now serves it, the verifier,
    with no database access, finds it does not fit the signed heads."""
    database = published.data_dir / "amanat.sqlite"
    with sqlite3.connect(database) as connection:
        (original,) = connection.execute(
            'SELECT leaf FROM log_entries WHERE "index" = 5'
        ).fetchone()
        # a log index no block of the demo reaches (the deployment block alone has dozens)
        changed = original.replace(b'"log_index":5,', b'"log_index":9999,')
        assert changed != original
        connection.execute('UPDATE log_entries SET leaf = ? WHERE "index" = 5', (changed,))
    try:
        result = published.verify(
            "--api", published.base_url, "--token", _auditor_token(published), expect=1
        )
    finally:
        with sqlite3.connect(database) as connection:
            connection.execute('UPDATE log_entries SET leaf = ? WHERE "index" = 5', (original,))
    lines = failures(result)
    assert any("entry 5: its leaf hashes to" in line for line in lines)
    assert any(line.split()[1] == "root" for line in lines)
    assert any("entry 5 claims an event at block" in line for line in lines)


def test_a_head_the_chain_never_anchored_is_caught(published: Published) -> None:
    """A head at a size that was never anchored (signed with the platform key, so only the
    anchor check can tell)."""
    key = transparency.signing_key(published.platform)

    def extra_head(bundle: dict[str, Any]) -> None:
        hashes = [bytes.fromhex(e["leaf_hash"][2:]) for e in bundle["entries"]]
        size = 100
        head = TreeHead(size, merkle.root(hashes[:size]), published.heads[-1]["timestamp"])
        signed = TreeHead(size, head.root_hash, head.timestamp, key.sign(head.encoding()))
        bundle["heads"].append(signed.as_dict())
        bundle["heads"].sort(key=lambda h: h["tree_size"])

    result = published.verify("--bundle", published.tampered("extra.json", extra_head), expect=1)
    assert [line.split(None, 2)[1:] for line in failures(result)] == [
        ["anchor", "head at size 100 is not anchored on chain"]
    ]


def test_bad_inputs_are_one_line_errors(published: Published) -> None:
    neither = published.cli.run("verify", expect=2)
    assert neither.stderr.strip() == (
        "error [invalid-input]: give exactly one of --api URL or --bundle FILE"
    )
    missing = published.verify("--bundle", published.bundle.with_name("nope.json"), expect=2)
    assert "does not exist" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    bad_key = published.cli.run(
        "verify", "--bundle", published.bundle, "--public-key", "not-a-key", expect=2
    )
    assert "error [invalid-input]: public key 'not-a-key'" in bad_key.stderr
    manifest = published.bundle.with_name("not-a-manifest.json")
    manifest.write_text(json.dumps({"chain_id": 31337, "contracts": {"Governance": {}}}))
    bad_manifest = published.cli.run(
        "--rpc", published.rpc_url, "verify", "--bundle", published.bundle,
        "--manifest", manifest, expect=2,
    )  # fmt: skip
    assert f"error [invalid-input]: {manifest} is not a deployment manifest" in bad_manifest.stderr
    proof = published.cli.run("log", "proof", "10", "--size", "999999", expect=2)
    assert "tree size 999999 is outside the log" in proof.stderr
    assert base64.b64decode(published.cli.json("log", "public-key")["public_key"])


def test_cli_proofs_verify_against_the_published_heads(published: Published) -> None:
    first, second = published.heads
    head = published.cli.json("log", "head", "--size", str(first["tree_size"]))
    assert head == first
    proof = published.cli.json("log", "proof", "3", "--size", str(second["tree_size"]))
    entries = published.cli.json("log", "entries", "--start", "3", "--limit", "1")
    assert proof["leaf_hash"] == entries[0]["leaf_hash"]
    assert merkle.verify_inclusion(
        3,
        second["tree_size"],
        bytes.fromhex(proof["leaf_hash"][2:]),
        [bytes.fromhex(p[2:]) for p in proof["proof"]],
        bytes.fromhex(second["root_hash"][2:]),
    )
    consistency = published.cli.json(
        "log", "consistency", str(first["tree_size"]), str(second["tree_size"])
    )
    assert merkle.verify_consistency(
        first["tree_size"],
        second["tree_size"],
        bytes.fromhex(first["root_hash"][2:]),
        bytes.fromhex(second["root_hash"][2:]),
        [bytes.fromhex(p[2:]) for p in consistency["proof"]],
    )


def test_many_heads_prove_first_to_latest_and_the_recent_steps(published: Published) -> None:
    key = transparency.signing_key(published.platform)

    def more_heads(bundle: dict[str, Any]) -> None:
        hashes = [bytes.fromhex(e["leaf_hash"][2:]) for e in bundle["entries"]]
        for size in (20, 40, 60, 80, 100, 120):
            head = TreeHead(size, merkle.root(hashes[:size]), published.heads[0]["timestamp"])
            bundle["heads"].append(
                TreeHead(size, head.root_hash, head.timestamp, key.sign(head.encoding())).as_dict()
            )
        bundle["heads"].sort(key=lambda h: h["tree_size"])

    result = published.verify("--bundle", published.tampered("many.json", more_heads), expect=1)
    first, second = (h["tree_size"] for h in published.heads)
    proved = [
        line.split("head ", 1)[1]
        for line in result.stdout.splitlines()
        if line.startswith("ok    consistency")
    ]
    assert proved == [
        f"20 is a prefix of head {second}",
        "60 is a prefix of head 80",
        "80 is a prefix of head 100",
        "100 is a prefix of head 120",
        f"120 is a prefix of head {first}",
        f"{first} is a prefix of head {second}",
    ]
    # the added heads were never anchored: that, and only that, fails
    assert {line.split()[1] for line in failures(result)} == {"anchor"}


def test_heads_whose_anchors_governance_voided_are_anchored_again(published: Published) -> None:
    """Governance voids every anchor above the first head (issue 9, second review: a bogus
    anchor and whatever sits on top go in one evidence-backed proposal); the next publish
    anchors the platform's own heads again and the exported bundle verifies."""
    platform = published.platform
    anchor = platform.contract("TransparencyAnchor")
    first, second = (h["tree_size"] for h in published.heads)
    governance.govern(
        platform,
        ["official-1", "official-2"],
        anchor,
        "voidAnchorsAbove",
        [first],
        evidence="0x" + "ab" * 32,
        advance_clock=True,
    )
    assert anchor.read("latestTreeSize") == first
    assert anchor.read("anchorAt", second)[2] == 0
    transparency.publish(platform)
    root, head_hash, block = anchor.read("anchorAt", second)
    assert block != 0 and root == bytes.fromhex(published.heads[1]["root_hash"][2:])
    published.verify("--bundle", published.bundle)
