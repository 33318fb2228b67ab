"""The public portal (no sign-in), in English under /portal and in Urdu (right to left) under
/portal/ur: tokenized assets, their valuations and distributions as server-drawn charts, holdings
aggregated so that no institution can be identified, and the latest signed tree head with how to
verify it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from amanat.api.problems import status_of
from amanat.domain.money import format_pkr
from amanat.errors import AmanatError, NotFound
from amanat.services import portal
from amanat.web import charts
from amanat.web.session import harden

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Public portal",
        "brand": "Amanat public portal",
        "skip": "Skip to content",
        "intro": "State assets tokenized on a permissioned chain, published for everyone. Figures "
        "come from the chain and its index; holdings are shown only in groups of at least {n} "
        "institutions.",
        "assets": "Tokenized assets",
        "asset": "Asset",
        "class": "Class",
        "legal_id": "Legal identifier",
        "ministry": "Ministry",
        "units": "Units outstanding",
        "authorised": "Authorised units",
        "value": "Value outstanding",
        "value_note": "The units outstanding valued at the latest accepted valuer report (their "
        "share of it) or market price (an auction's cut-off, or a day's secondary DvP prices), "
        "as of its date and from its source.",
        "as_of": "as of {date}: {source}",
        "none": "None yet.",
        "no_valuation": "no valuation or market price",
        "valuations": "Valuation history",
        "valuation_chart": "Valuer reports and market prices",
        "valuations_note": "A valuer report values the whole asset; a market price values the "
        "units outstanding on its date. A day's DvP prices are published when that day's trades "
        "involve at least {n} institutions; no party is named.",
        "date": "Date",
        "source": "Source",
        "block": "block",
        "price": "Price per 100",
        "yield": "Yield",
        "valued_units": "Units valued",
        "value_of": "Value",
        "amount": "Amount",
        "distributions": "Distributions paid",
        "distribution_chart": "Distributions: amount paid",
        "no_distributions": "No distribution has been declared for this asset.",
        "distributions_withheld": "The amounts paid are withheld while a frozen holder's payout "
        "is held or fewer than {n} holders are paid.",
        "distribution": "Distribution",
        "declared": "Declared",
        "paid": "Paid",
        "holders_category": "Holdings by investor category",
        "holders_residence": "Domestic and foreign holdings",
        "group": "Group",
        "institutions": "Institutions",
        "share": "Share",
        "suppressed": "Withheld (groups under {n} institutions, combined)",
        "withheld": "withheld",
        "suppressed_all": "Too few institutions to publish a breakdown without identifying one.",
        "no_holders": "No units are held yet.",
        "head": "Latest signed tree head",
        "head_intro": "Every chain event and administrative action is a leaf of an RFC 6962 "
        "Merkle tree. The platform signs its head with Ed25519 and anchors it on chain.",
        "no_head": "No tree head has been published yet.",
        "tree_size": "Entries",
        "root": "Root hash",
        "signed_at": "Signed at",
        "signature": "Signature",
        "anchor": "Anchored in",
        "public_key": "Public key",
        "verify": "How to verify",
        "verify_text": "Anyone can check the log, its signatures and anchors, and that every "
        "token's supply matches its holders' balances and its authorisation, without access to "
        "the platform's database:",
        "details": "Details",
        "back": "All assets",
        "language": "اردو",
        "status": "Status",
        "error": "Not available",
    },
    "ur": {
        "title": "عوامی پورٹل",
        "brand": "امانت عوامی پورٹل",
        "skip": "مواد پر جائیں",
        "intro": "سرکاری اثاثے جو ایک اجازت یافتہ بلاک چین پر ٹوکن بنائے گئے ہیں، سب کے لیے "
        "شائع کیے جاتے ہیں۔ اعداد و شمار بلاک چین اور اس کے اشاریے سے لیے گئے ہیں؛ ملکیت صرف کم "
        "از کم {n} اداروں کے گروہوں میں دکھائی جاتی ہے۔",
        "assets": "ٹوکن شدہ اثاثے",
        "asset": "اثاثہ",
        "class": "قسم",
        "legal_id": "قانونی شناخت",
        "ministry": "وزارت",
        "units": "جاری شدہ اکائیاں",
        "authorised": "منظور شدہ اکائیاں",
        "value": "جاری شدہ مالیت",
        "value_note": "جاری شدہ اکائیوں کی مالیت، تازہ ترین منظور شدہ تخمینے (اس میں ان کا حصہ) یا "
        "بازاری قیمت (نیلامی کی کٹ آف یا کسی دن کی ثانوی DvP قیمتیں) کے مطابق، اس کی تاریخ اور "
        "ماخذ کے ساتھ۔",
        "as_of": "{date} تک: {source}",
        "none": "ابھی کچھ نہیں۔",
        "no_valuation": "کوئی تخمینہ یا بازاری قیمت نہیں",
        "valuations": "تخمینوں کی تاریخ",
        "valuation_chart": "تخمینہ کاروں کی رپورٹیں اور بازاری قیمتیں",
        "valuations_note": "تخمینہ کار کی رپورٹ پورے اثاثے کی مالیت بتاتی ہے؛ بازاری قیمت اپنی "
        "تاریخ پر جاری شدہ اکائیوں کی مالیت بتاتی ہے۔ کسی دن کی DvP قیمتیں تب شائع ہوتی ہیں جب "
        "اس دن کے سودوں میں کم از کم {n} ادارے شامل ہوں؛ کسی فریق کا نام نہیں دیا جاتا۔",
        "date": "تاریخ",
        "source": "ماخذ",
        "block": "بلاک",
        "price": "قیمت فی 100",
        "yield": "شرحِ منافع",
        "valued_units": "اکائیاں",
        "value_of": "مالیت",
        "amount": "رقم",
        "distributions": "ادا شدہ تقسیمات",
        "distribution_chart": "تقسیمات: ادا شدہ رقم",
        "no_distributions": "اس اثاثے کے لیے کسی تقسیم کا اعلان نہیں ہوا۔",
        "distributions_withheld": "ادا شدہ رقوم پوشیدہ رکھی جاتی ہیں جب تک کسی منجمد حامل کی ادائیگی "
        "روکی گئی ہو یا {n} سے کم حاملین کو ادائیگی ہوئی ہو۔",
        "distribution": "تقسیم",
        "declared": "اعلان شدہ",
        "paid": "ادا شدہ",
        "holders_category": "سرمایہ کاروں کی قسم کے لحاظ سے ملکیت",
        "holders_residence": "ملکی اور غیر ملکی ملکیت",
        "group": "گروہ",
        "institutions": "ادارے",
        "share": "حصہ",
        "suppressed": "پوشیدہ ({n} سے کم اداروں والے گروہ، یکجا)",
        "withheld": "پوشیدہ",
        "suppressed_all": "اداروں کی تعداد اتنی کم ہے کہ کسی ادارے کی شناخت کیے بغیر تفصیل شائع "
        "نہیں کی جا سکتی۔",
        "no_holders": "ابھی کوئی اکائی کسی کی ملکیت میں نہیں۔",
        "head": "تازہ ترین دستخط شدہ ٹری ہیڈ",
        "head_intro": "ہر بلاک چین واقعہ اور ہر انتظامی کارروائی RFC 6962 مرکل ٹری کا ایک پتا "
        "ہے۔ پلیٹ فارم اس کے ہیڈ پر Ed25519 سے دستخط کرتا ہے اور اسے بلاک چین پر ثبت کرتا ہے۔",
        "no_head": "ابھی کوئی ٹری ہیڈ شائع نہیں ہوا۔",
        "tree_size": "اندراجات",
        "root": "روٹ ہیش",
        "signed_at": "دستخط کا وقت",
        "signature": "دستخط",
        "anchor": "ثبت شدہ بلاک",
        "public_key": "عوامی کلید",
        "verify": "تصدیق کا طریقہ",
        "verify_text": "کوئی بھی شخص پلیٹ فارم کے ڈیٹا بیس تک رسائی کے بغیر لاگ، اس کے دستخط اور "
        "ثبت شدہ ہیڈ جانچ سکتا ہے، اور یہ بھی کہ ہر ٹوکن کی رسد اس کے حاملین کے بیلنس اور اس کی "
        "منظوری کے مطابق ہے:",
        "details": "تفصیل",
        "back": "تمام اثاثے",
        "language": "English",
        "status": "حیثیت",
        "error": "دستیاب نہیں",
    },
}
LABELS: dict[str, dict[str, str]] = {
    "ur": {
        "t bill": "ٹریژری بل",
        "bond": "بانڈ",
        "sukuk": "صکوک",
        "equity": "ایکویٹی",
        "real estate": "غیر منقولہ جائیداد",
        "commodity reserve": "اجناس کا ذخیرہ",
        "bank": "بینک",
        "insurer": "بیمہ کمپنی",
        "pension_fund": "پنشن فنڈ",
        "mutual_fund": "میوچل فنڈ",
        "government_entity": "سرکاری ادارہ",
        "foreign_institution": "غیر ملکی ادارہ",
        "retail": "انفرادی سرمایہ کار",
        "broker_dealer": "بروکر ڈیلر",
        "domestic": "ملکی",
        "foreign": "غیر ملکی",
        "proposed": "مجوزہ",
        "approved": "منظور شدہ",
        "tokenized": "ٹوکن شدہ",
        "redeemed": "واپس شدہ",
        "retired": "ختم شدہ",
        "valuer_report": "تخمینہ کار کی رپورٹ",
        "auction": "نیلامی",
        "secondary_dvp": "ثانوی DvP",
    },
    "en": {"secondary_dvp": "secondary DvP"},
}

router = APIRouter(prefix="/portal", include_in_schema=False)


def _label(language: str) -> Callable[[str], str]:
    labels = LABELS.get(language, {})
    return lambda key: labels.get(key, key.replace("_", " "))


def _utc(timestamp: int | None) -> str:
    if not timestamp:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _pct(part: int | None, whole: int) -> str:
    return "-" if part is None or not whole else f"{100 * part / whole:.1f}%"


def _percent(rate: str | None) -> str:
    """A yield given as a decimal ('0.1195') as a percentage with 4 places ('11.9500%')."""
    return "-" if rate is None else f"{Decimal(rate):.4%}"


def _render(
    request: Request, language: str, template: str, status: int = 200, **context: Any
) -> Response:
    base = "/portal" if language == "en" else "/portal/ur"
    other = "/portal/ur" if language == "en" else "/portal"
    path = request.url.path
    switch = other + path[len(base) :] if path.startswith(base) else other
    response = templates.TemplateResponse(
        request,
        template,
        {
            "t": TEXT[language],
            "label": _label(language),
            "language": language,
            "direction": "rtl" if language == "ur" else "ltr",
            "base": base,
            "switch": switch,
            "threshold": portal.DEFAULT_THRESHOLD,
            "pkr": format_pkr,
            "utc": _utc,
            "pct": _pct,
            "percent": _percent,
            **context,
        },
        status_code=status,
    )
    return harden(response)


def _guarded(request: Request, language: str, build: Callable[[], Response]) -> Response:
    try:
        return build()
    except AmanatError as exc:
        return _render(
            request,
            language,
            "portal_error.html",
            status_of(exc),
            message=exc.message,
            rule=exc.rule,
        )


def _index(request: Request, language: str) -> Response:
    def build() -> Response:
        data = portal.overview(request.app.state.platform)
        return _render(request, language, "portal_index.html", **data)

    return _guarded(request, language, build)


def _asset(request: Request, language: str, asset_id: int) -> Response:
    def build() -> Response:
        data = portal.asset_detail(request.app.state.platform, asset_id)
        t = TEXT[language]
        valuation_chart = charts.bar_chart(
            [(v["date"], v["value_minor"]) for v in data["valuations"]],
            t["valuation_chart"],
            _short_pkr,
            t["none"],
        )
        distribution_chart = charts.bar_chart(
            [(f"#{d['id']}", d["paid"]) for d in data["distributions"] if d["paid"] is not None],
            t["distribution_chart"],
            _short_pkr,
            # declared but every amount withheld: not "none declared"
            t["distributions_withheld"].format(n=data["threshold"])
            if data["distributions"]
            else t["no_distributions"],
        )
        return _render(
            request,
            language,
            "portal_asset.html",
            valuation_chart=valuation_chart,
            distribution_chart=distribution_chart,
            **data,
        )

    return _guarded(request, language, build)


def _short_pkr(minor: int) -> str:
    """Axis labels: PKR in thousands, millions or billions."""
    rupees = minor / 100
    for size, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(rupees) >= size:
            return f"PKR {rupees / size:,.4g}{suffix}"
    return f"PKR {rupees:,.0f}"


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def index_en(request: Request) -> Response:
    return _index(request, "en")


@router.get("/ur", response_class=HTMLResponse)
@router.get("/ur/", response_class=HTMLResponse)
def index_ur(request: Request) -> Response:
    return _index(request, "ur")


@router.get("/assets/{asset_id}", response_class=HTMLResponse)
def asset_en(request: Request, asset_id: int) -> Response:
    return _asset(request, "en", asset_id)


@router.get("/ur/assets/{asset_id}", response_class=HTMLResponse)
def asset_ur(request: Request, asset_id: int) -> Response:
    return _asset(request, "ur", asset_id)


FONTS = {"NotoNastaliqUrdu-Regular.woff2", "NotoNastaliqUrdu-Bold.woff2"}


def home() -> RedirectResponse:
    """`/` leads to the public portal."""
    return RedirectResponse("/portal", status_code=307)


@router.get("/static/fonts/{name}")
def font(name: str) -> Response:
    if name not in FONTS:
        raise NotFound(f"no font {name!r}")
    data = (HERE / "static" / "fonts" / name).read_bytes()
    return harden(Response(data, media_type="font/woff2"), cacheable=True)


@router.get("/static/portal.css")
def stylesheet() -> Response:
    css = (HERE / "static" / "portal.css").read_bytes()
    return harden(Response(css, media_type="text/css; charset=utf-8"), cacheable=True)
