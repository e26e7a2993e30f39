"""The round trip between pandas dtypes and SQLite storage classes, column by column, in Arrow.

SQLite stores INTEGER, REAL, TEXT (and BLOB); it has no datetime, date, boolean or decimal type.
Each column's pandas dtype is recorded in the warehouse's registry, and values are stored as:

| pandas dtype (family)                  | SQLite | stored as                                     |
|----------------------------------------|--------|-----------------------------------------------|
| int8..int64, Int8..Int64, uint (int)   | INTEGER| the integer (money: integer minor units)      |
| bool, boolean (bool)                   | INTEGER| 0 / 1                                         |
| float32/64, Float32/64 (float)         | REAL   | the float (NaN, NA: NULL; -0.0 comes back 0.0)|
| str, string, object of str (text)      | TEXT   | the text                                      |
| datetime64[unit, tz] (datetime_tz)     | TEXT   | UTC: `2026-12-03T14:07:00.000000Z` (*)        |
| datetime64[unit] (datetime)            | TEXT   | `2026-12-03T14:07:00.000000`                  |
| object of datetime.date (date)         | TEXT   | `2026-12-03`                                  |
| object, all missing (null)             | (none) | NULL; the type is set by the first real values |

(*) microsecond digits; nanosecond columns keep 9 digits.

Encoding and decoding are vectorised Arrow compute kernels (no Python loop per value).
"""

from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


class CodecError(ValueError):
    """A column that cannot be stored or restored exactly."""


#: Declared SQLite column type per family (none for "null": no affinity, any later type fits).
SQL_TYPES = {
    "int": "INTEGER",
    "bool": "INTEGER",
    "float": "REAL",
    "text": "TEXT",
    "datetime_tz": "TEXT",
    "datetime": "TEXT",
    "date": "TEXT",
    "null": "",
}
#: A value of each family's storage class, used to pin the column types of a query's result.
SENTINELS = {"INTEGER": "0", "REAL": "0.0", "TEXT": "''", "": "NULL"}


def _zone_name(tz) -> str:
    """An IANA zone name for a tz-aware dtype, or UTC for zones that have none (dateutil's
    tzutc(), fixed offsets, ...): those are stored as the UTC instants they are."""
    name = getattr(tz, "key", None) or getattr(tz, "zone", None) or str(tz)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def dtype_key(series: pd.Series) -> str:
    """The dtype recorded for a column: pandas' own name, `date` for datetime.date objects,
    `null` for an object column with no values yet."""
    dt = series.dtype
    if isinstance(dt, pd.DatetimeTZDtype):
        return f"datetime64[{dt.unit}, {_zone_name(dt.tz)}]"
    if pd.api.types.is_datetime64_dtype(dt):
        return str(dt)
    if pd.api.types.is_bool_dtype(dt) or pd.api.types.is_numeric_dtype(dt):
        return str(dt)
    if isinstance(dt, pd.StringDtype):
        return str(dt)  # "str" (NaN-missing, pandas' default) or "string" (NA-missing)
    if pd.api.types.is_object_dtype(dt):
        values = series.dropna()
        if values.empty:
            return "null"
        kinds = set(values.map(type))
        if kinds == {str}:
            return "object"
        if kinds == {date}:  # exactly datetime.date (datetime.datetime is a subclass)
            return "date"
    raise CodecError(
        f"column {series.name!r} has dtype {dt} with values of type "
        f"{sorted({type(v).__name__ for v in series.dropna()})}: not storable (use str, a number, "
        "bool, datetime64 or datetime.date)"
    )


def family(dtype: str) -> str:
    if dtype.startswith("datetime64"):
        return "datetime_tz" if "," in dtype else "datetime"
    if dtype in ("date", "null"):
        return dtype
    if dtype in ("bool", "boolean"):
        return "bool"
    if dtype in ("str", "string", "object"):
        return "text"
    try:
        d = pd.api.types.pandas_dtype(dtype)
    except TypeError:
        raise CodecError(f"unsupported dtype {dtype}") from None
    if pd.api.types.is_integer_dtype(d):
        return "int"
    if pd.api.types.is_float_dtype(d):
        return "float"
    raise CodecError(f"unsupported dtype {dtype}")


_UNITS = ("s", "ms", "us", "ns")


def merge(old: str, new: str) -> str:
    """The dtype a table keeps when a write brings `new` for a column stored as `old` (same
    family): never narrower than either, so no stored value is ever misread."""
    if old == new:
        return new
    fam = family(new)
    nullable = old[0].isupper() or new[0].isupper() or "boolean" in (old, new)
    if fam == "int":
        return "Int64" if nullable else "int64"
    if fam == "float":
        return "Float64" if old == "Float64" and new == "Float64" else "float64"
    if fam == "bool":
        return "boolean"
    if fam in ("datetime_tz", "datetime"):
        unit = max(_time_unit(old), _time_unit(new), key=_UNITS.index)
        zone = ", " + new.split(",", 1)[1].rstrip("]").strip() if fam == "datetime_tz" else ""
        return f"datetime64[{unit}{zone}]"
    return new  # text and date: the same storage either way


def sql_type(dtype: str) -> str:
    return SQL_TYPES[family(dtype)]


def _time_unit(dtype: str) -> str:
    return dtype.split("[", 1)[1].split(",")[0].rstrip("]").strip()


def _iso_text(stamps: pa.Array, suffix: str) -> pa.Array:
    """timestamp (UTC wall time) -> `YYYY-MM-DDTHH:MM:SS.ffffff` + suffix (ns: 9 digits)."""
    if stamps.type.unit in ("s", "ms"):
        stamps = stamps.cast(pa.timestamp("us"))
    text = pc.utf8_replace_slice(stamps.cast(pa.string()), 10, 11, "T")
    return pc.binary_join_element_wise(text, suffix, "") if suffix else text


def encode(series: pd.Series, dtype: str) -> pa.Array:
    """A column as an Arrow array of SQLite-native values (int64, float64, string; null = NULL)."""
    fam = family(dtype)
    try:
        if fam == "int":
            return pa.array(series, from_pandas=True).cast(pa.int64())
        if fam == "bool":
            return pa.array(series.astype("boolean"), from_pandas=True).cast(pa.int64())
        if fam == "float":
            return pa.array(series, from_pandas=True).cast(pa.float64())
        if fam in ("datetime_tz", "datetime"):
            naive = (
                series.dt.tz_convert("UTC").dt.tz_localize(None) if fam == "datetime_tz" else series
            )
            stamps = pa.array(naive, from_pandas=True)
            years = [
                y
                for y in (pc.min(pc.year(stamps)).as_py(), pc.max(pc.year(stamps)).as_py())
                if y is not None
            ]
            if any(y < 1 or y > 9999 for y in years):
                raise CodecError(f"column {series.name!r}: timestamps must be in years 1..9999")
            return _iso_text(stamps, "Z" if fam == "datetime_tz" else "")
        if fam == "date":
            return pa.array(series, type=pa.date32(), from_pandas=True).cast(pa.string())
        if fam == "null":
            return pa.nulls(len(series), pa.string())
        return pa.array(series, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError) as e:
        raise CodecError(f"column {series.name!r} ({dtype}) cannot be stored exactly: {e}") from e


def decode(column: pa.ChunkedArray, dtype: str) -> pd.Series:
    """The inverse of :func:`encode`: stored values back to the recorded pandas dtype."""
    fam = family(dtype)
    has_null = column.null_count > 0
    if fam == "int":
        s = column.cast(pa.int64()).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
        return s.astype("Int64" if has_null and dtype[0].islower() else dtype)
    if fam == "bool":
        s = column.cast(pa.bool_()).to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)
        return s.astype("boolean" if has_null else dtype)
    if fam == "float":
        return column.cast(pa.float64()).to_pandas().astype(dtype)
    if fam in ("datetime_tz", "datetime"):
        # Text has 6 fraction digits (9 for ns columns): parse at that precision, then give the
        # recorded unit (never finer than what was written: see merge()).
        unit = _time_unit(dtype)
        parse_unit = "ns" if unit == "ns" else "us"
        zone = "UTC" if fam == "datetime_tz" else None
        stamps = column.cast(pa.string()).cast(pa.timestamp(parse_unit, tz=zone))
        s = stamps.cast(pa.timestamp(unit, tz=zone)).to_pandas()
        if fam == "datetime_tz":
            return s.dt.tz_convert(dtype.split(",", 1)[1].rstrip("]").strip()).astype(dtype)
        return s.astype(dtype)
    if fam == "date":
        days = column.cast(pa.string()).cast(pa.date32())
        return pd.Series(days.to_pylist(), dtype=object)
    if fam == "null":
        return pd.Series([None] * len(column), dtype=object)
    text = column.cast(pa.string())
    if dtype == "object":
        return pd.Series(text.to_pylist(), dtype=object)
    return text.to_pandas().astype(dtype)
