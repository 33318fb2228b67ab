"""Statistical disclosure control for the public portal: holdings aggregated by group, with every
group of fewer than `threshold` institutions suppressed so that no institution can be identified.

Suppressing small groups alone is not enough when the total is public (token supply is): a single
hidden group could be recovered as the total minus the groups shown. So while the suppressed
groups together hold fewer than `threshold` institutions, the smallest shown group is suppressed
too (secondary suppression). Suppressed groups are reported only as one combined row, whose units
are shown only when the combination itself reaches the threshold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_THRESHOLD = 3


@dataclass(frozen=True)
class Group:
    key: str
    institutions: int
    units: int


@dataclass(frozen=True)
class Aggregate:
    shown: list[Group]  # groups that are safe to publish, largest first
    suppressed_keys: list[str]  # which groups were withheld (their names are not sensitive)
    suppressed_institutions: int | None  # None when even the combination is too small to show
    suppressed_units: int | None
    total_units: int


def aggregate(
    holdings: Iterable[tuple[int, str, int]], threshold: int = DEFAULT_THRESHOLD
) -> Aggregate:
    """(institution id, group key, units) per holding -> publishable groups."""
    members: dict[str, set[int]] = {}
    units: dict[str, int] = {}
    for institution, key, amount in holdings:
        if amount <= 0:
            continue
        members.setdefault(key, set()).add(institution)
        units[key] = units.get(key, 0) + amount
    groups = sorted(
        (Group(k, len(members[k]), units[k]) for k in members),
        key=lambda g: (-g.units, g.key),
    )
    hidden = [g for g in groups if g.institutions < threshold]
    shown = [g for g in groups if g.institutions >= threshold]
    while hidden and sum(g.institutions for g in hidden) < threshold and shown:
        smallest = min(shown, key=lambda g: (g.institutions, g.units, g.key))
        shown.remove(smallest)
        hidden.append(smallest)
    combined = sum(g.institutions for g in hidden)
    visible = combined >= threshold
    return Aggregate(
        shown=shown,
        suppressed_keys=sorted(g.key for g in hidden),
        suppressed_institutions=combined if visible else None,
        suppressed_units=sum(g.units for g in hidden) if visible else None,
        total_units=sum(units.values()),
    )


def publishable(part: int, whole: int, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Whether a figure summed over `part` of `whole` holders may be published: the part and the
    rest (which the published total gives away) are each none or at least `threshold` holders."""
    rest = whole - part
    return all(n == 0 or n >= threshold for n in (part, rest))
