from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from lambda_src.contract import (
    CURRENCY_EXPONENTS,
    AmountError,
    data_key,
    from_minor_units,
    is_hidden,
    manifest_key,
    parse_key,
    to_minor_units,
)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.34", "USD", 1234),
        ("0.01", "EUR", 1),
        ("1500", "JPY", 1500),
        ("0.125", "KWD", 125),
        (" 7.5 ", "GBP", 750),
        ("19.90", "USD", 1990),
        ("1234567890123.45", "USD", 123456789012345),
        ("10000000000000", "USD", 10**15),  # the maximum
        ("1E2", "USD", 10000),  # JSON numbers may use an exponent
        ("1.0000", "JPY", 1),
        (Decimal("0.10"), "CHF", 10),
        (3, "JPY", 3),
    ],
)
def test_to_minor_units_is_exact(amount, currency, minor):
    assert to_minor_units(amount, currency) == minor
    assert to_minor_units(str(from_minor_units(minor, currency)), currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("-1.00", "USD", "not positive"),
        ("0", "USD", "not positive"),
        ("12,50", "USD", "not a decimal"),
        ("1.005", "USD", "more decimals than USD"),
        ("10.5", "JPY", "more decimals than JPY"),
        ("NaN", "USD", "not finite"),
        ("Infinity", "USD", "not finite"),
        ("1.00", "XTS", "not in the allowed set"),
        (0.1, "USD", "not binary floats"),
        ("1e400", "USD", "exceeds the maximum"),
        ("10000000000000.01", "USD", "exceeds the maximum"),
        ("123456789012345678901234567890", "JPY", "exceeds the maximum"),
        ("1.000000000000000000000000000001", "USD", "more decimals"),  # no 28-digit rounding
        ("1e-999999", "USD", "more decimals"),
        ("1_000", "USD", "not a decimal"),
        ("１２３", "USD", "not a decimal"),  # fullwidth digits
        ("$12.50", "USD", "not a decimal"),
        ("1,234.56", "USD", "not a decimal"),
        ("", "USD", "not a decimal"),
    ],
)
def test_to_minor_units_rejects_with_reason(amount, currency, message):
    with pytest.raises(AmountError, match=message):
        to_minor_units(amount, currency)


def test_allowed_currencies_have_iso_exponents():
    assert CURRENCY_EXPONENTS["JPY"] == 0
    assert CURRENCY_EXPONENTS["KWD"] == 3
    assert CURRENCY_EXPONENTS["USD"] == 2


def test_data_key_round_trips_through_parse_key():
    now = datetime(2026, 12, 3, 13, 5, 1, 123456, tzinfo=UTC)
    key = data_key("transactions", date(2026, 12, 2), now, "b1", "jsonl")
    assert key == "transactions/dt=2026-12-02/20261203T130501123456Z-b1.jsonl"
    parsed = parse_key(key)
    assert (parsed.entity, parsed.batch_date, parsed.fmt) == (
        "transactions",
        date(2026, 12, 2),
        "jsonl",
    )


def test_file_names_sort_by_arrival():
    early = data_key("customers", date(2026, 1, 1), datetime(2026, 1, 1, 9, tzinfo=UTC), "z", "csv")
    late = data_key("customers", date(2026, 1, 1), datetime(2026, 1, 1, 10, tzinfo=UTC), "a", "csv")
    assert sorted([late, early]) == [early, late]


@pytest.mark.parametrize(
    "key",
    [
        "transactions/dt=2026-12-02/.hidden.jsonl",
        "transactions/dt=2026-12-02/_SUCCESS",
        "transactions/dt=2026-12-02/.x.jsonl.abc.tmp",
        "transactions/dt=2026-12-02/file.jsonl.tmp",
        "transactions/dt=2026-12-02/",
        "transactions/dt=2026-12-02/notes.txt",
        "transactions/dt=2026-13-45/a.jsonl",
        "unknown_entity/dt=2026-12-02/a.jsonl",
        "_manifests/dt=2026-12-02/a.json",
        "transactions/a.jsonl",
    ],
)
def test_parse_key_ignores_non_data_files(key):
    assert parse_key(key) is None


def test_hidden_and_manifest_keys():
    assert is_hidden("dir/.part-0001")
    assert is_hidden("x.csv~")
    assert not is_hidden("transactions/dt=2026-12-02/a.csv")
    mkey = manifest_key(date(2026, 12, 2), datetime(2026, 12, 3, tzinfo=UTC), "b1")
    assert mkey.startswith("_manifests/dt=2026-12-02/") and mkey.endswith("-b1.json")
