"""Unified social credit codes: known codes, one test per reason, round trips, error detection."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog import uscc
from catalog.errors import InvalidUSCC

DOMAIN_VALID = (
    "91350100M000100Y43",
    "91310115591693856A",
    "91440300568520498A",
    "92340602MA2PBMEM24",
    "121200004013590816",
)
PROPERTY = settings(max_examples=200, derandomize=True, deadline=None)
STANDARD_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def reference_sum(first17: str) -> int:
    """The weighted sum of GB 32100-2015, written out from the standard's table."""
    return sum(
        uscc.CHARSET.index(char) * w for char, w in zip(first17, STANDARD_WEIGHTS, strict=True)
    )


def reference_org_check(body8: str) -> str:
    """GB 11714 as written: A=10 ... Z=35 (ord - 55), weights 3,7,9,10,5,8,4,2."""
    values = [int(char) if char.isdigit() else ord(char) - 55 for char in body8]
    c = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def with_check_chars(first16: str) -> str:
    """A code whose positions 17 and 18 are both correct for `first16`."""
    first17 = first16 + reference_org_check(first16[8:])
    return first17 + uscc.check_char(first17)


# --- known codes -------------------------------------------------------------------------


@pytest.mark.parametrize("code", DOMAIN_VALID)
def test_domain_valid_codes_pass_every_rule(code: str) -> None:
    verdict = uscc.check(code)
    assert (verdict.valid, verdict.reason, verdict.message) == (True, None, None)
    assert uscc.canonical(code) == code
    assert reference_org_check(code[8:16]) == code[16]


@pytest.mark.parametrize(
    ("code", "reason"),
    [("91110000600037341N", uscc.REASON_CHECK_CHAR), ("91350100M000100Y4Z", uscc.REASON_CHARSET)],
)
def test_domain_invalid_codes_fail_with_their_reason(code: str, reason: str) -> None:
    assert uscc.check(code).reason == reason
    assert not uscc.is_valid(code)
    with pytest.raises(InvalidUSCC) as caught:
        uscc.parse(code)
    assert caught.value.reason == reason


def test_worked_example_of_the_standard() -> None:
    assert reference_sum("91350100M000100Y4") == 1640
    assert uscc.check_char("91350100M000100Y4") == "3"


def test_parts_of_an_enterprise_code() -> None:
    parts = uscc.parse("91350100M000100Y43")
    assert (parts.authority, parts.entity_type, parts.division) == ("9", "1", "350100")
    assert (parts.org_code, parts.check) == ("M000100Y4", "3")
    assert (parts.entity_type_name_en, parts.entity_type_name_zh) == ("enterprise", "企业")
    assert parts.authority_name_en == "industry and commerce"


GB_32100_TYPES = {
    "1": "1239", "2": "19", "3": "123459", "4": "19", "5": "1239", "6": "129",
    "7": "129", "8": "19", "9": "123", "A": "19", "N": "1239", "Y": "1",
}  # fmt: skip


def test_authority_table_matches_the_standard() -> None:
    table = {key: "".join(authority.types) for key, authority in uscc.AUTHORITIES.items()}
    assert table == GB_32100_TYPES
    assert uscc.AUTHORITIES["9"].types["3"].name_zh == "农民专业合作社"
    assert uscc.AUTHORITIES["N"].types["2"].name_zh == "村级集体经济组织"


def test_borrower_types() -> None:
    assert sorted(uscc.BORROWER_TYPES) == ["91", "92", "93", "N1", "N2", "N3"]
    assert uscc.is_borrower_type(uscc.parse("92340602MA2PBMEM24"))
    assert uscc.is_borrower_type(uscc.parse(uscc.build("N", "2", "441521", "00000001")))
    assert not uscc.is_borrower_type(uscc.parse("121200004013590816"))
    assert not uscc.is_borrower_type(uscc.parse(uscc.build("5", "1", "441500", "00000001")))


# --- normalisation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "９１３５０１００Ｍ０００１００Ｙ４３",
        "91350100m000100y43",
        "  91350100M000100Y43\t\n",
        "\u300091350100M000100Y43\u3000",
        " ９１３５０１００ｍ０００１００ｙ４３ ",
    ],
)
def test_normalisation_yields_the_canonical_code(raw: str) -> None:
    assert uscc.canonical(raw) == "91350100M000100Y43"
    assert uscc.check(raw).code == "91350100M000100Y43"


def test_normalisation_removes_nothing_inside() -> None:
    assert uscc.normalize(" 9135 0100-M0 ") == "9135 0100-M0"
    assert uscc.check("91350100 M000100Y43").reason == uscc.REASON_LENGTH


# --- one test per reason -------------------------------------------------------------------

REASON_CASES = [
    ("", uscc.REASON_EMPTY),
    (" \u3000\t", uscc.REASON_EMPTY),
    ("91350100M000100Y4", uscc.REASON_LENGTH),
    ("91350100M000100Y433", uscc.REASON_LENGTH),
    ("91350100M000100O43", uscc.REASON_CHARSET),
    ("B1350100M000100Y43", uscc.REASON_AUTHORITY),
    ("94350100M000100Y43", uscc.REASON_ENTITY_TYPE),
    ("Y9350100M000100Y43", uscc.REASON_ENTITY_TYPE),
    ("9135A100M000100Y43", uscc.REASON_DIVISION),
    ("9135010AM000100Y43", uscc.REASON_DIVISION),
    ("91350100M000100Y5" + uscc.check_char("91350100M000100Y5"), uscc.REASON_ORG_CHECK),
    ("91350100M000100Y44", uscc.REASON_CHECK_CHAR),
]


def test_reason_cases_cover_every_reason() -> None:
    assert {reason for _, reason in REASON_CASES} == set(uscc.REASONS)
    assert len(uscc.REASONS) == len(set(uscc.REASONS)) == 8


@pytest.mark.parametrize(("raw", "reason"), REASON_CASES)
def test_each_reason(raw: str, reason: str) -> None:
    verdict = uscc.check(raw)
    assert (verdict.valid, verdict.reason, verdict.parts) == (False, reason, None)
    assert verdict.message
    if verdict.code:
        assert verdict.code not in verdict.message
    assert uscc.reasons_for([raw]) == [reason]


@pytest.mark.parametrize(("position", "char"), [(1, "I"), (5, "O"), (9, "S"), (12, "V"), (18, "Z")])
def test_charset_failure_names_the_position(position: int, char: str) -> None:
    code = "91350100M000100Y43"
    message = uscc.check(code[: position - 1] + char + code[position:]).message
    assert message is not None
    assert f"position {position} " in message


def test_check_char_message_does_not_reveal_the_expected_char() -> None:
    messages = {uscc.check("91350100M000100Y4" + char).message for char in "0124XY"}
    assert messages == {"check character (position 18) does not match the code"}


def test_missing_cells_count_as_empty() -> None:
    assert uscc.check(None).reason == uscc.REASON_EMPTY  # type: ignore[arg-type]
    assert uscc.reasons_for([float("nan"), "91350100M000100Y43"]) == ["empty", None]  # type: ignore[list-item]


# --- check characters ------------------------------------------------------------------------


def test_org_check_char_writes_ten_as_x_and_eleven_as_zero() -> None:
    assert uscc.org_check_char("40000000") == "X"
    assert uscc.org_check_char("00000000") == "0"
    assert uscc.org_check_char("M000100Y") == "4"


@pytest.mark.parametrize(
    ("function", "text", "reason"),
    [
        (uscc.check_char, "91350100M000100Y", uscc.REASON_LENGTH),
        (uscc.check_char, "91350100M000100I4", uscc.REASON_CHARSET),
        (uscc.org_check_char, "M000100", uscc.REASON_LENGTH),
        (uscc.org_check_char, "M00010-Y", uscc.REASON_CHARSET),
    ],
)
def test_check_char_functions_reject_bad_input(
    function: Callable[[str], str], text: str, reason: str
) -> None:
    with pytest.raises(InvalidUSCC) as caught:
        function(text)
    assert caught.value.reason == reason


@PROPERTY
@given(st.text(alphabet=uscc.CHARSET, min_size=17, max_size=17))
def test_check_char_follows_the_standard(first17: str) -> None:
    assert uscc.CHARSET.index(uscc.check_char(first17)) == -reference_sum(first17) % 31
    assert uscc.org_check_char(first17[:8]) == reference_org_check(first17[:8])


# --- build, round trips and error detection ----------------------------------------------------

TYPE_KEYS = sorted((a, t) for a, authority in uscc.AUTHORITIES.items() for t in authority.types)


@st.composite
def built_codes(draw: st.DrawFn) -> tuple[str, tuple[str, str, str, str]]:
    """A code built from random parts, with the parts."""
    authority, entity_type = draw(st.sampled_from(TYPE_KEYS))
    division = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    body = draw(st.text(alphabet=uscc.CHARSET, min_size=8, max_size=8))
    parts = (authority, entity_type, division, body)
    return uscc.build(*parts), parts


def test_build_the_worked_example() -> None:
    assert uscc.build("9", "1", "350100", "M000100Y") == "91350100M000100Y43"
    assert uscc.build("9", "2", "340602", "ma2pbmem") == "92340602MA2PBMEM24"


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        (("9", "1", "35010", "M000100Y"), uscc.REASON_LENGTH),
        (("9", "1", "3501000", "M000100"), uscc.REASON_LENGTH),
        (("9", "1", "350100", "M000100I"), uscc.REASON_CHARSET),
        (("B", "1", "350100", "M000100Y"), uscc.REASON_AUTHORITY),
        (("9", "4", "350100", "M000100Y"), uscc.REASON_ENTITY_TYPE),
        (("9", "1", "3501A0", "M000100Y"), uscc.REASON_DIVISION),
    ],
)
def test_build_rejects_bad_parts(parts: tuple[str, str, str, str], reason: str) -> None:
    with pytest.raises(InvalidUSCC) as caught:
        uscc.build(*parts)
    assert caught.value.reason == reason


@PROPERTY
@given(built_codes())
def test_built_codes_validate_and_parse_back(built: tuple[str, tuple[str, str, str, str]]) -> None:
    code, (authority, entity_type, division, body) = built
    parts = uscc.parse(code)
    assert (parts.authority, parts.entity_type, parts.division) == (
        authority,
        entity_type,
        division,
    )
    assert parts.org_code[:8] == body
    assert code == with_check_chars(code[:16])
    assert uscc.reasons_for([code, code.lower()]) == [None, None]


def assert_all_errors_caught(code: str) -> None:
    """Every substitution and every adjacent transposition of a valid code is rejected."""
    for i, original in enumerate(code):
        for char in uscc.CHARSET.replace(original, ""):
            assert not uscc.is_valid(code[:i] + char + code[i + 1 :]), (i, char)
    for i in range(len(code) - 1):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            assert not uscc.is_valid(swapped), i


@PROPERTY
@given(built_codes())
def test_single_errors_in_built_codes_are_caught(built: tuple[str, object]) -> None:
    assert_all_errors_caught(built[0])


@pytest.mark.parametrize("code", DOMAIN_VALID)
def test_single_errors_in_domain_codes_are_caught(code: str) -> None:
    assert_all_errors_caught(code)


def test_check_char_alone_catches_every_single_error() -> None:
    """Position 18 alone (the org check aside) catches every error in positions 1-17."""
    first17, check = "91350100M000100Y4", "3"
    for i, original in enumerate(first17):
        for char in uscc.CHARSET.replace(original, ""):
            assert uscc.check_char(first17[:i] + char + first17[i + 1 :]) != check, (i, char)
    for i in range(16):
        swapped = first17[:i] + first17[i + 1] + first17[i] + first17[i + 2 :]
        assert swapped == first17 or uscc.check_char(swapped) != check, i


# --- batch helpers and serialisation ------------------------------------------------------------


def test_reasons_for_agrees_with_check() -> None:
    raws = [raw for raw, _ in REASON_CASES] + list(DOMAIN_VALID)
    assert uscc.reasons_for(raws) == [verdict.reason for verdict in uscc.check_many(raws)]


def test_verdict_to_dict_is_json_ready() -> None:
    valid, invalid = uscc.check_many(["91350100M000100Y43", "91110000600037341N"])
    payload = json.loads(json.dumps([valid.to_dict(), invalid.to_dict()]))
    assert payload[0]["parts"]["entity_type_name_zh"] == "企业"
    assert payload[1] == {
        "code": "91110000600037341N",
        "valid": False,
        "reason": "check_char",
        "message": "check character (position 18) does not match the code",
        "parts": None,
    }
