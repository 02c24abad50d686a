"""The data quality report of a platform store: plain data, a JSON-ready dict and a text table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

TARGET_PER_10K = 0.5
"""Platform target: unified social credit code error/duplicate rate below 0.5 per 10,000."""
LATE_AFTER_DAYS = 30


@dataclass
class IngestLag:
    """Days from a record's first event date to its ingest date, over first versions only.

    Percentiles are nearest-rank (the value at rank ceil(q * n)), so they are actual lags.
    """

    rows: int
    p50: int | None
    p90: int | None
    p99: int | None
    max: int | None
    late_rows: int
    late_share: float | None
    late_after_days: int = LATE_AFTER_DAYS


@dataclass
class TableQuality:
    """Findings on one catalog or bank table; None where a measure does not apply."""

    table: str
    kind: str
    rows: int
    completeness: dict[str, float | None]
    complete_required_share: float | None
    valid_rows: int
    valid_share: float | None
    invalid_reasons: dict[str, int]
    flagged_code_rows: int | None
    orphans: int | None
    corrected: int | None
    retracted: int | None
    ingest_lag: IngestLag | None = None
    missing_months: int | None = None
    entities_with_gaps: int | None = None


@dataclass
class CodeQuality:
    """Unified social credit codes of `entities` against the platform's 0.5/10,000 target."""

    distinct_codes: int
    flagged_codes: int
    invalid_codes: int
    duplicate_codes: int
    code_error_dup_rate_per_10k: float | None
    target_per_10k: float = TARGET_PER_10K
    meets_target: bool | None = None


@dataclass
class QualityReport:
    """Everything `precredit data check` reports."""

    tables: list[TableQuality]
    codes: CodeQuality
    quarantine: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def quarantine_rows(self) -> int:
        """Rows in the quarantine table."""
        return sum(sum(reasons.values()) for reasons in self.quarantine.values())

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict with stable keys."""
        return {
            "tables": [asdict(t) for t in self.tables],
            "codes": asdict(self.codes),
            "quarantine": {"rows": self.quarantine_rows, "by_table": self.quarantine},
        }

    def render_text(self) -> str:
        """A readable report: one aligned line per table, then codes and quarantine."""
        return "\n".join(
            [*_table_lines(self.tables), "", *_code_lines(self.codes), "", *_quarantine_lines(self)]
        )


_HEADER = (
    ("table", "<22"), ("rows", ">12"), ("complete", ">9"), ("valid", ">8"), ("orphans", ">10"),
    ("corrected", ">10"), ("retracted", ">10"), ("lag p50", ">8"), ("lag p99", ">8"),
    ("late", ">7"), ("gaps", ">10"),
)  # fmt: skip


def _table_lines(tables: list[TableQuality]) -> list[str]:
    header = " ".join(f"{name:{spec}}" for name, spec in _HEADER)
    lines = ["Tables (lag in days from event to ingest; late = later than 30 days)", header]
    for t in tables:
        lag = t.ingest_lag
        cells = (
            t.table,
            _int(t.rows),
            _pct(t.complete_required_share),
            _pct(t.valid_share),
            _int(t.orphans),
            _int(t.corrected),
            _int(t.retracted),
            _int(lag.p50 if lag else None),
            _int(lag.p99 if lag else None),
            _pct(lag.late_share if lag else None),
            _int(t.missing_months),
        )
        lines.append(
            " ".join(f"{cell:{spec}}" for cell, (_, spec) in zip(cells, _HEADER, strict=True))
        )
    return lines


def _code_lines(codes: CodeQuality) -> list[str]:
    rate = codes.code_error_dup_rate_per_10k
    verdict = {True: "meets target", False: "MISSES target", None: "no entities"}
    return [
        "Entity codes",
        f"  {'distinct codes':<30}{_int(codes.distinct_codes):>12}",
        f"  {'flagged (check characters)':<30}{_int(codes.flagged_codes):>12}",
        f"  {'invalid (other rules)':<30}{_int(codes.invalid_codes):>12}",
        f"  {'duplicate version-1 rows':<30}{_int(codes.duplicate_codes):>12}",
        f"  {'error/duplicate per 10,000':<30}{'-' if rate is None else f'{rate:,.2f}':>12}"
        f"  (target < {codes.target_per_10k}: {verdict[codes.meets_target]})",
    ]


def _quarantine_lines(report: QualityReport) -> list[str]:
    lines = [f"Quarantine: {_int(report.quarantine_rows)} rows"]
    for table, reasons in report.quarantine.items():
        lines += [f"  {table:<22} {reason:<40} {_int(n):>10}" for reason, n in reasons.items()]
    return lines


def _int(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
