"""Tax rating, tax paid, social insurance and utility features (shared financing data)."""

from __future__ import annotations

from features.definitions.build import feature as f

GRADE_SCORE = "CASE t.grade WHEN 'A' THEN 5 WHEN 'B' THEN 4 WHEN 'M' THEN 3 WHEN 'C' THEN 2 WHEN 'D' THEN 1 END"
PRIOR_12M = "t.{d} <= p.as_of - INTERVAL 12 MONTH AND t.{d} > p.as_of - INTERVAL 24 MONTH"
UNRATED = "no published rating: missing"

TAX_RATING = (
    f("tax_grade_latest", "tax_ratings", "latest", "最新纳税信用等级(A=5…D=1)",
      "Latest tax credit grade (A=5 ... D=1)", -1, value=GRADE_SCORE, default=None, missing=UNRATED),
    f("tax_grade_best_3y", "tax_ratings", "max", "近3年最好纳税信用等级", "Best tax grade, last 3 years",
      -1, value=GRADE_SCORE, window_months=36, default=None, missing=UNRATED),
    f("tax_grade_worst_3y", "tax_ratings", "min", "近3年最差纳税信用等级", "Worst tax grade, last 3 years",
      -1, value=GRADE_SCORE, window_months=36, default=None, missing=UNRATED),
    f("tax_grade_a_3y", "tax_ratings", "count", "近3年A级次数", "A grades, last 3 years", -1,
      window_months=36, dtype="int", where="t.grade = 'A'"),
    f("tax_grade_cd_3y", "tax_ratings", "count", "近3年C/D级次数", "C or D grades, last 3 years", 1,
      window_months=36, dtype="int", where="t.grade IN ('C', 'D')"),
    f("tax_grade_trend", "tax_ratings", "derived", "纳税信用等级变化(最新-最差)",
      "Tax grade trend (latest minus worst of 3 years)", -1, default=None, missing=UNRATED,
      sql="tax_grade_latest - tax_grade_worst_3y"),
)  # fmt: skip

TAX_PAID = (
    f("tax_paid_cny_12m", "tax_payments", "sum", "近12个月纳税额(元)", "Tax paid, last 12 months (CNY)",
      -1, value="t.tax_paid_cny", window_months=12),
    f("tax_paid_cny_24m", "tax_payments", "sum", "近24个月纳税额(元)", "Tax paid, last 24 months (CNY)",
      -1, value="t.tax_paid_cny", window_months=24),
    f("tax_revenue_cny_12m", "tax_payments", "sum", "近12个月申报收入(元)",
      "Declared revenue, last 12 months (CNY)", -1, value="t.revenue_cny", window_months=12),
    f("tax_revenue_cny_prior_12m", "tax_payments", "sum", "前12个月申报收入(元)",
      "Declared revenue, the 12 months before (CNY)", 0, value="t.revenue_cny",
      where=PRIOR_12M.format(d="period_end")),
    f("tax_paid_cny_prior_12m", "tax_payments", "sum", "前12个月纳税额(元)",
      "Tax paid, the 12 months before (CNY)", 0, value="t.tax_paid_cny",
      where=PRIOR_12M.format(d="period_end")),
    f("tax_revenue_growth_12m", "tax_payments", "derived", "申报收入同比增长率",
      "Declared revenue growth, year on year", -1, default=None,
      missing="no revenue in the prior 12 months: missing",
      sql="tax_revenue_cny_12m / nullif(tax_revenue_cny_prior_12m, 0) - 1"),
    f("tax_paid_growth_12m", "tax_payments", "derived", "纳税额同比增长率", "Tax paid growth, year on year",
      -1, default=None, missing="no tax in the prior 12 months: missing",
      sql="tax_paid_cny_12m / nullif(tax_paid_cny_prior_12m, 0) - 1"),
    f("tax_quarters_paid_8q", "tax_payments", "count", "近8个季度有纳税的季度数",
      "Quarters with tax paid, last 8 quarters", -1, window_months=24, dtype="int",
      where="t.tax_paid_cny > 0"),
    f("tax_quarters_filed_8q", "tax_payments", "count", "近8个季度申报季度数",
      "Quarters declared, last 8 quarters", -1, window_months=24, dtype="int"),
    f("tax_zero_quarters_4q", "tax_payments", "count", "近4个季度零纳税季度数",
      "Zero-tax quarters, last 4 quarters", 1, window_months=12, dtype="int",
      where="t.tax_paid_cny = 0"),
    f("tax_rate_12m", "tax_payments", "derived", "近12个月税负率", "Tax burden (tax / revenue), 12 months",
      0, default=None, missing="no revenue: missing",
      sql="tax_paid_cny_12m / nullif(tax_revenue_cny_12m, 0)"),
)  # fmt: skip

SOCIAL_INSURANCE = (
    f("si_headcount_latest", "social_insurance", "latest", "最新社保参保人数",
      "Insured headcount, latest month", -1, value="t.headcount", dtype="int"),
    f("si_headcount_mean_12m", "social_insurance", "avg", "近12个月平均参保人数",
      "Mean insured headcount, last 12 months", -1, value="t.headcount", window_months=12),
    f("si_headcount_12m_ago", "social_insurance", "avg", "12个月前参保人数",
      "Insured headcount 12 months earlier", 0, value="t.headcount", default=None,
      missing="no record 12 months earlier: missing", where="t.month <= p.as_of - INTERVAL 12 MONTH AND t.month > p.as_of - INTERVAL 13 MONTH"),
    f("si_headcount_delta_12m", "social_insurance", "derived", "参保人数12个月变化",
      "Change in insured headcount over 12 months", -1, default=None,
      missing="no record 12 months earlier: missing",
      sql="si_headcount_latest - si_headcount_12m_ago"),
    f("si_arrears_cny_latest", "social_insurance", "latest", "最新社保欠费金额(元)",
      "Social insurance arrears, latest month (CNY)", 1, value="t.arrears_cny"),
    f("si_arrears_months_12m", "social_insurance", "count", "近12个月社保欠费月数",
      "Months in social insurance arrears, last 12 months", 1, window_months=12, dtype="int",
      where="t.arrears_cny > 0"),
    f("si_paid_cny_12m", "social_insurance", "sum", "近12个月社保缴费(元)",
      "Social insurance paid, last 12 months (CNY)", -1, value="t.paid_cny", window_months=12),
    f("si_months_reported_12m", "social_insurance", "count", "近12个月社保记录月数",
      "Months with social insurance records, last 12 months", -1, window_months=12, dtype="int"),
)  # fmt: skip

UTILITIES = (
    f("util_kwh_12m", "utilities", "sum", "近12个月用电量(千瓦时)", "Electricity used, last 12 months (kWh)",
      -1, value="t.electricity_kwh", window_months=12),
    f("util_kwh_6m", "utilities", "sum", "近6个月用电量", "Electricity used, last 6 months (kWh)", 0,
      value="t.electricity_kwh", window_months=6),
    f("util_kwh_trend_6m", "utilities", "derived", "近6个月用电量环比变化",
      "Electricity trend: last 6 months over the 6 before", -1, default=None,
      missing="no use in the earlier 6 months: missing",
      sql="util_kwh_6m / nullif(util_kwh_12m - util_kwh_6m, 0) - 1"),
    f("util_on_time_rate_12m", "utilities", "avg", "近12个月水电按时缴费率",
      "Utility bills paid on time, last 12 months (share)", -1,
      value="CAST(t.paid_on_time AS INTEGER)", window_months=12, default=None,
      missing="no utility data shared: missing"),
    f("util_late_months_12m", "utilities", "count", "近12个月水电逾期缴费月数",
      "Months with late utility payment, last 12 months", 1, window_months=12, dtype="int",
      where="NOT t.paid_on_time"),
    f("util_arrears_cny_latest", "utilities", "latest", "最新水电欠费金额(元)",
      "Utility arrears, latest month (CNY)", 1, value="t.arrears_cny"),
    f("util_months_reported_12m", "utilities", "count", "近12个月水电记录月数",
      "Months with utility records, last 12 months", 0, window_months=12, dtype="int"),
)  # fmt: skip

FINANCE = TAX_RATING + TAX_PAID + SOCIAL_INSURANCE + UTILITIES
