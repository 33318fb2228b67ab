"""The console reads the same policy as the API (services/access.py): an institution user sees
only its own institution and never other bidders by name, as the API refuses them."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_policy import _console

OTHERS = ("Karakoram Life Assurance", "Federal Employees Pension Fund", "Gulf Horizon Capital")


def _identity_of(api: Api, name: str) -> int:
    rows = api.get("/institutions", "registrar", limit=100).json()["items"]
    return int(next(row["identity"] for row in rows if row["name"].startswith(name)))


def test_an_institution_sees_only_itself_in_the_console(api: Api) -> None:
    client, _csrf = _console(api, "inb")
    listed = client.get("/console/institutions")
    assert listed.status_code == 200
    assert "Indus National Bank" in listed.text
    assert not [name for name in OTHERS if name in listed.text]
    other = client.get(f"/console/institutions/{_identity_of(api, 'Karakoram')}")
    assert other.status_code == 403
    assert api.get(f"/institutions/{_identity_of(api, 'Karakoram')}", "inb").status_code == 403
    own = client.get(f"/console/institutions/{_identity_of(api, 'Indus')}")
    assert own.status_code == 200


def test_an_institution_never_sees_other_bidders_by_name(api: Api) -> None:
    client, _csrf = _console(api, "inb")
    page = client.get("/console/markets/auctions/1")
    assert page.status_code == 200
    assert not [name for name in OTHERS if name in page.text]
    staff, _ = _console(api, "regulator")
    assert [name for name in OTHERS if name in staff.get("/console/markets/auctions/1").text]
