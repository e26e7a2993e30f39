import io

import pyarrow as pa
import pyarrow.parquet as pq

from medallion_dagster.readers import parse


def test_jsonl_keeps_numbers_exact_and_reports_bad_lines():
    body = (
        b'{"transaction_id": "t1", "amount": 12345678901234567.89, "n": 7}\n'
        b"\n"
        b'{"transaction_id": "t2", "amount": "0.10", "flag": true, "x": null}\n'
        b'{"transaction_id": "t3", "amou\n'
        b"[1, 2]\n"
    )
    parsed = parse(body, "jsonl")
    assert parsed.records == [
        {"transaction_id": "t1", "amount": "12345678901234567.89", "n": "7"},
        {"transaction_id": "t2", "amount": "0.10", "flag": "true", "x": None},
    ]
    assert parsed.lines == [1, 3]
    assert [(line, raw) for line, _, raw in parsed.errors] == [
        (4, '{"transaction_id": "t3", "amou'),
        (5, "[1, 2]"),
    ]
    assert "invalid JSON" in parsed.errors[0][1]


def test_csv_with_bom_crlf_and_ragged_rows():
    body = '\ufeffid,amount\r\na,1.50\r\n\r\nb,2.00,extra\r\nc,"3,5"\r\n'.encode()
    parsed = parse(body, "csv")
    assert parsed.records == [{"id": "a", "amount": "1.50"}, {"id": "c", "amount": "3,5"}]
    assert parsed.lines == [1, 4]
    assert parsed.errors[0][0] == 3 and "3 fields" in parsed.errors[0][1]


def test_header_only_csv_is_an_empty_batch():
    parsed = parse(b"transaction_id,amount\n", "csv")
    assert parsed.records == [] and parsed.errors == []


def test_empty_and_undecodable_files_are_one_error():
    assert parse(b"", "jsonl").errors[0][1] == "empty file"
    assert "not UTF-8" in parse(b'{"a": "\xff"}\n', "jsonl").errors[0][1]
    assert "unreadable parquet" in parse(b"not parquet at all", "parquet").errors[0][1]


def test_parquet_values_become_text():
    from decimal import Decimal

    table = pa.table(
        {
            "id": ["a", "b"],
            "amount": pa.array([Decimal("1.10"), Decimal("2.25")], pa.decimal128(10, 2)),
            "qty": [1, None],
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    parsed = parse(buf.getvalue(), "parquet")
    assert parsed.records == [
        {"id": "a", "amount": "1.10", "qty": "1"},
        {"id": "b", "amount": "2.25", "qty": None},
    ]
