"""Disclosure control: no published figure reveals a group of fewer than 3 institutions, even
with the public total."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from amanat.domain.disclosure import aggregate


def test_groups_at_the_threshold_are_shown_largest_first() -> None:
    result = aggregate(
        [(1, "bank", 10), (2, "bank", 20), (3, "bank", 5), (4, "insurer", 7), (5, "insurer", 1),
         (6, "insurer", 1), (1, "bank", 5)]
    )  # fmt: skip
    assert [(g.key, g.institutions, g.units) for g in result.shown] == [
        ("bank", 3, 40),
        ("insurer", 3, 9),
    ]
    assert result.suppressed_keys == [] and result.total_units == 49


def test_a_small_group_is_suppressed_with_the_next_smallest() -> None:
    holdings = [(i, "bank", 100) for i in range(1, 5)] + [(i, "insurer", 10) for i in range(5, 8)]
    holdings += [(9, "foreign", 500)]
    result = aggregate(holdings)
    # foreign alone (1 institution) would be total - bank - insurer: insurer is withheld too
    assert [g.key for g in result.shown] == ["bank"]
    assert result.suppressed_keys == ["foreign", "insurer"]
    assert (result.suppressed_institutions, result.suppressed_units) == (4, 530)


def test_too_few_institutions_shows_no_breakdown() -> None:
    result = aggregate([(1, "domestic", 70), (2, "foreign", 30), (1, "domestic", 0)])
    assert result.shown == []
    assert result.suppressed_keys == ["domestic", "foreign"]
    assert result.suppressed_institutions is None and result.suppressed_units is None
    assert result.total_units == 100


@given(
    st.lists(
        st.tuples(st.integers(1, 12), st.sampled_from("abcde"), st.integers(0, 1000)),
        max_size=40,
    )
)
def test_nothing_published_is_about_fewer_than_three(holdings: list[tuple[int, str, int]]) -> None:
    result = aggregate(holdings)
    assert all(g.institutions >= 3 for g in result.shown)
    if result.suppressed_units is not None:
        assert result.suppressed_institutions is not None and result.suppressed_institutions >= 3
    # the hidden remainder is either not derivable (nothing hidden) or covers >= 3 institutions
    hidden = result.total_units - sum(g.units for g in result.shown)
    institutions = {i for i, _k, amount in holdings if amount > 0}
    if result.suppressed_keys and result.shown:
        assert hidden == result.suppressed_units
    if not institutions:
        assert result.shown == [] and result.total_units == 0
