"""`precredit offers ...` and `precredit webhooks ...`: batch offers, exports, signed events."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from precredit.cli.features import Engine, EngineOpt, FromOpt, _date

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from serving.decision.model_store import ModelHolder
    from serving.offer.run import OfferOptions, OfferRun
    from serving.webhooks import DeliveryReport


offers_app = typer.Typer(help="Batch pre-approval offers and their exports.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook endpoints and signed offer events.", no_args_is_help=True)

Tenant = Annotated[str, typer.Option("--tenant", help="Tenant (bank) id")]
COUNTS = ("scored", "carried", "created", "changed", "revoked", "expired", "unchanged", "events")


def _sessions() -> sessionmaker[Session]:
    from precredit.settings import get_settings
    from serving.db.engine import make_engine, session_factory
    from serving.db.migrate import upgrade

    url = get_settings().service_db
    upgrade(url)
    return session_factory(make_engine(url))


def _models() -> ModelHolder:
    from precredit.settings import get_settings
    from serving.decision.model_store import ModelHolder

    settings = get_settings()
    return ModelHolder(settings.mlflow_uri, settings.artifact_root, settings.model_cache)


def _echo_run(result: OfferRun) -> None:
    typer.echo(
        f"offers for {result.tenant_id}: {result.model_name} version "
        f"{result.model_version}, product {result.product}, valid until "
        f"{result.valid_until:%Y-%m-%d %H:%M} UTC"
    )
    for name in COUNTS:
        typer.echo(f"  {name:10} {getattr(result.counts, name)}")
    for kind, path in result.exports.items():
        typer.echo(f"  {kind:10} {path}")
    typer.echo(f"  done in {result.seconds:.1f} s")


@offers_app.command("run")
def run(
    tenant: Tenant,
    out: Annotated[
        Path | None, typer.Option(help="Export directory [<home>/offers/<tenant>]")
    ] = None,
    valid_days: Annotated[
        int | None, typer.Option(min=1, help="Days an offer stays valid [the offer run's: 30]")
    ] = None,
    engine: EngineOpt = Engine.duckdb,
    source: FromOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Spark: features as of YYYY-MM-DD [the snapshot's]"),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Re-score every entity, even those unchanged")
    ] = False,
) -> None:
    """Score every entity for a bank; write its offers, events and exports.

    DuckDB (default): the store's feature snapshot. Spark: features computed on Spark from
    Parquet platform files (`--from`, default: the store exported to a temporary directory).
    """
    from catalog.errors import InvalidInput
    from precredit.settings import get_settings
    from serving.offer.run import DEFAULT_VALID_DAYS, OfferOptions

    if engine is Engine.duckdb and (source is not None or as_of is not None):
        raise InvalidInput("--from and --as-of choose Spark's inputs: give --engine spark")
    settings = get_settings()
    options = OfferOptions(
        out_dir=out or settings.home / "offers" / tenant,
        valid_days=valid_days or DEFAULT_VALID_DAYS,
        full=full,
    )
    if engine is Engine.spark:
        result = _run_spark(tenant, options, source, as_of)
    else:
        result = _run_duckdb(tenant, options)
    _echo_run(result)


def _run_duckdb(tenant: str, options: OfferOptions) -> OfferRun:
    from catalog import store
    from precredit.settings import get_settings
    from serving.offer.run import OfferSources, run_offers

    with store.connect(get_settings().store, read_only=True) as con:
        return run_offers(OfferSources(_sessions(), _models(), con), tenant, options)


def _run_spark(
    tenant: str, options: OfferOptions, source: Path | None, as_of: str | None
) -> OfferRun:
    import tempfile

    from catalog import ingest, store
    from features import snapshot, spark
    from features.platform_files import parquet_tables
    from precredit.settings import get_settings
    from serving.offer.spark import SparkInputs, SparkSources, run_offers_spark

    sessions, models = _sessions(), _models()
    with tempfile.TemporaryDirectory(prefix="precredit-platform-") as scratch:
        if source is None or as_of is None:
            with store.connect(get_settings().store, read_only=True) as con:
                day = _date(as_of) if as_of else snapshot.as_of(con)
                if source is None:
                    source = Path(scratch)
                    ingest.export_dir(con, source, "parquet")
        else:
            day = _date(as_of)
        parquet_tables(source)  # refuse a bad directory before starting Spark
        with spark.running() as session:
            inputs = SparkInputs(source, day)
            return run_offers_spark(
                SparkSources(sessions, models, session), tenant, inputs, options
            )


@offers_app.command("rescore")
def rescore_codes(
    codes: Annotated[list[str], typer.Argument(help="Credit codes whose data changed")],
    tenant: Annotated[
        str | None, typer.Option(help="Only this bank [every bank with offers]")
    ] = None,
    refresh: Annotated[bool, typer.Option(help="Refresh their snapshot rows first")] = False,
    valid_days: Annotated[
        int | None, typer.Option(min=1, help="Days a new offer stays valid [the offer run's: 30]")
    ] = None,
) -> None:
    """Re-score entities after a correction or a new record; revoke offers that no longer hold."""
    from catalog import store
    from features import snapshot
    from precredit.settings import get_settings
    from serving.db.offers import tenants_with_offers
    from serving.offer.run import DEFAULT_VALID_DAYS, OfferOptions, OfferSources, rescore

    settings, sessions = get_settings(), _sessions()
    if refresh:
        with store.connect(settings.store) as con:
            snapshot.refresh(con, codes)
    with sessions() as session:
        tenants = [tenant] if tenant else tenants_with_offers(session)
    models = _models()
    with store.connect(settings.store, read_only=True) as con:
        for name in tenants:
            sources = OfferSources(sessions, models, con)
            options = OfferOptions(valid_days=valid_days or DEFAULT_VALID_DAYS)
            _echo_run(rescore(sources, name, codes, options))


@webhooks_app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="https:// URL receiving the events")],
    tenant: Tenant,
    event: Annotated[list[str] | None, typer.Option(help="Event type to send [all]")] = None,
) -> None:
    """Register an endpoint; prints its signing secret once, alone on the last line."""
    from precredit.settings import get_settings
    from serving.db import webhooks as outbox
    from serving.db.secrets import box_for
    from serving.targets import check_target

    settings = get_settings()
    check_target(url, settings.webhook_allow_private)
    options = outbox.EndpointOptions(
        box=box_for(settings.webhook_key), allow_private=settings.webhook_allow_private
    )
    with _sessions().begin() as session:
        info, secret = outbox.add_endpoint(session, tenant, url, event or None, options)
    typer.echo(
        f"endpoint {info.id} for {tenant}: {info.url} ({', '.join(info.events)}); "
        "its signing secret (shown once):"
    )
    typer.echo(secret)


@webhooks_app.command("list")
def list_endpoints(tenant: Tenant) -> None:
    """A bank's endpoints (never their secrets)."""
    from serving.db import webhooks as outbox

    with _sessions()() as session:
        for info in outbox.list_endpoints(session, tenant):
            state = f"disabled {info.disabled_at:%Y-%m-%d}" if info.disabled_at else "enabled"
            typer.echo(f"{info.id}  {state:19} {','.join(info.events):44} {info.url}")


@webhooks_app.command("disable")
def disable(
    endpoint_id: Annotated[str, typer.Argument(help="Endpoint id")], tenant: Tenant
) -> None:
    """Stop sending events to an endpoint."""
    from serving.db import webhooks as outbox
    from serving.db.models import utcnow

    with _sessions().begin() as session:
        outbox.disable_endpoint(session, tenant, endpoint_id, utcnow())
    typer.echo(f"endpoint {endpoint_id} disabled")


def _echo_report(report: DeliveryReport) -> None:
    typer.echo(
        f"events {report.claimed}: delivered {report.delivered}, retrying "
        f"{report.retrying}, dead {report.dead} ({report.requests} requests, "
        f"{report.failures} failed)"
    )


@webhooks_app.command("deliver")
def deliver(
    once: Annotated[bool, typer.Option(help="Deliver what is due now, then stop")] = False,
    poll_seconds: Annotated[float, typer.Option(min=0.1, help="Wait between passes")] = 5.0,
    base_seconds: Annotated[float, typer.Option(min=0, help="First retry delay")] = 30.0,
    max_attempts: Annotated[int, typer.Option(min=1, help="Attempts before an event is dead")] = 8,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per request")] = 10.0,
) -> None:
    """Post due events to their endpoints, signed, retrying with exponential backoff."""
    from precredit.settings import get_settings
    from serving.db.secrets import box_for
    from serving.webhooks import RetryPolicy, deliver_all_due

    settings, sessions = get_settings(), _sessions()
    policy = RetryPolicy(
        base_seconds=base_seconds,
        max_attempts=max_attempts,
        timeout_seconds=timeout,
        allow_private=settings.webhook_allow_private,
        box=box_for(settings.webhook_key),
    )
    try:
        while True:
            report = deliver_all_due(sessions, policy=policy)
            if once or report.claimed:
                _echo_report(report)
            if once:
                return
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        typer.echo("stopped")
