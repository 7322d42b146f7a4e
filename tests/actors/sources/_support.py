"""Shared helpers: fixed clock, junk header values, fuzz settings and signing by hand."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping, Sequence

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from router.errors import SignatureError
from router.verify import Verified, Verifier

# Every category, lone surrogates (Cs) included: hypothesis leaves those out by default.
_ANY_CHAR = st.characters(categories=["L", "M", "N", "P", "S", "Z", "Cc", "Cs"])

NOW = 1_700_000_000  # a fixed "now": the tolerance tests do not depend on the wall clock

# Small, fast, and no example database written into the working tree.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Header values that have broken real verifiers: non-ASCII, a lone surrogate (what aiohttp's
# surrogateescape makes of bad bytes), control characters, non-ASCII digits, Python-only number
# forms, garbage base64 and hex, separators with nothing around them, and sheer size.
JUNK_VALUES: Sequence[str] = (
    "",
    " ",
    "é",
    "\udcff",
    "\x00",
    "\u0661\u0662\u0663",
    "1_700_000_000",
    "+1700000000",
    "-1",
    "1e9",
    "NaN",
    "!!!!",
    "abc",
    "zz",
    "=",
    ",",
    ",,,",
    "t=",
    "v1=",
    "v1,",
    "sha256=",
    "sha256=zz",
    "Bearer",
    "x" * 100_000,
)

# Values no delivery-id header may carry: ids become journal keys and log fields.
JUNK_IDS: Sequence[str] = ("", " ", "a b", "é", "\udcff", "\x00", "tab\there", "x" * 300)


def mac(secret: bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(secret, message, algorithm).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def outcome(
    verifier: Verifier, headers: Mapping[str, str], body: bytes, now: float = NOW
) -> Verified | SignatureError:
    """Run ``verify``; any exception other than SignatureError escapes and fails the test."""
    try:
        return verifier.verify(headers, body, now)
    except SignatureError as exc:
        return exc


def header_values(*near_valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Arbitrary text (surrogates included), the junk list and the scheme's near-valid forms."""
    return st.one_of(
        st.text(_ANY_CHAR, max_size=64),
        st.sampled_from(JUNK_VALUES),
        st.text("0123456789abcdef=,.; tv", max_size=80),
        *near_valid,
    )


def header_dicts(
    names: Sequence[str], *near_valid: st.SearchStrategy[str]
) -> st.SearchStrategy[dict[str, str]]:
    """Random subsets of ``names`` in random case, with random values."""
    name = st.sampled_from(names).flatmap(
        lambda n: st.sampled_from([n, n.lower(), n.upper(), n.swapcase()])
    )
    return st.dictionaries(name, header_values(*near_valid), max_size=len(names) + 1)
