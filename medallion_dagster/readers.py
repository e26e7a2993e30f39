"""Parse landing files (JSON Lines, CSV, Parquet) into raw text records for bronze.

Values are kept as received, as text (numbers keep their exact digits: JSON numbers are never
turned into floats). A record that cannot be parsed is kept too, with `_parse_error` and its raw
text, so silver can quarantine it with a reason; nothing in a file is silently dropped.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


@dataclass
class ParsedFile:
    #: One dict per record: column -> text value (None for JSON null / missing).
    records: list[dict[str, str | None]] = field(default_factory=list)
    #: The record number of each record in the file (1-based; JSON Lines: line number).
    lines: list[int] = field(default_factory=list)
    #: (record number, reason, raw text) for every record that could not be parsed.
    errors: list[tuple[int, str, str]] = field(default_factory=list)


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest text that round-trips (Parquet float columns)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, default=str)


def _decode(body: bytes) -> str:
    return body.decode("utf-8-sig")


def parse_jsonl(body: bytes) -> ParsedFile:
    out = ParsedFile()
    text = _decode(body)
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            # parse_float/parse_int keep the digits exactly as written
            obj = json.loads(line, parse_float=str, parse_int=str)
        except json.JSONDecodeError as e:
            out.errors.append((lineno, f"invalid JSON: {e.msg} at column {e.colno}", line))
            continue
        if not isinstance(obj, dict):
            out.errors.append((lineno, f"a JSON {type(obj).__name__}, not an object", line))
            continue
        out.records.append({str(k): _text(v) for k, v in obj.items()})
        out.lines.append(lineno)
    return out


def parse_csv(body: bytes) -> ParsedFile:
    out = ParsedFile()
    reader = csv.reader(io.StringIO(_decode(body), newline=""))
    header = next(reader, None)
    if header is None:
        return out
    header = [h.strip() for h in header]
    for recno, row in enumerate(reader, start=1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            out.errors.append(
                (recno, f"{len(row)} fields where the header has {len(header)}", ",".join(row))
            )
            continue
        out.records.append(dict(zip(header, row, strict=True)))
        out.lines.append(recno)
    return out


def parse_parquet(body: bytes) -> ParsedFile:
    import pyarrow.parquet as pq

    out = ParsedFile()
    table = pq.read_table(io.BytesIO(body))
    for recno, row in enumerate(table.to_pylist(), start=1):
        out.records.append({k: _text(v) for k, v in row.items()})
        out.lines.append(recno)
    return out


PARSERS = {"jsonl": parse_jsonl, "csv": parse_csv, "parquet": parse_parquet}


def parse(body: bytes, fmt: str) -> ParsedFile:
    """Parse a whole file. A file that cannot be read at all becomes one error at record 0."""
    if not body.strip():
        return ParsedFile(errors=[(0, "empty file", "")])
    try:
        return PARSERS[fmt](body)
    except UnicodeDecodeError as e:
        return ParsedFile(errors=[(0, f"not UTF-8 text: {e.reason} at byte {e.start}", "")])
    except Exception as e:  # a corrupt Parquet file, a broken CSV quote, ...
        return ParsedFile(errors=[(0, f"unreadable {fmt} file: {e}", "")])
