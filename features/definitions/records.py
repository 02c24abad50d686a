"""Registration, administrative, judicial, list, honour and commitment features."""

from __future__ import annotations

from catalog.schema import ENTITY_TYPES, INDUSTRY_SECTIONS, SHANWEI_DIVISIONS
from features.definitions.build import feature as f

IN_FORCE = "(t.removed_date IS NULL OR t.removed_date > p.as_of)"
STILL_VALID = "(t.valid_to IS NULL OR t.valid_to > p.as_of)"
NEVER = 240.0
NO_RECORD_MONTHS = f"no visible record: {int(NEVER)} (treated as long ago)"

REGISTRATION = (
    f("reg_age_months", "entities", "value", "成立月数", "Months since founding", -1,
      value="date_diff('month', t.founded_date, p.as_of)", dtype="int", default=None,
      missing="entity unknown at as_of"),
    f("reg_entity_type", "entities", "value", "主体类型", "Entity type", 0, dtype="category",
      value="t.entity_type", categories=ENTITY_TYPES, default=None, missing="entity unknown"),
    f("reg_industry", "entities", "value", "行业门类", "Industry section (GB/T 4754)", 0,
      dtype="category", value="t.industry", categories=INDUSTRY_SECTIONS, default=None,
      missing="entity unknown"),
    f("reg_division", "entities", "value", "登记机关行政区划", "Registering division", 0,
      dtype="category", value="t.division", categories=SHANWEI_DIVISIONS, default=None,
      missing="entity unknown"),
    f("reg_capital_log_cny", "entities", "value", "注册资本(对数)", "Registered capital (log CNY)", 0,
      value="ln(1 + coalesce(t.registered_capital_cny, 0))", default=None,
      missing="entity unknown"),
    f("reg_deregistered", "entities", "value", "已注销", "Deregistered", 1, dtype="bool",
      value="CAST(t.deregistered_date IS NOT NULL AND t.deregistered_date <= p.as_of AS INTEGER)",
      default=None, missing="entity unknown"),
    f("reg_changes_12m", "registration_changes", "count", "近12个月登记事项变更次数",
      "Registration changes, last 12 months", 1, window_months=12, dtype="int"),
    f("reg_changes_36m", "registration_changes", "count", "近36个月登记事项变更次数",
      "Registration changes, last 36 months", 1, window_months=36, dtype="int"),
    f("reg_legal_rep_changes_24m", "registration_changes", "count", "近24个月法定代表人变更次数",
      "Legal representative changes, last 24 months", 1, window_months=24, dtype="int",
      where="t.change_type = 'legal_rep'"),
    f("reg_capital_changes_24m", "registration_changes", "count", "近24个月注册资本变更次数",
      "Registered capital changes, last 24 months", 0, window_months=24, dtype="int",
      where="t.change_type = 'capital'"),
    f("reg_months_since_change", "registration_changes", "months_since", "距最近一次登记变更月数",
      "Months since the last registration change", 0, default=NEVER, missing=NO_RECORD_MONTHS),
)  # fmt: skip

PENALTIES = (
    f("pen_count_12m", "penalties", "count", "近12个月公示中的行政处罚次数",
      "Published administrative penalties, last 12 months", 1, window_months=12, dtype="int"),
    f("pen_count_36m", "penalties", "count", "近36个月公示中的行政处罚次数",
      "Published administrative penalties, last 36 months", 1, window_months=36, dtype="int"),
    f("pen_minor_3m", "penalties", "count", "近3个月轻微行政处罚次数",
      "Minor penalties, last 3 months", 1, window_months=3, dtype="int",
      where="t.severity = 'minor'"),
    f("pen_general_12m", "penalties", "count", "近12个月一般行政处罚次数",
      "General penalties, last 12 months", 1, window_months=12, dtype="int",
      where="t.severity = 'general'"),
    f("pen_serious_36m", "penalties", "count", "近36个月严重行政处罚次数",
      "Serious penalties, last 36 months", 1, window_months=36, dtype="int",
      where="t.severity = 'serious'"),
    f("pen_fines_cny_12m", "penalties", "sum", "近12个月罚款金额(元)", "Fines, last 12 months (CNY)",
      1, window_months=12, value="t.fine_cny"),
    f("pen_fines_cny_36m", "penalties", "sum", "近36个月罚款金额(元)", "Fines, last 36 months (CNY)",
      1, window_months=36, value="t.fine_cny"),
    f("pen_max_fine_cny_36m", "penalties", "max", "近36个月单笔最高罚款(元)",
      "Largest fine, last 36 months (CNY)", 1, window_months=36, value="t.fine_cny"),
    f("pen_confiscation_cny_36m", "penalties", "sum", "近36个月没收金额(元)",
      "Confiscations, last 36 months (CNY)", 1, window_months=36, value="t.confiscation_cny"),
    f("pen_domains_36m", "penalties", "count_distinct", "近36个月处罚涉及领域数",
      "Distinct penalty domains, last 36 months", 1, window_months=36, value="t.domain",
      dtype="int"),
    f("pen_suspension_36m", "penalties", "count", "近36个月责令停产停业或吊销许可次数",
      "Suspensions or revocations, last 36 months", 1, window_months=36, dtype="int",
      where="t.penalty_type IN ('suspension', 'revocation')"),
    f("pen_safety_env_36m", "penalties", "count", "近36个月安全环保食品消防类处罚次数",
      "Safety, environment, food and fire penalties, last 36 months", 1, window_months=36,
      dtype="int", where="t.domain IN ('environment', 'work_safety', 'food_drug', 'fire')"),
    f("pen_tax_domain_36m", "penalties", "count", "近36个月税务类处罚次数",
      "Tax penalties, last 36 months", 1, window_months=36, dtype="int",
      where="t.domain = 'tax'"),
    f("pen_months_since_last", "penalties", "months_since", "距最近一次公示处罚月数",
      "Months since the last published penalty", -1, default=NEVER, missing=NO_RECORD_MONTHS),
)  # fmt: skip

LICENCES = (
    f("lic_valid_count", "licences", "count", "有效行政许可数", "Valid administrative licences", -1,
      dtype="int", where="t.valid_from <= p.as_of AND (t.valid_to IS NULL OR t.valid_to > p.as_of)"),
    f("lic_granted_12m", "licences", "count", "近12个月新获行政许可数",
      "Licences granted, last 12 months", -1, window_months=12, dtype="int"),
    f("lic_expired_12m", "licences", "count", "近12个月到期的行政许可数",
      "Licences expired, last 12 months", 0, dtype="int",
      where="t.valid_to <= p.as_of AND t.valid_to > p.as_of - INTERVAL 12 MONTH"),
    f("lic_months_since_grant", "licences", "months_since", "距最近一次获得许可月数",
      "Months since the last licence", 0, default=NEVER, missing=NO_RECORD_MONTHS),
)  # fmt: skip

COURT = (
    f("court_in_force", "court_debtors", "any", "失信被执行人(在列)", "Listed dishonest judgment debtor",
      1, dtype="bool"),
    f("court_in_force_count", "court_debtors", "count", "在列失信被执行案件数",
      "Dishonest-debtor cases in force", 1, dtype="int"),
    f("court_unperformed_cny", "court_debtors", "sum", "在列失信案件未履行金额(元)",
      "Unperformed obligations in force (CNY)", 1, value="t.obligation_cny",
      where="t.performance <> 'all'"),
    f("court_new_12m", "court_debtors", "count", "近12个月新增失信被执行案件",
      "New dishonest-debtor listings, last 12 months", 1, window_months=12, dtype="int"),
    f("court_partly_performed", "court_debtors", "count", "在列部分履行案件数",
      "Partly performed cases in force", 1, dtype="int", where="t.performance = 'partly'"),
    f("court_days_listed", "court_debtors", "max", "失信被执行人在列天数(最早在列案件)",
      "Days listed as a court debtor (earliest case in force)", 1, dtype="int",
      value="date_diff('day', t.publish_date, p.as_of)"),
    f("court_newest_filing_days", "court_debtors", "min", "在列失信案件最近立案距今天数",
      "Days since the filing of the newest court-debtor case in force", 0, dtype="int",
      value="date_diff('day', t.filing_date, p.as_of)", default=None,
      missing="no case in force: missing"),
)  # fmt: skip

REORGANISATION = (
    f("reorg_plan_in_force", "reorganisation_plans", "any", "法院裁定批准的重整计划执行中",
      "Court-approved reorganisation plan in execution", 0, dtype="bool"),
    f("reorg_accepted_days", "reorganisation_plans", "max", "执行中重整计划的重整受理距今天数",
      "Days since the court accepted the reorganisation whose plan is in execution", 0,
      dtype="int", value="date_diff('day', t.accepted_date, p.as_of)", default=None,
      missing="no plan in execution: missing"),
)  # fmt: skip

LISTS = (
    f("abn_in_force", "abnormal_operations", "any", "列入经营异常名录(在列)",
      "On the abnormal operations list", 1, dtype="bool", where=IN_FORCE),
    f("abn_in_force_count", "abnormal_operations", "count", "在列经营异常记录数",
      "Abnormal-operations entries in force", 1, dtype="int", where=IN_FORCE),
    f("abn_listed_36m", "abnormal_operations", "count", "近36个月列入经营异常名录次数(含已移出)",
      "Abnormal-operations listings, last 36 months (incl. removed)", 1, window_months=36,
      dtype="int"),
    f("abn_unreachable_in_force", "abnormal_operations", "any", "因无法联系列入经营异常(在列)",
      "Listed as unreachable at its registered address", 1, dtype="bool",
      where=f"{IN_FORCE} AND t.reason LIKE '%无法联系%'"),
    f("abn_months_listed", "abnormal_operations", "max", "当前经营异常在列月数",
      "Months on the abnormal list (current entries)", 1,
      value="date_diff('month', t.listed_date, p.as_of)", where=IN_FORCE),
    f("abn_days_listed", "abnormal_operations", "max", "经营异常在列天数(最早在列记录)",
      "Days on the abnormal list (earliest entry in force)", 1, dtype="int",
      value="date_diff('day', t.listed_date, p.as_of)", where=IN_FORCE),
    f("abn_months_since_listed", "abnormal_operations", "months_since",
      "距最近一次列入经营异常名录月数(含已移出)",
      "Months since the last abnormal-operations listing (incl. removed)", -1, default=NEVER,
      missing=NO_RECORD_MONTHS),
    f("dis_in_force", "serious_dishonesty", "any", "列入严重失信主体名单(在列)",
      "On the serious dishonesty list", 1, dtype="bool"),
    f("dis_in_force_count", "serious_dishonesty", "count", "在列严重失信记录数",
      "Serious-dishonesty entries in force", 1, dtype="int"),
    f("dis_days_listed", "serious_dishonesty", "max", "严重失信名单在列天数(最早在列记录)",
      "Days on the serious dishonesty list (earliest entry in force)", 1, dtype="int",
      value="date_diff('day', t.listed_date, p.as_of)"),
)  # fmt: skip

HONOURS = (
    f("hon_valid_count", "honours", "count", "有效守信荣誉数", "Valid integrity honours", -1,
      dtype="int", where=STILL_VALID),
    f("hon_a_taxpayer", "honours", "any", "A级纳税人荣誉(有效)", "A-level taxpayer honour", -1,
      dtype="bool", where=f"t.honour_type = 'a_taxpayer' AND {STILL_VALID}"),
    f("hon_contract_abiding", "honours", "any", "守合同重信用(有效)", "Contract-abiding honour", -1,
      dtype="bool", where=f"t.honour_type = 'contract_abiding' AND {STILL_VALID}"),
    f("com_count_36m", "commitments", "count", "近36个月信用承诺数", "Credit commitments, last 36 months",
      0, window_months=36, dtype="int"),
    f("com_breached_36m", "commitments", "count", "近36个月违背信用承诺数",
      "Breached credit commitments, last 36 months", 1, window_months=36, dtype="int",
      where="t.status = 'breached'"),
    f("com_pending", "commitments", "count", "履行中的信用承诺数", "Pending credit commitments", 0,
      dtype="int", where="t.status = 'pending'"),
)  # fmt: skip

RECORDS = REGISTRATION + PENALTIES + LICENCES + COURT + REORGANISATION + LISTS + HONOURS
