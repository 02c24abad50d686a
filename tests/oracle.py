"""An independent pandas reference ("oracle") for every registered feature.

Written from the documented meaning of each declaration (DOMAIN.md §4, `catalog.schema`,
the feature texts), never from `features.query` or the declarations' SQL strings, so that a
bug in the compiler or in a declaration shows up as a disagreement.

Point-in-time reading of a catalog table for one (uscc, as_of):

1. rows of the entity with `ingest_date <= as_of` and event date `<= as_of`;
2. per record (`record_id`; `uscc` for entities) the highest version, ties by latest ingest;
3. retracted records dropped (entities have no retraction);
4. the table's visibility rule: penalties while `decision_date <= as_of <
   min(repair_date, publicity_end)`, court debtors and serious dishonesty while not removed,
   reorganisation plans while in execution (`as_of < min(terminated_date, execution_end)`).

Windows of `n` months hold event dates in `(as_of - n calendar months, as_of]`, where the
month arithmetic keeps the day and clamps it to the month's end (DuckDB `INTERVAL`).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from catalog.schema import ENTITY_TYPES, INDUSTRY_SECTIONS, SHANWEI_DIVISIONS

NAN = float("nan")
NEVER_MONTHS = 240.0  # months_since when nothing is visible ("treated as long ago")
GRADE_SCORE = {"A": 5.0, "B": 4.0, "M": 3.0, "C": 2.0, "D": 1.0}

Features = dict[str, float]
Visibility = Callable[[pd.DataFrame, pd.Timestamp], "pd.Series[bool]"]


# --- calendar arithmetic -------------------------------------------------------------------


def months_before(day: pd.Timestamp, months: int) -> pd.Timestamp:
    """The same day `months` calendar months earlier, clamped to the end of that month."""
    year, month0 = divmod(day.year * 12 + day.month - 1 - months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return pd.Timestamp(year, month0 + 1, min(day.day, last))


def month_diff(start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Month boundaries crossed from `start` to `end` (DuckDB `date_diff('month', ...)`)."""
    return (end.year * 12 + end.month) - (start.year * 12 + start.month)


# --- visibility ----------------------------------------------------------------------------


def _published(rows: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series[bool]:
    """A penalty counts while neither repaired nor past its publicity period."""
    not_repaired = rows["repair_date"].isna() | (as_of < rows["repair_date"])
    return not_repaired & (as_of < rows["publicity_end"])


def _listed(rows: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series[bool]:
    """A list entry counts while it has not been removed (removal on as_of ends it)."""
    return rows["removed_date"].isna() | (rows["removed_date"] > as_of)


def _executing(rows: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series[bool]:
    """A reorganisation plan counts until its execution ends or the court terminates it."""
    not_terminated = rows["terminated_date"].isna() | (as_of < rows["terminated_date"])
    return not_terminated & (as_of < rows["execution_end"])


@dataclass(frozen=True)
class Rule:
    """How one table is read at as_of: its event date, record key and extra visibility."""

    date: str
    key: str = "record_id"
    visible: Visibility | None = None


RULES: dict[str, Rule] = {
    "entities": Rule("founded_date", key="uscc"),
    "registration_changes": Rule("change_date"),
    "penalties": Rule("decision_date", visible=_published),
    "licences": Rule("decision_date"),
    "court_debtors": Rule("publish_date", visible=_listed),
    "abnormal_operations": Rule("listed_date"),
    "serious_dishonesty": Rule("listed_date", visible=_listed),
    "tax_ratings": Rule("published_date"),
    "tax_payments": Rule("period_end"),
    "social_insurance": Rule("month"),
    "utilities": Rule("month"),
    "honours": Rule("awarded_date"),
    "commitments": Rule("commitment_date"),
    "reorganisation_plans": Rule("approved_date", visible=_executing),
}


def visible_rows(frame: pd.DataFrame, table: str, code: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """The rows of `table` that the platform showed for entity `code` on day `as_of`."""
    rule = RULES[table]
    known = frame[
        (frame["uscc"] == code) & (frame["ingest_date"] <= as_of) & (frame[rule.date] <= as_of)
    ]
    current = known.sort_values(["version", "ingest_date"], ascending=False).drop_duplicates(
        rule.key
    )
    if table != "entities":
        current = current[~current["retracted"].astype(bool)]
    if rule.visible is not None:
        current = current[rule.visible(current, as_of)]
    return current


@dataclass
class View:
    """All visible rows of one entity at one as_of, read lazily per table."""

    tables: Mapping[str, pd.DataFrame]
    code: str
    as_of: pd.Timestamp
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict)

    def rows(self, table: str) -> pd.DataFrame:
        """Visible rows of `table`."""
        if table not in self._cache:
            self._cache[table] = visible_rows(self.tables[table], table, self.code, self.as_of)
        return self._cache[table]

    def window(self, table: str, months: int) -> pd.DataFrame:
        """Visible rows whose event date lies in the last `months` months."""
        rows = self.rows(table)
        return rows[rows[RULES[table].date] > self.before(months)]

    def before(self, months: int) -> pd.Timestamp:
        """as_of minus `months` calendar months."""
        return months_before(self.as_of, months)


# --- aggregates (with the defaults a missing row gets) ---------------------------------------


def count(rows: pd.DataFrame) -> float:
    """Number of rows (0 when none)."""
    return float(len(rows))


def exists(rows: pd.DataFrame) -> float:
    """1 when there is a row, else 0."""
    return float(len(rows) > 0)


def total(values: pd.Series[float]) -> float:
    """Sum of the values (0 when none)."""
    return float(values.sum()) if len(values) else 0.0


def largest(values: Iterable[float], default: float) -> float:
    """Maximum of the values, `default` when none."""
    items = list(values)
    return float(max(items)) if items else default


def smallest(values: Iterable[float], default: float) -> float:
    """Minimum of the values, `default` when none."""
    items = list(values)
    return float(min(items)) if items else default


def mean(values: pd.Series[float], default: float) -> float:
    """Arithmetic mean, `default` when none."""
    return float(values.astype(float).mean()) if len(values) else default


def latest(rows: pd.DataFrame, date: str, values: pd.Series[float], default: float) -> float:
    """The value (aligned with `rows`) on the row with the greatest event date, or `default`."""
    if rows.empty:
        return default
    return float(values.iloc[int(rows[date].to_numpy().argmax())])


def months_since(rows: pd.DataFrame, date: str, as_of: pd.Timestamp) -> float:
    """Months from the newest event date to as_of, `NEVER_MONTHS` when none."""
    return float(month_diff(rows[date].max(), as_of)) if len(rows) else NEVER_MONTHS


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, missing when the denominator is 0 or missing."""
    if math.isnan(numerator) or math.isnan(denominator) or denominator == 0:
        return NAN
    return numerator / denominator


def category(value: object, categories: tuple[str, ...]) -> float:
    """Index of `value` in `categories`, missing when unknown."""
    return float(categories.index(str(value))) if value in categories else NAN


# --- feature families --------------------------------------------------------------------


ENTITY_FEATURES = (
    "reg_age_months", "reg_entity_type", "reg_industry", "reg_division",
    "reg_capital_log_cny", "reg_deregistered",
)  # fmt: skip


def registration(view: View) -> Features:
    """Registration particulars of the entity's current version; missing when unknown."""
    rows = view.rows("entities")
    if rows.empty:
        return dict.fromkeys(ENTITY_FEATURES, NAN)
    entity = rows.iloc[0]
    capital = entity["registered_capital_cny"]
    deregistered = entity["deregistered_date"]
    return {
        "reg_age_months": float(month_diff(entity["founded_date"], view.as_of)),
        "reg_entity_type": category(entity["entity_type"], ENTITY_TYPES),
        "reg_industry": category(entity["industry"], INDUSTRY_SECTIONS),
        "reg_division": category(entity["division"], SHANWEI_DIVISIONS),
        "reg_capital_log_cny": math.log(1.0 + (0.0 if pd.isna(capital) else float(capital))),
        "reg_deregistered": float(pd.notna(deregistered) and deregistered <= view.as_of),
    }


def registration_changes(view: View) -> Features:
    """Counts of registration changes in windows and months since the last one."""
    w12, w24, w36 = (view.window("registration_changes", n) for n in (12, 24, 36))
    return {
        "reg_changes_12m": count(w12),
        "reg_changes_36m": count(w36),
        "reg_legal_rep_changes_24m": count(w24[w24["change_type"] == "legal_rep"]),
        "reg_capital_changes_24m": count(w24[w24["change_type"] == "capital"]),
        "reg_months_since_change": months_since(
            view.rows("registration_changes"), "change_date", view.as_of
        ),
    }


SAFETY_ENV = ("environment", "work_safety", "food_drug", "fire")


def penalties(view: View) -> Features:
    """Published penalties (DOMAIN §4) by window, severity, amount, type and domain."""
    w3, w12, w36 = (view.window("penalties", n) for n in (3, 12, 36))
    return {
        "pen_count_12m": count(w12),
        "pen_count_36m": count(w36),
        "pen_minor_3m": count(w3[w3["severity"] == "minor"]),
        "pen_general_12m": count(w12[w12["severity"] == "general"]),
        "pen_serious_36m": count(w36[w36["severity"] == "serious"]),
        "pen_fines_cny_12m": total(w12["fine_cny"]),
        "pen_fines_cny_36m": total(w36["fine_cny"]),
        "pen_max_fine_cny_36m": largest(w36["fine_cny"], 0.0),
        "pen_confiscation_cny_36m": total(w36["confiscation_cny"]),
        "pen_domains_36m": float(w36["domain"].nunique()),
        "pen_suspension_36m": count(w36[w36["penalty_type"].isin(["suspension", "revocation"])]),
        "pen_safety_env_36m": count(w36[w36["domain"].isin(SAFETY_ENV)]),
        "pen_tax_domain_36m": count(w36[w36["domain"] == "tax"]),
        "pen_months_since_last": months_since(view.rows("penalties"), "decision_date", view.as_of),
    }


def licences(view: View) -> Features:
    """Licences valid at as_of, granted or expired in the last year, months since a grant."""
    rows = view.rows("licences")
    open_ended = rows["valid_to"].isna() | (rows["valid_to"] > view.as_of)
    valid = (rows["valid_from"] <= view.as_of) & open_ended
    expired = (rows["valid_to"] <= view.as_of) & (rows["valid_to"] > view.before(12))
    return {
        "lic_valid_count": count(rows[valid]),
        "lic_granted_12m": count(view.window("licences", 12)),
        "lic_expired_12m": count(rows[expired]),
        "lic_months_since_grant": months_since(rows, "decision_date", view.as_of),
    }


def court(view: View) -> Features:
    """Dishonest-judgment-debtor cases still listed at as_of."""
    rows = view.rows("court_debtors")
    return {
        "court_in_force": exists(rows),
        "court_in_force_count": count(rows),
        "court_unperformed_cny": total(rows.loc[rows["performance"] != "all", "obligation_cny"]),
        "court_new_12m": count(view.window("court_debtors", 12)),
        "court_partly_performed": count(rows[rows["performance"] == "partly"]),
        "court_days_listed": largest(((view.as_of - d).days for d in rows["publish_date"]), 0.0),
        "court_newest_filing_days": smallest(
            ((view.as_of - d).days for d in rows["filing_date"]), NAN
        ),
    }


def reorganisation(view: View) -> Features:
    """A court-approved reorganisation plan in execution, and when its case was accepted."""
    plans = view.rows("reorganisation_plans")
    return {
        "reorg_plan_in_force": exists(plans),
        "reorg_accepted_days": largest(
            ((view.as_of - d).days for d in plans["accepted_date"]), NAN
        ),
    }


def lists(view: View) -> Features:
    """Abnormal-operations entries (in force or listed lately) and serious dishonesty."""
    abnormal = view.rows("abnormal_operations")
    in_force = abnormal[_listed(abnormal, view.as_of)]
    unreachable = in_force[in_force["reason"].str.contains("无法联系", regex=False)]
    dishonest = view.rows("serious_dishonesty")
    return {
        "abn_in_force": exists(in_force),
        "abn_in_force_count": count(in_force),
        "abn_listed_36m": count(view.window("abnormal_operations", 36)),
        "abn_unreachable_in_force": exists(unreachable),
        "abn_months_listed": largest(
            (month_diff(d, view.as_of) for d in in_force["listed_date"]), 0.0
        ),
        "abn_days_listed": largest(((view.as_of - d).days for d in in_force["listed_date"]), 0.0),
        "abn_months_since_listed": months_since(abnormal, "listed_date", view.as_of),
        "dis_in_force": exists(dishonest),
        "dis_in_force_count": count(dishonest),
        "dis_days_listed": largest(((view.as_of - d).days for d in dishonest["listed_date"]), 0.0),
    }


def honours_and_commitments(view: View) -> Features:
    """Honours valid at as_of (no end date = open-ended) and credit commitments."""
    honours = view.rows("honours")
    valid = honours[honours["valid_to"].isna() | (honours["valid_to"] > view.as_of)]
    recent = view.window("commitments", 36)
    commitments = view.rows("commitments")
    return {
        "hon_valid_count": count(valid),
        "hon_a_taxpayer": exists(valid[valid["honour_type"] == "a_taxpayer"]),
        "hon_contract_abiding": exists(valid[valid["honour_type"] == "contract_abiding"]),
        "com_count_36m": count(recent),
        "com_breached_36m": count(recent[recent["status"] == "breached"]),
        "com_pending": count(commitments[commitments["status"] == "pending"]),
    }


def tax_ratings(view: View) -> Features:
    """Tax credit grades scored A=5 ... D=1: latest, best and worst of 3 years, A and C/D counts."""
    rows = view.rows("tax_ratings")
    w36 = view.window("tax_ratings", 36)
    scores = w36["grade"].map(GRADE_SCORE)
    return {
        "tax_grade_latest": latest(rows, "published_date", rows["grade"].map(GRADE_SCORE), NAN),
        "tax_grade_best_3y": largest(scores, NAN),
        "tax_grade_worst_3y": smallest(scores, NAN),
        "tax_grade_a_3y": count(w36[w36["grade"] == "A"]),
        "tax_grade_cd_3y": count(w36[w36["grade"].isin(["C", "D"])]),
        "tax_grade_mean_5y": mean(view.window("tax_ratings", 60)["grade"].map(GRADE_SCORE), NAN),
    }


def tax_payments(view: View) -> Features:
    """Tax paid and revenue declared over 12/24 months and the 12 months before the last 12."""
    w12, w24 = view.window("tax_payments", 12), view.window("tax_payments", 24)
    rows = view.rows("tax_payments")
    prior = rows[(rows["period_end"] <= view.before(12)) & (rows["period_end"] > view.before(24))]
    w6 = view.window("tax_payments", 6)
    year_before = rows[
        (rows["period_end"] <= view.before(12)) & (rows["period_end"] > view.before(18))
    ]
    return {
        "tax_paid_cny_12m": total(w12["tax_paid_cny"]),
        "tax_paid_cny_24m": total(w24["tax_paid_cny"]),
        "tax_revenue_cny_12m": total(w12["revenue_cny"]),
        "tax_revenue_cny_prior_12m": total(prior["revenue_cny"]),
        "tax_paid_cny_prior_12m": total(prior["tax_paid_cny"]),
        "tax_quarters_paid_8q": count(w24[w24["tax_paid_cny"] > 0]),
        "tax_quarters_filed_8q": count(w24),
        "tax_zero_quarters_4q": count(w12[w12["tax_paid_cny"] == 0]),
        "tax_revenue_cny_latest_q": latest(w6, "period_end", w6["revenue_cny"], NAN),
        "tax_revenue_cny_latest_q_ly": latest(
            year_before, "period_end", year_before["revenue_cny"], NAN
        ),
        "tax_revenue_mean_q_2q": mean(w6["revenue_cny"], NAN),
        "tax_revenue_mean_q_4q": mean(w12["revenue_cny"], NAN),
        "tax_revenue_mean_q_12q": mean(view.window("tax_payments", 36)["revenue_cny"], NAN),
    }


def social_insurance(view: View) -> Features:
    """Insured headcount (latest, 12-month mean, 12 months earlier), arrears and payments."""
    rows = view.rows("social_insurance")
    w12 = view.window("social_insurance", 12)
    year_ago = rows[(rows["month"] <= view.before(12)) & (rows["month"] > view.before(13))]
    w3, w24 = view.window("social_insurance", 3), view.window("social_insurance", 24)
    w36 = view.window("social_insurance", 36)
    paid = rows[rows["paid_cny"] > 0]
    return {
        "si_headcount_latest": latest(rows, "month", rows["headcount"], 0.0),
        "si_headcount_mean_12m": mean(w12["headcount"], 0.0),
        "si_headcount_12m_ago": mean(year_ago["headcount"], NAN),
        "si_arrears_cny_latest": latest(rows, "month", rows["arrears_cny"], 0.0),
        "si_arrears_months_12m": count(w12[w12["arrears_cny"] > 0]),
        "si_paid_cny_12m": total(w12["paid_cny"]),
        "si_months_reported_12m": count(w12),
        "si_headcount_max_24m": largest(w24["headcount"], NAN),
        "si_arrears_months_3m": count(w3[w3["arrears_cny"] > 0]),
        "si_months_since_paid": months_since(paid, "month", view.as_of) if len(paid) else NAN,
        "si_arrears_share_12m": mean((w12["arrears_cny"] > 0).astype(float), NAN),
        "si_arrears_share_36m": mean((w36["arrears_cny"] > 0).astype(float), NAN),
        "si_months_since_arrears": months_since(rows[rows["arrears_cny"] > 0], "month", view.as_of),
        "si_headcount_mean_3m": mean(w3["headcount"], NAN),
        "si_headcount_mean_36m": mean(w36["headcount"], NAN),
    }


def utilities(view: View) -> Features:
    """Electricity use over 6/12 months, on-time payment and arrears."""
    rows = view.rows("utilities")
    w6, w12 = view.window("utilities", 6), view.window("utilities", 12)
    on_time = w12["paid_on_time"].astype(bool)
    w3 = view.window("utilities", 3)
    on_time_3m = w3["paid_on_time"].astype(bool)
    year_before = rows[(rows["month"] <= view.before(12)) & (rows["month"] > view.before(15))]
    w36, w60 = view.window("utilities", 36), view.window("utilities", 60)
    return {
        "util_kwh_12m": total(w12["electricity_kwh"]),
        "util_kwh_6m": total(w6["electricity_kwh"]),
        "util_on_time_rate_12m": mean(on_time.astype(float), NAN),
        "util_late_months_12m": count(w12[~on_time]),
        "util_arrears_cny_latest": latest(rows, "month", rows["arrears_cny"], 0.0),
        "util_months_reported_12m": count(w12),
        "util_on_time_rate_3m": mean(on_time_3m.astype(float), NAN),
        "util_late_months_3m": count(w3[~on_time_3m]),
        "util_months_since_late": months_since(
            rows[~rows["paid_on_time"].astype(bool)], "month", view.as_of
        ),
        "util_kwh_3m": total(w3["electricity_kwh"]),
        "util_kwh_3m_ly": total(year_before["electricity_kwh"]),
        "util_on_time_rate_36m": mean(w36["paid_on_time"].astype(float), NAN),
        "util_on_time_rate_60m": mean(w60["paid_on_time"].astype(float), NAN),
        "util_kwh_mean_12m": mean(w12["electricity_kwh"], NAN),
        "util_kwh_mean_36m": mean(w36["electricity_kwh"], NAN),
    }


def derived(v: Features) -> Features:
    """Trends, growth rates and ratios over the base features (x / 0 is missing)."""
    return {
        "tax_grade_trend": v["tax_grade_latest"] - v["tax_grade_worst_3y"],
        "tax_revenue_growth_12m": ratio(v["tax_revenue_cny_12m"], v["tax_revenue_cny_prior_12m"])
        - 1,
        "tax_paid_growth_12m": ratio(v["tax_paid_cny_12m"], v["tax_paid_cny_prior_12m"]) - 1,
        "tax_rate_12m": ratio(v["tax_paid_cny_12m"], v["tax_revenue_cny_12m"]),
        "si_headcount_delta_12m": v["si_headcount_latest"] - v["si_headcount_12m_ago"],
        "util_kwh_trend_6m": ratio(v["util_kwh_6m"], v["util_kwh_12m"] - v["util_kwh_6m"]) - 1,
        "si_headcount_growth_12m": ratio(v["si_headcount_latest"], v["si_headcount_12m_ago"]) - 1,
        "si_headcount_drawdown_24m": ratio(v["si_headcount_latest"], v["si_headcount_max_24m"]) - 1,
        "util_kwh_growth_3m": ratio(v["util_kwh_3m"], v["util_kwh_3m_ly"]) - 1,
        "tax_revenue_2q_vs_12q": ratio(v["tax_revenue_mean_q_2q"], v["tax_revenue_mean_q_12q"]) - 1,
        "tax_revenue_4q_vs_12q": ratio(v["tax_revenue_mean_q_4q"], v["tax_revenue_mean_q_12q"]) - 1,
        "si_headcount_3m_vs_36m": ratio(v["si_headcount_mean_3m"], v["si_headcount_mean_36m"]) - 1,
        "util_kwh_12m_vs_36m": ratio(v["util_kwh_mean_12m"], v["util_kwh_mean_36m"]) - 1,
    }


FAMILIES: tuple[Callable[[View], Features], ...] = (
    registration, registration_changes, penalties, licences, court, reorganisation, lists,
    honours_and_commitments, tax_ratings, tax_payments, social_insurance, utilities,
)  # fmt: skip


def oracle_features(tables: Mapping[str, pd.DataFrame], code: str, as_of: pd.Timestamp) -> Features:
    """Every feature of entity `code` at `as_of`, computed in plain pandas."""
    view = View(tables, code, pd.Timestamp(as_of))
    values: Features = {}
    for family in FAMILIES:
        values |= family(view)
    return values | derived(values)
