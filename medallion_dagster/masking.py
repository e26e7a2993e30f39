"""Personal data in what the UI shows: emails and names are masked in previews and check examples
(`j***@example.com`, `J*** D***`), also inside quarantined records kept as JSON."""

import json

import pandas as pd

EMAIL_COLUMNS = ("email",)
NAME_COLUMNS = ("name", "customer_name", "gold_name", "silver_name")


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


def mask_email(value) -> str | None:
    if _missing(value):
        return None
    local, at, domain = str(value).partition("@")
    return (local[:1] + "***" + at + domain) if at else str(value)[:1] + "***"


def mask_name(value) -> str | None:
    if _missing(value):
        return None
    return " ".join(w[:1] + "***" for w in str(value).split())


def _mask_record(text):
    try:
        record = json.loads(text)
    except (TypeError, ValueError):
        return text
    if not isinstance(record, dict):
        return "***"  # not a record we know: show nothing of it
    for key in ("email", "name", "_raw"):
        if key in record:
            record[key] = mask_email(record[key]) if key == "email" else mask_name(record[key])
    return json.dumps(record, ensure_ascii=False)


def mask(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with email, name and record columns masked."""
    out = df.astype(object).where(df.notna(), None)
    for column in out.columns:
        if column.endswith("email"):
            out[column] = out[column].map(mask_email)
        elif column in NAME_COLUMNS:
            out[column] = out[column].map(mask_name)
        elif column in ("record", "_raw"):
            out[column] = out[column].map(_mask_record if column == "record" else mask_name)
    return out
