"""Encryption at rest of personal fields (Fernet: AES-128-CBC + HMAC-SHA256) with a configured key."""

from __future__ import annotations

import json
import os
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
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


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
