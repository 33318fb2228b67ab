"""Investor categories and ISO-3166 numeric countries as the IdentityRegistry stores them."""

from __future__ import annotations

from enum import IntEnum

from amanat.errors import InvalidInput


class InvestorCategory(IntEnum):
    """Category bit positions used in the IdentityRegistry and in token eligibility masks."""

    BANK = 0
    INSURER = 1
    PENSION_FUND = 2
    MUTUAL_FUND = 3
    GOVERNMENT_ENTITY = 4
    FOREIGN_INSTITUTION = 5
    RETAIL = 6
    BROKER_DEALER = 7

    @classmethod
    def parse(cls, text: str) -> InvestorCategory:
        key = text.strip().upper().replace("-", "_").replace(" ", "_")
        try:
            return cls[key]
        except KeyError:
            names = ", ".join(c.name.lower() for c in cls)
            raise InvalidInput(f"unknown investor category {text!r} (one of: {names})") from None

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")


# Every ISO 3166-1 numeric code in use (249 countries and territories, from CLDR): a numeric
# code outside it (999, a withdrawn code) names no country, so it could slip past a deny-list.
ISO_3166_NUMERIC = frozenset(
    {
        4,
        8,
        10,
        12,
        16,
        20,
        24,
        28,
        31,
        32,
        36,
        40,
        44,
        48,
        50,
        51,
        52,
        56,
        60,
        64,
        68,
        70,
        72,
        74,
        76,
        84,
        86,
        90,
        92,
        96,
        100,
        104,
        108,
        112,
        116,
        120,
        124,
        132,
        136,
        140,
        144,
        148,
        152,
        156,
        158,
        162,
        166,
        170,
        174,
        175,
        178,
        180,
        184,
        188,
        191,
        192,
        196,
        203,
        204,
        208,
        212,
        214,
        218,
        222,
        226,
        231,
        232,
        233,
        234,
        238,
        239,
        242,
        246,
        248,
        250,
        254,
        258,
        260,
        262,
        266,
        268,
        270,
        275,
        276,
        288,
        292,
        296,
        300,
        304,
        308,
        312,
        316,
        320,
        324,
        328,
        332,
        334,
        336,
        340,
        344,
        348,
        352,
        356,
        360,
        364,
        368,
        372,
        376,
        380,
        384,
        388,
        392,
        398,
        400,
        404,
        408,
        410,
        414,
        417,
        418,
        422,
        426,
        428,
        430,
        434,
        438,
        440,
        442,
        446,
        450,
        454,
        458,
        462,
        466,
        470,
        474,
        478,
        480,
        484,
        492,
        496,
        498,
        499,
        500,
        504,
        508,
        512,
        516,
        520,
        524,
        528,
        531,
        533,
        534,
        535,
        540,
        548,
        554,
        558,
        562,
        566,
        570,
        574,
        578,
        580,
        581,
        583,
        584,
        585,
        586,
        591,
        598,
        600,
        604,
        608,
        612,
        616,
        620,
        624,
        626,
        630,
        634,
        638,
        642,
        643,
        646,
        652,
        654,
        659,
        660,
        662,
        663,
        666,
        670,
        674,
        678,
        682,
        686,
        688,
        690,
        694,
        702,
        703,
        704,
        705,
        706,
        710,
        716,
        724,
        728,
        729,
        732,
        740,
        744,
        748,
        752,
        756,
        760,
        762,
        764,
        768,
        772,
        776,
        780,
        784,
        788,
        792,
        795,
        796,
        798,
        800,
        804,
        807,
        818,
        826,
        831,
        832,
        833,
        834,
        840,
        850,
        854,
        858,
        860,
        862,
        876,
        882,
        887,
        894,
    }
)
# Alpha-2 names of the countries the pilot deals with (others are given by numeric code).
COUNTRY_CODES: dict[str, int] = {
    "PK": 586,
    "AE": 784,
    "SA": 682,
    "QA": 634,
    "GB": 826,
    "US": 840,
    "CN": 156,
    "TR": 792,
    "MY": 458,
    "SG": 702,
    "DE": 276,
    "KP": 408,
    "IR": 364,
}
COUNTRY_ALPHA2 = {code: alpha2 for alpha2, code in COUNTRY_CODES.items()}
DOMESTIC_COUNTRY = COUNTRY_CODES["PK"]


def parse_country(text: str | int) -> int:
    """An ISO-3166 numeric code from a number ("586") or a known alpha-2 code ("PK")."""
    if isinstance(text, int) or str(text).strip().isdigit():
        code = int(text)
        if code not in ISO_3166_NUMERIC:
            raise InvalidInput(
                f"country code {code} is not an ISO 3166-1 numeric code of a country in use",
                country=code,
            )
        return code
    alpha2 = str(text).strip().upper()
    if alpha2 not in COUNTRY_CODES:
        raise InvalidInput(
            f"unknown country {text!r}: give the ISO-3166 numeric code or one of "
            + ", ".join(sorted(COUNTRY_CODES))
        )
    return COUNTRY_CODES[alpha2]


def country_label(code: int) -> str:
    alpha2 = COUNTRY_ALPHA2.get(code)
    return f"{alpha2} ({code})" if alpha2 else str(code)
