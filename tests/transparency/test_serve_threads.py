"""What `amanat serve` runs in the background: a head is published (and anchored) once the log
has grown, and reconciliations are stored, each on its own schedule."""

from __future__ import annotations

import time

import httpx

from amanat import serve
from amanat.services import reconcile
from amanat.services.pilot import pilot_password
from tests.transparency.conftest import Published


def wait_for(condition: object, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_publisher_and_reconciler_threads(published: Published) -> None:
    platform = published.platform
    before = len(reconcile.recent(platform, 100))
    publisher = serve.PeriodicThread("test-publisher", 0.1, lambda: serve._publish(platform))
    reconciler = serve.PeriodicThread("test-reconciler", 0.1, lambda: serve._reconcile(platform))
    publisher.start()
    reconciler.start()
    try:
        wait_for(lambda: publisher.last_result is not None)
        size = publisher.last_result["tree_size"]
        # an administrative action grows the log; the next round publishes and anchors it
        reply = httpx.post(
            f"{published.base_url}/auth/token",
            json={"username": "kla", "password": pilot_password("kla")},
            trust_env=False,
        )
        assert reply.status_code == 200
        wait_for(lambda: publisher.last_result["tree_size"] == size + 1)
        assert publisher.last_result["anchor_block"] is not None
        wait_for(lambda: len(reconcile.recent(platform, 100)) >= before + 2)
        assert reconciler.last_error is None and reconciler.last_result["ok"] is True
    finally:
        publisher.stopped.set()
        reconciler.stopped.set()
        publisher.join(timeout=30)
        reconciler.join(timeout=30)
    anchor = platform.contract("TransparencyAnchor")
    assert anchor.read("latestTreeSize") == size + 1
