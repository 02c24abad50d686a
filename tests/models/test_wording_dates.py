"""Declines lead with the listing gate and the day its record was listed (zh/en)."""

from __future__ import annotations

import datetime as dt

from models import wording

AS_OF = dt.date(2025, 12, 31)


def test_a_court_listing_is_dated_from_its_days_listed() -> None:
    texts = [wording.gate_texts("gate:court_debtor"), wording.gate_texts("gate:min_age")]
    dated = wording.dated_gate_texts(
        ["gate:court_debtor", "gate:min_age"], texts, {"court_days_listed": 304.0}, AS_OF
    )
    assert dated[0] == (
        "2025年3月2日起被列为失信被执行人",
        "listed as a court debtor since 2025-03-02",
    )
    assert dated[1] == texts[1]  # no date behind the age gate


def test_lists_are_dated_and_a_missing_value_keeps_the_plain_text() -> None:
    failed = ["gate:serious_dishonesty", "gate:abnormal_operations"]
    texts = [wording.gate_texts(code) for code in failed]
    values = {"dis_days_listed": 0.0, "abn_days_listed": None}
    dated = wording.dated_gate_texts(failed, texts, values, AS_OF)
    assert dated[0][1] == "on the serious dishonesty list since 2025-12-31"
    assert dated[0][0].startswith("2025年12月31日起")
    assert dated[1] == texts[1]
    assert wording.dated_gate_texts(failed, texts, {}, AS_OF) == texts
