"""The policy layer as the API shows it: what a refusal may disclose to an institution, inputs
refused with a named rule (never a 500), and the headers every JSON answer carries."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.api.test_workflow import assert_problem


def _precheck(api: Api, who: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = api.post("/transfers/precheck", who, json=body)
    assert reply.status_code == 200, reply.text
    verdict: dict[str, Any] = reply.json()
    return verdict


CAP = 600_000  # PKTB3M's holding cap per institution in the pilot


def _over_the_cap(api: Api) -> tuple[str, str, int, int]:
    """(sender, receiver, amount, receiver's holding): a transfer between pilot institutions
    the sender can afford that takes the receiver over PKTB3M's holding cap."""
    held = {
        key: int(
            api.get(f"/tokens/PKTB3M/balances/{api.address(key)}", "regulator").json()["balance"]
        )
        for key in ("inb", "kla", "fepf")
    }
    for receiver, has in sorted(held.items(), key=lambda item: -item[1]):
        for sender, can in held.items():
            if sender != receiver and has > 0 and can >= CAP + 1 - has:
                return sender, receiver, CAP + 1 - has, has
    raise AssertionError(f"no pilot transfer crosses the cap: {held}")


def test_a_refusal_shown_to_an_institution_never_names_another_partys_holding(api: Api) -> None:
    sender, receiver, amount, held = _over_the_cap(api)
    to = api.address(receiver)
    name = {"inb": "Indus National Bank", "kla": "Karakoram", "fepf": "Federal Employees"}
    mine = _precheck(api, sender, {"token": "PKTB3M", "to": to, "amount": amount})
    assert mine["rule"] == "holding-cap", mine
    assert name[receiver] not in mine["detail"]
    assert str(held + amount) not in mine["detail"] and str(held) not in mine["detail"]
    assert str(CAP) in mine["detail"]  # the rule's own figure stays
    # staff keep the full detail
    staff = _precheck(
        api,
        "regulator",
        {"token": "PKTB3M", "from": api.address(sender), "to": to, "amount": amount},
    )
    assert name[receiver] in staff["detail"] and str(held + amount) in staff["detail"]


def test_a_refused_transfer_by_an_institution_never_names_the_receiver(api: Api) -> None:
    sender, receiver, amount, held = _over_the_cap(api)
    reply = api.post(
        "/transfers",
        sender,
        json={"token": "PKTB3M", "to": api.address(receiver), "amount": amount},
    )
    body = assert_problem(reply, 422, "holding-cap")
    assert str(held + amount) not in body["detail"] and str(held) not in body["detail"]


def test_api_json_is_not_cached_or_sniffed_and_405_says_allow(api: Api) -> None:
    reply = api.get("/institutions", "registrar")
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["x-content-type-options"] == "nosniff"
    wrong = api.client.put("/auth/token", json={})
    assert wrong.status_code == 405
    assert "POST" in wrong.headers["allow"]


def test_a_huge_anonymous_body_is_refused_before_it_is_parsed(api: Api) -> None:
    reply = api.client.post(
        "/auth/token",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert_problem(reply, 413, "body-too-large")
