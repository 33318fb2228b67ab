"""Signing keys held in a hardware security module, through PKCS#11 (tested against SoftHSM2).

A secp256k1 key is generated inside the token, marked sensitive and not extractable, and never
leaves it: Amanat keeps only its label and derives the address from the public point. The token
signs a transaction's 32-byte digest (CKM_ECDSA, r || s); Amanat normalises s to the lower half
of the curve order (EIP-2) and finds the recovery id by recovering the public key, so the
transaction is indistinguishable from one signed in software. (A token picks a fresh random nonce
per signature, so two signatures of the same digest differ; both verify.)

`python-pkcs11` is imported on first use: nothing here costs a command that does not sign.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from coincurve import PublicKey
from eth_utils import keccak, to_checksum_address

from amanat.config import Settings
from amanat.errors import AmanatError, InvalidInput

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
EC_POINT_PREFIX = bytes([0x04, 0x41])  # DER OCTET STRING of 65 bytes, as CKA_EC_POINT holds it


@dataclass(frozen=True)
class HsmConfig:
    """Where the token is: the PKCS#11 module, the token's label and its user PIN."""

    module: str
    token: str
    pin: str = field(repr=False)  # never in a log line or a traceback


def token_config(settings: Settings) -> HsmConfig:
    """The token configured in amanat.toml (`[hsm]`), with its user PIN from the environment."""
    hsm = settings.hsm
    if hsm is None:
        raise InvalidInput(
            "no hardware token is configured: add [hsm] module and token to "
            f"{settings.data_dir / 'amanat.toml'}"
        )
    pin = os.environ.get(hsm.pin_env)
    if not pin:
        raise InvalidInput(f"the token's user PIN is read from ${hsm.pin_env}, which is not set")
    return HsmConfig(hsm.module, hsm.token, pin)


class HsmSigner:
    """One key of the token, found by its label; signs digests for `amanat.chain.signing`."""

    def __init__(self, config: HsmConfig, label: str) -> None:
        self.label = label
        self._config = config
        self._open()
        self.address: str = to_checksum_address(keccak(self.public_key[1:])[-20:])

    def _open(self, fresh: bool = False) -> None:
        """Find the key pair in the token's session (a fresh session if `fresh`)."""
        from pkcs11 import PKCS11Error

        session, self._lock = _open_session(self._config, fresh)
        try:
            with self._lock:
                self._private, public = _find_pair(session, self.label)
                self.public_key = _uncompressed_point(public)
        except PKCS11Error as exc:
            raise _token_error(self._config, exc) from None

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]:
        """(recovery id, r, s) of an ECDSA signature of `digest` with s in the lower half."""
        from pkcs11 import Mechanism, PKCS11Error

        if len(digest) != 32:
            raise AmanatError(f"a transaction digest is 32 bytes, not {len(digest)}")
        try:
            with self._lock:
                signature = bytes(self._private.sign(digest, mechanism=Mechanism.ECDSA))
        except PKCS11Error:  # the session was lost: log in again once, then give up
            self._open(fresh=True)
            try:
                with self._lock:
                    signature = bytes(self._private.sign(digest, mechanism=Mechanism.ECDSA))
            except PKCS11Error as exc:
                raise _token_error(self._config, exc) from None
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if s > SECP256K1_ORDER // 2:
            s = SECP256K1_ORDER - s
        for recovery_id in (0, 1):
            candidate = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([recovery_id])
            recovered = PublicKey.from_signature_and_message(candidate, digest, hasher=None)
            if recovered.format(compressed=False) == self.public_key:
                return recovery_id, r, s
        raise AmanatError(f"the token's signature with key {self.label!r} does not verify")


def generate_key(config: HsmConfig, label: str) -> str:
    """Generate a secp256k1 key pair inside the token under `label` (sensitive, never
    extractable) and return its address. A label already in use is refused."""
    from pkcs11 import PKCS11Error

    session, lock = _open_session(config)
    try:
        return _generate(session, lock, config, label)
    except PKCS11Error as exc:
        raise _token_error(config, exc) from None


def _generate(session: Any, lock: threading.Lock, config: HsmConfig, label: str) -> str:
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11.util.ec import encode_named_curve_parameters

    with lock:
        if list(
            session.get_objects({Attribute.LABEL: label, Attribute.CLASS: ObjectClass.PRIVATE_KEY})
        ):
            raise InvalidInput(f"the token {config.token!r} already holds a key labelled {label!r}")
        parameters = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256k1")},
            local=True,
        )
        public, _ = parameters.generate_keypair(
            store=True,
            label=label,
            private_template={
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
            },
        )
        point = _uncompressed_point(public)
    return to_checksum_address(keccak(point[1:])[-20:])


_sessions: dict[HsmConfig, tuple[Any, threading.Lock]] = {}
_sessions_guard = threading.Lock()


def _open_session(config: HsmConfig, fresh: bool = False) -> tuple[Any, threading.Lock]:
    """The process's one logged-in session with the token (PKCS#11 logs a user in per process
    and token, so every key of the token shares it), with the lock that serialises its calls;
    `fresh` replaces a session the token no longer honours (it restarted, failed over)."""
    try:
        import pkcs11
    except ImportError:
        raise AmanatError(
            "hardware-held keys need python-pkcs11: pip install 'amanat[hsm]'"
        ) from None
    with _sessions_guard:
        if fresh and config in _sessions:
            stale, _ = _sessions.pop(config)
            with contextlib.suppress(pkcs11.PKCS11Error):
                stale.close()
        if config not in _sessions:
            try:
                token = pkcs11.lib(config.module).get_token(token_label=config.token)
                _sessions[config] = (token.open(user_pin=config.pin, rw=True), threading.Lock())
            except (pkcs11.PKCS11Error, RuntimeError, OSError) as exc:
                raise _token_error(config, exc) from None
        return _sessions[config]


def _token_error(config: HsmConfig, exc: BaseException) -> AmanatError:
    return AmanatError(
        f"token {config.token!r} (module {config.module}) failed: "
        f"{exc.__class__.__name__} {exc}".strip()
    )


def _find_pair(session: Any, label: str) -> tuple[Any, Any]:
    from pkcs11 import Attribute, ObjectClass

    private = list(
        session.get_objects({Attribute.LABEL: label, Attribute.CLASS: ObjectClass.PRIVATE_KEY})
    )
    public = list(
        session.get_objects({Attribute.LABEL: label, Attribute.CLASS: ObjectClass.PUBLIC_KEY})
    )
    if len(private) != 1 or len(public) != 1:
        raise InvalidInput(
            f"the token holds {len(private)} private and {len(public)} public keys labelled "
            f"{label!r}; exactly one pair is needed (`amanat keys hsm-new {label}`)"
        )
    return private[0], public[0]


def _uncompressed_point(public: Any) -> bytes:
    from pkcs11 import Attribute

    encoded = bytes(public[Attribute.EC_POINT])
    point = encoded[2:] if encoded[:2] == EC_POINT_PREFIX else encoded
    if len(point) != 65 or point[0] != 0x04:
        raise AmanatError("the token's public key is not an uncompressed secp256k1 point")
    return point
