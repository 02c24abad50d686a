"""The platform store's raw tables: one declaration per table, DDL and validation derive from it.

Every catalog table names its national catalog category (全国公共信用信息基础目录) and legal
basis. Every record carries its event date(s) and `ingest_date`, the day the platform learned
of it, so point-in-time reads can respect both. Corrections are new versions of a record
(same `record_id`, higher `version`, later `ingest_date`); a record withdrawn after an
objection gets a version with `retracted = true`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TableKind = Literal["catalog", "bank", "truth", "system"]

CATEGORIES: dict[str, tuple[str, str]] = {
    "registration": ("登记注册基本信息", "registration basics"),
    "judicial": ("司法裁判及执行", "judgments and enforcement"),
    "administration": ("行政管理", "administrative management (licences, penalties)"),
    "qualification": ("职称和职业资格", "titles and professional qualifications"),
    "abnormal": ("经营(活动)异常名录", "abnormal operations list"),
    "dishonesty": ("严重失信主体名单", "serious dishonesty list"),
    "contract": ("合同履行", "contract performance"),
    "commitment": ("信用承诺及履行", "credit commitments and performance"),
    "evaluation": ("信用评价结果", "credit evaluation results"),
    "compliance": ("遵守法律法规情况", "compliance with laws and regulations"),
    "honours": ("诚实守信相关荣誉", "honours for integrity"),
    "voluntary": ("自愿提供信息", "voluntarily provided information"),
    "ip": ("知识产权", "intellectual property (2024 edition)"),
}

# Data scopes an enterprise authorises a bank to use (consent), and the tables each covers;
# every other catalog table is a public credit record.
DATA_SCOPES: dict[str, tuple[str, str]] = {
    "public_records": ("公共信用信息", "public credit records"),
    "tax": ("涉税信息", "tax data"),
    "social_insurance": ("社会保险信息", "social insurance data"),
    "utilities": ("水电气信息", "utilities data"),
}
PUBLIC_RECORDS = "public_records"
SCOPE_OF_TABLE = {
    "tax_payments": "tax",
    "tax_ratings": "tax",
    "social_insurance": "social_insurance",
    "utilities": "utilities",
}


def data_scope(table: str) -> str:
    """The consent scope a catalog table's records fall under."""
    return SCOPE_OF_TABLE.get(table, PUBLIC_RECORDS)


CATALOG_BASIS = (
    "全国公共信用信息基础目录(2022年版) / National public credit information catalog 2022"
)
SHARING_BASIS = "国办发〔2021〕52号 加强信用信息共享应用促进中小微企业融资实施方案"

ENTITY_TYPES = ("enterprise", "individual", "cooperative", "rural_collective")
SHANWEI_DIVISIONS = ("441500", "441502", "441521", "441523", "441581")  # GB/T 2260
INDUSTRY_SECTIONS = tuple("ABCDEFGHIJKLMNOPQRST")  # GB/T 4754-2017 sections
SEVERITIES = ("minor", "general", "serious")
PENALTY_TYPES = ("warning", "fine", "confiscation", "suspension", "revocation")
PENALTY_DOMAINS = (
    "market", "tax", "environment", "work_safety", "food_drug", "labour",
    "fire", "transport", "construction", "customs",
)  # fmt: skip
PERFORMANCE = ("all", "partly", "none")
TAX_GRADES = ("A", "B", "M", "C", "D")
HONOUR_TYPES = ("a_taxpayer", "customs_aeo", "contract_abiding", "quality_award", "other")
COMMITMENT_TYPES = ("licence_notification", "credit_repair", "industry_self_discipline", "other")
COMMITMENT_STATUS = ("fulfilled", "pending", "breached")
CHANGE_TYPES = ("legal_rep", "address", "capital", "scope", "name", "shareholder")


@dataclass(frozen=True)
class Column:
    """One column: SQL type, nullability, optional enum and bounds."""

    name: str
    dtype: str
    nullable: bool = False
    enum: tuple[str, ...] | None = None
    min_value: float | None = None
    description: str = ""


@dataclass(frozen=True)
class Table:
    """One raw table of the platform store."""

    name: str
    kind: TableKind
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    category: str | None = None
    legal_basis: str | None = None
    event_dates: tuple[str, ...] = ()
    has_uscc: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        """The column called `name`."""
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in declaration order."""
        return tuple(c.name for c in self.columns)


def _c(name: str, dtype: str, **kw: object) -> Column:
    return Column(name, dtype, **kw)  # type: ignore[arg-type]


REC = (_c("record_id", "VARCHAR"), _c("version", "INTEGER", min_value=1))
RETRACTED = _c("retracted", "BOOLEAN", description="withdrawn after an objection")
USCC = _c("uscc", "VARCHAR", description="unified social credit code, canonical form")
INGEST = _c("ingest_date", "DATE", description="day the platform received this version")
MONEY = {"min_value": 0.0}


def _catalog(
    name: str,
    category: str,
    description: str,
    cols: tuple[Column, ...],
    events: tuple[str, ...],
    basis: str = CATALOG_BASIS,
) -> Table:
    columns = (*REC, RETRACTED, USCC, *cols, INGEST)
    return Table(
        name, "catalog", description, columns, ("record_id", "version"), category, basis, events
    )


ENTITIES = Table(
    "entities", "catalog", "registered market entities (one row per entity and version)",
    (
        _c("uscc", "VARCHAR"), _c("version", "INTEGER", min_value=1),
        _c("name", "VARCHAR"),
        _c("entity_type", "VARCHAR", enum=ENTITY_TYPES),
        _c("division", "VARCHAR", description="GB/T 2260 code of the registering office"),
        _c("industry", "VARCHAR", enum=INDUSTRY_SECTIONS, description="GB/T 4754 section"),
        _c("founded_date", "DATE"),
        _c("registered_capital_cny", "DOUBLE", nullable=True, **MONEY),
        _c("deregistered_date", "DATE", nullable=True),
        INGEST,
    ),
    ("uscc", "version"), "registration", CATALOG_BASIS, ("founded_date",),
)  # fmt: skip

REGISTRATION_CHANGES = _catalog(
    "registration_changes", "registration", "changes of registered particulars",
    (_c("change_type", "VARCHAR", enum=CHANGE_TYPES), _c("change_date", "DATE")),
    ("change_date",),
)  # fmt: skip

PENALTIES = _catalog(
    "penalties", "administration", "administrative penalties 行政处罚",
    (
        _c("decision_no", "VARCHAR"), _c("decision_date", "DATE"),
        _c("penalty_type", "VARCHAR", enum=PENALTY_TYPES),
        _c("severity", "VARCHAR", enum=SEVERITIES),
        _c("domain", "VARCHAR", enum=PENALTY_DOMAINS),
        _c("fine_cny", "DOUBLE", **MONEY), _c("confiscation_cny", "DOUBLE", **MONEY),
        _c("authority", "VARCHAR"),
        _c("publicity_end", "DATE", description="publicity stops by itself (DOMAIN §4 maximum)"),
        _c("repair_date", "DATE", nullable=True, description="credit repair granted"),
    ),
    ("decision_date",),
)  # fmt: skip

LICENCES = _catalog(
    "licences", "administration", "administrative licences 行政许可",
    (
        _c("doc_no", "VARCHAR"), _c("licence_type", "VARCHAR"), _c("decision_date", "DATE"),
        _c("valid_from", "DATE"), _c("valid_to", "DATE", nullable=True), _c("authority", "VARCHAR"),
    ),
    ("decision_date",),
)  # fmt: skip

COURT_DEBTORS = _catalog(
    "court_debtors", "judicial", "dishonest judgment debtors 失信被执行人",
    (
        _c("court", "VARCHAR"), _c("case_no", "VARCHAR"), _c("filing_date", "DATE"),
        _c("publish_date", "DATE"), _c("obligation_cny", "DOUBLE", **MONEY),
        _c("performance", "VARCHAR", enum=PERFORMANCE),
        _c("removed_date", "DATE", nullable=True),
    ),
    ("publish_date",),
)  # fmt: skip

_LIST_COLS = (
    _c("reason", "VARCHAR"), _c("listed_date", "DATE"),
    _c("removed_date", "DATE", nullable=True), _c("authority", "VARCHAR"),
)  # fmt: skip

ABNORMAL = _catalog(
    "abnormal_operations",
    "abnormal",
    "abnormal operations list entries 经营异常名录",
    _LIST_COLS,
    ("listed_date",),
)
DISHONESTY = _catalog(
    "serious_dishonesty",
    "dishonesty",
    "serious dishonesty list entries 严重失信主体名单",
    _LIST_COLS,
    ("listed_date",),
)

TAX_RATINGS = _catalog(
    "tax_ratings", "evaluation", "tax credit ratings 纳税信用等级 (annual, published in April)",
    (
        _c("rating_year", "INTEGER", min_value=1990), _c("grade", "VARCHAR", enum=TAX_GRADES),
        _c("published_date", "DATE"),
    ),
    ("published_date",),
)  # fmt: skip

TAX_PAYMENTS = _catalog(
    "tax_payments", "compliance", "tax paid and declared revenue per quarter 纳税",
    (
        _c("period_start", "DATE"), _c("period_end", "DATE"),
        _c("tax_paid_cny", "DOUBLE", **MONEY), _c("revenue_cny", "DOUBLE", **MONEY),
    ),
    ("period_end",), SHARING_BASIS,
)  # fmt: skip

SOCIAL_INSURANCE = _catalog(
    "social_insurance", "compliance", "social insurance per month 社保",
    (
        _c("month", "DATE"), _c("headcount", "INTEGER", min_value=0),
        _c("paid_cny", "DOUBLE", **MONEY), _c("arrears_cny", "DOUBLE", **MONEY),
    ),
    ("month",), SHARING_BASIS,
)  # fmt: skip

UTILITIES = _catalog(
    "utilities", "contract", "electricity and water per month 水电",
    (
        _c("month", "DATE"), _c("electricity_kwh", "DOUBLE", **MONEY),
        _c("water_m3", "DOUBLE", **MONEY), _c("amount_due_cny", "DOUBLE", **MONEY),
        _c("paid_on_time", "BOOLEAN"), _c("arrears_cny", "DOUBLE", **MONEY),
    ),
    ("month",), SHARING_BASIS,
)  # fmt: skip

HONOURS = _catalog(
    "honours", "honours", "honours and red lists 诚实守信相关荣誉",
    (
        _c("honour_type", "VARCHAR", enum=HONOUR_TYPES), _c("awarded_date", "DATE"),
        _c("valid_to", "DATE", nullable=True), _c("authority", "VARCHAR"),
    ),
    ("awarded_date",),
)  # fmt: skip

COMMITMENTS = _catalog(
    "commitments", "commitment", "credit commitments 信用承诺 and their performance",
    (
        _c("commitment_type", "VARCHAR", enum=COMMITMENT_TYPES),
        _c("commitment_date", "DATE"), _c("accepting_body", "VARCHAR"),
        _c("status", "VARCHAR", enum=COMMITMENT_STATUS),
        _c("status_date", "DATE", description="day the status was last assessed"),
    ),
    ("commitment_date",),
)  # fmt: skip

REORGANISATION_BASIS = (
    "中华人民共和国企业破产法 第七十一条、第八十六条、第八十七条、第九十三条(人民法院裁定受理重整申请、"
    "裁定批准重整计划、终止重整计划的执行) / Enterprise Bankruptcy Law arts. 71, 86, 87, 93: "
    "the court accepts the reorganisation, approves the plan, terminates its execution"
)

REORGANISATION_PLANS = _catalog(
    "reorganisation_plans", "judicial", "court-approved bankruptcy reorganisation plans 破产重整计划",
    (
        _c("court", "VARCHAR"), _c("case_no", "VARCHAR"),
        _c("accepted_date", "DATE",
           description="the court accepted the reorganisation application (art. 71): claims "
           "that arose before it are the plan's"),
        _c("approved_date", "DATE", description="the court approved the plan (arts. 86-87)"),
        _c("execution_end", "DATE", description="end of the plan's execution period"),
        _c("terminated_date", "DATE", nullable=True,
           description="the court terminated the plan's execution (art. 93)"),
    ),
    ("approved_date",), REORGANISATION_BASIS,
)  # fmt: skip

BANKS = Table(
    "banks", "bank", "lending banks known to the platform",
    (_c("bank_id", "VARCHAR"), _c("name", "VARCHAR"), _c("policy", "VARCHAR")),
    ("bank_id",), has_uscc=False,
)  # fmt: skip

APPLICATIONS = Table(
    "applications", "bank", "loan applications and the bank's decision",
    (
        _c("application_id", "VARCHAR"), _c("bank_id", "VARCHAR"), USCC,
        _c("application_date", "DATE"), _c("product", "VARCHAR"),
        _c("requested_cny", "DOUBLE", **MONEY),
        _c("decision", "VARCHAR", enum=("approved", "declined")),
        _c("decline_reason", "VARCHAR", nullable=True),
        _c("limit_cny", "DOUBLE", **MONEY),
    ),
    ("application_id",), event_dates=("application_date",),
)  # fmt: skip

LOANS = Table(
    "loans", "bank", "loans granted",
    (
        _c("loan_id", "VARCHAR"), _c("application_id", "VARCHAR"), _c("bank_id", "VARCHAR"),
        USCC, _c("start_date", "DATE"), _c("amount_cny", "DOUBLE", **MONEY),
        _c("term_months", "INTEGER", min_value=1), _c("rate", "DOUBLE", **MONEY),
    ),
    ("loan_id",), event_dates=("start_date",),
)  # fmt: skip

LOAN_OUTCOMES = Table(
    "loan_outcomes", "bank",
    "loan performance as observed on observation_date (default = 90+ DPD or write-off)",
    (
        _c("loan_id", "VARCHAR"), _c("bank_id", "VARCHAR"), USCC,
        _c("observation_date", "DATE"),
        _c("max_dpd", "INTEGER", min_value=0), _c("default_flag", "BOOLEAN"),
        _c("default_date", "DATE", nullable=True), _c("written_off", "BOOLEAN"),
    ),
    ("loan_id", "observation_date"), event_dates=("observation_date",),
)  # fmt: skip

QUARANTINE = Table(
    "quarantine", "system", "imported rows that failed validation, with reason and source",
    (
        _c("table_name", "VARCHAR"), _c("source_file", "VARCHAR"), _c("source_line", "BIGINT"),
        _c("file_sha256", "VARCHAR"), _c("reason", "VARCHAR"), _c("raw", "VARCHAR"),
        _c("quarantined_at", "TIMESTAMP"),
    ),
    ("file_sha256", "table_name", "source_line"), has_uscc=False,
)  # fmt: skip

IMPORT_LOG = Table(
    "import_log", "system", "one row per imported file",
    (
        _c("file_sha256", "VARCHAR"), _c("table_name", "VARCHAR"), _c("source_file", "VARCHAR"),
        _c("rows_read", "BIGINT"), _c("rows_added", "BIGINT"), _c("rows_quarantined", "BIGINT"),
        _c("imported_at", "TIMESTAMP"),
    ),
    ("file_sha256", "table_name"), has_uscc=False,
)  # fmt: skip

STORE_META = Table(
    "store_meta", "system", "key/value facts about the store (schema version, generator run)",
    (_c("key", "VARCHAR"), _c("value", "VARCHAR")),
    ("key",), has_uscc=False,
)  # fmt: skip

CATALOG_TABLES = (
    ENTITIES, REGISTRATION_CHANGES, PENALTIES, LICENCES, COURT_DEBTORS, ABNORMAL, DISHONESTY,
    TAX_RATINGS, TAX_PAYMENTS, SOCIAL_INSURANCE, UTILITIES, HONOURS, COMMITMENTS,
    REORGANISATION_PLANS,
)  # fmt: skip
BANK_TABLES = (BANKS, APPLICATIONS, LOANS, LOAN_OUTCOMES)
SYSTEM_TABLES = (QUARANTINE, IMPORT_LOG, STORE_META)
ALL_TABLES = CATALOG_TABLES + BANK_TABLES + SYSTEM_TABLES
TABLES: dict[str, Table] = {t.name: t for t in ALL_TABLES}
IMPORTABLE = {t.name: t for t in CATALOG_TABLES + BANK_TABLES}
SCHEMA_VERSION = "1"
# Catalog tables added after stores of schema 1 were first made: a writable open of an older
# store creates them, empty (`catalog.store.add_new_tables`). Any other missing table is damage.
ADDED_TABLES = (REORGANISATION_PLANS,)


def ddl(table: Table) -> str:
    """`CREATE TABLE IF NOT EXISTS` for one table (portable SQL types)."""
    cols = ",\n  ".join(
        f"{c.name} {c.dtype}{'' if c.nullable else ' NOT NULL'}" for c in table.columns
    )
    return f"CREATE TABLE IF NOT EXISTS {table.name} (\n  {cols}\n)"


def category_of(table: Table) -> tuple[str, str] | None:
    """The (Chinese, English) name of a catalog table's category."""
    return CATEGORIES[table.category] if table.category else None
