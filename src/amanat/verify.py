"""`amanat verify`: an independent check of what the platform publishes, with no database access.

Inputs are public: the transparency log's entries and signed tree heads (from the API or an
exported bundle), the platform's Ed25519 public key, a chain RPC URL and the deployment manifest.
Every check is printed; a failed one names what does not match:

- deployment  the chain id and each contract's code hash are the manifest's
- entries     indexes run 0..n-1 with no gap; each leaf hash is SHA-256(0x00 || leaf); leaves
              are canonical JSON
- signature   every tree head is signed by the platform key
- root        every head's root is the RFC 6962 root of the first tree_size entries
- inclusion   the chosen entries' inclusion proofs verify against the latest head
- consistency the first head is a prefix of the latest, and each recent head of the next
              (RFC 9162 consistency proofs; or between two given sizes)
- anchor      each head's root and head hash are the ones anchored on chain at its size
- chain-log   every chain event in the log is on chain, as logged, and every Amanat event on
              chain up to the last logged block is in the log (needs the leaves: the public
              gets chain events by hash only, an auditor's or regulator's token gets them all)
- supply      each token's totalSupply, and the cash token's, equals the sum of its holders'
              balances (holders found from Transfer events)
- cap         supply <= the asset's authorised maximum units (getAsset and mintingTerms)
- reserve     a commodity token's supply <= the attested reserve
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from amanat.chain.abi import checksum, interface
from amanat.chain.rpc import RpcClient, RpcError
from amanat.config import DEFAULT_BATCH_SIZE, DEFAULT_LOGS_RANGE
from amanat.domain import merkle
from amanat.domain.assets import AssetClass
from amanat.domain.evm import keccak
from amanat.domain.transparency import TreeHead, canonical_json, parse_hash
from amanat.errors import AmanatError, InvalidInput
from amanat.indexer.indexer import KINDS, jsonable

BUNDLE_FORMAT = "amanat-transparency-bundle/1"
PAGE = 1000
RECENT_HEADS = 6  # consistency is proved between consecutive heads among the last six
ZERO = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name:<11}  {self.detail}"


@dataclass
class Published:
    """What the platform published: entries, heads, and (optionally) its key and manifest."""

    entries: list[dict[str, Any]]
    heads: list[dict[str, Any]]
    public_key: bytes | None
    manifest: dict[str, Any] | None
    inclusion: Callable[[int, int], list[bytes]] | None = None  # from the API; else local
    consistency: Callable[[int, int], list[bytes]] | None = None


# ------------------------------------------------------------------ sources


def load_bundle(path: Path) -> Published:
    """An exported bundle (`amanat log export`)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"bundle {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"bundle {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise InvalidInput(f"{path} is not an Amanat transparency bundle ({BUNDLE_FORMAT})")
    return Published(
        entries=_objects(data.get("entries", []), f"{path}: entries"),
        heads=_objects(data.get("heads", []), f"{path}: heads"),
        public_key=parse_public_key(data["public_key"]) if data.get("public_key") else None,
        manifest=check_manifest(data["manifest"], f"{path}: manifest")
        if data.get("manifest") is not None
        else None,
    )


def fetch_api(url: str, token: str | None = None) -> Published:
    """The API of a running platform. With no sign-in, chain events come by their hashes only
    (docs/public-data.md); an auditor's or regulator's bearer `token` gets every leaf, so the
    chain-log check can run too."""
    base = url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    client = httpx.Client(base_url=base, timeout=60.0, trust_env=False, headers=headers)

    def get(path: str, **params: Any) -> Any:
        try:
            reply = client.get(path, params=params or None)
        except httpx.HTTPError as exc:
            raise AmanatError(f"cannot reach {base}{path}: {exc.__class__.__name__}") from None
        if reply.status_code != 200:
            raise AmanatError(f"{base}{path} answered HTTP {reply.status_code}: {reply.text[:200]}")
        return reply.json()

    # Heads first: the log only grows, so the entries fetched next cover every head fetched.
    heads = get("/transparency/heads")["heads"]
    entries: list[dict[str, Any]] = []
    while True:
        page = get("/transparency/entries", start=len(entries), limit=PAGE)
        entries.extend(page["entries"])
        if len(page["entries"]) < PAGE:
            break
    return Published(
        entries=_objects(entries, f"{base}: entries"),
        heads=_objects(heads, f"{base}: heads"),
        public_key=parse_public_key(get("/transparency/public-key")["public_key"]),
        manifest=check_manifest(get("/transparency/manifest"), f"{base}/transparency/manifest"),
        inclusion=lambda index, size: _hashes(
            get("/transparency/proof/inclusion", index=index, size=size)["proof"]
        ),
        consistency=lambda first, second: _hashes(
            get("/transparency/proof/consistency", first=first, second=second)["proof"]
        ),
    )


def check_manifest(data: Any, where: str) -> dict[str, Any]:
    """A deployment manifest with what the verifier reads from it, or a one-line error."""

    def valid() -> bool:
        if not isinstance(data, dict) or not isinstance(data.get("contracts"), dict):
            return False
        if not all(isinstance(data.get(k), int) for k in ("chain_id", "deployed_block")):
            return False
        contracts = data["contracts"]
        return {"TokenFactory", "AssetRegistry"} <= set(contracts) and all(
            isinstance(c, dict)
            and str(c.get("address", "")).startswith("0x")
            and str(c.get("code_hash", "")).startswith("0x")
            for c in contracts.values()
        )

    if not valid():
        raise InvalidInput(
            f"{where} is not a deployment manifest (chain_id, deployed_block, and contracts "
            "with address and code_hash, TokenFactory and AssetRegistry among them)"
        )
    return dict(data)


def _objects(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidInput(f"{what} must be a list of JSON objects")
    return value


def _hashes(values: list[str]) -> list[bytes]:
    return [parse_hash(v, "proof hash") for v in values]


def parse_public_key(text: str) -> bytes:
    """An Ed25519 public key as base64 or hex (32 bytes)."""
    text = text.strip()
    try:
        raw = (
            bytes.fromhex(text.removeprefix("0x"))
            if len(text.removeprefix("0x")) == 64
            else base64.b64decode(text, validate=True)
        )
    except ValueError:
        raise InvalidInput(f"public key {text!r} is neither hex nor base64") from None
    if len(raw) != 32:
        raise InvalidInput(f"public key {text!r} is {len(raw)} bytes, an Ed25519 key is 32")
    return raw


# ------------------------------------------------------------------ verification


class Verifier:
    def __init__(
        self,
        published: Published,
        rpc_url: str,
        public_key: bytes,
        manifest: dict[str, Any],
        batch_size: int = DEFAULT_BATCH_SIZE,
        logs_range: int = DEFAULT_LOGS_RANGE,
        rpc: RpcClient | None = None,
    ) -> None:
        """`rpc`, if given, is how `rpc_url` is read (the embedded node with its history
        archive, `amanat.chain.archive.HistoryRpc`)."""
        self.published = published
        self.rpc = rpc or RpcClient(rpc_url, batch_size=batch_size, logs_range=logs_range)
        self.public_key = public_key
        self.manifest = manifest
        self.checks: list[Check] = []
        self.leaf_hashes: list[bytes] = []
        self.withheld = 0  # entries published by their hash only
        self.heads: list[TreeHead] = []

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def run(self, entries: list[int], sizes: tuple[int, int] | None) -> list[Check]:
        self.deployment()
        self.log_entries()
        self.signatures_and_roots()
        self.inclusion(entries)
        self.consistency(sizes)
        self.anchors()
        self.chain_log()
        self.supply()
        self.cash_supply()
        return self.checks

    # ------------------------------------------------------------ the log

    def deployment(self) -> None:
        chain_id = int(self.rpc.call("eth_chainId"), 16)
        if chain_id != self.manifest["chain_id"]:
            self.add(
                "deployment",
                False,
                f"chain id is {chain_id}, the manifest says {self.manifest['chain_id']}",
            )
            return
        bad = []
        for name, contract in sorted(self.manifest["contracts"].items()):
            code = self.rpc.call("eth_getCode", [contract["address"], "latest"])
            actual = "0x" + keccak(bytes.fromhex(code[2:])).hex()
            if actual != contract["code_hash"]:
                bad.append(name)
                self.add(
                    "deployment",
                    False,
                    f"{name} at {contract['address']} has code hash {actual}, "
                    f"manifest {contract['code_hash']}",
                )
        if not bad:
            self.add(
                "deployment", True, f"chain {chain_id}: {len(self.manifest['contracts'])} contracts"
            )

    def log_entries(self) -> None:
        failures = 0
        for position, entry in enumerate(self.published.entries):
            index = entry.get("index")
            if index != position:
                self.add(
                    "entries",
                    False,
                    f"entry {position} is missing (the next published entry is {index})",
                )
                failures += 1
                break
            if entry.get("leaf") is None:  # withheld from the public: its hash is what counts
                try:
                    self.leaf_hashes.append(parse_hash(str(entry.get("leaf_hash"))))
                except AmanatError:
                    self.add("entries", False, f"entry {index}: its leaf hash is not a hash")
                    failures += 1
                    break
                self.withheld += 1
                continue
            leaf = str(entry["leaf"]).encode("utf-8")
            computed = merkle.leaf_hash(leaf)
            self.leaf_hashes.append(computed)
            if entry.get("leaf_hash") != "0x" + computed.hex():
                self.add(
                    "entries",
                    False,
                    f"entry {index}: its leaf hashes to 0x{computed.hex()[:16]}…, published "
                    f"{str(entry.get('leaf_hash'))[:18]}…",
                )
                failures += 1
            try:
                canonical = canonical_json(json.loads(leaf))
            except (ValueError, AmanatError):
                canonical = b""
            if canonical != leaf:
                self.add("entries", False, f"entry {index}: the leaf is not canonical JSON")
                failures += 1
        if not failures:
            withheld = (
                f" ({self.withheld} leaves withheld from the public: their published hashes used)"
                if self.withheld
                else ""
            )
            self.add(
                "entries", True, f"{len(self.leaf_hashes)} entries, leaf hashes recomputed{withheld}"
            )

    def signatures_and_roots(self) -> None:
        if not self.published.heads:
            self.add("signature", False, "no tree head was published")
            return
        bad_signatures = bad_roots = 0
        previous = -1
        parsed = [TreeHead.from_dict(raw) for raw in self.published.heads]
        computed_roots = merkle.roots(
            self.leaf_hashes, [h.tree_size for h in parsed if h.tree_size <= len(self.leaf_hashes)]
        )
        for head in parsed:
            if head.tree_size <= previous:
                self.add("consistency", False, f"head sizes do not increase at {head.tree_size}")
            previous = head.tree_size
            self.heads.append(head)
            if not head.verify(self.public_key):
                bad_signatures += 1
                self.add(
                    "signature",
                    False,
                    f"head at size {head.tree_size}: the signature is not the platform key's",
                )
            if head.tree_size > len(self.leaf_hashes):
                bad_roots += 1
                self.add(
                    "root",
                    False,
                    f"head at size {head.tree_size} covers more than the "
                    f"{len(self.leaf_hashes)} entries published",
                )
                continue
            computed = computed_roots[head.tree_size]
            if computed != head.root_hash:
                bad_roots += 1
                self.add(
                    "root",
                    False,
                    f"head at size {head.tree_size}: root 0x{head.root_hash.hex()[:16]}… but "
                    f"the published entries give 0x{computed.hex()[:16]}…",
                )
        if not bad_signatures:
            self.add("signature", True, f"{len(self.heads)} heads signed by the platform key")
        if not bad_roots:
            self.add("root", True, f"{len(self.heads)} head roots match the published entries")

    def inclusion(self, indexes: list[int]) -> None:
        if not self.heads:
            return
        latest = self.heads[-1]
        if not indexes:  # the first, middle and last entries of the latest head
            indexes = sorted({0, latest.tree_size // 2, latest.tree_size - 1})
        for index in indexes:
            if not 0 <= index < latest.tree_size or index >= len(self.leaf_hashes):
                self.add(
                    "inclusion",
                    False,
                    f"entry {index} is not in the latest head (size {latest.tree_size})",
                )
                continue
            proof = self._inclusion_proof(index, latest.tree_size)
            ok = merkle.verify_inclusion(
                index, latest.tree_size, self.leaf_hashes[index], proof, latest.root_hash
            )
            self.add(
                "inclusion",
                ok,
                f"entry {index} {'is' if ok else 'is NOT'} included in the head at size "
                f"{latest.tree_size} ({len(proof)} proof hashes)",
            )

    def _inclusion_proof(self, index: int, size: int) -> list[bytes]:
        if self.published.inclusion is not None:
            return self.published.inclusion(index, size)
        return merkle.inclusion_proof(index, self.leaf_hashes[:size])

    def consistency(self, sizes: tuple[int, int] | None) -> None:
        by_size = {h.tree_size: h for h in self.heads}
        if sizes is not None:
            missing = [s for s in sizes if s not in by_size]
            if missing:
                raise InvalidInput(f"no published tree head at size {missing[0]}")
            pairs = [(by_size[sizes[0]], by_size[sizes[1]])]
        else:
            # Every head's root is already tied to the same entries (the root check), so by
            # default prove what a monitor keeping only heads would: the first head against
            # the latest, and each of the last few heads against the next.
            recent = self.heads[-RECENT_HEADS:]
            pairs = list(zip(recent, recent[1:], strict=False))
            if len(self.heads) > RECENT_HEADS:
                pairs.insert(0, (self.heads[0], self.heads[-1]))
        for first, second in pairs:
            if self.published.consistency is not None:
                proof = self.published.consistency(first.tree_size, second.tree_size)
            elif second.tree_size <= len(self.leaf_hashes):
                proof = merkle.consistency_proof(
                    first.tree_size, self.leaf_hashes[: second.tree_size]
                )
            else:
                proof = []
            ok = merkle.verify_consistency(
                first.tree_size, second.tree_size, first.root_hash, second.root_hash, proof
            )
            self.add(
                "consistency",
                ok,
                f"head {first.tree_size} {'is' if ok else 'is NOT'} a prefix of head "
                f"{second.tree_size}",
            )
        if not pairs:
            self.add("consistency", True, "one head only: nothing to compare")

    def anchors(self) -> None:
        contract = self.manifest["contracts"].get("TransparencyAnchor")
        if contract is None:
            self.add("anchor", False, "the deployment has no TransparencyAnchor contract")
            return
        anchor = interface("TransparencyAnchor")
        replies = self.rpc.batch(
            [
                (
                    "eth_call",
                    [
                        {
                            "to": contract["address"],
                            "data": "0x" + anchor.function("anchorAt").encode(h.tree_size).hex(),
                        },
                        "latest",
                    ],
                )
                for h in self.heads
            ]
        )
        failures = 0
        for head, reply in zip(self.heads, replies, strict=True):
            if isinstance(reply, RpcError):
                raise reply
            root, head_hash, block = anchor.function("anchorAt").decode(bytes.fromhex(reply[2:]))
            if block == 0:
                failures += 1
                self.add("anchor", False, f"head at size {head.tree_size} is not anchored on chain")
            elif root != head.root_hash or head_hash != head.head_hash:
                failures += 1
                self.add(
                    "anchor",
                    False,
                    f"head at size {head.tree_size}: chain anchored root 0x{root.hex()[:16]}… "
                    f"head 0x{head_hash.hex()[:16]}…, published root "
                    f"0x{head.root_hash.hex()[:16]}… head 0x{head.head_hash.hex()[:16]}…",
                )
        if not failures:
            self.add("anchor", True, f"{len(self.heads)} heads match their on-chain anchors")

    # ------------------------------------------------------------ the chain

    def _head(self) -> int:
        """The chain's latest block number (log queries are paged up to it)."""
        return int(self.rpc.call("eth_blockNumber"), 16)

    def _addresses(self) -> dict[str, str]:
        return {
            self.manifest["contracts"][k]["address"].lower(): k
            for k in KINDS
            if k in self.manifest["contracts"]
        }

    def _tokens(self) -> dict[str, int]:
        """Token address (lower case) -> asset id, from the factory's TokenCreated events."""
        factory = interface("TokenFactory").events["TokenCreated"]
        logs = self.rpc.get_logs(
            {
                "address": self.manifest["contracts"]["TokenFactory"]["address"],
                "topics": ["0x" + factory.topic.hex()],
            },
            self.manifest["deployed_block"],
            self._head(),
        )
        tokens = {}
        for log in logs:
            args = factory.decode(_topics(log), bytes.fromhex(log["data"][2:]))
            tokens[args["token"].lower()] = args["assetId"]
        return tokens

    def chain_log(self) -> None:
        claimed: dict[tuple[int, int], tuple[int, dict[str, Any]]] = {}
        for entry in self.published.entries:
            if entry.get("leaf") is None:
                continue
            try:
                payload = json.loads(entry["leaf"])
                position = int(entry["index"])
            except (ValueError, KeyError, TypeError):
                continue
            if payload.get("type") == "reorganisation":
                kept = payload.get("kept_block", 0)
                claimed = {k: v for k, v in claimed.items() if k[0] <= kept}
            elif payload.get("type") == "chain_event":
                claimed[(payload.get("block", -1), payload.get("log_index", -1))] = (
                    position,
                    payload,
                )
        if not claimed and self.withheld:
            self.add(
                "chain-log",
                True,
                f"not checked: {self.withheld} leaves are withheld from the public (chain events "
                "are served to auditors and regulators: give --token)",
            )
            return
        if not claimed:
            self.add("chain-log", True, "the log holds no chain events yet")
            return
        last_block = max(block for block, _ in claimed)
        known = self._addresses()
        tokens = self._tokens()
        logs = self.rpc.get_logs({}, self.manifest["deployed_block"], last_block)
        failures = 0
        seen = set()
        for log in logs:
            address = log["address"].lower()
            kind = known.get(address) or ("AssetToken" if address in tokens else None)
            topics = _topics(log)
            event = interface(kind).events_by_topic.get(topics[0]) if kind and topics else None
            if event is None:
                continue
            key = (int(log["blockNumber"], 16), int(log["logIndex"], 16))
            seen.add(key)
            args = event.decode(topics, bytes.fromhex(log["data"][2:]))
            expected = {
                "tx_hash": log["transactionHash"],
                "contract": checksum(log["address"]),
                "event": event.name,
                "args": json.loads(canonical_json({k: jsonable(v) for k, v in args.items()})),
            }
            if key not in claimed:
                failures += 1
                self.add(
                    "chain-log",
                    False,
                    f"{event.name} at block {key[0]} log {key[1]} is on chain but not in the log",
                )
                continue
            position, payload = claimed[key]
            differing = sorted(f for f, value in expected.items() if payload.get(f) != value)
            if differing:
                failures += 1
                self.add(
                    "chain-log",
                    False,
                    f"entry {position} ({event.name}, block {key[0]} log {key[1]}) differs from "
                    f"the chain in {', '.join(differing)}",
                )
        for key in sorted(set(claimed) - seen):
            failures += 1
            self.add(
                "chain-log",
                False,
                f"entry {claimed[key][0]} claims an event at block {key[0]} log {key[1]} that "
                "is not on chain",
            )
        if not failures:
            self.add(
                "chain-log",
                True,
                f"{len(claimed)} logged chain events match the chain to block {last_block}",
            )

    def _holders(self, token: str, transfer: Any) -> list[str]:
        """Every address that ever sent or received the token, from its Transfer events."""
        logs = self.rpc.get_logs(
            {"address": token, "topics": ["0x" + transfer.topic.hex()]},
            self.manifest["deployed_block"],
            self._head(),
        )
        holders: set[str] = set()
        for log in logs:
            args = transfer.decode(_topics(log), bytes.fromhex(log["data"][2:]))
            holders.update(a for a in (args["sender"], args["receiver"]) if a != ZERO)
        return sorted(holders)

    def cash_supply(self) -> None:
        """The cash token's supply equals the sum of its holders' balances."""
        if "CashToken" not in self.manifest["contracts"]:
            return
        cash = self.manifest["contracts"]["CashToken"]["address"]
        cash_abi = interface("CashToken")
        ordered = self._holders(cash, cash_abi.events["Transfer"])
        replies = self.rpc.batch(
            [_call(cash, cash_abi.function("totalSupply").encode())]
            + [_call(cash, cash_abi.function("balanceOf").encode(h)) for h in ordered]
        )
        for reply in replies:
            if isinstance(reply, RpcError):
                raise reply
        supply = int(replies[0], 16)
        total = sum(int(r, 16) for r in replies[1:])
        self.add(
            "supply",
            total == supply,
            f"cash token: totalSupply {supply:,} {'=' if total == supply else '!='} sum of "
            f"{len(ordered)} holders' balances {total:,}",
        )

    def supply(self) -> None:
        token_abi = interface("AssetToken")
        registry_abi = interface("AssetRegistry")
        registry = self.manifest["contracts"]["AssetRegistry"]["address"]
        transfer = token_abi.events["Transfer"]
        tokens = self._tokens()
        if not tokens:
            self.add("supply", True, "no tokens yet")
            return
        for token, asset_id in sorted(tokens.items(), key=lambda t: t[1]):
            ordered = self._holders(token, transfer)
            calls = [
                _call(token, token_abi.function("totalSupply").encode()),
                _call(token, token_abi.function("symbol").encode()),
                _call(registry, registry_abi.function("getAsset").encode(asset_id)),
                _call(registry, registry_abi.function("mintingTerms").encode(asset_id)),
                *(_call(token, token_abi.function("balanceOf").encode(h)) for h in ordered),
                _call(registry, registry_abi.function("attestedReserve").encode(asset_id)),
            ]
            replies = self.rpc.batch(calls)
            for reply in replies:
                if isinstance(reply, RpcError):
                    raise reply
            raw = [bytes.fromhex(r[2:]) for r in replies]
            supply = token_abi.function("totalSupply").decode(raw[0])
            symbol = token_abi.function("symbol").decode(raw[1])
            asset = registry_abi.function("getAsset").decode(raw[2])
            _status, authorised = registry_abi.function("mintingTerms").decode(raw[3])
            balances = [
                token_abi.function("balanceOf").decode(r) for r in raw[4 : 4 + len(ordered)]
            ]
            total = sum(balances)
            self.add(
                "supply",
                total == supply,
                f"{symbol} (asset {asset_id}): totalSupply {supply:,} "
                f"{'=' if total == supply else '!='} sum of {len(ordered)} holders' balances "
                f"{total:,}",
            )
            max_units = asset[-1]
            # mintingTerms is the authorisation, or for a commodity the lower of it and the
            # attested reserve (checked below): never above the authorisation.
            self.add(
                "cap",
                supply <= max_units and authorised <= max_units,
                f"{symbol}: supply {supply:,} {'<=' if supply <= max_units else '>'} authorised "
                f"{max_units:,} (mintingTerms {authorised:,})",
            )
            if asset[0] == AssetClass.COMMODITY_RESERVE:
                reserve = registry_abi.function("attestedReserve").decode(raw[-1])
                self.add(
                    "reserve",
                    supply <= reserve,
                    f"{symbol}: supply {supply:,} {'<=' if supply <= reserve else '>'} "
                    f"attested reserve {reserve:,}",
                )


def _topics(log: dict[str, Any]) -> list[bytes]:
    return [bytes.fromhex(t[2:]) for t in log["topics"]]


def _call(to: str, data: bytes) -> tuple[str, list[Any]]:
    return ("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])
