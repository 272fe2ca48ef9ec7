"""Seeded randomness: named streams, counter-based hashes, and a fast weighted sampler.

Determinism is the point of this package, and it rests on three rules:

* **One stream per (seed, batch, purpose).** :func:`stream` derives an independent PCG64
  generator from the seed, the batch number and a name such as ``"ecommerce/orders.status"``.
  Columns never share a stream, so adding a column, or switching on a defect (which draws
  from its own streams), leaves every other column of the batch unchanged. Batch ``b`` never
  consumes draws of batch ``b - 1``, which is what lets any batch be generated alone.
* **Attributes of an id are a pure function of (seed, id).** Some facts must agree across
  batches without generating the batch that introduced the id: the home region of customer
  ``c`` (which its orders reuse), the organization of user ``u`` (which every event of ``u``
  carries). :func:`hash_ids` mixes ids with the seed (SplitMix64) so any batch can look
  those facts up arithmetically.
* **Weighted choices through a lookup table.** :class:`WeightedSampler` turns weights into a
  table of 2^16 (or 2^18) slots, so one draw is one random integer and one gather, several
  times faster than an inverse-CDF binary search per row.

Byte-identical output is promised for a given numpy version: numpy keeps its bit generators
stable, but a new numpy release may change how a distribution consumes the stream.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from floe.synthetic.errors import SyntheticConfigError

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
UInt64Array = npt.NDArray[np.uint64]

_MASK64 = (1 << 64) - 1
# The largest seed SeedSequence and the hash accept without reduction.
MAX_SEED = _MASK64


def stream(seed: int, batch_number: int, name: str) -> np.random.Generator:
    """An independent generator for one purpose within one batch.

    The name goes through CRC-32 rather than ``hash()``, whose value changes between
    processes. Batch-independent data (the product catalog) uses batch 0 with its own name.
    """
    key = zlib.crc32(name.encode("utf-8"))
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=(batch_number, key))
    return np.random.Generator(np.random.PCG64(sequence))


class StreamFactory:
    """The streams of one (seed, batch) of one generator: ``streams("orders.status")``."""

    def __init__(self, seed: int, batch_number: int, domain: str) -> None:
        self.seed = seed
        self.batch_number = batch_number
        self.domain = domain

    def __call__(self, name: str) -> np.random.Generator:
        return stream(self.seed, self.batch_number, f"{self.domain}/{name}")


def _splitmix64(values: UInt64Array) -> UInt64Array:
    """SplitMix64's finalizer, in place on ``values`` (which it returns): a million ids would
    otherwise allocate a dozen temporary arrays."""
    # uint64 array arithmetic wraps modulo 2**64 in numpy, which is what SplitMix64 wants.
    z = values
    scratch = np.empty_like(z)
    z += np.uint64(0x9E3779B97F4A7C15)
    for shift, multiplier in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        np.right_shift(z, np.uint64(shift), out=scratch)
        z ^= scratch
        z *= np.uint64(multiplier)
    np.right_shift(z, np.uint64(31), out=scratch)
    z ^= scratch
    return z


def hash_ids(seed: int, ids: Int64Array, salt: str) -> UInt64Array:
    """64 well-mixed bits per id, a pure function of (seed, id, salt)."""
    key = (seed * 0xD1B54A32D192ED03 + zlib.crc32(salt.encode("utf-8"))) & _MASK64
    mixed_key = int(_splitmix64(np.array([key], dtype=np.uint64))[0])
    mixed = ids.astype(np.uint64)
    mixed ^= np.uint64(mixed_key)
    return _splitmix64(mixed)


def hashed_unit(seed: int, ids: Int64Array, salt: str) -> FloatArray:
    """A uniform float in [0, 1) per id, a pure function of (seed, id, salt)."""
    return (hash_ids(seed, ids, salt) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


class WeightedSampler:
    """Draws outcomes with the given relative weights: codes ``0..k-1``, or ``outcomes[code]``.

    The weights are rounded to a table of ``2**bits`` slots (largest remainder, and every
    positive weight keeps at least one slot), so an outcome's probability is exact to within
    half a slot: 8e-6 with 16 bits (up to 64 outcomes), 2e-6 with 18 bits (more outcomes; the
    table of 512 KiB still fits a core's L2 cache). A draw is one uniform slot index and one
    gather. The table holds the outcomes themselves (quantities, percentages) when given, which
    saves a second gather per value.
    """

    def __init__(self, weights: Sequence[float] | FloatArray,
                 outcomes: npt.NDArray[np.integer[Any]] | None = None) -> None:
        values = np.asarray(weights, dtype=np.float64)
        if values.ndim != 1 or len(values) == 0 or not np.all(np.isfinite(values)) or np.any(values < 0) \
                or values.sum() <= 0:
            raise SyntheticConfigError("weights", f"expected non-negative finite weights with a positive sum, "
                                       f"got {list(values)}")
        if len(values) > 1 << 16:
            raise SyntheticConfigError("weights", f"{len(values)} categories; at most 65536 are supported")
        if outcomes is not None and len(outcomes) != len(values):
            raise ValueError(f"{len(outcomes)} outcomes for {len(values)} weights")
        self.bits = 16 if len(values) <= 64 else 18
        size = 1 << self.bits
        share = values / values.sum()
        raw = share * size
        slots = np.floor(raw).astype(np.int64)
        slots[(share > 0) & (slots == 0)] = 1
        missing = size - int(slots.sum())
        if missing > 0:
            # Give the leftover slots to the largest remainders (ties: lowest code first).
            order = np.argsort(-(raw - slots), kind="stable")
            slots[order[:missing]] += 1
        while missing < 0:
            largest = int(np.argmax(slots))
            take = min(-missing, int(slots[largest]) - 1)
            slots[largest] -= take
            missing += take
        self.probabilities: FloatArray = slots / size
        codes = np.arange(len(values), dtype=np.uint16) if outcomes is None else outcomes
        self.table: npt.NDArray[Any] = np.repeat(codes, slots)
        self._arrow_table = pa.array(self.table)

    def sample(self, rng: np.random.Generator, size: int) -> npt.NDArray[Any]:
        """``size`` outcomes drawn from ``rng`` (uint16 codes unless outcomes were given).

        The result is read-only: it is an Arrow buffer viewed from numpy, because Arrow's
        ``take`` with 16/32-bit indices is three times faster than numpy's fancy indexing,
        which first widens the indices.
        """
        if self.bits == 16:
            slots: npt.NDArray[np.unsignedinteger[Any]] = rng.integers(0, 1 << 16, size, dtype=np.uint16)
        else:
            slots = rng.integers(0, 1 << self.bits, size, dtype=np.uint32)
        drawn: npt.NDArray[Any] = self._arrow_table.take(pa.array(slots)).to_numpy(zero_copy_only=True)
        return drawn

    def from_hash(self, bits: UInt64Array) -> npt.NDArray[Any]:
        """Outcomes chosen by the top bits of :func:`hash_ids` output (deterministic per id)."""
        chosen: npt.NDArray[Any] = self.table[(bits >> np.uint64(64 - self.bits)).astype(np.intp)]
        return chosen


def bernoulli(rng: np.random.Generator, size: int, rate: float) -> BoolArray:
    """A mask with each element True with probability ``rate`` (exact to 2**-32).

    Comparing 32-bit integers costs a third of comparing doubles from ``rng.random``.
    """
    if rate >= 1:
        return np.ones(size, dtype=bool)
    threshold = np.uint32(int(rate * (1 << 32)))
    mask: BoolArray = rng.integers(0, 1 << 32, size, dtype=np.uint32) < threshold
    return mask
