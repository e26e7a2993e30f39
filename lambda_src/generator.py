"""Synthetic batches for demo mode: customers, transaction types and transactions (Faker).

A batch is a pure function of (batch date, batch id, size, dirty rate): the same inputs give the
same records, and different days give different data. Dirty records are made on purpose (to show
quarantine) and counted in the manifest, so downstream totals can be reconciled exactly.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from faker import Faker

from lambda_src.contract import CURRENCY_EXPONENTS, TRANSACTION_TYPES, to_minor_units

CURRENCY_WEIGHTS = {"USD": 50, "EUR": 25, "GBP": 15, "JPY": 10}
TYPE_WEIGHTS = {"purchase": 60, "subscription": 15, "refund": 10, "chargeback": 3, "transfer": 12}
#: Typical amount ranges in major units per currency (JPY amounts are whole yen).
AMOUNT_RANGE = {"USD": (1, 500), "EUR": (1, 450), "GBP": (1, 400), "JPY": (100, 60000)}
LATE_EVENT_SHARE = 0.03
#: The kinds of deliberately dirty transaction records and what makes them dirty.
DIRTY_KINDS = (
    "amount_not_positive",
    "amount_not_a_number",
    "amount_too_precise",
    "currency_not_allowed",
    "type_not_allowed",
    "occurred_at_invalid",
    "customer_id_missing",
)


@dataclass
class Batch:
    batch_id: str
    batch_date: date
    customers: list[dict] = field(default_factory=list)
    transaction_types: list[dict] = field(default_factory=list)
    transactions: list[dict] = field(default_factory=list)
    dirty_by_kind: Counter = field(default_factory=Counter)
    duplicates: int = 0
    valid_ids: set[str] = field(default_factory=set)

    def control_totals(self) -> dict:
        """Control totals over the valid, distinct transactions (what silver must hold)."""
        totals: dict[str, dict[str, dict]] = {}
        seen: set[str] = set()
        for tx in self.transactions:
            tid = tx["transaction_id"]
            if tid not in self.valid_ids or tid in seen:
                continue
            seen.add(tid)
            cell = totals.setdefault(tx["currency"], {}).setdefault(
                tx["transaction_type"], {"count": 0, "amount_minor": 0}
            )
            cell["count"] += 1
            cell["amount_minor"] += to_minor_units(tx["amount"], tx["currency"])
        return {
            "transactions": {
                "records": len(self.transactions),
                "valid": len(seen),
                "duplicates": self.duplicates,
                "dirty": sum(self.dirty_by_kind.values()),
                "dirty_by_kind": dict(sorted(self.dirty_by_kind.items())),
                "by_currency_type": totals,
            },
            "customers": {"records": len(self.customers)},
            "transaction_types": {"records": len(self.transaction_types)},
        }


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _amount(rng: random.Random, currency: str) -> str:
    low, high = AMOUNT_RANGE[currency]
    exponent = CURRENCY_EXPONENTS[currency]
    minor = rng.randint(low * 10**exponent, high * 10**exponent)
    return str(Decimal(minor).scaleb(-exponent))


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def customer_record(fake: Faker, customer_id: str, as_of: datetime, rng: random.Random) -> dict:
    """A customer's record as of a batch. Identity is stable per id; location sometimes moves."""
    fake.seed_instance(customer_id)
    name = fake.name()
    created = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(
        seconds=fake.random_int(0, 3 * 365 * 86400)
    )
    location = fake.city()
    if rng.random() < 0.1:  # the customer moved: this batch records the new city
        fake.seed_instance(f"{customer_id}/{as_of.isoformat()}")
        location = fake.city()
    local = name.lower().replace(" ", ".").replace("'", "")
    return {
        "customer_id": customer_id,
        "name": name,
        "email": f"{local}.{customer_id.lower()}@example.com",
        "location": location,
        "created_at": _iso(min(created, as_of)),
        "updated_at": _iso(as_of),
    }


def generate_batch(
    batch_date: date,
    batch_id: str,
    size: int = 1000,
    dirty_rate: float = 0.0,
    customer_pool: int = 200,
) -> Batch:
    """Generate one batch. `size` counts transaction records, dirty ones and duplicates included."""
    if size < 0:
        raise ValueError("batch size must be >= 0")
    if not 0.0 <= dirty_rate <= 1.0:
        raise ValueError("dirty_rate must be between 0 and 1")
    rng = random.Random(f"{batch_date.isoformat()}/{batch_id}")
    batch = Batch(batch_id=batch_id, batch_date=batch_date)
    day_start = datetime.combine(batch_date, time(0), tzinfo=UTC)
    as_of = day_start + timedelta(seconds=rng.randint(0, 86399))

    batch.transaction_types = [
        {"type_id": str(i + 1), "type_name": name} for i, name in enumerate(TRANSACTION_TYPES)
    ]

    n_dirty = round(size * dirty_rate)
    n_dup = min(round(size * dirty_rate / 2), max(size - n_dirty, 0) // 2)
    n_clean = max(size - n_dirty - n_dup, 0)
    customers_used: set[str] = set()
    for i in range(n_clean + n_dirty):
        customer_id = f"C{rng.randint(1, customer_pool):06d}"
        currency = _weighted(rng, CURRENCY_WEIGHTS)
        occurred = day_start + timedelta(seconds=rng.randint(0, 86399))
        if rng.random() < LATE_EVENT_SHARE:
            occurred -= timedelta(days=rng.randint(1, 3))
        tx = {
            "transaction_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "customer_id": customer_id,
            "occurred_at": _iso(occurred),
            "amount": _amount(rng, currency),
            "currency": currency,
            "transaction_type": _weighted(rng, TYPE_WEIGHTS),
        }
        if i >= n_clean:
            kind = DIRTY_KINDS[(i - n_clean) % len(DIRTY_KINDS)]
            _make_dirty(tx, kind)
            batch.dirty_by_kind[kind] += 1
        else:
            batch.valid_ids.add(tx["transaction_id"])
        if tx["customer_id"]:
            customers_used.add(tx["customer_id"])
        batch.transactions.append(tx)
    for _ in range(n_dup):  # exact re-sends of earlier good records (at-least-once producers)
        batch.transactions.append(dict(batch.transactions[rng.randrange(n_clean)]))
        batch.duplicates += 1
    rng.shuffle(batch.transactions)
    fake = Faker()
    batch.customers = [customer_record(fake, c, as_of, rng) for c in sorted(customers_used)]
    return batch


def _make_dirty(tx: dict, kind: str) -> None:
    if kind == "amount_not_positive":
        tx["amount"] = "-" + tx["amount"]
    elif kind == "amount_not_a_number":
        tx["amount"] = "12,50"
    elif kind == "amount_too_precise":
        tx["amount"] = tx["amount"] + "001" if "." in tx["amount"] else tx["amount"] + ".5"
    elif kind == "currency_not_allowed":
        tx["currency"] = "XTS"
    elif kind == "type_not_allowed":
        tx["transaction_type"] = "gift"
    elif kind == "occurred_at_invalid":
        tx["occurred_at"] = "31/02/2026 25:61"
    elif kind == "customer_id_missing":
        tx["customer_id"] = ""
    else:  # pragma: no cover - guarded by DIRTY_KINDS
        raise ValueError(kind)
