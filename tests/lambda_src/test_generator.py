from collections import Counter
from datetime import date

from lambda_src.contract import CURRENCY_EXPONENTS, TRANSACTION_TYPES, to_minor_units
from lambda_src.generator import DIRTY_KINDS, generate_batch


def test_same_date_and_id_give_the_same_batch():
    a = generate_batch(date(2026, 5, 1), "b1", size=200, dirty_rate=0.1)
    b = generate_batch(date(2026, 5, 1), "b1", size=200, dirty_rate=0.1)
    assert a.transactions == b.transactions
    assert a.customers == b.customers


def test_different_days_and_ids_differ():
    a = generate_batch(date(2026, 5, 1), "b1", size=50)
    b = generate_batch(date(2026, 5, 2), "b1", size=50)
    c = generate_batch(date(2026, 5, 1), "b2", size=50)
    ids = [{t["transaction_id"] for t in x.transactions} for x in (a, b, c)]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2])


def test_clean_batch_is_valid_under_the_contract():
    batch = generate_batch(date(2026, 5, 1), "clean", size=300)
    assert len(batch.transactions) == 300
    for tx in batch.transactions:
        assert tx["currency"] in CURRENCY_EXPONENTS
        assert tx["transaction_type"] in TRANSACTION_TYPES
        assert to_minor_units(tx["amount"], tx["currency"]) > 0
    referenced = {t["customer_id"] for t in batch.transactions}
    assert referenced == {c["customer_id"] for c in batch.customers}
    assert [t["type_name"] for t in batch.transaction_types] == list(TRANSACTION_TYPES)


def test_dirty_records_are_counted_by_kind_and_excluded_from_totals():
    batch = generate_batch(date(2026, 5, 1), "dirty", size=1000, dirty_rate=0.07)
    totals = batch.control_totals()["transactions"]
    assert totals["records"] == 1000
    assert totals["dirty"] == 70
    assert set(totals["dirty_by_kind"]) == set(DIRTY_KINDS)
    assert totals["duplicates"] == 35
    # valid = records - dirty - exact re-sends; the totals cover exactly the valid ones
    assert totals["valid"] == 1000 - 70 - 35
    counted = sum(c["count"] for cur in totals["by_currency_type"].values() for c in cur.values())
    assert counted == totals["valid"]
    ids = Counter(t["transaction_id"] for t in batch.transactions)
    assert sum(n - 1 for n in ids.values()) == 35


def test_some_events_are_late():
    batch = generate_batch(date(2026, 5, 10), "late", size=2000)
    days = {t["occurred_at"][:10] for t in batch.transactions}
    assert "2026-05-10" in days and len(days) > 1
