"""The tree-head signing key and the data key are created once, whole, however many processes
or threads start at the same moment: every one of them gets the same key."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives import serialization

from amanat.services import transparency
from amanat.store import crypto

RACERS = 12


def _race(make: Any) -> list[Any]:
    start = threading.Barrier(RACERS)
    results: list[Any] = [None] * RACERS

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = make()
        except Exception as exc:  # noqa: BLE001 - the race's loser is what the test looks for
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_keys_created_at_once_are_one_key(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv(transparency.KEY_FILE_ENV, raising=False)
    monkeypatch.delenv(crypto.KEY_ENV, raising=False)
    for attempt in range(8):
        data_dir = tmp_path / str(attempt)
        data_dir.mkdir()
        platform = SimpleNamespace(settings=SimpleNamespace(data_dir=data_dir, embedded=True))
        keys = _race(lambda p=platform: transparency.signing_key(p))  # type: ignore[misc]
        raw = {
            k.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            if not isinstance(k, Exception)
            else repr(k)
            for k in keys
        }
        assert len(raw) == 1 and all(isinstance(r, bytes) for r in raw), raw
        assert transparency.public_key(platform) in raw  # type: ignore[arg-type]
        data_keys = set(_race(lambda d=data_dir: crypto.load_key(d, create=True)))  # type: ignore[misc]
        assert len(data_keys) == 1 and all(isinstance(k, bytes) for k in data_keys), data_keys
        assert sorted(p.name for p in data_dir.iterdir()) == ["data.key", transparency.KEY_FILE]
