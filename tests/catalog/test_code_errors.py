"""Credit-code errors by issuing authority: the quality report's failing codes, listed."""

from __future__ import annotations

import shutil
from pathlib import Path

from catalog import store, uscc
from catalog.code_errors import code_errors, to_dict
from catalog.quality import check_store

CIVIL = uscc.build("5", "1", "441500", "MJ000001")  # a social organisation (民政)
MARKET = uscc.build("9", "1", "441502", "MA0AB12C")  # an enterprise (市场监管)


def _wrong_check(code: str) -> str:
    """The code with another check character (what an early pilot region issued)."""
    other = next(c for c in "0123456789ABCDEFGHJKLMNPQRTUWXY" if c != code[-1])
    return code[:-1] + other


def _add(con: store.Connection, code: str) -> None:
    con.execute("INSERT INTO entities SELECT * REPLACE (? AS uscc) FROM entities LIMIT 1", [code])


def test_totals_equal_the_quality_reports_failing_codes(tiny_store: Path) -> None:
    with store.connect(tiny_store, read_only=True) as con:
        codes = check_store(con).codes
        found = to_dict(code_errors(con))
    failing = codes.flagged_codes + codes.invalid_codes + codes.duplicate_codes
    assert found["total"] == failing
    for group in found["by_authority"]:
        issuers = {e["uscc"][:1] for e in group["errors"]}
        assert issuers == {group["authority"]} or group["authority"] == "?"


def test_each_error_is_listed_under_the_authority_that_issued_it(
    tiny_store: Path, tmp_path: Path
) -> None:
    path = tmp_path / "platform.duckdb"
    shutil.copy(tiny_store, path)
    with store.connect(path) as con:
        before = to_dict(code_errors(con))["total"]
        _add(con, _wrong_check(CIVIL))
        _add(con, MARKET)
        _add(con, MARKET)  # registered twice
        found = {g.authority: g for g in code_errors(con)}
        codes = check_store(con).codes
    civil = {e.uscc: e for e in found["5"].errors}
    assert (found["5"].name_zh, civil[_wrong_check(CIVIL)].reason) == ("民政", "check_char")
    assert civil[_wrong_check(CIVIL)].flagged
    market = [e for e in found["9"].errors if e.uscc == MARKET]
    assert found["9"].name_zh == "市场监管"
    assert [(e.reason, e.flagged) for e in market] == [("duplicate", False)]
    total = sum(len(g.errors) for g in found.values())
    assert total == before + 2
    assert total == codes.flagged_codes + codes.invalid_codes + codes.duplicate_codes
