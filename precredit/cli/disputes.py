"""`precredit disputes ...`: disputes (异议) and credit-repair applications from the shell.

`add` and `set-state` act as an API key (`--key` or `$PRECREDIT_API_KEY`), exactly as the API
does: a bank or the financing platform files, an operator moves a case. `list`, `show` and
`reconcile` are the platform operator's shell (every case). Run `reconcile` after importing
corrections: it closes the cases whose record was corrected or retracted, re-scores the
entities' offers and queues `dispute.resolved` for the banks.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from serving.db import repo

disputes_app = typer.Typer(
    help="Disputes (异议) and credit-repair applications, due in 2 working days.",
    no_args_is_help=True,
)
KeyOption = Annotated[
    str,
    typer.Option(
        "--key", envvar="PRECREDIT_API_KEY", help="The API key acting", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _principal(key: str, scopes: tuple[str, ...]) -> repo.Principal:
    from precredit.cli.retrain import _sessions
    from serving.db import repo
    from serving.errors import ApiError

    with _sessions()() as session:
        principal = repo.authenticate(session, key)
    if principal is None:
        raise ApiError(401, "unauthorized", "--key is not a live API key")
    if not principal.scopes & set(scopes):
        wanted = "' or '".join(scopes)
        raise ApiError(403, "forbidden", f"this API key lacks the '{wanted}' scope")
    return principal


def _checked(model: type, **fields: object) -> object:
    """`model(**fields)`, its validation errors as one line naming the field (never the value)."""
    from pydantic import ValidationError

    from catalog.errors import InvalidInput

    try:
        return model(**fields)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}") from None


def _received(value: str | None) -> dt.datetime:
    from catalog.errors import InvalidInput

    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("--received-at is an ISO date-time with its offset") from None
    if moment.tzinfo is None:
        raise InvalidInput("--received-at needs its offset, e.g. 2026-09-29T10:00+08:00")
    return moment.astimezone(dt.UTC)


@disputes_app.command("add")
def add(
    code: Annotated[str, typer.Argument(help="The enterprise's credit code")],
    claim: Annotated[str, typer.Option(help="What is wrong (plain text, <= 2,000 characters)")],
    evidence_sha256: Annotated[str, typer.Option(help="SHA-256 (hex) of the evidence file")],
    key: KeyOption,
    table: Annotated[str | None, typer.Option(help="The disputed record's table")] = None,
    record_id: Annotated[str | None, typer.Option(help="The disputed record's id")] = None,
    decision: Annotated[str | None, typer.Option(help="Or: your decision citing it")] = None,
    feature: Annotated[str | None, typer.Option(help="...and the reason's feature")] = None,
    kind: Annotated[str, typer.Option(help="dispute or repair")] = "dispute",
    received_at: Annotated[
        str | None, typer.Option(help="When it was received (paper filings) [now]")
    ] = None,
) -> None:
    """File a dispute or a repair application for an enterprise; prints its id and due date."""
    from precredit.cli.retrain import _sessions
    from precredit.settings import get_settings
    from serving.disputes import cases
    from serving.schemas import DisputeIn

    principal = _principal(key, ("score", "platform"))
    record = (
        None if table is None and record_id is None else {"table": table, "record_id": record_id}
    )
    reason = (
        None
        if decision is None and feature is None
        else {"decision_id": decision, "feature": feature}
    )
    body = _checked(DisputeIn, uscc=code, kind=kind, record=record, reason=reason, claim=claim,
                    evidence_sha256=evidence_sha256)  # fmt: skip
    assert isinstance(body, DisputeIn)
    now = _received(received_at)
    with _sessions().begin() as session:
        lookup = cases.store_lookup(get_settings().store)
        case = cases.file_case(session, lookup, principal.tenant_id, body, now)
        shown = cases.answer(session, case, now)
    due = shown["due_date"] or "unknown (the working-day calendar does not cover it yet)"
    typer.echo(f"{shown['kind']} {shown['dispute_id']} received; due {due}")


@disputes_app.command("set-state")
def set_state(
    dispute_id: Annotated[str, typer.Argument(help="The case id")],
    state: Annotated[str, typer.Argument(help="checking, corrected or rejected")],
    answer: Annotated[str, typer.Option(help="The answer given (plain text)")],
    key: KeyOption,
) -> None:
    """Move a case (operator key): received -> checking -> corrected | rejected."""
    from precredit.cli.retrain import _sessions
    from serving.db import repo
    from serving.db.models import utcnow
    from serving.disputes import cases
    from serving.schemas import DisputeStateIn

    principal = _principal(key, ("operator",))
    body = _checked(DisputeStateIn, state=state, answer=answer)
    assert isinstance(body, DisputeStateIn)
    with _sessions().begin() as session:
        case = cases.set_state(session, dispute_id[:64], body, repo.identity(principal), utcnow())
        typer.echo(f"{case.kind} {case.id} is now {case.state}")


@disputes_app.command("list")
def list_cases(
    tenant: Annotated[str | None, typer.Option(help="Only cases this tenant filed")] = None,
    overdue: Annotated[bool, typer.Option(help="Only open cases past their due day")] = False,
    as_json: JsonOption = False,
) -> None:
    """Cases, newest first: state, due day (China time), overdue flag."""
    from platform_services.deadlines import local_date
    from precredit.cli.retrain import _sessions
    from serving.db import disputes as rows
    from serving.db.models import utcnow
    from serving.disputes import cases

    now = utcnow()
    with _sessions()() as session:
        found = (
            rows.overdue_cases(session, tenant, local_date(now))
            if overdue
            else rows.list_cases(session, tenant)
        )
        shown = [cases.answer(session, c, now) for c in found]
    if as_json:
        typer.echo(json.dumps(shown, indent=2, ensure_ascii=False))
        return
    if not shown:
        typer.echo("no overdue cases" if overdue else "no cases")
    for case in shown:
        late = "  OVERDUE" if case["overdue"] else ""
        target = case["record"] or case["reason"] or {}
        assert isinstance(target, dict)
        typer.echo(
            f"{case['dispute_id']}  {case['kind']:7} {case['state']:9} {case['uscc']}  "
            f"due {case['due_date'] or 'unknown'}  by {case['filed_by']}  "
            f"{'/'.join(str(v) for v in list(target.values())[:2])}{late}"
        )


@disputes_app.command("show")
def show(dispute_id: Annotated[str, typer.Argument(help="The case id")]) -> None:
    """One case with its audit trail, as JSON."""
    from precredit.cli.retrain import _sessions
    from serving.db import disputes as rows
    from serving.db.models import utcnow
    from serving.disputes import cases

    with _sessions()() as session:
        case = rows.get_case(session, dispute_id[:64], None)
        typer.echo(json.dumps(cases.answer(session, case, utcnow()), indent=2, ensure_ascii=False))


@disputes_app.command("reconcile")
def reconcile() -> None:
    """Close cases whose record was corrected or retracted; re-score; tell the banks."""
    from catalog import store
    from precredit.cli.offers import _models
    from precredit.cli.retrain import _sessions
    from precredit.settings import get_settings
    from serving.db.models import utcnow
    from serving.disputes.reconcile import reconcile as run

    sessions = _sessions()
    with store.connect(get_settings().store) as con:
        result = run(sessions, con, _models(), utcnow())
    typer.echo(f"closed {len(result.closed)} case(s); dispute.resolved events {result.events}")
    for case_id in result.closed:
        typer.echo(f"  corrected {case_id}")
    for tenant, counts in sorted(result.rescored.items()):
        changes = ", ".join(f"{k} {counts[k]}" for k in ("scored", "created", "changed", "revoked"))
        typer.echo(f"  offers of {tenant}: {changes}")
    for case_id in result.awaiting_snapshot:
        typer.echo(f"  {case_id}: corrected after the snapshot date; rebuild the snapshot")
    if result.deadlines_set:
        typer.echo(f"  deadlines set now: {result.deadlines_set}")


@disputes_app.command("report")
def report(as_json: JsonOption = False) -> None:
    """Open cases, overdue, answered on time and median hours to answer, by kind and department
    (a repair application is answered by its first review)."""
    from precredit.cli.retrain import _sessions
    from serving.db import disputes as rows
    from serving.db.models import utcnow
    from serving.disputes.report import report as build

    with _sessions()() as session:
        figures = build(rows.all_cases(session), utcnow(), rows.first_reviews(session))
    if as_json:
        typer.echo(json.dumps(figures.to_dict(), indent=2, ensure_ascii=False))
        return
    typer.echo(f"disputes and repair applications as of {figures.as_of}")
    typer.echo(f"{'department':32} cases  open  overdue  unknown  answered  on time  median h")
    for line in [figures.total, *figures.by_kind, *figures.by_department]:
        median = "-" if line.median_hours_to_answer is None else line.median_hours_to_answer
        typer.echo(
            f"{line.department[:32]:32} {line.cases:5} {line.open:5} {line.overdue:8} "
            f"{line.deadline_unknown:8} {line.answered:9} {line.answered_on_time:8} {median:>9}"
        )
