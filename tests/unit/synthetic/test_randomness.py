"""Seeded streams, id hashes and the lookup-table sampler the generators are built on."""

from __future__ import annotations

import numpy as np
import pytest

from floe.synthetic import SyntheticConfigError
from floe.synthetic.randomness import WeightedSampler, bernoulli, hash_ids, hashed_unit, stream


def test_streams_are_named_and_seeded() -> None:
    a = stream(1, 5, "orders.status").random(8)
    assert np.array_equal(a, stream(1, 5, "orders.status").random(8))
    for other in (stream(2, 5, "orders.status"), stream(1, 6, "orders.status"), stream(1, 5, "orders.region")):
        assert not np.array_equal(a, other.random(8))


def test_id_hashes_are_pure_functions_of_seed_and_id() -> None:
    ids = np.arange(1, 10_001, dtype=np.int64)
    whole = hashed_unit(3, ids, "salt")
    # The same id hashes the same whatever array it comes in.
    assert np.array_equal(hashed_unit(3, ids[5000:5010], "salt"), whole[5000:5010])
    assert not np.array_equal(hashed_unit(4, ids, "salt"), whole)
    assert not np.array_equal(hashed_unit(3, ids, "pepper"), whole)
    assert whole.min() >= 0 and whole.max() < 1
    assert abs(whole.mean() - 0.5) < 0.01
    assert len(np.unique(hash_ids(3, ids, "salt"))) == len(ids)


def test_sampler_rounds_weights_to_its_table() -> None:
    weights = [0.5, 0.0, 1e-9, 0.3, 0.2]
    sampler = WeightedSampler(weights)
    assert sampler.probabilities.sum() == pytest.approx(1.0)
    assert sampler.probabilities[1] == 0  # a zero weight is never drawn
    assert sampler.probabilities[2] > 0  # a tiny positive weight keeps one slot
    np.testing.assert_allclose(sampler.probabilities, np.array(weights) / sum(weights), atol=2 ** -16)
    drawn = sampler.sample(stream(0, 0, "t"), 400_000)
    shares = np.bincount(drawn, minlength=5) / len(drawn)
    np.testing.assert_allclose(shares, sampler.probabilities, atol=0.004)
    assert shares[1] == 0


def test_sampler_yields_given_outcomes_and_uses_finer_tables_for_many_categories() -> None:
    sampler = WeightedSampler([1, 1, 2], outcomes=np.array([10, 20, 30], dtype=np.int32))
    drawn = sampler.sample(stream(0, 0, "t"), 10_000)
    assert drawn.dtype == np.int32 and set(np.unique(drawn)) == {10, 20, 30}
    many = WeightedSampler(np.ones(500))
    assert many.bits == 18
    np.testing.assert_allclose(many.probabilities, 1 / 500, atol=2 ** -18)


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1], [1, float("inf")]])
def test_sampler_rejects_unusable_weights(weights: list[float]) -> None:
    with pytest.raises(SyntheticConfigError):
        WeightedSampler(weights)


def test_bernoulli_rates() -> None:
    rng = stream(0, 0, "b")
    assert not bernoulli(rng, 1000, 0.0).any()
    assert bernoulli(rng, 1000, 1.0).all()
    assert bernoulli(rng, 200_000, 0.03).mean() == pytest.approx(0.03, abs=0.002)
