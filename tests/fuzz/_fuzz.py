"""What every fuzz module shares: the example budget, the planted resident ids, the output checks, the tally.

The budget: each test names its examples for a ``make test`` run; ``JOINT_SANCTIONS_FUZZ_EXAMPLES``
multiplies them (``20`` for a long local run). Examples are derandomised and no example database is
kept, so CI runs the same inputs every time; ``JOINT_SANCTIONS_FUZZ_RANDOM=1`` draws new ones.
"""

from __future__ import annotations

import collections
import os
import re
from typing import Any

from hypothesis import HealthCheck, settings

#: Multiplier of every fuzz test's examples (default 1; e.g. 20 for a four-minute local run).
MULTIPLIER = max(1, int(os.environ.get("JOINT_SANCTIONS_FUZZ_EXAMPLES", "1") or "1"))
#: Set (to anything) for new random inputs each run instead of the fixed ones CI runs.
RANDOM = bool(os.environ.get("JOINT_SANCTIONS_FUZZ_RANDOM"))


def budget(examples: int) -> Any:
    """Hypothesis settings for a fuzz test of ``examples`` inputs (times the multiplier)."""
    return settings(max_examples=examples * MULTIPLIER, deadline=None, derandomize=not RANDOM, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.large_base_example])


# Valid 居民身份证号码 (GB 11643-1999 check characters) planted in inputs; none may come out unmasked.
def _resident_id(body: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


RESIDENT_IDS: tuple[str, ...] = tuple(_resident_id(body) for body in (
    "41010319881212345", "41010519851123004", "11010119700101009", "44030620001231271"))
#: The same ids as people write them: spaced, hyphenated, full-width.
WRITTEN_IDS: tuple[str, ...] = (
    *RESIDENT_IDS,
    f"{RESIDENT_IDS[0][:6]} {RESIDENT_IDS[0][6:14]} {RESIDENT_IDS[0][14:]}",
    f"{RESIDENT_IDS[1][:6]}-{RESIDENT_IDS[1][6:]}",
    RESIDENT_IDS[2].translate({ord(c): 0xFF10 + int(c) for c in "0123456789"}),
)
_SEPARATORS = re.compile("[\\s\u3000\u00a0\\-\u2010-\u2014\uff0d]")


def leaks(text: str) -> list[str]:
    """The planted resident ids whose hidden middle digits appear in ``text`` (separators ignored)."""
    flat = _SEPARATORS.sub("", text).translate({0xFF10 + i: ord("0") + i for i in range(10)})
    return [rid for rid in RESIDENT_IDS if rid[4:14] in flat]


def assert_safe(text: str) -> None:
    """No catch-all error, no traceback, no planted resident id in clear."""
    assert "internal error" not in text, text[-2000:]
    assert "Traceback" not in text, text[-2000:]
    assert not leaks(text), (leaks(text), text[-2000:])


#: Inputs tried per area, and what each area found: printed at the end of a run (conftest.py).
TALLY: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)


def count(area: str, what: str = "inputs", n: int = 1) -> None:
    TALLY[area][what] += n
