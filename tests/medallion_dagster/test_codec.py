"""Property tests: every dtype the pipeline uses round-trips exactly through the warehouse."""

from datetime import date, datetime

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medallion_dagster.codec import CodecError, dtype_key
from medallion_dagster.warehouse import Warehouse

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)  # no lone surrogates
stamps = st.datetimes(min_value=datetime(1700, 1, 1), max_value=datetime(2250, 12, 31))
MAX_MINOR = 10**15


def column(kind: str, n: int):
    """A strategy for one column of `kind` with n values (some missing where the dtype allows)."""
    if kind == "money":  # integer minor units, nullable
        return st.lists(
            st.one_of(st.none(), st.integers(-MAX_MINOR, MAX_MINOR)), min_size=n, max_size=n
        ).map(lambda v: pd.array(v, dtype="Int64"))
    if kind == "int64":
        return st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="int64")
        )
    if kind == "bool":
        return st.lists(st.booleans(), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="bool")
        )
    if kind == "boolean":
        return st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n).map(
            lambda v: pd.array(v, dtype="boolean")
        )
    if kind == "float":
        finite = st.floats(allow_nan=False, allow_infinity=True).filter(
            lambda f: f != 0 or str(f) == "0.0"
        )
        return st.lists(st.one_of(st.none(), finite), min_size=n, max_size=n).map(
            lambda v: pd.Series([float("nan") if x is None else x for x in v], dtype="float64")
        )
    if kind in ("str", "string"):
        return st.lists(st.one_of(st.none(), text), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype=kind)
        )
    if kind == "utc_us":
        return st.lists(st.one_of(st.none(), stamps), min_size=n, max_size=n).map(
            lambda v: pd.Series(pd.to_datetime(v).tz_localize("UTC")).astype("datetime64[us, UTC]")
        )
    if kind == "utc_ns":
        ns = st.datetimes(min_value=datetime(1678, 1, 1), max_value=datetime(2261, 12, 31))
        nanos = st.integers(0, 999)
        return st.lists(st.one_of(st.none(), st.tuples(ns, nanos)), min_size=n, max_size=n).map(
            lambda v: pd.Series(
                [
                    pd.NaT if x is None else pd.Timestamp(x[0]) + pd.Timedelta(nanoseconds=x[1])
                    for x in v
                ],
                dtype="datetime64[ns]",
            ).dt.tz_localize("UTC")
        )
    if kind == "naive":
        return st.lists(st.one_of(st.none(), stamps), min_size=n, max_size=n).map(
            lambda v: pd.Series(pd.to_datetime(v)).astype("datetime64[us]")
        )
    if kind == "date":
        return st.lists(st.one_of(st.none(), st.dates()), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype=object)
        )
    raise ValueError(kind)


KINDS = [
    "money",
    "int64",
    "bool",
    "boolean",
    "float",
    "str",
    "string",
    "utc_us",
    "utc_ns",
    "naive",
    "date",
]


@st.composite
def frames(draw):
    n = draw(st.integers(0, 12))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))
    return pd.DataFrame({f"{k} {i}": draw(column(k, n)) for i, k in enumerate(kinds)})


@SETTINGS
@given(df=frames())
def test_any_frame_round_trips_exactly(tmp_path_factory, df):
    warehouse = Warehouse(path=str(tmp_path_factory.mktemp("wh")))
    warehouse.write("silver", "t", df)
    out = warehouse.read("silver", "t")
    expected = df.copy()
    for c in df.columns:  # an all-missing date column has no values to tell its type by
        if dtype_key(df[c]) == "null":
            expected[c] = pd.Series([None] * len(df), dtype=object)
    pd.testing.assert_frame_equal(out, expected)


@SETTINGS
@given(df=frames(), key=st.sampled_from(["2026-01-01", "2026-01-02"]))
def test_partitions_round_trip_and_replace(tmp_path_factory, df, key):
    warehouse = Warehouse(path=str(tmp_path_factory.mktemp("wh")))
    for _ in range(3):
        warehouse.write("gold", "p", df, [key])
    out = warehouse.read("gold", "p", [key])
    assert len(out) == len(df) and set(out["_partition"]) <= {key}


def test_the_issue_examples(warehouse):
    df = pd.DataFrame(
        {
            "at": pd.Series(
                [pd.Timestamp("2024-03-05 14:07:00+00:00")], dtype="datetime64[ns, UTC]"
            ),
            "day": [date(2024, 3, 5)],
            "n": pd.array([17], dtype="Int64"),
            "amount_minor": pd.array([1999], dtype="Int64"),
            "note": ["unicode ✓ \"quotes\" 'single'"],
        }
    )
    warehouse.write("silver", "ex", df)
    out = warehouse.read("silver", "ex")
    assert str(out["at"].dtype) == "datetime64[ns, UTC]"
    assert out["at"][0] == pd.Timestamp("2024-03-05 14:07:00+00:00")
    ints = pd.DataFrame({"n": pd.array([17, None, 42], dtype="Int64")})
    warehouse.write("silver", "ints", ints)
    assert str(warehouse.read("silver", "ints")["n"].dtype) == "Int64"
    with warehouse.connect("silver") as conn:
        assert conn.execute("SELECT at FROM ex").fetchone()[0] == "2024-03-05T14:07:00.000000000Z"


def test_unstorable_values_are_a_clear_error():
    with pytest.raises(CodecError, match="not storable"):
        dtype_key(pd.Series([{"a": 1}], name="nested"))
