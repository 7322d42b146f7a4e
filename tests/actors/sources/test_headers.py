from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from actors.sources._headers import (
    MAX_HEADER_CHARS,
    check_tolerance,
    delivery_id,
    get_header,
    parse_iso_timestamp,
    parse_unix_timestamp,
    require_header,
)
from router.errors import SignatureError


def test_lookup_ignores_case_in_a_plain_dict_and_in_aiohttps_mapping() -> None:
    plain = {"x-hub-signature-256": "a"}
    proxy = CIMultiDictProxy(CIMultiDict({"X-HUB-SIGNATURE-256": "b"}))
    assert get_header(plain, "X-Hub-Signature-256") == "a"
    assert get_header(proxy, "x-hub-signature-256") == "b"
    assert get_header(plain, "X-Other") is None


@pytest.mark.parametrize("value", ["é", "\udcff", "x" * (MAX_HEADER_CHARS + 1), b"bytes", 7])
def test_non_ascii_oversized_or_non_text_values_are_signature_errors(value: object) -> None:
    headers = cast(Mapping[str, str], {"x-sig": value})
    with pytest.raises(SignatureError, match="malformed X-Sig header"):
        get_header(headers, "X-Sig")


def test_require_header_treats_empty_as_missing() -> None:
    with pytest.raises(SignatureError, match="missing X-Sig header"):
        require_header({"X-Sig": ""}, "X-Sig")
    assert require_header({"X-Sig": "v"}, "X-Sig") == "v"


@pytest.mark.parametrize("value", ["", " ", "a b", "é", "x" * 257, "a\tb"])
def test_delivery_id_rejects_what_cannot_be_a_journal_key(value: str) -> None:
    with pytest.raises(SignatureError):
        delivery_id({"X-Id": value}, "X-Id")


def test_delivery_id_absent_is_none_and_present_is_verbatim() -> None:
    assert delivery_id({}, "X-Id") is None
    assert delivery_id({"x-id": "72d3162e-cc78"}, "X-Id") == "72d3162e-cc78"


@pytest.mark.parametrize(
    "value", ["", "abc", "-1", "+1", " 1", "1 ", "1_0", "1.5", "1e3", "\u0661", "1" * 13]
)
def test_unix_timestamps_are_plain_ascii_digits(value: str) -> None:
    with pytest.raises(SignatureError, match="malformed timestamp"):
        parse_unix_timestamp(value)


def test_unix_timestamp_parses() -> None:
    assert parse_unix_timestamp("1614265330") == 1614265330


@pytest.mark.parametrize(
    "value", ["2021-02-30T00:00:00Z", "2021-03-25T05:09:27", "2021-03-25 05:09:27Z", "1614265330"]
)
def test_iso_timestamps_are_strict(value: str) -> None:
    with pytest.raises(SignatureError, match="malformed timestamp"):
        parse_iso_timestamp(value)


def test_iso_timestamp_is_utc() -> None:
    assert parse_iso_timestamp("1970-01-01T00:01:40Z") == 100.0


@pytest.mark.parametrize(("ts", "ok"), [(700, True), (1300, True), (699, False), (1301, False)])
def test_tolerance_is_inclusive_and_symmetric(ts: int, ok: bool) -> None:
    if ok:
        check_tolerance(ts, 1000, 300)
    else:
        with pytest.raises(SignatureError, match="timestamp outside tolerance"):
            check_tolerance(ts, 1000, 300)
    assert ok == (abs(1000 - ts) <= 300)


def test_a_mapping_that_raises_is_not_caught_here() -> None:
    # _headers validates values only; the verifiers' @guarded turns the rest into 401s.
    class Broken(dict[str, Any]):
        def get(self, key: object, default: object = None) -> Any:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        get_header(Broken(), "X")
