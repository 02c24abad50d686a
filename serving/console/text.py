"""The console's words in Chinese (first) and English, and how a figure is shown."""

from __future__ import annotations

from typing import Any, Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

WORDS: dict[str, tuple[str, str]] = {
    "title": ("信用平台运营控制台", "Platform operator's console"),
    "overview": ("概览", "Overview"),
    "quality": ("数据质量", "Data quality"),
    "codes": ("代码错误", "Code errors"),
    "grades": ("信用等级", "Grades"),
    "warnings": ("预警", "Warnings"),
    "disputes": ("异议与信用修复", "Disputes and repair"),
    "kpis": ("融资指标", "Financing KPIs"),
    "monitoring": ("模型监测", "Model monitoring"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "operator_key": ("运营人员密钥", "Operator key"),
    "sign_in_hint": (
        "使用 `precredit operators add 姓名` 生成的运营人员密钥登录；密钥不会出现在任何网址中。",
        "Sign in with an operator key from `precredit operators add NAME`; a key never appears "
        "in any address.",
    ),
    "bad_key": ("密钥无效或已吊销。", "The key is not valid or has been revoked."),
    "bad_form": ("表单已过期，请重新登录。", "The form expired; please sign in again."),
    "forbidden": (
        "此密钥不是平台运营人员密钥：控制台仅供平台运营人员使用。",
        "This key is not a platform operator's key: the console is for platform operators only.",
    ),
    "not_found": ("没有这个页面。", "No such page."),
    "table": ("表", "Table"),
    "rows": ("记录数", "Rows"),
    "valid_share": ("有效率", "Valid"),
    "complete": ("完整率", "Complete"),
    "orphans": ("孤立记录", "Orphans"),
    "corrected": ("更正", "Corrected"),
    "corrected_state": ("已更正", "corrected"),
    "retracted": ("撤回", "Retracted"),
    "department": ("部门", "Department"),
    "by_table": ("按表", "By table"),
    "by_department": ("按部门", "By department"),
    "code_rate": ("代码错误/重复率（每万）", "Code error/duplicate rate per 10,000"),
    "target": ("目标", "Target"),
    "distinct_codes": ("代码数", "Distinct codes"),
    "flagged": ("标记", "Flagged"),
    "invalid": ("无效", "Invalid"),
    "duplicates": ("重复", "Duplicates"),
    "authority": ("发证机关", "Issuing authority"),
    "code": ("统一社会信用代码", "Credit code"),
    "name": ("名称", "Name"),
    "division": ("区划", "Division"),
    "reason": ("原因", "Reason"),
    "errors_total": ("错误代码合计", "Failing codes in all"),
    "code:empty": ("代码为空", "empty"),
    "code:length": ("长度不是18位", "not 18 characters"),
    "code:charset": ("含不允许的字符", "characters outside the code's set"),
    "code:authority": (
        "登记管理部门代码（第1位）无效",
        "registration authority (position 1) unknown",
    ),
    "code:entity_type": ("机构类别（第2位）无效", "entity type (position 2) not defined"),
    "code:division": (
        "行政区划码（第3-8位）无效",
        "administrative division (positions 3-8) invalid",
    ),
    "code:org_check": ("组织机构代码校验位错误（标记）", "organisation-code check wrong (flagged)"),
    "code:check_char": ("校验码错误（标记）", "check character wrong (flagged)"),
    "code:duplicate": ("重复登记", "registered more than once"),
    "grade": ("等级", "Grade"),
    "entities": ("主体数", "Entities"),
    "active": ("存续", "Active"),
    "share": ("占比", "Share"),
    "evaluated": ("已评价主体", "Entities evaluated"),
    "as_of": ("截至", "As of"),
    "grade_drift": ("等级漂移（模型分数 PSI）", "Grade drift (model score PSI)"),
    "drift_note": (
        "综合评价每次运行都替换等级表，不保留历史等级；漂移以模型监测的分数 PSI（相对训练参照）和各等级实际违约率表示。",
        "The composite evaluation replaces its table on each run and keeps no earlier grades; "
        "drift is shown by model monitoring's score PSI (against the training reference) and "
        "realised bad rates per grade.",
    ),
    "no_evaluation": (
        "尚无评价结果：运行 `precredit evaluate-entities`。",
        "No grades yet: run `precredit evaluate-entities`.",
    ),
    "no_warnings": (
        "尚无预警：运行 `precredit warnings run`。",
        "No warnings yet: run `precredit warnings run`.",
    ),
    "no_monitoring": (
        "尚无监测结果：运行 `precredit monitor --tenant 银行`。",
        "No monitoring yet: run `precredit monitor --tenant BANK`.",
    ),
    "sector": ("行业门类", "Sector (GB/T 4754)"),
    "download_csv": ("下载 CSV", "Download CSV"),
    "warnings_total": ("预警数", "Warnings"),
    "routing_note": (
        "每条预警发送给持有其证据记录的部门（处罚、异常名录、严重失信由作出机关；失信被执行人由法院；纳税、社保、水电气由主管部门）。",
        "Each warning goes to every department holding one of its evidence records (penalties "
        "and lists: the deciding authority; court debtors: the court; tax, social insurance, "
        "utilities: the department in charge).",
    ),
    "cases": ("案件", "Cases"),
    "open": ("未结", "Open"),
    "overdue": ("逾期", "Overdue"),
    "answered": ("已答复", "Answered"),
    "on_time": ("按期答复", "Answered on time"),
    "median_hours": ("答复中位时长（小时）", "Median hours to answer"),
    "kind": ("类型", "Kind"),
    "dispute": ("异议", "dispute"),
    "repair": ("信用修复", "credit repair"),
    "checking": ("核查中", "checking"),
    "rejected": ("已驳回", "rejected"),
    "state": ("状态", "State"),
    "received": ("已收到", "received"),
    "received_at": ("收到时间（UTC）", "Received (UTC)"),
    "due": ("期限", "Due"),
    "filed_by": ("提交方", "Filed by"),
    "month": ("月份", "Month"),
    "preapproved": ("预授信主体", "Pre-approved entities"),
    "preapproved_enterprises": ("其中企业", "of which enterprises"),
    "requests": ("融资需求", "Financing requests"),
    "requests_answered": ("已获银行决定的需求", "Requests decided"),
    "answers": ("银行决定", "Bank decisions"),
    "loans": ("放款笔数", "Loans granted"),
    "granted_cny": ("放款金额（元）", "Granted (CNY)"),
    "from_requests": ("来自融资需求的贷款", "Loans from requests"),
    "first_loan_share": ("首贷占比", "First-loan share"),
    "credit_loan_share": ("信用贷款占比", "Credit-loan share"),
    "share_note": (
        "首贷占比、信用贷款占比按银行回传贷款结果时报送的“是否首贷”（first_loan）和“担保方式”"
        "（security）计算，分母为当月报送了该项的贷款笔数（斜线后）；无人报送的月份显示“—”。",
        "First-loan and credit-loan shares count the loans whose bank reported `first_loan` and "
        "`security` with the outcome; the number after the slash is how many loans of the month "
        "reported it; a month where none did shows “—”.",
    ),
    "a_grade": ("A级纳税人占比", "A-grade taxpayer share"),
    "rating_year": ("评价年度", "Rating year"),
    "rated": ("参评主体", "Rated entities"),
    "a_count": ("A级", "A-grade"),
    "kpi_note": (
        "按中国时间自然月统计平台看到的事实；预授信主体指当月获得批准类预授信的主体"
        "（去重，企业为代码以91开头者）；银行以决定（而非错误）答复的需求计为已获决定。",
        "China-time calendar months of what the platform saw; pre-approved entities are the "
        "distinct entities given an approving offer that month (enterprises: codes starting 91); "
        "a request counts as decided when a bank answered it with a decision, not an error.",
    ),
    "tenant": ("机构", "Tenant"),
    "model": ("模型", "Model"),
    "version": ("版本", "Version"),
    "serving": ("在用", "Serving"),
    "alerts": ("告警", "Alerts"),
    "retrain": ("建议重训", "Retrain"),
    "matured": ("到期贷款", "Matured loans"),
    "none": ("无", "none"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}


def word(key: str, lang: Lang) -> str:
    """The word for `key` in `lang`."""
    zh, en = WORDS[key]
    return zh if lang == "zh" else en


def show(value: Any) -> str:
    """A figure as the console prints it (the browser tests compare with this)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:,.0f}"
    return str(value)


def percent(value: float | None) -> str:
    """A share as a percentage with two decimals."""
    return "—" if value is None else f"{value * 100:.2f}%"
