"""IdentityRegistry: registrars, identities, wallets, packed records, ERC-3643 views."""

from __future__ import annotations

import boa
import pytest
from eth.exceptions import Revert

from amanat.domain.identity import InvestorCategory

from .conftest import AE, GB, PK, YEAR, ZERO32, ZERO_ADDRESS, System, deploy, h

MAX_WALLETS = 16


# Bit 127 of a record: the wallet is its identity's sole wallet (registered or linked alone).
SOLE_WALLET = 1 << 127


def pack(number: int, country: int, category: int, expiry: int) -> int:
    return expiry | country << 64 | category << 80 | number << 88


def register(
    system: System,
    wallets: list[str],
    country: int = PK,
    category: int = 0,
    expiry: int | None = None,
    kyc: bytes | None = None,
) -> int:
    if expiry is None:
        expiry = boa.env.timestamp + YEAR
    with boa.env.prank(system.registrar):
        return system.idreg.registerIdentity(kyc or h("kyc"), country, category, expiry, wallets)


def fresh(n: int = 1) -> list[str]:
    return [boa.env.generate_address() for _ in range(n)]


# ---------------------------------------------------------------- construction and registrars


def test_constructor_rejects_zero_governance(deployers):
    with boa.reverts("governance is the zero address"):
        deploy(deployers["IdentityRegistry"], governance=ZERO_ADDRESS)


def test_constructor_appoints_initial_registrars(deployers, system):
    first, second = fresh(2)
    reg = deploy(
        deployers["IdentityRegistry"], governance=system.gov.address, registrars=[first, second]
    )
    assert reg.governance() == system.gov.address
    assert reg.isRegistrar(first) and reg.isRegistrar(second)
    assert not reg.isRegistrar(system.registrar)


def test_set_registrar_only_governance(system):
    for caller in (system.officials[0], system.registrar, system.outsider):
        with boa.reverts("caller is not governance"), boa.env.prank(caller):
            system.idreg.setRegistrar(caller, True)


def test_set_registrar_through_governance(system):
    new = boa.env.generate_address()
    assert not system.idreg.isRegistrar(new)
    system.govern(system.idreg, "setRegistrar", new, True)
    assert system.idreg.isRegistrar(new)
    (event,) = system.logs(name="RegistrarSet")
    assert (event.registrar, event.enabled) == (new, True)
    with boa.env.prank(new):
        system.idreg.registerIdentity(h("by new"), PK, 0, boa.env.timestamp + YEAR, [])

    system.govern(system.idreg, "setRegistrar", new, False)
    assert not system.idreg.isRegistrar(new)
    with boa.reverts("caller is not a registrar"), boa.env.prank(new):
        system.idreg.registerIdentity(h("by new"), PK, 0, boa.env.timestamp + YEAR, [])


# ---------------------------------------------------------------- registerIdentity


def test_register_identity_stores_record_and_links_wallets(system):
    reg = system.idreg
    before = reg.identityCount()
    wallets = fresh(3)
    expiry = boa.env.timestamp + YEAR
    with boa.env.prank(system.registrar):
        number = reg.registerIdentity(h("kyc mcb"), PK, int(InvestorCategory.BANK), expiry, wallets)
    logs = reg.get_logs()
    assert number == before + 1 == reg.identityCount()
    ident = reg.identityOf(number)
    assert (ident.country, ident.category, ident.kycExpiry) == (
        PK,
        int(InvestorCategory.BANK),
        expiry,
    )
    assert list(reg.walletsOfIdentity(number)) == wallets
    record = pack(number, PK, int(InvestorCategory.BANK), expiry)
    for w in wallets:
        assert reg.walletRecord(w) == record
        assert reg.identityNumberOf(w) == number
        assert reg.contains(w) and reg.isVerified(w)
        assert reg.investorCountry(w) == PK
    assert reg.walletRecords(wallets[0], wallets[2]) == (record, record)

    (registered,) = [e for e in logs if type(e).__name__ == "IdentityRegistered"]
    assert (
        registered.identityNumber,
        registered.kycHash,
        registered.country,
        registered.category,
        registered.kycExpiry,
        registered.registrar,
    ) == (number, h("kyc mcb"), PK, 0, expiry, system.registrar)
    linked = [e for e in logs if type(e).__name__ == "WalletLinked"]
    assert [(e.identityNumber, e.wallet, e.registrar) for e in linked] == [
        (number, w, system.registrar) for w in wallets
    ]


def test_register_identity_without_wallets(system):
    number = register(system, [])
    assert list(system.idreg.walletsOfIdentity(number)) == []
    assert system.idreg.identityOf(number).country == PK


def test_register_identity_with_sixteen_wallets(system):
    wallets = fresh(MAX_WALLETS)
    number = register(system, wallets)
    assert len(system.idreg.walletsOfIdentity(number)) == MAX_WALLETS


def test_register_identity_with_seventeen_wallets_fails_abi_bound(system):
    def calldata(wallets: list[str]) -> bytes:
        head = system.idreg.registerIdentity.prepare_calldata(
            h("kyc"), PK, 0, boa.env.timestamp + YEAR, []
        )[: 4 + 32 * 5]
        return (
            head
            + len(wallets).to_bytes(32, "big")
            + b"".join(bytes.fromhex(w[2:]).rjust(32, b"\0") for w in wallets)
        )

    count = system.idreg.identityCount()
    boa.env.raw_call(
        system.idreg.address, sender=system.registrar, data=calldata(fresh(MAX_WALLETS))
    )
    assert system.idreg.identityCount() == count + 1
    with pytest.raises(Revert):
        boa.env.raw_call(
            system.idreg.address, sender=system.registrar, data=calldata(fresh(MAX_WALLETS + 1))
        )
    assert system.idreg.identityCount() == count + 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kyc": ZERO32}, "KYC record hash is empty"),
        ({"country": 0}, "country is not an ISO-3166 numeric code"),
        ({"country": 1000}, "country is not an ISO-3166 numeric code"),
        ({"country": 65535}, "country is not an ISO-3166 numeric code"),
        ({"category": 16}, "investor category out of range"),
        ({"category": 255}, "investor category out of range"),
    ],
)
def test_register_identity_rejects_bad_fields(system, kwargs, message):
    kyc = kwargs.pop("kyc", h("kyc"))
    args = {"country": PK, "category": 0} | kwargs
    with boa.reverts(message), boa.env.prank(system.registrar):
        system.idreg.registerIdentity(
            kyc, args["country"], args["category"], boa.env.timestamp + YEAR, fresh()
        )


@pytest.mark.parametrize(("country", "category"), [(1, 0), (999, 15), (AE, 5)])
def test_register_identity_accepts_boundary_fields(system, country, category):
    (w,) = fresh()
    number = register(system, [w], country=country, category=category)
    assert system.idreg.investorCountry(w) == country
    assert system.idreg.identityOf(number).category == category


def test_register_identity_not_registrar(system):
    for caller in (system.outsider, system.officials[0], system.gov.address):
        with boa.reverts("caller is not a registrar"), boa.env.prank(caller):
            system.idreg.registerIdentity(h("kyc"), PK, 0, boa.env.timestamp + YEAR, fresh())


def test_register_identity_rejects_zero_wallet(system):
    count = system.idreg.identityCount()
    with boa.reverts("wallet is the zero address"):
        register(system, [fresh()[0], ZERO_ADDRESS])
    assert system.idreg.identityCount() == count


def test_register_identity_rejects_already_linked_wallet(system):
    with boa.reverts("wallet already linked to an identity"):
        register(system, [system.bank.wallets[0]])
    (w,) = fresh()
    with boa.reverts("wallet already linked to an identity"):
        register(system, [w, w])


# ---------------------------------------------------------------- isVerified and expiry


def test_is_verified_follows_kyc_expiry(system):
    (w,) = fresh()
    expiry = boa.env.timestamp + 100
    register(system, [w], expiry=expiry)
    assert system.idreg.isVerified(w)
    boa.env.time_travel(seconds=99)
    assert system.idreg.isVerified(w)
    boa.env.time_travel(seconds=1)  # now == expiry: no longer current
    assert boa.env.timestamp == expiry
    assert not system.idreg.isVerified(w)
    assert system.idreg.contains(w)  # still linked
    assert system.idreg.identityNumberOf(w) != 0


def test_identity_registered_already_expired(system):
    (w,) = fresh()
    register(system, [w], expiry=boa.env.timestamp - 1)
    assert system.idreg.contains(w) and not system.idreg.isVerified(w)


def test_unlinked_wallet_views(system):
    (w,) = fresh()
    reg = system.idreg
    assert (
        reg.walletRecord(w),
        reg.identityNumberOf(w),
        reg.contains(w),
        reg.isVerified(w),
        reg.investorCountry(w),
    ) == (0, 0, False, False, 0)
    assert reg.walletRecords(w, system.bank.wallets[0])[0] == 0


# ---------------------------------------------------------------- updateIdentity


def test_update_identity_propagates_to_every_wallet(system):
    ident = system.bank
    expiry = boa.env.timestamp + 2 * YEAR
    with boa.env.prank(system.registrar):
        system.idreg.updateIdentity(ident.number, h("renewed"), AE, 5, expiry)
    (event,) = [e for e in system.idreg.get_logs() if type(e).__name__ == "IdentityUpdated"]
    record = pack(ident.number, AE, 5, expiry)
    for w in ident.wallets:
        assert system.idreg.walletRecord(w) == record
        assert system.idreg.investorCountry(w) == AE
    assert (event.identityNumber, event.kycHash) == (ident.number, h("renewed"))
    stored = system.idreg.identityOf(ident.number)
    assert (stored.country, stored.category, stored.kycExpiry) == (AE, 5, expiry)
    assert (
        event.identityNumber,
        event.kycHash,
        event.country,
        event.category,
        event.kycExpiry,
        event.registrar,
    ) == (ident.number, h("renewed"), AE, 5, expiry, system.registrar)
    # other identities untouched
    assert system.idreg.investorCountry(system.pension.wallets[0]) == PK


def test_update_identity_past_expiry_suspends_all_wallets(system):
    system.update_identity(system.bank, expiry=boa.env.timestamp)
    for w in system.bank.wallets:
        assert not system.idreg.isVerified(w)
    system.update_identity(system.bank)
    for w in system.bank.wallets:
        assert system.idreg.isVerified(w)


@pytest.mark.parametrize("bad", ["zero", "next"])
def test_update_identity_unknown(system, bad):
    number = 0 if bad == "zero" else system.idreg.identityCount() + 1
    with boa.reverts("unknown identity"), boa.env.prank(system.registrar):
        system.idreg.updateIdentity(number, h("x"), PK, 0, boa.env.timestamp + YEAR)


@pytest.mark.parametrize(
    ("kyc", "country", "category", "message"),
    [
        (ZERO32, PK, 0, "KYC record hash is empty"),
        (b"\x01" * 32, 0, 0, "country is not an ISO-3166 numeric code"),
        (b"\x01" * 32, 1000, 0, "country is not an ISO-3166 numeric code"),
        (b"\x01" * 32, PK, 16, "investor category out of range"),
    ],
)
def test_update_identity_rejects_bad_fields(system, kyc, country, category, message):
    with boa.reverts(message), boa.env.prank(system.registrar):
        system.idreg.updateIdentity(
            system.bank.number, kyc, country, category, boa.env.timestamp + YEAR
        )


def test_update_identity_not_registrar(system):
    with boa.reverts("caller is not a registrar"), boa.env.prank(system.outsider):
        system.idreg.updateIdentity(system.bank.number, h("x"), PK, 0, boa.env.timestamp + YEAR)


# ---------------------------------------------------------------- linkWallet


def test_link_wallet_copies_current_identity_fields(system):
    system.update_identity(system.pension, country=GB, category=3, expiry=boa.env.timestamp + 50)
    (w,) = fresh()
    with boa.env.prank(system.registrar):
        system.idreg.linkWallet(system.pension.number, w)
    (event,) = [e for e in system.idreg.get_logs() if type(e).__name__ == "WalletLinked"]
    assert system.idreg.walletRecord(w) == pack(
        system.pension.number, GB, 3, boa.env.timestamp + 50
    )
    assert list(system.idreg.walletsOfIdentity(system.pension.number)) == [
        *system.pension.wallets,
        w,
    ]
    assert (event.identityNumber, event.wallet, event.registrar) == (
        system.pension.number,
        w,
        system.registrar,
    )


def test_link_wallet_reverts(system):
    (w,) = fresh()
    with boa.reverts("caller is not a registrar"), boa.env.prank(system.outsider):
        system.idreg.linkWallet(system.bank.number, w)
    with boa.env.prank(system.registrar):
        with boa.reverts("unknown identity"):
            system.idreg.linkWallet(0, w)
        with boa.reverts("unknown identity"):
            system.idreg.linkWallet(system.idreg.identityCount() + 1, w)
        with boa.reverts("wallet is the zero address"):
            system.idreg.linkWallet(system.bank.number, ZERO_ADDRESS)
        with boa.reverts("wallet already linked to an identity"):
            system.idreg.linkWallet(system.bank.number, system.pension.wallets[0])
        with boa.reverts("wallet already linked to an identity"):
            system.idreg.linkWallet(system.bank.number, system.bank.wallets[1])


def test_link_wallet_too_many_wallets(system):
    number = register(system, fresh(MAX_WALLETS - 1))
    with boa.env.prank(system.registrar):
        system.idreg.linkWallet(number, fresh()[0])  # the 16th
        with boa.reverts("identity has too many wallets"):
            system.idreg.linkWallet(number, fresh()[0])
        # unlinking one frees a slot
        system.idreg.unlinkWallet(system.idreg.walletsOfIdentity(number)[0])
        system.idreg.linkWallet(number, fresh()[0])
    assert len(system.idreg.walletsOfIdentity(number)) == MAX_WALLETS


# ---------------------------------------------------------------- unlinkWallet


def test_unlink_wallet(system):
    a, b, c = fresh(3)
    number = register(system, [a, b, c])
    with boa.env.prank(system.registrar):
        system.idreg.unlinkWallet(b)
    (event,) = [e for e in system.idreg.get_logs() if type(e).__name__ == "WalletUnlinked"]
    assert (event.identityNumber, event.wallet, event.registrar) == (number, b, system.registrar)
    assert list(system.idreg.walletsOfIdentity(number)) == [a, c]
    assert system.idreg.walletRecord(b) == 0
    assert not system.idreg.contains(b) and not system.idreg.isVerified(b)
    assert system.idreg.identityNumberOf(b) == 0
    assert system.idreg.isVerified(a) and system.idreg.isVerified(c)

    # an update no longer reaches the unlinked wallet
    with boa.env.prank(system.registrar):
        system.idreg.updateIdentity(number, h("r"), GB, 1, boa.env.timestamp + YEAR)
    assert system.idreg.walletRecord(b) == 0
    assert system.idreg.investorCountry(a) == GB

    # the wallet may be linked again, to another identity
    with boa.env.prank(system.registrar):
        system.idreg.linkWallet(system.pension.number, b)
    assert system.idreg.identityNumberOf(b) == system.pension.number


def test_unlink_wallet_reverts(system):
    (w,) = fresh()
    with boa.reverts("caller is not a registrar"), boa.env.prank(system.outsider):
        system.idreg.unlinkWallet(system.bank.wallets[0])
    with boa.reverts("wallet is not linked"), boa.env.prank(system.registrar):
        system.idreg.unlinkWallet(w)
    with boa.env.prank(system.registrar):
        system.idreg.unlinkWallet(system.bank.wallets[0])
        with boa.reverts("wallet is not linked"):
            system.idreg.unlinkWallet(system.bank.wallets[0])


def test_unlink_last_wallet_leaves_identity(system):
    (w,) = fresh()
    number = register(system, [w])
    with boa.env.prank(system.registrar):
        system.idreg.unlinkWallet(w)
    assert list(system.idreg.walletsOfIdentity(number)) == []
    assert system.idreg.identityOf(number).country == PK
    with boa.env.prank(system.registrar):
        system.idreg.linkWallet(number, w)
    assert system.idreg.identityNumberOf(w) == number


# ---------------------------------------------------------------- packed storage (issue 14 gas)


def test_wallet_list_and_records_stay_exact_through_links_and_unlinks(system):
    """The identity's wallets are a list threaded through the wallet words: unlinking the first,
    a middle and the last wallet, linking again and updating keep the order, every remaining
    wallet's record and the unlinked wallets' empty records exact."""
    a, b, c, d, e = fresh(5)
    number = register(system, [a, b, c, d])
    reg = system.idreg
    with boa.env.prank(system.registrar):
        reg.unlinkWallet(a)  # the first
        reg.unlinkWallet(c)  # a middle one
        assert list(reg.walletsOfIdentity(number)) == [b, d]
        reg.unlinkWallet(d)  # the last
        reg.linkWallet(number, e)
        reg.linkWallet(number, a)
        assert list(reg.walletsOfIdentity(number)) == [b, e, a]
        expiry = boa.env.timestamp + 2 * YEAR
        reg.updateIdentity(number, h("renewed"), GB, 3, expiry)
        for w in (b, e, a):
            reg.unlinkWallet(w)
            reg.linkWallet(number, w)
    assert list(reg.walletsOfIdentity(number)) == [b, e, a]
    record = pack(number, GB, 3, expiry)
    assert [reg.walletRecord(w) for w in (b, e, a)] == [record] * 3
    assert reg.walletRecords(c, d) == (0, 0)
    assert (reg.identityNumberOf(c), reg.contains(d), reg.isVerified(c)) == (0, False, False)


@pytest.mark.parametrize("expiry", [2**42 - 2, 2**42 - 1, 2**42, 2**64 - 1])
def test_far_kyc_expiry_reads_back_exactly(system, expiry):
    """A wallet word keeps a 42-bit copy of the KYC expiry; a later expiry is read from the
    identity word, so every view returns the exact value."""
    (w,) = fresh()
    number = register(system, [w], expiry=expiry)
    reg = system.idreg
    sole = pack(number, PK, int(InvestorCategory.BANK), expiry) | SOLE_WALLET
    assert reg.walletRecord(w) == sole
    assert reg.walletRecords(w, w) == (reg.walletRecord(w),) * 2
    assert reg.identityNumberOf(w) == number and reg.soleWalletOf(number) == w
    assert reg.identityOf(number).kycExpiry == expiry
    assert reg.isVerified(w) and reg.investorCountry(w) == PK
