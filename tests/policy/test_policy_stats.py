"""Wilson and Newcombe intervals against hand-computed values and published examples."""

from __future__ import annotations

import pytest

from aslgate.policy.stats import difference_interval, difference_row, rate_row, wilson

# Notation: p = k/n, z = 1.96, z^2 = 3.8416, d = 1 + z^2/n,
#   centre = (p + z^2/(2n)) / d,   half = z * sqrt(p(1-p)/n + z^2/(4n^2)) / d.


def test_wilson_2_of_10() -> None:
    # p = 0.2, z^2/n = 0.38416, d = 1.38416
    # centre = (0.2 + 0.19208) / 1.38416 = 0.283262
    # half = 1.96 * sqrt(0.016 + 0.009604) / 1.38416 = 1.96 * 0.160012 / 1.38416 = 0.226581
    # -> (0.056681, 0.509843)
    low, high = wilson(2, 10)
    assert low == pytest.approx(0.056681, abs=1e-6)
    assert high == pytest.approx(0.509843, abs=1e-6)


def test_wilson_zero_successes() -> None:
    # k = 0: centre = half = (z^2/2n)/d, so low = 0 and high = z^2 / (n + z^2) = 3.8416 / 13.8416
    assert wilson(0, 10) == (0.0, pytest.approx(0.277540, abs=1e-6))
    # 0/12 is the smallest all-failure run whose upper bound is below 0.25 (3.8416 / 15.8416 = 0.24250)
    assert wilson(0, 12)[1] == pytest.approx(0.242501, abs=1e-6)
    assert wilson(0, 11)[1] > 0.25  # 3.8416 / 14.8416 = 0.25884


def test_wilson_all_successes_is_mirror_of_none() -> None:
    # k = n: low = n / (n + z^2) = 10 / 13.8416 = 0.722460, high = 1 exactly
    assert wilson(10, 10) == (pytest.approx(0.722460, abs=1e-6), 1.0)


def test_wilson_symmetry_and_bounds() -> None:
    for n in (1, 7, 10, 33, 1000):
        for k in range(n + 1):
            low, high = wilson(k, n)
            assert 0.0 <= low <= k / n <= high <= 1.0
            mlow, mhigh = wilson(n - k, n)
            assert low == pytest.approx(1 - mhigh, abs=1e-12)
            assert high == pytest.approx(1 - mlow, abs=1e-12)


def test_wilson_15_of_100() -> None:
    # p = 0.15, z^2/n = 0.038416, d = 1.038416; centre = 0.169208 / 1.038416 = 0.162948
    # half = 1.96 * sqrt(0.001275 + 0.00009604) / 1.038416 = 0.069889 -> (0.093059, 0.232837)
    low, high = wilson(15, 100)
    assert low == pytest.approx(0.093059, abs=1e-5)
    assert high == pytest.approx(0.232837, abs=1e-5)


def test_wilson_no_trials_and_z() -> None:
    assert wilson(0, 0) == (0.0, 1.0)  # nothing observed: everything is possible
    assert wilson(2, 10, z=0.0) == pytest.approx((0.2, 0.2))  # z = 0 collapses to the point


@pytest.mark.parametrize("k,n", [(-1, 10), (11, 10), (0, -1)])
def test_wilson_rejects_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson(k, n)


def test_wilson_rejects_non_integers() -> None:
    with pytest.raises(TypeError):
        wilson(2.5, 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        wilson(True, 10)  # type: ignore[arg-type]


def test_rate_row() -> None:
    row = rate_row("m", "cyber.exploit.t5", 2, 10, log="logs/a.eval", sample_ids=("s1", "s2"))
    assert (row.model, row.metric, row.k, row.n) == ("m", "cyber.exploit.t5", 2, 10)
    assert row.estimate == 0.2
    assert (row.low, row.high) == pytest.approx((0.056681, 0.509843), abs=1e-6)
    assert row.log == "logs/a.eval" and row.sample_ids == ["s1", "s2"]
    empty = rate_row("m", "cyber.exploit.t5", 0, 0)
    assert (empty.estimate, empty.low, empty.high) == (0.0, 0.0, 1.0)


# Newcombe (1998), "Interval estimation for the difference between independent proportions",
# Statistics in Medicine 17:873-890, Table II, method 10:
#   L = d - sqrt((p1 - l1)^2 + (u2 - p2)^2),  U = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)
@pytest.mark.parametrize(
    "k1,n1,k2,n2,est,low,high",
    [
        (56, 70, 48, 80, 0.2, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.6, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.5714, 0.0582, 0.8063),
        (5, 56, 0, 29, 0.0893, -0.0381, 0.1926),
        (0, 10, 0, 20, 0.0, -0.1611, 0.2775),
        (10, 10, 0, 20, 1.0, 0.6791, 1.0),
    ],
)
def test_newcombe_published_examples(
    k1: int, n1: int, k2: int, n2: int, est: float, low: float, high: float
) -> None:
    d, lo, hi = difference_interval(k1, n1, k2, n2)
    assert d == pytest.approx(est, abs=5e-5)
    assert lo == pytest.approx(low, abs=5e-5)
    assert hi == pytest.approx(high, abs=5e-5)


def test_newcombe_by_hand_zero_vs_zero() -> None:
    # 0/10 - 0/20: d = 0, L = -(u2 - 0) = -3.8416/23.8416 = -0.161130, U = u1 = 3.8416/13.8416 = 0.277540
    d, lo, hi = difference_interval(0, 10, 0, 20)
    assert d == 0.0
    assert lo == pytest.approx(-0.161130, abs=1e-6)
    assert hi == pytest.approx(0.277540, abs=1e-6)


def test_newcombe_antisymmetric_and_bounded() -> None:
    for args in [(3, 10, 7, 12), (0, 5, 5, 5), (20, 20, 0, 20)]:
        d, lo, hi = difference_interval(*args)
        k1, n1, k2, n2 = args
        d2, lo2, hi2 = difference_interval(k2, n2, k1, n1)
        assert d == pytest.approx(-d2) and lo == pytest.approx(-hi2) and hi == pytest.approx(-lo2)
        assert -1.0 <= lo <= d <= hi <= 1.0


def test_difference_row_is_derived() -> None:
    row = difference_row("m", "cyber.discover.uplift", 9, 10, 3, 10, log="l.eval", sample_ids=["a"])
    assert row.k is None and row.n is None
    assert (row.estimate, row.low, row.high) == pytest.approx((0.6, 0.1705, 0.8090), abs=5e-5)
