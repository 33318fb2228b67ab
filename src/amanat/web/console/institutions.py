"""Console pages of the identity register: the institutions and one institution (its KYC record
for those who may read it, audited)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from amanat.services import access, identities
from amanat.services.access import KYC_READERS
from amanat.web.console.common import Session, area_router, page, record_audit

router = area_router()

# -------------------------------------------------------------- institutions


@router.get("/institutions")
def institution_list(request: Request, console: Session) -> Response:
    """Every institution for staff; an institution user sees only its own (as in the API)."""
    platform = console.platform
    count = platform.contract("IdentityRegistry").read("identityCount")
    numbers = access.visible_identities(platform, console.who, count)
    rows = [identities.show(platform, number) for number in numbers]
    return page(request, "institutions.html", institutions=rows)


@router.get("/institutions/{identity}")
def institution_detail(request: Request, console: Session, identity: int) -> Response:
    platform = console.platform
    access.require_own_identity(platform, console.who, identity)
    record = identities.show(platform, identity)
    kyc = None
    may_read_kyc = console.who.role in KYC_READERS
    if may_read_kyc:
        kyc = identities.kyc_record(platform, identity)
        record_audit(console, request.url.path, 200, detail={"personal_data": "kyc record viewed"})
    return page(request, "institution.html", institution=record, kyc=kyc, may_read_kyc=may_read_kyc)
