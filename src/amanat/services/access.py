"""Who may see or do what, on whose data: the one policy the API, the console and the CLI read.

Role sets are defined here once; the faces translate them (an API dependency, a console check,
the role x route matrix in the tests). What a refusal may tell an institution about other
parties is decided here too (`counterparty_detail`)."""

from __future__ import annotations

from amanat.services.accounts import Principal, Role

ISSUER, APPROVER, REGISTRAR, VALUER, AGENT, AUDITOR, REGULATOR, INSTITUTION = (
    Role.ISSUER,
    Role.APPROVER,
    Role.REGISTRAR,
    Role.VALUER,
    Role.AGENT,
    Role.AUDITOR,
    Role.REGULATOR,
    Role.INSTITUTION,
)
# Every role that works for the state (everyone but institutions).
STAFF = (ISSUER, APPROVER, REGISTRAR, VALUER, AGENT, AUDITOR, REGULATOR)
SIGNED_IN = (*STAFF, INSTITUTION)
# Oversight reads the audit trail, reconciliations and the full transparency entries.
OVERSIGHT = (AUDITOR, REGULATOR)
# Personal data (decrypted KYC records): each read is audited.
KYC_READERS = (AUDITOR, REGISTRAR)
# Named bidders and their allotments in an auction.
ALLOCATION_READERS = (ISSUER, APPROVER, AUDITOR, REGULATOR)
# Who may pay out a distribution or release a held payout.
PAYERS = (ISSUER, AGENT)


def counterparty_detail(who: Principal | None) -> bool:
    """Whether refusals shown to `who` may name other parties' names, holdings, categories,
    countries and KYC (staff and the CLI operator: yes; an institution: only its own figures)."""
    return who is None or who.role is not INSTITUTION
