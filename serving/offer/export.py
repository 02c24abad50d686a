"""The offers export: Parquet, CSV and JSON Lines with one documented schema (docs/offers.md).

`offer_document` is the one JSON form of an offer: a JSON Lines row, and the `offer` of a
webhook event. Files are written under a temporary name and renamed when complete, with a
manifest giving each file's SHA-256, so a reader never sees half an export.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import Engine

from catalog import uscc as codes
from serving.db import offers as offer_rows

SCHEMA_VERSION = 2  # 2: consent_id
REASON = pa.struct([("code", pa.string()), ("feature", pa.string()), ("text_zh", pa.string()),
                    ("text_en", pa.string()), ("value", pa.string()),
                    ("contribution", pa.float64()), ("direction", pa.string())])  # fmt: skip
EXPORT_SCHEMA = pa.schema([
    pa.field("offer_id", pa.string(), nullable=False),
    pa.field("uscc", pa.string(), nullable=False),
    pa.field("uscc_valid", pa.bool_(), nullable=False),
    pa.field("product", pa.string(), nullable=False),
    pa.field("decision", pa.string(), nullable=False),
    pa.field("limit_cny", pa.float64(), nullable=False),
    pa.field("pd", pa.float64(), nullable=False),
    pa.field("grade", pa.string(), nullable=False),
    pa.field("binding", pa.string(), nullable=False),
    pa.field("reasons", pa.list_(REASON), nullable=False),
    pa.field("valid_until", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("model_name", pa.string(), nullable=False),
    pa.field("model_version", pa.string(), nullable=False),
    pa.field("snapshot_as_of", pa.date32(), nullable=False),
    pa.field("input_hash", pa.string(), nullable=False),
    pa.field("consent_id", pa.string(), nullable=True),  # where the bank requires consent
])  # fmt: skip
COLUMNS = tuple(EXPORT_SCHEMA.names)
# CSV: reasons as their JSON text, times as ISO 8601 text, booleans true/false.
CSV_SCHEMA = pa.schema([
    pa.field(f.name, f.type if f.type in (pa.bool_(), pa.float64()) else pa.string(), f.nullable)
    for f in EXPORT_SCHEMA
])  # fmt: skip
FORMATS = ("parquet", "csv", "jsonl")


def offer_document(
    row: Mapping[Any, Any], reasons: list[dict[str, Any]], uscc_valid: bool | None = None
) -> dict[str, Any]:
    """An offer row as JSON: the export's columns (times ISO 8601, UTC) and its status.

    `uscc_valid`: whether the code passes GB 32100, when the caller already checked it.
    """
    return {
        "offer_id": row["id"],
        "uscc": row["uscc"],
        "uscc_valid": codes.is_valid(row["uscc"]) if uscc_valid is None else uscc_valid,
        "product": row["product"],
        "decision": row["decision"],
        "limit_cny": row["limit_cny"],
        "pd": row["pd"],
        "grade": row["grade"],
        "binding": row["binding"],
        "reasons": reasons,
        "valid_until": _iso(row["valid_until"]),
        "created_at": _iso(row["created_at"]),
        "model_name": row["model_name"],
        "model_version": row["model_version"],
        "snapshot_as_of": _iso(row["snapshot_as_of"]),
        "input_hash": row["input_hash"],
        "consent_id": row.get("consent_id"),
        "status": row["status"],
    }


def _iso(moment: dt.date) -> str:
    """ISO 8601 text of a date or time (a run's offers share a few: each is formatted once)."""
    return _iso_of(moment, getattr(moment, "tzinfo", None))


@functools.lru_cache(maxsize=256)
def _iso_of(moment: dt.date, zone: dt.tzinfo | None) -> str:
    # Equal times in other zones are equal keys: the zone is part of the key.
    return moment.isoformat()


def export_offers(
    engine: Engine, tenant_id: str, out_dir: Path, now: dt.datetime
) -> dict[str, Path]:
    """Write the tenant's active offers in every format plus a manifest; the paths by format.

    An offer's terms never change under its id, so the same active offer ids make the same
    files: when the latest export in `out_dir` was made from exactly these ids (its manifest's
    `offer_ids_sha256`), its files are hard-linked (or copied) instead of written again.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"offers-{tenant_id}-{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"
    paths = {kind: out_dir / f"{stem}.{kind}" for kind in FORMATS}
    parts = {kind: path.with_name(path.name + ".part") for kind, path in paths.items()}
    ids = offer_rows.active_ids_sha256(engine, tenant_id)
    previous = _previous(out_dir, tenant_id, ids)
    if previous is not None:
        rows = _copy(previous, parts)
    else:
        with _Writers(parts) as writers:
            for chunk in offer_rows.stream_active(engine, tenant_id):
                writers.write(chunk)
        rows = writers.rows
    for kind, path in paths.items():
        os.replace(parts[kind], path)
    manifest = _manifest(tenant_id, now, rows, paths) | {"offer_ids_sha256": ids}
    paths["manifest"] = out_dir / f"{stem}.manifest.json"
    paths["manifest"].write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return paths


def _previous(out_dir: Path, tenant_id: str, ids: str) -> tuple[int, dict[str, Path]] | None:
    """The latest export of the tenant in `out_dir` if it holds exactly the offers `ids`."""
    manifests = sorted(out_dir.glob(f"offers-{tenant_id}-*.manifest.json"))
    if not manifests:
        return None
    try:
        manifest = json.loads(manifests[-1].read_text(encoding="utf-8"))
        files = {kind: out_dir / manifest["files"][kind]["name"] for kind in FORMATS}
        same = manifest.get("offer_ids_sha256") == ids
        same = same and manifest.get("schema_version") == SCHEMA_VERSION
    except (OSError, ValueError, KeyError, TypeError):
        return None  # an unreadable manifest: write afresh
    if not same or not all(path.is_file() for path in files.values()):
        return None
    return int(manifest["rows"]), files


def _copy(previous: tuple[int, dict[str, Path]], parts: Mapping[str, Path]) -> int:
    """The files of an export with the same offers under the new names; its row count.

    A hard link where the file system allows (nothing written: an export is never changed in
    place), else a copy.
    """
    rows, files = previous
    for kind, part in parts.items():
        part.unlink(missing_ok=True)
        try:
            os.link(files[kind], part)
        except OSError:
            shutil.copyfile(files[kind], part)
    return rows


class _Writers:
    """The three open files, fed chunk by chunk."""

    def __init__(self, parts: Mapping[str, Path]) -> None:
        self.parts = parts
        self.rows = 0

    def __enter__(self) -> _Writers:
        self.parquet = pq.ParquetWriter(self.parts["parquet"], EXPORT_SCHEMA, compression="zstd")
        self.csv = pa_csv.CSVWriter(
            self.parts["csv"], CSV_SCHEMA, write_options=pa_csv.WriteOptions(quoting_style="needed")
        )
        self.jsonl: IO[bytes] = self.parts["jsonl"].open("wb")
        return self

    def write(self, chunk: Sequence[Mapping[Any, Any]]) -> None:
        """Append one chunk of offer rows to every file (built column by column)."""
        columns = _columns(chunk)
        texts = [row["reasons_json"] for row in chunk]
        self.parquet.write_table(_parquet_table(chunk, columns))
        csv_columns = columns | {"reasons": texts}
        self.csv.write_table(pa.Table.from_pydict(csv_columns, CSV_SCHEMA))
        self.jsonl.write(
            b"".join(
                orjson.dumps(dict(zip(COLUMNS, values, strict=True))) + b"\n"
                for values in zip(*(columns[c] for c in COLUMNS), strict=True)
            )
        )
        self.rows += len(chunk)

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.parquet.close()
        self.csv.close()
        self.jsonl.close()
        if kind is not None:  # no half export left behind
            for part in self.parts.values():
                part.unlink(missing_ok=True)


def _columns(chunk: Sequence[Mapping[Any, Any]]) -> dict[str, list[Any]]:
    """The export's columns of a chunk of offer rows, as `offer_document` gives them."""
    reasons = [orjson.loads(row["reasons_json"]) for row in chunk]
    renamed = {"offer_id": "id"}
    columns = {
        name: [row[renamed.get(name, name)] for row in chunk]
        for name in COLUMNS
        if name not in ("uscc_valid", "reasons")
    }
    for name in ("valid_until", "created_at", "snapshot_as_of"):
        columns[name] = [_iso(moment) for moment in columns[name]]
    valid = [codes.is_valid(code) for code in columns["uscc"]]
    return columns | {"uscc_valid": valid, "reasons": reasons}


def _parquet_table(chunk: Sequence[Mapping[Any, Any]], columns: dict[str, list[Any]]) -> pa.Table:
    """The chunk with Parquet's types: timestamps, a date, reason values as text."""
    typed = {
        name: [row[name] for row in chunk]
        for name in ("valid_until", "created_at", "snapshot_as_of")
    }
    reasons = _reasons_array(columns["reasons"])
    return pa.Table.from_pydict(columns | typed | {"reasons": reasons}, EXPORT_SCHEMA)


def _reasons_array(rows: Sequence[Sequence[Mapping[str, Any]]]) -> pa.Array:
    """Every offer's reasons as one list-of-struct array; a reason's value as text."""
    fields = [field.name for field in REASON]
    values: dict[str, list[Any]] = {name: [] for name in fields}
    offsets = [0]
    for reasons in rows:
        for reason in reasons:
            for name in fields:
                values[name].append(reason[name])
        offsets.append(len(values["code"]))
    values["value"] = [None if v is None else str(v) for v in values["value"]]
    items = pa.StructArray.from_arrays(
        [pa.array(values[f.name], f.type) for f in REASON], fields=list(REASON)
    )
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), items)


def _manifest(
    tenant_id: str, now: dt.datetime, rows: int, paths: Mapping[str, Path]
) -> dict[str, Any]:
    files = {
        kind: {"name": path.name, "bytes": path.stat().st_size, "sha256": _sha256(path)}
        for kind, path in paths.items()
    }
    return {
        "tenant_id": tenant_id,
        "exported_at": now.isoformat(),
        "rows": rows,
        "schema_version": SCHEMA_VERSION,
        "columns": list(COLUMNS),
        "files": files,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
