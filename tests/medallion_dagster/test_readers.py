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


def test_one_bad_json_record_never_rejects_its_neighbours():
    deep = "[" * 100_000 + "]" * 100_000
    body = "\n".join(
        [
            '{"id": "a"}',
            '{"id": "S1\\ud800"}',  # a lone surrogate escape: not storable text
            '{"id": "b", "id": "c"}',  # duplicate key: ambiguous
            '{"id": ' + deep + "}",  # nested too deeply for the parser
            '{"id": "d\u2028e"}',  # U+2028 inside a string is valid JSON, not a line break
            '{"id": "f"}',
        ]
    ).encode()
    parsed = parse(body, "jsonl")
    assert [r["id"] for r in parsed.records] == ["a", "d\u2028e", "f"]
    assert parsed.lines == [1, 5, 6]
    reasons = {line: reason for line, reason, _ in parsed.errors}
    assert "surrogate" in reasons[2]
    assert "duplicate key" in reasons[3]
    assert "nested too deeply" in reasons[4]


def test_csv_duplicate_header_is_a_file_error_not_a_silent_choice():
    parsed = parse(b"id,amount,amount\na,1.00,99.99\n", "csv")
    assert parsed.records == []
    assert "duplicate column name(s) ['amount']" in parsed.errors[0][1]


def test_csv_long_fields_and_malformed_quotes():
    long_value = "x" * 300_000
    parsed = parse(f"id,note\na,{long_value}\nb,ok\n".encode(), "csv")
    assert [r["id"] for r in parsed.records] == ["a", "b"]
    broken = parse(b'id,note\na,fine\nb,"unterminated\n', "csv")
    assert [r["id"] for r in broken.records] == ["a"]  # rows before the damage are kept
    assert broken.errors and broken.errors[0][0] == 2


def test_gzip_files_are_read_and_corrupt_gzip_is_reported():
    import gzip

    parsed = parse(gzip.compress(b'{"id": "z"}\n'), "jsonl")
    assert parsed.records == [{"id": "z"}]
    assert "corrupt gzip" in parse(b"\x1f\x8b\x08garbage", "jsonl").errors[0][1]


def test_utf16_and_utf32_with_a_byte_order_mark_are_decoded():
    text = "id,name\na,Zoë ✓\n"
    for encoding in ("utf-16", "utf-16-be", "utf-32"):
        body = text.encode(encoding)
        if not body.startswith((b"\xff\xfe", b"\xfe\xff")):
            body = "\ufeff".encode(encoding) + body  # the -be codecs write no BOM themselves
        assert parse(body, "csv").records == [{"id": "a", "name": "Zoë ✓"}], encoding


def test_latin1_without_a_mark_is_rejected_as_not_utf8():
    assert "not UTF-8" in parse("id\nZoë\n".encode("latin-1"), "csv").errors[0][1]


def test_a_json_array_file_is_read_as_records():
    body = b'[\n  {"id": "a", "amount": 1.10},\n  {"id": "b"},\n  42\n]\n'
    parsed = parse(body, "jsonl")
    assert parsed.records == [{"id": "a", "amount": "1.10"}, {"id": "b"}]
    assert parsed.lines == [1, 2]
    assert parsed.errors[0][:2] == (3, "not a JSON object")
    # one array per line is still JSON Lines (each line a bad record), not an array file
    assert len(parse(b"[1]\n[2]\n", "jsonl").errors) == 2
