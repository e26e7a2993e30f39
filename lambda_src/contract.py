"""The landing data contract, shared by the producer (this package) and the Dagster code location.

Pure standard library on purpose: it ships inside the Lambda package. `docs/ARCHITECTURE.md`
describes the same contract in prose; change both together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

# --- entities ------------------------------------------------------------------------------------

ENTITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id", "name", "email", "location", "created_at", "updated_at"),
    "transaction_types": ("type_id", "type_name"),
    "transactions": (
        "transaction_id",
        "customer_id",
        "occurred_at",
        "amount",
        "currency",
        "transaction_type",
    ),
}
ENTITIES: tuple[str, ...] = tuple(ENTITY_COLUMNS)
#: What each landing column means (the Dagster UI shows these as column descriptions).
COLUMN_DESCRIPTIONS: dict[str, str] = {
    "customer_id": "Customer key",
    "name": "Customer name (personal data: masked in previews and check examples)",
    "email": "Customer email (personal data: masked in previews and check examples)",
    "location": "Customer city or region",
    "created_at": "When the customer was created (ISO-8601)",
    "updated_at": "When this customer record was last changed (ISO-8601); the latest wins",
    "type_id": "Transaction type key",
    "type_name": "One of purchase, subscription, refund, chargeback, transfer",
    "transaction_id": "Transaction key (unique across all days)",
    "occurred_at": "When the transaction happened (ISO-8601; UTC in silver)",
    "amount": "Positive decimal amount in the currency's units, as landed",
    "currency": "ISO 4217 code (USD, EUR, GBP, CHF, CAD, AUD, JPY, KWD)",
    "transaction_type": "Type name; gives the sign of revenue",
}

# --- money ---------------------------------------------------------------------------------------

#: Allowed ISO 4217 currencies and their minor-unit exponent (JPY has no minor unit, KWD has 3).
CURRENCY_EXPONENTS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "CAD": 2,
    "AUD": 2,
    "JPY": 0,
    "KWD": 3,
}

#: Sign each transaction type applies to revenue. 0 = counted but never summed into revenue.
TYPE_SIGNS: dict[str, int] = {
    "purchase": 1,
    "subscription": 1,
    "refund": -1,
    "chargeback": -1,
    "transfer": 0,
}
TRANSACTION_TYPES: tuple[str, ...] = tuple(TYPE_SIGNS)


class AmountError(ValueError):
    """An amount that cannot be stored exactly in minor units of its currency."""


#: The largest amount one transaction may carry, in minor units (10^15: ten trillion dollars in
#: cents). Keeps every sum gold computes far inside SQLite's and pandas' 64-bit integers.
MAX_AMOUNT_MINOR = 10**15

# A plain decimal in ASCII digits: optional sign, digits with an optional fraction, optional
# exponent (JSON numbers may use one). No grouping, underscores, currency symbols or other scripts.
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?")


def to_minor_units(amount: str | int | Decimal, currency: str) -> int:
    """Parse a positive decimal amount into integer minor units, exactly (never via float).

    >>> [to_minor_units(a, c) for a, c in [("12.34", "USD"), ("1500", "JPY"), ("0.125", "KWD")]]
    [1234, 1500, 125]
    """
    if currency not in CURRENCY_EXPONENTS:
        raise AmountError(f"currency {currency!r} is not in the allowed set")
    if isinstance(amount, float):
        raise AmountError("amounts must be decimal text, not binary floats")
    text = str(amount).strip()
    if not _DECIMAL_RE.fullmatch(text):
        if text.lstrip("+-").lower() in ("nan", "snan", "inf", "infinity"):
            raise AmountError(f"amount {amount!r} is not finite")
        raise AmountError(f"amount {amount!r} is not a decimal number")
    value = Decimal(text)  # exact: the constructor never rounds
    if value <= 0:
        raise AmountError(f"amount {amount!r} is not positive")
    # Integer arithmetic only (Decimal arithmetic would round to 28 digits).
    _, digits, exponent = value.as_tuple()
    coefficient = int("".join(map(str, digits)))
    shift = exponent + CURRENCY_EXPONENTS[currency]
    if len(str(coefficient)) + shift > len(str(MAX_AMOUNT_MINOR)):
        raise AmountError(
            f"amount {amount!r} exceeds the maximum of {MAX_AMOUNT_MINOR} minor units"
        )
    if shift >= 0:
        minor = coefficient * 10**shift
    elif -shift > len(str(coefficient)):  # 0 < coefficient < 10**-shift: a remainder is certain
        minor, remainder = 0, coefficient
    else:
        minor, remainder = divmod(coefficient, 10**-shift)
    if shift < 0 and remainder:
        raise AmountError(
            f"amount {amount!r} has more decimals than {currency} allows "
            f"({CURRENCY_EXPONENTS[currency]})"
        )
    if minor > MAX_AMOUNT_MINOR:
        raise AmountError(
            f"amount {amount!r} exceeds the maximum of {MAX_AMOUNT_MINOR} minor units"
        )
    return minor


def from_minor_units(minor: int, currency: str) -> Decimal:
    """Inverse of :func:`to_minor_units`: `1234, "USD"` -> `Decimal("12.34")`."""
    return Decimal(minor).scaleb(-CURRENCY_EXPONENTS[currency])


# --- landing keys --------------------------------------------------------------------------------

DATA_FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet")
MANIFEST_DIR = "_manifests"
DEFAULT_LANDING_PREFIX = "landing"

_KEY_RE = re.compile(r"^(?P<entity>[a-z_]+)/dt=(?P<dt>\d{4}-\d{2}-\d{2})/(?P<name>[^/]+)$")


@dataclass(frozen=True)
class LandingKey:
    """A data file's key relative to the landing root: `<entity>/dt=<YYYY-MM-DD>/<file name>`."""

    entity: str
    batch_date: date
    name: str

    @property
    def key(self) -> str:
        return f"{self.entity}/dt={self.batch_date.isoformat()}/{self.name}"

    @property
    def fmt(self) -> str:
        return data_format(self.name) or ""


def arrival_stamp(now: datetime) -> str:
    """Sortable UTC arrival stamp used as the file-name prefix: `20261203T130501123456Z`."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def data_file_name(now: datetime, batch_id: str, fmt: str) -> str:
    if fmt not in DATA_FORMATS:
        raise ValueError(f"unknown landing format {fmt!r}; allowed: {DATA_FORMATS}")
    return f"{arrival_stamp(now)}-{batch_id}.{fmt}"


def data_key(entity: str, batch_date: date, now: datetime, batch_id: str, fmt: str) -> str:
    if entity not in ENTITY_COLUMNS:
        raise ValueError(f"unknown entity {entity!r}")
    return LandingKey(entity, batch_date, data_file_name(now, batch_id, fmt)).key


def manifest_key(batch_date: date, now: datetime, batch_id: str) -> str:
    return f"{MANIFEST_DIR}/dt={batch_date.isoformat()}/{arrival_stamp(now)}-{batch_id}.json"


def is_hidden(name: str) -> bool:
    """Hidden, temporary and marker files that readers must ignore (`.x`, `_x`, `x.tmp`, `x~`)."""
    base = name.rsplit("/", 1)[-1]
    return (
        not base
        or base.startswith((".", "_"))
        or base.endswith((".tmp", ".temp", ".part", "~"))
        or base.endswith("$folder$")
    )


def data_format(name: str) -> str | None:
    """The landing format of a file name, or None if it is not a data file of the contract.
    A compression suffix (`.gz`, `.bz2`, `.xz`) is allowed on any format."""
    lower = name.lower()
    for suffix in (".gz", ".bz2", ".xz"):
        lower = lower.removesuffix(suffix)
    for fmt, suffixes in (
        ("jsonl", (".jsonl", ".ndjson", ".json")),
        ("csv", (".csv",)),
        ("parquet", (".parquet",)),
    ):
        if lower.endswith(suffixes):
            return fmt
    return None


def parse_key(key: str) -> LandingKey | None:
    """Parse a key relative to the landing root; None for anything that is not a data file."""
    m = _KEY_RE.match(key)
    if not m or m["entity"] not in ENTITY_COLUMNS or is_hidden(m["name"]):
        return None
    if data_format(m["name"]) is None:
        return None
    try:
        batch_date = date.fromisoformat(m["dt"])
    except ValueError:
        return None
    return LandingKey(m["entity"], batch_date, m["name"])
