"""Expected calibration error (Guo et al. 2017) and the reliability diagram: worked by
hand, against a direct numpy formula and against scikit-learn's calibration_curve."""

from __future__ import annotations

import numpy as np
import pytest

from judges.engine.calibration import expected_calibration_error, reliability_diagram

# Five judgements, worked by hand. Symmetric reading:
#   p          0.9  0.8  0.3  0.6  0.5
#   human      A    B    B    A    A
#   confidence 0.9  0.8  0.7  0.6  0.5   (max(p, 1 - p))
#   right      1    0    1    1    0.5   (p = 0.5 picks neither: half right)
P = [0.9, 0.8, 0.3, 0.6, 0.5]
Y = [1, 0, 0, 1, 1]


def test_hand_worked_ece():
    # Ten bins, one judgement each: (0.1 + 0.8 + 0.3 + 0.4 + 0) / 5.
    assert expected_calibration_error(P, Y) == pytest.approx(0.32, abs=1e-12)
    # Two bins, (0, 0.5] holds 0.5 (right half the time), (0.5, 1] the rest: mean
    # confidence 0.75, accuracy 3/4, so both bins are calibrated.
    assert expected_calibration_error(P, Y, bins=2) == pytest.approx(0.0, abs=1e-12)
    # One bin: mean confidence 3.5 / 5 against accuracy 3.5 / 5.
    assert expected_calibration_error(P, Y, bins=1) == pytest.approx(0.0, abs=1e-12)
    # P(A) read directly: |1 - 0.9| + |0 - 0.8| + |0 - 0.3| + |1 - 0.6| + |1 - 0.5|, over 5.
    assert expected_calibration_error(P, Y, symmetric=False) == pytest.approx(0.42, abs=1e-12)


def test_hand_worked_reliability_diagram():
    diagram = reliability_diagram(P, Y, bins=4)
    rows = [(b.lower, b.upper, b.count, b.mean_confidence, b.accuracy) for b in diagram]
    assert rows == [
        (0.0, 0.25, 0, None, None),
        (0.25, 0.5, 1, 0.5, 0.5),  # 0.5 sits on an edge: bins are closed on the right
        (0.5, 0.75, 2, pytest.approx(0.65), 1.0),  # 0.7 and 0.6
        (0.75, 1.0, 2, pytest.approx(0.85), 0.5),  # 0.9 and 0.8
    ]


def test_a_human_choice_is_read_the_same_whichever_response_was_shown_first():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=200), [0.5, 0.5, 0.0, 1.0]])
    y = rng.integers(0, 2, size=p.size)
    assert expected_calibration_error(1 - p, 1 - y) == pytest.approx(
        expected_calibration_error(p, y), abs=1e-12)


def test_a_calibrated_judge_scores_near_zero_and_an_overconfident_one_does_not():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    assert expected_calibration_error(p, y) < 0.02
    overconfident = np.where(p > 0.5, 0.99, 0.01)
    assert expected_calibration_error(overconfident, y) > 0.2


def direct_ece(confidence, hit, bins):
    """Guo et al. eq. 3, written out with one mask per interval ((m-1)/M, m/M]."""
    total, n = 0.0, len(confidence)
    for m in range(1, bins + 1):
        low, high = (m - 1) / bins, m / bins
        inside = (confidence > low) & (confidence <= high)
        if m == 1:
            inside |= confidence == 0
        if inside.any():
            total += inside.sum() / n * abs(hit[inside].mean() - confidence[inside].mean())
    return total


@pytest.mark.parametrize("bins", [5, 10, 15])
def test_agrees_with_the_formula_and_with_scikit_learn(bins):
    sklearn_calibration = pytest.importorskip("sklearn.calibration")
    rng = np.random.default_rng(bins)
    # Probabilities on a 0.01 grid, away from 0.5, so that edges and 0 and 1 are hit.
    p = rng.choice([k / 100 for k in range(101) if k != 50], size=500)
    y = rng.integers(0, 2, size=p.size)
    confidence = np.maximum(p, 1 - p)
    hit = np.where(p > 0.5, y, 1 - y).astype(float)
    assert expected_calibration_error(p, y, bins) == pytest.approx(
        direct_ece(confidence, hit, bins), abs=1e-12)
    assert expected_calibration_error(p, y, bins, symmetric=False) == pytest.approx(
        direct_ece(p, y.astype(float), bins), abs=1e-12)
    for symmetric, (claimed, right) in ((True, (confidence, hit)), (False, (p, y))):
        filled = [b for b in reliability_diagram(p, y, bins, symmetric) if b.count]
        accuracy, mean_confidence = sklearn_calibration.calibration_curve(
            right, claimed, n_bins=bins, strategy="uniform")
        assert [b.accuracy for b in filled] == pytest.approx(list(accuracy), abs=1e-12)
        assert [b.mean_confidence for b in filled] == pytest.approx(list(mean_confidence),
                                                                    abs=1e-12)


@pytest.mark.parametrize(("probabilities", "outcomes", "reason"), [
    ([0.2, 0.4], [1], "two flat lists of one length"),
    ([], [], "no judgements"),
    ([0.2, 1.2], [1, 0], "from 0 to 1"),
    ([0.2, float("nan")], [1, 0], "from 0 to 1"),
    ([0.2, 0.4], [1, 0.5], "outcomes must be 1"),
])
def test_bad_input_is_refused(probabilities, outcomes, reason):
    with pytest.raises(ValueError, match=reason):
        expected_calibration_error(probabilities, outcomes)


def test_bins_must_be_positive():
    with pytest.raises(ValueError, match="bins must be >= 1"):
        reliability_diagram(P, Y, bins=0)
