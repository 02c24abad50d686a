"""What a loan officer reads: coded values as labels, gates and limits in words (zh/en).

Tax grades are letters (A/B/M/C/D, scored 5..1 in the features), industry sections are named
(GB/T 4754), flags are yes/no, money has thousands separators and its unit, and log-scaled
amounts are shown back in CNY. A decline leads with the gate that declined it; the limit is
explained from the policy ("6 insured staff x CNY 60,000 per head x 0.25 for grade G06").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from catalog.schema import INDUSTRY_SECTIONS, TAX_GRADES
from features.definitions import REGISTRY
from models.limit import OUT_OF_SCOPE, PLAN_DRIVER
from models.policy import CapacityPolicy, ProductPolicy

Texts = tuple[str, str]  # (zh, en)
INDUSTRY_NAMES: dict[str, Texts] = {
    "A": ("农、林、牧、渔业", "agriculture, forestry, animal husbandry and fishery"),
    "B": ("采矿业", "mining"),
    "C": ("制造业", "manufacturing"),
    "D": ("电力、热力、燃气及水生产和供应业", "electricity, heat, gas and water supply"),
    "E": ("建筑业", "construction"),
    "F": ("批发和零售业", "wholesale and retail trade"),
    "G": ("交通运输、仓储和邮政业", "transport, storage and post"),
    "H": ("住宿和餐饮业", "accommodation and catering"),
    "I": ("信息传输、软件和信息技术服务业", "information transmission, software and IT services"),
    "J": ("金融业", "finance"),
    "K": ("房地产业", "real estate"),
    "L": ("租赁和商务服务业", "leasing and business services"),
    "M": ("科学研究和技术服务业", "scientific research and technical services"),
    "N": ("水利、环境和公共设施管理业", "water, environment and public facilities management"),
    "O": ("居民服务、修理和其他服务业", "resident, repair and other services"),
    "P": ("教育", "education"),
    "Q": ("卫生和社会工作", "health and social work"),
    "R": ("文化、体育和娱乐业", "culture, sports and entertainment"),
    "S": ("公共管理、社会保障和社会组织", "public administration and social organisations"),
    "T": ("国际组织", "international organisations"),
}
GATE_TEXTS: dict[str, Texts] = {
    "gate:unknown_entity": ("未在平台登记，无法核实主体", "not registered on the platform"),
    "gate:deregistered": ("主体已注销", "deregistered"),
    "gate:court_debtor": ("被列为失信被执行人", "listed as a court debtor"),
    "gate:serious_dishonesty": ("被列入严重失信主体名单", "on the serious dishonesty list"),
    "gate:abnormal_operations": ("被列入经营异常名录", "on the abnormal operations list"),
    "gate:tax_grade": ("纳税信用等级不在准入范围", "tax credit grade not eligible"),
    "gate:no_tax_paid": ("近12个月未纳税", "no tax paid in the last 12 months"),
    "gate:min_age": ("成立时间不足准入要求", "registered too recently for this product"),
    "gate:excluded_industry": ("所属行业不在准入范围", "industry not eligible for this product"),
}


DTYPES = {feature.name: feature.dtype for feature in REGISTRY.features}


def money(amount: float) -> Texts:
    """An amount in CNY with thousands separators."""
    return f"{amount:,.0f}元", f"CNY {amount:,.0f}"


def value_texts(feature: str, value: float | None, labels: Mapping[str, tuple[str, ...]]) -> Texts:
    """A feature value as a loan officer reads it, in Chinese and English."""
    if value is None or math.isnan(value):
        return "缺失", "missing"
    if feature == "tax_grade_latest" and value in range(1, len(TAX_GRADES) + 1):
        grade = TAX_GRADES[len(TAX_GRADES) - int(value)]
        return f"{grade}级", f"grade {grade}"
    if feature == "reg_industry" and value in range(len(INDUSTRY_SECTIONS)):
        section = INDUSTRY_SECTIONS[int(value)]
        zh, en = INDUSTRY_NAMES[section]
        return f"{section} {zh}", f"{section} {en}"
    if feature in labels and 0 <= int(value) < len(labels[feature]):
        label = labels[feature][int(value)]
        return label, label
    return _plain(feature, value)


def _plain(feature: str, value: float) -> Texts:
    if DTYPES.get(feature) == "bool":
        return ("是", "yes") if value >= 0.5 else ("否", "no")
    if "_cny" in feature:
        return money(math.expm1(value) if "_log_" in feature else value)
    number = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"
    return number, number


def name_texts(feature: str, names: Texts) -> Texts:
    """A feature's name; a log-scaled amount is named in CNY, as it is shown."""
    if "_log_" not in feature:
        return names
    zh, en = names
    return zh.replace("(对数)", "(元)"), en.replace("(log CNY)", "(CNY)")


# A gate on a list names the day its earliest record in force was listed: the feature holding
# the days listed, and the sentence with that date.
GATE_SINCE: dict[str, tuple[str, str, str]] = {
    "gate:court_debtor": ("court_days_listed", "{zh}起被列为失信被执行人",
                          "listed as a court debtor since {en}"),
    "gate:serious_dishonesty": ("dis_days_listed", "{zh}起被列入严重失信主体名单",
                                "on the serious dishonesty list since {en}"),
    "gate:abnormal_operations": ("abn_days_listed", "{zh}起被列入经营异常名录",
                                 "on the abnormal operations list since {en}"),
}  # fmt: skip


def dated_gate_texts(
    failed: list[str], texts: list[Texts], values: Mapping[str, float | None], as_of: dt.date
) -> list[Texts]:
    """`texts` (one per failed gate, in order) with the listing date where the inputs have it."""
    dated = list(texts)
    for i, code in enumerate(failed[: len(texts)]):
        since = GATE_SINCE.get(code)
        days = None if since is None else values.get(since[0])
        if since is None or days is None or math.isnan(days) or days < 0:
            continue
        day = as_of - dt.timedelta(days=int(days))
        zh = f"{day.year}年{day.month}月{day.day}日"
        dated[i] = (since[1].format(zh=zh), since[2].format(en=day.isoformat()))
    return dated


def gate_texts(code: str) -> Texts:
    """The hard rule that declined, in words."""
    return GATE_TEXTS.get(code, (code, code))


def decline_texts(failed: list[str], binding: str, pd: float, policy: ProductPolicy) -> list[Texts]:
    """Why a decision declined, the deciding rule first: failed gates, else PD or minimum."""
    if failed:
        return [gate_texts(code) for code in failed]
    if binding == "pd:decline":
        limit = policy.decision.refer_max_pd
        return [
            (
                f"违约概率{pd:.2%}高于本产品上限{limit:.2%}",
                f"probability of default {pd:.2%} above this product's limit of {limit:.2%}",
            )
        ]
    if binding == "min_limit":
        zh, en = money(policy.min_limit_cny)
        return [(f"测算额度低于本产品最低额度{zh}", f"computed limit below the minimum of {en}")]
    return []


def limit_texts(row: Mapping[str, Any], grade: str, pd: float, policy: ProductPolicy) -> Texts:
    """The limit in words from the policy: capacity x multiplier, cap, rounding."""
    limit_zh, limit_en = money(float(row["limit_cny"]))
    if row["decision"] == "decline":
        return f"拒绝，额度为{limit_zh}", f"declined: limit {limit_en}"
    texts = _limit_texts(row, grade, pd, policy)
    if any(d["feature"] == PLAN_DRIVER and d["role"] == "decision" for d in row["drivers"]):
        return f"{texts[0]}；{PLAN_REFERRAL[0]}", f"{texts[1]}; {PLAN_REFERRAL[1]}"
    return texts


PLAN_REFERRAL: Texts = (
    "法院裁定批准的破产重整计划正在执行，在列失信被执行案件均立案于法院受理重整之前，属重整计划"
    "所涉债务：依本产品政策不因失信被执行拒绝，转人工审核",
    "a court-approved bankruptcy reorganisation plan is in execution and every court-debtor "
    "case in force was filed before the court accepted the reorganisation (debts the plan "
    "covers): under this product's policy not declined as a court debtor but referred to an "
    "underwriter",
)


def _limit_texts(row: Mapping[str, Any], grade: str, pd: float, policy: ProductPolicy) -> Texts:
    limit_zh, limit_en = money(float(row["limit_cny"]))
    if row["binding"] == OUT_OF_SCOPE:
        return (
            f"授权范围不含测算额度所需的涉税和社保信息：仅依据公共信用信息评为等级{grade}"
            f"（违约概率{pd:.2%}），不测算额度，转人工审核",
            f"the enterprise's consent does not cover the tax and social insurance data the limit "
            f"is computed from: grade {grade} (PD {pd:.2%}) from public credit records only, "
            "no limit computed, referred to an underwriter",
        )
    base_zh, base_en = _capacity_texts(row, policy.capacity)
    zh = f"{base_zh} × 系数{row['multiplier']:g}（等级{grade}，违约概率{pd:.2%}）"
    en = f"{base_en} × {row['multiplier']:g} for grade {grade} (PD {pd:.2%})"
    if str(row["binding"]).startswith("cap:"):
        cap_zh, cap_en = money(float(row["cap_cny"]))
        zh, en = f"{zh}，以上限{cap_zh}为限", f"{en}, capped at {cap_en}"
    return f"{zh} = {limit_zh}（向下取整至千元）", f"{en} = {limit_en} (rounded down to CNY 1,000)"


def _capacity_texts(row: Mapping[str, Any], capacity: CapacityPolicy) -> Texts:
    values = {d["feature"]: d["value"] or 0.0 for d in row["drivers"] if d["role"] == "capacity"}
    source = row["capacity_source"]
    if source == "capacity:headcount":
        heads = values.get("si_headcount_latest", 0.0)
        zh, en = money(capacity.per_head_cny)
        return f"参保{heads:,.0f}人 × 每人{zh}", f"{heads:,.0f} insured staff × {en} per head"
    if source == "capacity:tax":
        zh, en = money(values.get("tax_paid_cny_24m", 0.0) / 2.0)
        return (
            f"年均纳税{zh} × {capacity.tax_multiple:g}倍",
            f"average annual tax {en} × {capacity.tax_multiple:g}",
        )
    if source == "capacity:revenue":
        zh, en = money(values.get("tax_revenue_cny_12m", 0.0))
        return (
            f"近12个月申报收入{zh} × {capacity.revenue_share:g}",
            f"declared revenue of 12 months {en} × {capacity.revenue_share:g}",
        )
    return "无可测算的还款能力", "no repayment capacity on record"
