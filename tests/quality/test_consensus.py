"""Majority consensus over pair votes, and ids mapped to stored positions."""

from __future__ import annotations

import pytest

from annotation.quality.consensus import majority_ranking, pair_votes, tiers_of_positions


def test_pair_votes_of_a_ranking_with_a_tie():
    # 2 ≻ {0, 1}: position 0 vs 1 tied, both lose to 2.
    assert pair_votes([[2], [0, 1]], 3) == {(0, 1): 0, (0, 2): -1, (1, 2): -1}


def test_majority_of_one_ranking_is_itself_with_full_agreement():
    assert majority_ranking([[[1], [0], [2]]], 3) == ([[1], [0], [2]], 1.0)


def test_majority_of_three_rankings():
    tiers, agreement = majority_ranking([[[0], [1], [2]], [[0], [1], [2]], [[1], [0], [2]]], 3)
    assert tiers == [[0], [1], [2]]
    # Pairs (0,1): 2 of 3 agree; (0,2) and (1,2): all agree.
    assert agreement == pytest.approx((2 / 3 + 1 + 1) / 3)


def test_an_even_split_is_a_tie_and_a_cycle_ties_its_members():
    tiers, agreement = majority_ranking([[[0], [1]], [[1], [0]]], 2)
    assert tiers == [[0, 1]] and agreement == 0.0
    cycle = [[[0], [1], [2]], [[1], [2], [0]], [[2], [0], [1]]]
    assert majority_ranking(cycle, 3)[0] == [[0, 1, 2]]


def test_majority_needs_a_ranking():
    with pytest.raises(ValueError):
        majority_ranking([], 2)


def test_ids_map_to_stored_positions():
    position_of = {101: 0, 102: 1, 103: 2}
    assert tiers_of_positions([[103], [101, 102]], position_of) == [[2], [0, 1]]
    assert tiers_of_positions([["102"], [], [101, 103]], position_of) == [[1], [0, 2]]


@pytest.mark.parametrize("ranking", [
    [[101], [102]],  # a response missing
    [[101, 101], [102, 103]],  # a response twice
    [[101], [102], [999]],  # a foreign id
    [["x"], [102], [103]],  # not an id
])
def test_a_label_that_no_longer_matches_its_item_is_refused(ranking):
    assert tiers_of_positions(ranking, {101: 0, 102: 1, 103: 2}) is None
