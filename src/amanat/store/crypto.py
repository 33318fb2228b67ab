"""Encryption at rest of personal fields (Fernet: AES-128-CBC + HMAC-SHA256) with a configured key."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from amanat.errors import AmanatError

KEY_ENV = "AMANAT_DATA_KEY"


def load_key(data_dir: Path, create: bool) -> bytes:
    """The data key from $AMANAT_DATA_KEY, else <data dir>/data.key (created for embedded use)."""
    configured = os.environ.get(KEY_ENV)
    if configured:
        return configured.encode()
    path = data_dir / "data.key"
    if path.exists():
        return path.read_bytes().strip()
    if not create:
        raise AmanatError(f"no data key: set {KEY_ENV} (Fernet key) or provide {path}")
    return write_once(path, Fernet.generate_key()).strip()


def write_once(path: Path, content: bytes) -> bytes:
    """Create `path` holding `content` (mode 0600) unless it exists, and return what `path`
    holds. The file appears whole or not at all (written aside, then linked into place, which
    fails if the name exists), so of processes creating it at once one wins and every one of
    them reads the winner's content."""
    fd, aside = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(aside, path)
        except FileExistsError:
            return path.read_bytes()
        return content
    finally:
        os.unlink(aside)


class FieldCipher:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise AmanatError(
                f"{KEY_ENV} is not a valid Fernet key (32 url-safe base64 bytes)"
            ) from None

    def seal(self, fields: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(fields, sort_keys=True).encode())

    def open(self, sealed: bytes) -> dict[str, Any]:
        try:
            return dict(json.loads(self._fernet.decrypt(sealed)))
        except InvalidToken:
            raise AmanatError(
                "personal data cannot be decrypted with the configured data key"
            ) from None
