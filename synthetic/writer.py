"""Turn the generator's column arrays into rows of the store (codes joined, ids and texts in SQL)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from catalog import schema
from catalog.store import Connection
from synthetic.finance import Frame
from synthetic.timeline import Timeline, lagged

PREFIX = {
    "registration_changes": "RC", "penalties": "PE", "licences": "LI", "court_debtors": "CD",
    "abnormal_operations": "AB", "serious_dishonesty": "SD", "tax_ratings": "TR",
    "tax_payments": "TP", "social_insurance": "SI", "utilities": "UT", "honours": "HO",
    "commitments": "CM", "reorganisation_plans": "RP",
}  # fmt: skip
_AUTHORITY = {
    "market": "汕尾市市场监督管理局", "tax": "国家税务总局汕尾市税务局", "environment": "汕尾市生态环境局",
    "work_safety": "汕尾市应急管理局", "food_drug": "汕尾市市场监督管理局",
    "labour": "汕尾市人力资源和社会保障局", "fire": "汕尾市消防救援支队", "transport": "汕尾市交通运输局",
    "construction": "汕尾市住房和城乡建设局", "customs": "汕尾海关",
}  # fmt: skip
_COURTS = {"441521": "海丰县人民法院", "441523": "陆河县人民法院", "441581": "陆丰市人民法院"}


def _case(column: str, mapping: dict[str, str], default: str) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items())
    return f"CASE {column} {whens} ELSE '{default}' END"


DERIVED: dict[str, dict[str, str]] = {
    "penalties": {
        "decision_no": "'汕罚〔' || year(decision_date) || '〕' || seq || '号'",
        "authority": _case("domain", _AUTHORITY, "汕尾市市场监督管理局"),
    },
    "licences": {
        "doc_no": "'汕许〔' || year(decision_date) || '〕' || seq || '号'",
        "authority": "'汕尾市政务服务数据管理局'",
    },
    "court_debtors": {
        "court": _case("substr(c.uscc, 3, 6)", _COURTS, "汕尾市城区人民法院"),
        "case_no": "'(' || year(filing_date) || ')粤15执' || seq || '号'",
    },
    "abnormal_operations": {"authority": "'汕尾市市场监督管理局'"},
    "serious_dishonesty": {"authority": "'汕尾市发展和改革局'"},
    "honours": {
        "authority": _case(
            "honour_type",
            {"a_taxpayer": "国家税务总局汕尾市税务局", "customs_aeo": "汕尾海关"},
            "汕尾市市场监督管理局",
        ),
    },
    "commitments": {"accepting_body": "'汕尾市政务服务数据管理局'"},
    "reorganisation_plans": {
        "court": "'汕尾市中级人民法院'",
        "case_no": "'(' || year(accepted_date) || ')粤15破' || seq || '号'",
    },
}


def record_id(table: str, chunk: int, seq: np.ndarray) -> np.ndarray:
    """The record ids the writer gives rows `seq` of one chunk (for the defects ledger)."""
    return np.array([f"{PREFIX[table]}{chunk:04d}-{int(s):08d}" for s in seq], dtype=object)


def _arrow_column(column: schema.Column, values: np.ndarray) -> pa.Array:
    if column.enum is not None and np.issubdtype(values.dtype, np.integer):
        return pa.DictionaryArray.from_arrays(
            pa.array(values.astype(np.int32)), pa.array(column.enum)
        )
    if values.dtype.kind == "M":
        return pa.array(values.astype("datetime64[D]"), type=pa.date32())
    if values.dtype == object:
        return pa.array(values, type=pa.string())
    return pa.array(values)


def to_arrow(table: schema.Table, frame: Frame) -> pa.Table:
    """Arrow table of the frame's schema columns plus `eidx` and `seq`."""
    names = [c.name for c in table.columns if c.name in frame] + ["eidx", "seq"]
    arrays = [
        _arrow_column(table.column(n), frame[n]) if n not in ("eidx", "seq") else pa.array(frame[n])
        for n in names
    ]
    return pa.table(arrays, names=names)


def complete(
    frame: Frame, rng: np.random.Generator, timeline: Timeline, late_share: float
) -> Frame:
    """Add seq, version, retracted and ingest dates; drop what the platform cannot know yet."""
    n = len(frame["eidx"])
    frame = {
        "seq": np.arange(n),
        "version": np.ones(n, np.int64),
        "retracted": np.zeros(n, bool),
    } | frame
    frame["ingest_date"] = lagged(frame["event"], rng, late_share)
    known = frame["ingest_date"] <= timeline.end_date
    return {k: v[known] for k, v in frame.items()}


def insert(con: Connection, table: schema.Table, frame: Frame, chunk: int) -> int:
    """Insert one chunk's rows; uscc comes from the `_codes` mapping, ids and texts from SQL."""
    if len(frame["eidx"]) == 0:
        return 0
    derived = DERIVED.get(table.name, {})
    exprs = []
    for column in table.columns:
        if column.name == "uscc":
            exprs.append("c.uscc")
        elif column.name == "record_id":
            exprs.append(
                f"'{PREFIX[table.name]}{chunk:04d}-' || lpad(CAST(seq AS VARCHAR), 8, '0')"
            )
        elif column.name in derived:
            exprs.append(derived[column.name])
        else:
            exprs.append(f"i.{column.name}")
    con.register("_incoming", to_arrow(table, frame))
    try:
        con.execute(
            f"INSERT INTO {table.name} ({', '.join(table.column_names)}) "
            f"SELECT {', '.join(exprs)} FROM _incoming i JOIN _codes c USING (eidx)"
        )
    finally:
        con.unregister("_incoming")
    return len(frame["eidx"])
