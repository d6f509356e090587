"""How big each of the 32 reporting units is, for the dev kit's synthetic numbers.

One table read by every generator (the demo inbox's weekly reports, the sample summary, the feed
simulator's job postings), so a province is as large in the demo's reports as in its feeds. The size is
relative: roughly the unit's graduates and universities, Guangdong (the largest) about 8. It is only used
to make synthetic numbers plausible; the product does not read it (so it is not in ``units.yaml``).
"""

from __future__ import annotations

# Relative size of each unit (graduates and universities, roughly).
UNIT_SIZES: dict[str, float] = {
    "110000": 4.0, "120000": 2.3, "130000": 4.5, "140000": 2.8, "150000": 1.4, "210000": 3.4,
    "220000": 2.3, "230000": 2.5, "310000": 3.0, "320000": 7.5, "330000": 4.8, "340000": 4.2,
    "350000": 3.0, "360000": 3.8, "370000": 7.6, "410000": 7.8, "420000": 5.6, "430000": 4.6,
    "440000": 8.2, "450000": 3.3, "460000": 0.6, "500000": 3.1, "510000": 5.6, "520000": 2.4,
    "530000": 2.8, "540000": 0.18, "610000": 4.2, "620000": 1.8, "630000": 0.3, "640000": 0.4,
    "650000": 1.4, "660000": 0.25,
}  # fmt: skip

# The size of a unit the table does not know (a deployment's own units file may add one).
DEFAULT_SIZE = 1.0


def size(code: str) -> float:
    """The unit's relative size; :data:`DEFAULT_SIZE` for a code not in the table."""
    return UNIT_SIZES.get(code, DEFAULT_SIZE)
