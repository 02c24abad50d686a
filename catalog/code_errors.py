"""Credit-code errors listed by the authority that issued the code, for feedback to it.

`precredit data check` counts the failing and duplicated codes of `entities`
(`catalog.quality`); this lists them, grouped by position 1 of the code, the registration
authority (GB 32100-2015): 机构编制 (编办), 民政, 工商 (today 市场监管)... A code whose
position 1 is no authority at all goes under "unknown". The same checks as import and quality
(`catalog.validate.code_reasons`), so the totals equal the quality report's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from catalog import uscc
from catalog.store import Connection
from catalog.validate import FLAGGED_CODE_REASONS, code_reasons

UNKNOWN = "?"
# The department that receives the feedback today, where its name changed since the standard.
FEEDBACK_TO: dict[str, tuple[str, str]] = {
    "1": ("编办", "establishment office (编办)"),
    "5": ("民政", "civil affairs (民政)"),
    "9": ("市场监管", "market regulation (市场监管, formerly 工商)"),
}
_FIRST_VERSIONS = """
SELECT uscc, name, division
FROM entities WHERE version = 1"""


@dataclass(frozen=True)
class CodeError:
    """One entity's code that fails a check, or is registered more than once."""

    uscc: str
    name: str
    division: str
    reason: str  # a `catalog.uscc` reason, or "duplicate"
    flagged: bool  # an early pilot code kept and flagged (check characters), not rejected


@dataclass
class AuthorityErrors:
    """The failing codes one authority issued."""

    authority: str
    name_zh: str
    name_en: str
    errors: list[CodeError] = field(default_factory=list)


def _authority(code: str) -> tuple[str, str, str]:
    first = code[:1] if code[:1] in uscc.AUTHORITIES else UNKNOWN
    if first in FEEDBACK_TO:
        return first, *FEEDBACK_TO[first]
    known = uscc.AUTHORITIES.get(first)
    return (first, known.name_zh, known.name_en) if known else (UNKNOWN, "未知", "unknown")


def code_errors(con: Connection) -> list[AuthorityErrors]:
    """Every failing or duplicated code of `entities`, by issuing authority, most errors first."""
    rows = con.execute(_FIRST_VERSIONS + " ORDER BY uscc").fetchall()
    checked = code_reasons(str(row[0]) for row in rows).column("reason").to_pylist()
    groups: dict[str, AuthorityErrors] = {}
    seen: set[str] = set()
    for (code, name, division), reason in zip(rows, checked, strict=True):
        why = "duplicate" if code in seen else reason
        seen.add(code)
        if why is None:
            continue
        key, zh, en = _authority(str(code))
        group = groups.setdefault(key, AuthorityErrors(key, zh, en))
        group.errors.append(CodeError(code, name, division, why, why in FLAGGED_CODE_REASONS))
    return sorted(groups.values(), key=lambda g: (-len(g.errors), g.authority))


def to_dict(found: list[AuthorityErrors]) -> dict[str, object]:
    """JSON-ready: the total, then each authority with its codes."""
    return {
        "total": sum(len(g.errors) for g in found),
        "by_authority": [asdict(g) for g in found],
    }
