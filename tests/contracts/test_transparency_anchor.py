"""TransparencyAnchor: only governance appoints publishers, only publishers anchor, tree sizes
strictly increase, and every anchor is kept, logged and readable."""

from __future__ import annotations

from typing import Any

import boa
import pytest

from tests.contracts.conftest import CONTRACTS_DIR, ZERO32, h


@pytest.fixture
def anchor() -> Any:
    governance = boa.env.generate_address("governance")
    publisher = boa.env.generate_address("publisher")
    contract = boa.load(str(CONTRACTS_DIR / "TransparencyAnchor.vy"), governance, [publisher])
    contract.test_governance = governance
    contract.test_publisher = publisher
    return contract


def test_constructor_appoints_the_first_publishers(anchor: Any) -> None:
    assert anchor.governance() == anchor.test_governance
    assert anchor.isPublisher(anchor.test_publisher)
    assert anchor.latest() == (0, ZERO32, ZERO32)
    assert anchor.anchorCount() == 0
    with pytest.raises(boa.BoaError, match="governance is the zero address"):
        boa.load(str(CONTRACTS_DIR / "TransparencyAnchor.vy"), "0x" + "00" * 20, [])


def test_publisher_anchors_increasing_sizes(anchor: Any) -> None:
    with boa.env.prank(anchor.test_publisher):
        anchor.anchor(5, h("root5"), h("head5"))
        logs = anchor.get_logs()
        anchor.anchor(9, h("root9"), h("head9"))
    assert [type(e).__name__ for e in logs] == ["TreeHeadAnchored"]
    assert logs[0].treeSize == 5 and logs[0].rootHash == h("root5")
    assert logs[0].headHash == h("head5") and logs[0].publisher == anchor.test_publisher
    assert anchor.latest() == (9, h("root9"), h("head9"))
    root, head, block = anchor.anchorAt(5)
    assert (root, head) == (h("root5"), h("head5")) and block == boa.env.evm.patch.block_number
    assert anchor.anchorAt(6) == (ZERO32, ZERO32, 0)
    assert anchor.anchorCount() == 2


@pytest.mark.parametrize(
    ("size", "root", "head", "reason"),
    [
        (5, "r", "h", "tree size does not increase"),
        (4, "r", "h", "tree size does not increase"),
        (6, None, "h", "root hash is zero"),
        (6, "r", None, "head hash is zero"),
    ],
)
def test_refused_anchors(
    anchor: Any, size: int, root: str | None, head: str | None, reason: str
) -> None:
    with boa.env.prank(anchor.test_publisher):
        anchor.anchor(5, h("root5"), h("head5"))
        with pytest.raises(boa.BoaError, match=reason):
            anchor.anchor(size, h(root) if root else ZERO32, h(head) if head else ZERO32)
    assert anchor.latest() == (5, h("root5"), h("head5"))


def test_only_publishers_anchor_and_only_governance_appoints(anchor: Any) -> None:
    outsider = boa.env.generate_address("outsider")
    with boa.env.prank(outsider), pytest.raises(boa.BoaError, match="caller is not a publisher"):
        anchor.anchor(1, h("r"), h("h"))
    with boa.env.prank(outsider), pytest.raises(boa.BoaError, match="caller is not governance"):
        anchor.setPublisher(outsider, True)
    with boa.env.prank(anchor.test_governance):
        anchor.setPublisher(outsider, True)
        (event,) = anchor.get_logs()
        anchor.setPublisher(anchor.test_publisher, False)
    assert event.publisher == outsider and event.enabled is True
    with boa.env.prank(outsider):
        anchor.anchor(1, h("r"), h("h"))
    with (
        boa.env.prank(anchor.test_publisher),
        pytest.raises(boa.BoaError, match="caller is not a publisher"),
    ):
        anchor.anchor(2, h("r"), h("h"))


def test_governance_appoints_a_publisher_through_a_proposal(system: Any, deployers: Any) -> None:
    """setPublisher is a governed role change: proposed, approved and executed like the others."""
    anchor = deployers["TransparencyAnchor"].deploy(system.gov.address, [])
    publisher = boa.env.generate_address("new publisher")
    system.govern(anchor, "setPublisher", publisher, True)
    assert anchor.isPublisher(publisher)
    with boa.env.prank(publisher):
        anchor.anchor(3, h("root"), h("head"))
    assert anchor.latest() == (3, h("root"), h("head"))
