"""The transparency log's data formats: canonical JSON leaves and Ed25519-signed tree heads.

- A leaf is the canonical JSON of an entry: keys sorted, no whitespace, UTF-8, integers as
  integers and no floats, so anyone re-serialising the same entry gets the same bytes.
- A tree head (tree_size, root_hash, timestamp) is signed over a fixed 80-byte encoding:
  the 32-byte domain tag below, then size and timestamp as big-endian uint64 around the root.
  Its SHA-256 is the `headHash` anchored on chain.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from amanat.errors import InvalidInput

HEAD_DOMAIN = b"amanat transparency tree head v1".ljust(32, b"\x00")


def canonical_json(value: Any) -> bytes:
    """The one byte encoding of a JSON value that every party reproduces."""
    _check(value, "$")
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _check(value: Any, where: str) -> None:
    if isinstance(value, float):
        raise InvalidInput(f"canonical JSON allows no floats: {where} is {value!r}")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"canonical JSON keys are strings: {where} has {key!r}")
            _check(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]")
    elif value is not None and not isinstance(value, (str, int, bool)):
        raise InvalidInput(f"canonical JSON cannot hold {type(value).__name__} at {where}")


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: bytes
    timestamp: int  # seconds since the epoch, UTC
    signature: bytes = b""

    def encoding(self) -> bytes:
        """The bytes the platform signs."""
        return (
            HEAD_DOMAIN
            + struct.pack(">Q", self.tree_size)
            + self.root_hash
            + struct.pack(">Q", self.timestamp)
        )

    @property
    def head_hash(self) -> bytes:
        return hashlib.sha256(self.encoding()).digest()

    def verify(self, public_key: bytes) -> bool:
        """Is the signature the platform key's over this head?"""
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(self.signature, self.encoding())
        except (InvalidSignature, ValueError):
            return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": "0x" + self.root_hash.hex(),
            "timestamp": self.timestamp,
            "signature": base64.b64encode(self.signature).decode(),
            "head_hash": "0x" + self.head_hash.hex(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TreeHead:
        """A head as published (JSON); malformed fields are an InvalidInput naming them."""
        try:
            head = cls(
                tree_size=int(data["tree_size"]),
                root_hash=parse_hash(str(data["root_hash"]), "root_hash"),
                timestamp=int(data["timestamp"]),
                signature=base64.b64decode(str(data["signature"]), validate=True),
            )
        except KeyError as exc:
            raise InvalidInput(f"tree head lacks the field {exc.args[0]!r}") from None
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"tree head is malformed: {exc}") from None
        if head.tree_size < 0 or head.timestamp < 0:
            raise InvalidInput(f"tree head size and timestamp must be >= 0: {data}")
        return head


def parse_hash(text: str, what: str = "hash") -> bytes:
    """A 32-byte hash given as (0x-prefixed) hex."""
    raw = text[2:] if text.startswith("0x") else text
    try:
        value = bytes.fromhex(raw)
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not hex") from None
    if len(value) != 32:
        raise InvalidInput(f"{what} {text!r} is not 32 bytes")
    return value
