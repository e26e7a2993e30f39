"""Parse landing files (JSON Lines, CSV, Parquet; optionally gzip-compressed) into raw text records.

Values are kept as received, as text (numbers keep their exact digits: JSON numbers are never
turned into floats). A record that cannot be parsed is kept too, with the reason and its raw text,
so silver can quarantine it; nothing in a file is silently dropped, and one bad record never
rejects the good records around it.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import json
import lzma
import sys
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

#: CSV fields can be as long as a line can be (the csv module's default limit is 128 KiB).
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
#: Compressed files are recognised by their magic bytes, whatever their name says.
COMPRESSIONS = (
    (b"\x1f\x8b", "gzip", gzip.decompress),
    (b"BZh", "bzip2", bz2.decompress),
    (b"\xfd7zXZ\x00", "xz", lzma.decompress),
)


@dataclass
class ParsedFile:
    #: One dict per record: column -> text value (None for JSON null / missing).
    records: list[dict[str, str | None]] = field(default_factory=list)
    #: The record number of each record in the file (1-based; JSON Lines: line number).
    lines: list[int] = field(default_factory=list)
    #: (record number, reason, raw text) for every record that could not be parsed.
    errors: list[tuple[int, str, str]] = field(default_factory=list)


class RecordError(ValueError):
    """One record is not acceptable as it is (the reason is the message)."""


def _checked(text: str) -> str:
    """Text that can be stored as UTF-8 (JSON may escape lone surrogates such as "\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RecordError("text with an unpaired UTF-16 surrogate escape") from None
    return text


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _checked(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest text that round-trips (Parquet float columns)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise RecordError("a binary value that is not UTF-8 text") from None
    return _checked(json.dumps(value, ensure_ascii=False, default=str))


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(body: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), or UTF-16/32 announced by their byte-order
    mark. Any other encoding cannot be told apart reliably and is rejected as not UTF-8."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(encoding)
    return body.decode("utf-8-sig")


def _object_without_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dups = sorted({k for k, _ in pairs if k in seen or seen.add(k)})
        raise RecordError(f"duplicate key(s) {dups}: which value is meant is ambiguous")
    return obj


def _lines(text: str):
    """Physical lines split on \\n only (str.splitlines would also split inside JSON strings on
    U+2028, U+0085, form feeds ...). A trailing \\r (CRLF files) is dropped; a file with only
    \\r line ends (old Mac exports) is split on \\r."""
    if "\n" not in text and "\r" in text:
        text = text.replace("\r", "\n")
    for lineno, line in enumerate(text.split("\n"), start=1):
        yield lineno, line[:-1] if line.endswith("\r") else line


def _parse_json_array(text: str) -> ParsedFile | None:
    """A whole-file JSON array of objects (what many exporters write instead of JSON Lines);
    None if the file is not one. Record numbers are 1-based positions in the array."""
    if not text.lstrip().startswith("["):
        return None
    try:
        items = json.loads(text, parse_float=str, parse_int=str)
    except (json.JSONDecodeError, RecursionError):
        return None  # e.g. one JSON Lines record per line that happens to be an array
    if not isinstance(items, list):
        return None
    out = ParsedFile()
    for recno, item in enumerate(items, start=1):
        try:
            if not isinstance(item, dict):
                raise RecordError("not a JSON object")
            out.records.append({_checked(str(k)): _text(v) for k, v in item.items()})
            out.lines.append(recno)
        except RecordError as e:
            out.errors.append((recno, str(e), json.dumps(item, ensure_ascii=False)[:10_000]))
    return out


#: One decoder for every line: number text kept exactly as written, duplicate keys refused.
_DECODER = json.JSONDecoder(
    parse_float=str, parse_int=str, object_pairs_hook=_object_without_duplicate_keys
)


def _record(obj: dict, line: str) -> dict[str, str | None]:
    """A parsed JSON object as text values. Text from valid UTF-8 can only hold an unpaired
    surrogate through a `\\u` escape: lines without one skip the per-value check."""
    if "\\u" not in line and all(type(v) is str for v in obj.values()):
        return obj  # keys and values are already text that UTF-8 can store
    return {_checked(str(k)): _text(v) for k, v in obj.items()}


def parse_jsonl(body: bytes) -> ParsedFile:
    text = _decode(body)
    as_array = _parse_json_array(text)
    if as_array is not None:
        return as_array
    out = ParsedFile()
    for lineno, line in _lines(text):
        if not line.strip():
            continue
        try:
            if line.startswith("\ufeff"):  # json.loads' own check, which decode() skips
                raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", line, 0)
            obj = _DECODER.decode(line)
            if not isinstance(obj, dict):
                raise RecordError("not a JSON object")
            record = _record(obj, line)
        except json.JSONDecodeError as e:
            out.errors.append((lineno, f"invalid JSON: {e.msg} at column {e.colno}", line))
            continue
        except RecursionError:
            out.errors.append((lineno, "JSON nested too deeply", line[:10_000]))
            continue
        except RecordError as e:
            out.errors.append((lineno, str(e), line))
            continue
        out.records.append(record)
        out.lines.append(lineno)
    return out


def parse_csv(body: bytes) -> ParsedFile:
    out = ParsedFile()
    reader = csv.reader(io.StringIO(_decode(body), newline=""), strict=True)
    recno = 0
    try:
        header = next(reader, None)
        if header is None:
            return out
        header = [h.strip() for h in header]
        dups = sorted({h for h in header if header.count(h) > 1})
        if dups:
            return ParsedFile(
                errors=[(0, f"duplicate column name(s) {dups} in the CSV header", ",".join(header))]
            )
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
    except csv.Error as e:
        # The reader cannot resynchronise after a malformed quote; keep what came before.
        out.errors.append((recno + 1, f"malformed CSV from this record on: {e}", ""))
    return out


def parse_parquet(body: bytes) -> ParsedFile:
    import pyarrow.parquet as pq

    out = ParsedFile()
    table = pq.read_table(io.BytesIO(body))
    for recno, row in enumerate(table.to_pylist(), start=1):
        try:
            out.records.append({k: _text(v) for k, v in row.items()})
            out.lines.append(recno)
        except RecordError as e:
            out.errors.append((recno, str(e), ""))
    return out


PARSERS = {"jsonl": parse_jsonl, "csv": parse_csv, "parquet": parse_parquet}


def parse(body: bytes, fmt: str) -> ParsedFile:
    """Parse a whole file. A file that cannot be read at all becomes one error at record 0."""
    for magic, name, decompress in COMPRESSIONS:
        if body.startswith(magic):
            try:
                body = decompress(body)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as e:
                return ParsedFile(errors=[(0, f"corrupt {name} data: {e}", "")])
            break
    if not body.strip():
        return ParsedFile(errors=[(0, "empty file", "")])
    try:
        return PARSERS[fmt](body)
    except UnicodeDecodeError as e:
        return ParsedFile(errors=[(0, f"not UTF-8 text: {e.reason} at byte {e.start}", "")])
    except Exception as e:  # a corrupt Parquet file, ...
        return ParsedFile(errors=[(0, f"unreadable {fmt} file: {e}", "")])
