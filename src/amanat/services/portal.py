"""What the public portal shows, read from the chain, the index and the transparency log.

Nothing here identifies an institution: holdings are aggregated by investor category and by
domestic/foreign residence through `amanat.domain.disclosure`, which withholds small groups.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from amanat.domain.disclosure import DEFAULT_THRESHOLD, Aggregate, aggregate
from amanat.domain.identity import DOMESTIC_COUNTRY
from amanat.domain.records import WalletRecord
from amanat.indexer import queries
from amanat.services import assets as asset_service
from amanat.services import public, transparency, valuations
from amanat.services.platform import Platform, read_many
from amanat.store.models import ChainEvent


def overview(platform: Platform) -> dict[str, Any]:
    """Every tokenized asset with its units and value outstanding, and the latest tree head."""
    records = [a for a in asset_service.list_assets(platform) if a["token"]]
    supplies = read_many([(platform.token(a["token"]), "totalSupply", ()) for a in records])
    rows = [
        _summary(a, supply, valuations.history(platform, a, supply, None))
        for a, supply in zip(records, supplies, strict=True)
    ]
    with platform.store.session() as session:
        head = transparency.latest_head(session)
    return {"assets": rows, "head": head, "public_key": transparency.public_key_b64(platform)}


def _summary(asset: dict[str, Any], supply: int, value: dict[str, Any]) -> dict[str, Any]:
    """An asset's row; `value` its value history (`valuations.history`): the latest valuer
    report or market mark values the units outstanding."""
    current = value["current"]
    return {
        "id": asset["id"],
        "name": asset["name"],
        "class": asset["class"],
        "legal_id": asset["legal_id"],
        "ministry": asset["ministry"],
        "token": asset["token"],
        "units_outstanding": supply,
        "units_authorised": asset["authorisation"]["max_units"],
        "value_outstanding_minor": None if current is None else current["value_outstanding_minor"],
        "value_source": None if current is None else current["source"],
        "value_date": None if current is None else current["date"],
    }


def asset_detail(
    platform: Platform, asset_id: int, threshold: int = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """One asset: its summary, value history (valuer reports and market marks, as the public
    reads them), distributions, aggregated holdings, and the latest tree head."""
    asset = asset_service.show(platform, asset_id)
    token = asset["token"]
    supply = platform.token(token).read("totalSupply") if token else 0
    value = valuations.history(platform, asset, supply, None)
    with platform.store.session() as session:
        table = queries.cap_table(session, token) if token else []
        declared = _events(session, "DistributionDeclared", token) if token else []
        paid = _events(session, ("PayoutPaid", "PayoutHeld"), None) if declared else []
    registry = platform.contract("IdentityRegistry")
    words = read_many([(registry, "walletRecord", (holder,)) for holder, _ in table])
    records = [WalletRecord.unpack(w) for w in words]
    holdings = [  # a wallet with no identity (revoked) counts as an institution of its own
        (r.identity_number or -(n + 1), r, balance)
        for n, ((_holder, balance), r) in enumerate(zip(table, records, strict=True))
    ]
    by_category = aggregate(((i, r.category.name.lower(), b) for i, r, b in holdings), threshold)
    by_residence = aggregate(
        (
            (i, "domestic" if r.country == DOMESTIC_COUNTRY else "foreign", b)
            for i, r, b in holdings
        ),
        threshold,
    )
    paid_by_id: dict[int, int] = {}
    held_by_id: dict[int, int] = {}
    paid_count: dict[int, int] = {}
    for event in paid:
        key = int(event.args["distributionId"])
        sums = held_by_id if event.event == "PayoutHeld" else paid_by_id
        sums[key] = sums.get(key, 0) + int(event.args["amount"])
        paid_count[key] = paid_count.get(key, 0) + 1
    distributions = []
    for e in declared:
        number = int(e.args["distributionId"])
        shown = public.distribution(
            {
                "holders": int(e.args["holderCount"]),
                "payouts_made": paid_count.get(number, 0),
                "paid_minor": paid_by_id.get(number, 0),
                "held_minor": held_by_id.get(number, 0),
            },
            None,
        )
        distributions.append(
            {
                "id": number,
                "kind": e.args.get("kind"),
                "record_block": e.args.get("recordBlock"),
                "total": int(e.args["total"]),
                "holders": shown["holders"],
                "paid": shown["paid_minor"],
                "timestamp": e.timestamp,
            }
        )
    with platform.store.session() as session:
        head = transparency.latest_head(session)
    return {
        "asset": _summary(asset, supply, value) | {"status": asset["status"]},
        "head": head,
        "public_key": transparency.public_key_b64(platform),
        "valuations": value["items"],
        "distributions": distributions,
        "by_category": _plain(by_category),
        "by_residence": _plain(by_residence),
        "threshold": threshold,
    }


def _events(session: Any, names: str | tuple[str, ...], token: str | None) -> list[ChainEvent]:
    rows = session.scalars(
        select(ChainEvent)
        .where(ChainEvent.event.in_((names,) if isinstance(names, str) else names))
        .order_by(ChainEvent.block, ChainEvent.log_index)
    )
    return [
        e for e in rows if token is None or str(e.args.get("token", "")).lower() == token.lower()
    ]


def _plain(result: Aggregate) -> dict[str, Any]:
    return {
        "shown": [
            {"key": g.key, "institutions": g.institutions, "units": g.units} for g in result.shown
        ],
        "suppressed": result.suppressed_keys,
        "suppressed_institutions": result.suppressed_institutions,
        "suppressed_units": result.suppressed_units,
        "total_units": result.total_units,
    }
