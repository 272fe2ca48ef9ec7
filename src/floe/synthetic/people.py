"""Names and e-mail addresses, built column-wise in Arrow from small word lists.

``Maya Okafor`` gets ``maya.okafor.123@example.org``: the id in the address keeps addresses
unique per id even though first and last names repeat.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from floe.synthetic.randomness import Int64Array, StreamFactory, WeightedSampler
from floe.synthetic.vocabulary import EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES, names, weights

_FIRST = pa.array(FIRST_NAMES, type=pa.string())
_LAST = pa.array(LAST_NAMES, type=pa.string())
_FIRST_LOWER = pa.array([n.lower() for n in FIRST_NAMES], type=pa.string())
_LAST_LOWER = pa.array([n.lower() for n in LAST_NAMES], type=pa.string())
_DOMAINS = pa.array(names(EMAIL_DOMAINS), type=pa.string())
_DOMAIN_SAMPLER = WeightedSampler(weights(EMAIL_DOMAINS))


def person_names_and_emails(streams: StreamFactory, table: str, ids: Int64Array) -> tuple[pa.Array, pa.Array]:
    """A full name and an e-mail address per id, from the streams ``{table}.name`` and
    ``{table}.email``."""
    rng = streams(f"{table}.name")
    first = pa.array(rng.integers(0, len(FIRST_NAMES), len(ids), dtype=np.int32))
    last = pa.array(rng.integers(0, len(LAST_NAMES), len(ids), dtype=np.int32))
    full = pc.binary_join_element_wise(_FIRST.take(first), _LAST.take(last), " ")
    domain = _DOMAINS.take(pa.array(_DOMAIN_SAMPLER.sample(streams(f"{table}.email"), len(ids))))
    local = pc.binary_join_element_wise(_FIRST_LOWER.take(first), _LAST_LOWER.take(last),
                                        pc.cast(pa.array(ids), pa.string()), ".")
    email = pc.binary_join_element_wise(local, domain, "@")
    return full, email
