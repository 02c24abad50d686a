"""`precredit retrain` and `precredit retrain-due`: retraining jobs on banks' loan outcomes."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


AsOf = Annotated[
    str | None, typer.Option(help="Maturity date for outcomes, YYYY-MM-DD (default: today)")
]


def _sessions() -> sessionmaker[Session]:
    from precredit.settings import get_settings
    from serving.db.engine import make_engine, session_factory
    from serving.db.migrate import upgrade

    settings = get_settings()
    upgrade(settings.service_db)
    return session_factory(make_engine(settings.service_db))


def _day(as_of: str | None) -> dt.date:
    return dt.date.fromisoformat(as_of) if as_of else dt.datetime.now(dt.UTC).date()


def retrain(
    tenant: Annotated[str, typer.Option(help="Bank tenant id")],
    as_of: AsOf = None,
    trigger: Annotated[
        str, typer.Option(help="Why: on_demand, schedule, new_outcomes, drift")
    ] = "on_demand",
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="PRECREDIT_API_KEY",
            help="The requester's API key: recorded, and barred from approving the result.",
            show_default=False,
        ),
    ] = None,
    reject_inference: Annotated[
        str | None,
        typer.Option(
            "--reject-inference",
            help="Declined applicants: none, fuzzy or platform (default: the setting)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Retrain a bank's model on its matured outcomes now (the job the API runs in background)."""
    from catalog.errors import InvalidInput
    from precredit.settings import get_settings
    from serving import retraining
    from training.reject_inference import METHODS

    if reject_inference is not None and reject_inference not in METHODS:
        raise InvalidInput(f"--reject-inference must be one of {', '.join(METHODS)}")
    settings, sessions = get_settings(), _sessions()
    requester = "precredit retrain (CLI)" if key is None else _requester(sessions, key, tenant)
    request = retraining.RetrainRequest(
        tenant,
        trigger,
        requester,
        _day(as_of),
        settings.retrain_seed,
        reject_inference,
    )
    job = retraining.submit(sessions, request)
    typer.echo(f"job {job.id} queued for {tenant} ({trigger})")
    done = retraining.run(settings, sessions, job.id)
    typer.echo(json.dumps(done, indent=2, ensure_ascii=False, default=str))
    if done["status"] != "succeeded":
        raise typer.Exit(3)


def _requester(sessions: sessionmaker[Session], key: str, tenant: str) -> str:
    """The identity of a bank's live key (maker-checker: it may not approve this retraining)."""
    from catalog.errors import NotFound
    from serving.db import repo
    from serving.errors import ApiError

    with sessions() as session:
        principal = repo.authenticate(session, key)
    if principal is None:
        raise ApiError(401, "unauthorized", "--key is not a live API key")
    if principal.tenant_id != tenant:
        raise NotFound(f"this key cannot act for {tenant!r}")
    return repo.identity(principal)


def retrain_due(
    as_of: AsOf = None,
    run: Annotated[bool, typer.Option("--run/--dry-run", help="Run the due retrainings")] = True,
) -> None:
    """For cron: retrain every bank whose triggers fired (new outcomes, schedule, drift)."""
    from precredit.settings import get_settings
    from serving import retraining
    from serving.db import repo

    settings, sessions, day = get_settings(), _sessions(), _day(as_of)
    with sessions() as session:
        banks = [t.id for t in repo.list_tenants(session) if not t.platform]
    for bank in banks:
        fired = retraining.due(settings, sessions, bank, day)
        typer.echo(f"{bank}: {', '.join(fired) or 'nothing due'}")
        if fired and run:
            request = retraining.RetrainRequest(
                bank, fired[0], f"retrain-due ({', '.join(fired)})", day, settings.retrain_seed
            )
            job = retraining.submit(sessions, request)
            done = retraining.run(settings, sessions, job.id)
            typer.echo(
                f"    job {job.id}: {done['status']} "
                f"{(done['result'] or {}).get('promotion', done['error'])}"
            )
