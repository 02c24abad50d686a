"""Unified social credit codes (统一社会信用代码): GB 32100-2015 with GB 11714 organisation codes.

A code has 18 characters from `CHARSET` (digits and capitals without I, O, S, V, Z):

    pos 1      registration authority, a key of `AUTHORITIES`
    pos 2      entity type, allowed only as listed for that authority
    pos 3-8    administrative division of the registering office (GB/T 2260), 6 digits
    pos 9-17   organisation code (GB 11714): 8 body characters and their check character
    pos 18     check character over positions 1-17

Position 18: characters are valued by their index in `CHARSET`, weighted by 3**(i-1) mod 31
(1, 3, 9, 27, 19, ..., 28); the check value (31 - sum mod 31) mod 31 maps back into `CHARSET`.
Position 17: body characters are valued 0-9, A=10 ... Y=34 and weighted 3, 7, 9, 10, 5, 8, 4, 2;
c = 11 - sum mod 11, written as a digit, with 10 -> 'X' and 11 -> '0'.

Input is normalised first (NFKC, so full-width characters become ASCII, then stripped and
upper-cased; nothing inside the code is removed). Validation reports the first failing rule
in the order of `REASONS`. Messages name positions but never echo the input or reveal an
expected check character. Early pilot regions issued codes that fail the checks: `check`
only reports them, keeping or flagging such entities is the caller's decision.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from operator import mul
from typing import Final, NamedTuple

from catalog.errors import InvalidUSCC

CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CODE_LENGTH: Final = 18

REASON_EMPTY: Final = "empty"
REASON_LENGTH: Final = "length"
REASON_CHARSET: Final = "charset"
REASON_AUTHORITY: Final = "authority"
REASON_ENTITY_TYPE: Final = "entity_type"
REASON_DIVISION: Final = "division"
REASON_ORG_CHECK: Final = "org_check"
REASON_CHECK_CHAR: Final = "check_char"
REASONS: Final = (
    REASON_EMPTY,
    REASON_LENGTH,
    REASON_CHARSET,
    REASON_AUTHORITY,
    REASON_ENTITY_TYPE,
    REASON_DIVISION,
    REASON_ORG_CHECK,
    REASON_CHECK_CHAR,
)


class EntityType(NamedTuple):
    """An entity type (position 2) under one registration authority."""

    name_zh: str
    name_en: str


class Authority(NamedTuple):
    """A registration authority (position 1) and the entity types it may register."""

    name_zh: str
    name_en: str
    types: Mapping[str, EntityType]


_OTHER: Final = EntityType("其他", "other")

AUTHORITIES: Final[Mapping[str, Authority]] = {
    "1": Authority("机构编制", "establishment administration", {
        "1": EntityType("机关", "government agency"),
        "2": EntityType("事业单位", "public institution"),
        "3": EntityType(
            "中央编办直接管理机构编制的群众团体",
            "mass organisation under the central establishment office",
        ),
        "9": _OTHER,
    }),
    "2": Authority("外交", "foreign affairs", {
        "1": EntityType("外国常驻新闻机构", "resident foreign news agency"),
        "9": _OTHER,
    }),
    "3": Authority("司法行政", "justice administration", {
        "1": EntityType("律师执业机构", "law firm"),
        "2": EntityType("公证处", "notary office"),
        "3": EntityType("基层法律服务所", "grassroots legal service office"),
        "4": EntityType("司法鉴定机构", "forensic appraisal institution"),
        "5": EntityType("仲裁委员会", "arbitration commission"),
        "9": _OTHER,
    }),
    "4": Authority("文化", "culture", {
        "1": EntityType("外国在华文化中心", "foreign cultural centre in China"),
        "9": _OTHER,
    }),
    "5": Authority("民政", "civil affairs", {
        "1": EntityType("社会团体", "social organisation"),
        "2": EntityType("民办非企业单位", "private non-enterprise unit"),
        "3": EntityType("基金会", "foundation"),
        "9": _OTHER,
    }),
    "6": Authority("旅游", "tourism", {
        "1": EntityType(
            "外国旅游部门常驻代表机构", "resident office of a foreign tourism authority"
        ),
        "2": EntityType(
            "港澳台地区旅游部门常驻内地(大陆)代表机构",
            "resident mainland office of a Hong Kong, Macao or Taiwan tourism authority",
        ),
        "9": _OTHER,
    }),
    "7": Authority("宗教", "religious affairs", {
        "1": EntityType("宗教活动场所", "place of religious activity"),
        "2": EntityType("宗教院校", "religious college"),
        "9": _OTHER,
    }),
    "8": Authority("工会", "trade unions", {
        "1": EntityType("基层工会", "grassroots trade union"),
        "9": _OTHER,
    }),
    "9": Authority("工商", "industry and commerce", {
        "1": EntityType("企业", "enterprise"),
        "2": EntityType("个体工商户", "individual business"),
        "3": EntityType("农民专业合作社", "farmer cooperative"),
    }),
    "A": Authority("中央军委改革和编制办公室", "CMC reform and establishment office", {
        "1": EntityType("军队事业单位", "military public institution"),
        "9": _OTHER,
    }),
    "N": Authority("农业", "agriculture", {
        "1": EntityType("组级集体经济组织", "group-level collective economic organisation"),
        "2": EntityType("村级集体经济组织", "village-level collective economic organisation"),
        "3": EntityType("乡镇级集体经济组织", "township-level collective economic organisation"),
        "9": _OTHER,
    }),
    "Y": Authority("其他", "other", {"1": _OTHER}),
}  # fmt: skip

BORROWER_TYPES: Final = frozenset({"91", "92", "93", "N1", "N2", "N3"})
"""Positions 1-2 of entities a bank may lend to: enterprises, individual businesses,
farmer cooperatives and rural collective economic organisations."""

_CHARS: Final = frozenset(CHARSET)
_VALUE: Final = {char: index for index, char in enumerate(CHARSET)}
_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))
_ORG_VALUE: Final = {char: int(char, 36) for char in CHARSET}
_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CHECK_CHARS: Final = "0123456789X0"  # indexed by c = 1..11: 10 is written X, 11 is 0

_Failure = tuple[str, str]


@dataclass(frozen=True, slots=True)
class USCCParts:
    """A valid code split into its fields, with the table names of positions 1-2."""

    code: str
    authority: str
    entity_type: str
    division: str
    org_code: str
    check: str
    authority_name_en: str
    entity_type_name_en: str
    entity_type_name_zh: str
    authority_name_zh: str


@dataclass(frozen=True, slots=True)
class USCCVerdict:
    """The outcome of checking one input: its normalised form and why it fails, if it does."""

    code: str
    valid: bool
    reason: str | None
    message: str | None
    parts: USCCParts | None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict; `parts` is a dict or None."""
        parts = asdict(self.parts) if self.parts is not None else None
        return {
            "code": self.code,
            "valid": self.valid,
            "reason": self.reason,
            "message": self.message,
            "parts": parts,
        }


def normalize(raw: str) -> str:
    """The input in canonical spelling: NFKC (full-width to ASCII), stripped, upper-cased."""
    return unicodedata.normalize("NFKC", raw).strip().upper()


def check_char(first17: str) -> str:
    """The position-18 check character for the first 17 characters of a code."""
    _require(first17, 17, "the first 17 characters of a credit code")
    return _check_char(first17)


def org_check_char(body8: str) -> str:
    """The GB 11714 check character (position 17) for the 8-character organisation body."""
    _require(body8, 8, "an organisation code body")
    return _org_check_char(body8)


def check(raw: str) -> USCCVerdict:
    """Validate one input; never raises, the verdict says why a code fails."""
    code = _normalize_any(raw)
    failure = _failure(code)
    if failure is None:
        return USCCVerdict(code, True, None, None, _parts(code))
    reason, message = failure
    return USCCVerdict(code, False, reason, message, None)


def check_many(codes: Iterable[str]) -> list[USCCVerdict]:
    """Validate every input, in order."""
    return [check(raw) for raw in codes]


def reasons_for(codes: Iterable[str]) -> list[str | None]:
    """The failure reason of every input, None for valid codes (fast path for bulk data)."""
    reasons: list[str | None] = []
    for raw in codes:
        failure = _failure(_normalize_any(raw))
        reasons.append(None if failure is None else failure[0])
    return reasons


def is_valid(raw: str) -> bool:
    """Whether the input is a valid code once normalised."""
    return _failure(_normalize_any(raw)) is None


def parse(raw: str) -> USCCParts:
    """The parts of a valid code; raises InvalidUSCC with a stable reason otherwise."""
    code = _normalize_any(raw)
    failure = _failure(code)
    if failure is not None:
        raise InvalidUSCC(*failure)
    return _parts(code)


def canonical(raw: str) -> str:
    """The canonical spelling of a valid code; raises InvalidUSCC otherwise."""
    return parse(raw).code


def build(authority: str, entity_type: str, division: str, org_body: str) -> str:
    """Assemble a valid code from its parts, computing both check characters."""
    sizes = (len(authority), len(entity_type), len(division), len(org_body))
    if sizes != (1, 1, 6, 8):
        raise InvalidUSCC(
            REASON_LENGTH,
            "authority, entity type, division and organisation body need 1, 1, 6 and 8 characters",
        )
    first16 = normalize(authority + entity_type + division + org_body)
    _require(first16, 16, "positions 1-16 of a credit code")
    first17 = first16 + _org_check_char(first16[8:])
    return canonical(first17 + _check_char(first17))


def is_borrower_type(parts: USCCParts) -> bool:
    """Whether the entity type (positions 1-2) is one a bank lends to."""
    return parts.authority + parts.entity_type in BORROWER_TYPES


def _normalize_any(raw: object) -> str:
    """Normalise text; anything else (None, the NaN of a missing cell) counts as empty."""
    return normalize(raw) if isinstance(raw, str) else ""


def _failure(code: str) -> _Failure | None:
    """The first rule a normalised code breaks, as (reason, message), or None."""
    if not code:
        return REASON_EMPTY, "credit code is empty or missing"
    if len(code) != CODE_LENGTH:
        return REASON_LENGTH, f"credit code must have 18 characters, not {len(code)}"
    if not _CHARS.issuperset(code):
        return _charset_failure(code)
    authority = AUTHORITIES.get(code[0])
    if authority is None:
        return REASON_AUTHORITY, "registration authority (position 1) is unknown"
    if code[1] not in authority.types:
        return REASON_ENTITY_TYPE, "entity type (position 2) is not defined for its authority"
    if not code[2:8].isdigit():
        return REASON_DIVISION, "administrative division (positions 3-8) must be 6 digits"
    if _org_check_char(code[8:16]) != code[16]:
        return REASON_ORG_CHECK, "organisation check character (position 17) does not match"
    if _check_char(code[:17]) != code[17]:
        return REASON_CHECK_CHAR, "check character (position 18) does not match the code"
    return None


def _charset_failure(text: str) -> _Failure:
    """The charset failure naming the first position outside `CHARSET`."""
    position = next(i for i, char in enumerate(text, 1) if char not in _CHARS)
    return (
        REASON_CHARSET,
        f"character at position {position} is not allowed "
        "(credit codes use digits and capital letters except I, O, S, V, Z)",
    )


def _require(text: str, length: int, what: str) -> None:
    """Raise InvalidUSCC unless `text` has `length` characters, all from `CHARSET`."""
    if len(text) != length:
        raise InvalidUSCC(REASON_LENGTH, f"{what} must have {length} characters")
    if not _CHARS.issuperset(text):
        raise InvalidUSCC(*_charset_failure(text))


def _check_char(first17: str) -> str:
    """Position 18 for 17 characters known to be in `CHARSET`."""
    total = sum(map(mul, map(_VALUE.__getitem__, first17), _WEIGHTS))
    return CHARSET[(31 - total % 31) % 31]


def _org_check_char(body8: str) -> str:
    """Position 17 for 8 body characters known to be in `CHARSET`."""
    total = sum(map(mul, map(_ORG_VALUE.__getitem__, body8), _ORG_WEIGHTS))
    return _ORG_CHECK_CHARS[11 - total % 11]


def _parts(code: str) -> USCCParts:
    """Split a valid code into its fields."""
    authority = AUTHORITIES[code[0]]
    entity_type = authority.types[code[1]]
    return USCCParts(
        code=code,
        authority=code[0],
        entity_type=code[1],
        division=code[2:8],
        org_code=code[8:17],
        check=code[17],
        authority_name_en=authority.name_en,
        entity_type_name_en=entity_type.name_en,
        entity_type_name_zh=entity_type.name_zh,
        authority_name_zh=authority.name_zh,
    )
