"""`precredit platform generate` and `precredit demo`: the synthetic Shanwei platform."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from catalog.errors import InvalidInput, ModelUnavailable

if TYPE_CHECKING:
    from catalog import store
    from precredit.settings import Settings
    from synthetic.config import SynthConfig
    from training.pipeline import PipelineResult


Entities = Annotated[int, typer.Option("--entities", help="Number of market entities.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed; same seed, same tables.")]
EndDate = Annotated[str, typer.Option("--end-date", help="Last day of history, YYYY-MM-DD.")]
StoreOpt = Annotated[Path | None, typer.Option("--store", help="Store file to (re)write.")]


def _config(entities: int, seed: int, end_date: str) -> SynthConfig:
    from synthetic.config import SynthConfig

    try:
        end = dt.date.fromisoformat(end_date)
    except ValueError:
        raise InvalidInput("--end-date must be a date in the form YYYY-MM-DD") from None
    return SynthConfig(entities=entities, seed=seed, end_date=end)


def generate(
    entities: Entities = 20_000,
    seed: Seed = 42,
    end_date: EndDate = "2025-12-31",
    store_path: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Write a complete synthetic platform store (replaces the file when done)."""
    from precredit.settings import get_settings
    from synthetic.generate import generate as generate_store

    path = store_path or get_settings().store
    started = time.perf_counter()
    summary = generate_store(path, _config(entities, seed, end_date))
    if as_json:
        typer.echo(
            json.dumps(summary.to_dict() | {"seconds": round(time.perf_counter() - started, 2)})
        )
        return
    rows = sum(summary.rows.values())
    typer.echo(
        f"generated {entities:,} entities, {rows:,} rows in {time.perf_counter() - started:.1f} s"
    )
    typer.echo(f"store {path}  content hash {summary.content_hash[:16]}")


def demo(
    entities: Entities = 20_000,
    seed: Seed = 42,
    serve: Annotated[bool, typer.Option(help="End by serving the API on 127.0.0.1:8000")] = True,
    port: Annotated[int, typer.Option(help="Port for the API")] = 8000,
) -> None:
    """The main job on embedded defaults: platform, snapshot, quality report, model, API."""
    from catalog import quality, store
    from features import snapshot
    from precredit.settings import get_settings
    from synthetic.generate import generate as generate_store
    from training.pipeline import PipelineConfig, run

    settings = get_settings()
    config = _config(entities, seed, "2025-12-31")
    typer.echo(
        f"[1/7] generating the synthetic Shanwei platform ({entities:,} entities, seed {seed})"
    )
    summary = generate_store(settings.store, config)
    typer.echo(f"      {settings.store}  content hash {summary.content_hash[:16]}")
    with store.connect(settings.store) as con:
        typer.echo(f"[2/7] feature snapshot as of {config.end_date}")
        typer.echo(f"      {snapshot.build(con, config.end_date):,} entities")
        typer.echo("[3/7] data-quality report")
        typer.echo(quality.check_store(con).render_text())
        example = _example_code(con)
    typer.echo(f"[4/7] training the cold-start platform model (MLflow: {settings.mlflow_uri})")
    result = run(
        "platform",
        "platform",
        PipelineConfig(settings.store, settings.mlflow_uri, settings.artifact_root, seed=seed),
    )
    _echo_training(result)
    if not result.promoted:
        raise ModelUnavailable(
            "the promotion gate refused the cold-start model (its checks above), so nothing "
            "can be served; the demo is measured on 20,000 entities (the default) and more"
        )
    public = run(
        "platform",
        "platform",
        PipelineConfig(settings.store, settings.mlflow_uri, settings.artifact_root, seed=seed),
        scope="public",
    )
    _echo_training(public)
    typer.echo("[5/7] public credit composite evaluation and early warnings")
    _platform_services(settings.store, config.end_date)
    key = _demo_key()
    public_code = _demo_consents(settings.store, example, seed)
    typer.echo("[6/7] batch offers for demo_bank (every consented entity of the snapshot)")
    _offers(settings)
    typer.echo("[7/7] the scoring API; try it from another terminal:")
    typer.echo(
        f"      curl -s -X POST http://127.0.0.1:{port}/v1/preapprovals -H 'Authorization: Bearer {key}' "
        f'-H \'Content-Type: application/json\' -d \'{{"uscc": "{example}", "requested_amount_cny": 500000}}\''
    )
    if public.promoted:
        typer.echo(
            f"      {public_code} consented to public credit records only: the same request for "
            "it is answered by the public-records-only model"
        )
    else:
        typer.echo(
            f"      {public_code} consented to public credit records only: its requests answer "
            "503 model_unavailable, as the gate refused the public-records-only model"
        )
    typer.echo(f"      OpenAPI docs: http://127.0.0.1:{port}/docs   (Ctrl-C stops the API)")
    typer.echo(
        f"      operator console: http://127.0.0.1:{port}/console   (sign in with an operator "
        'key: .venv/bin/precredit operators add "Your Name" | tail -1)'
    )
    typer.echo("      demo bank API key:")
    typer.echo(key)
    if serve:
        from precredit.cli.service import serve as serve_api

        serve_api(host="127.0.0.1", port=port, workers=1)


def _echo_training(result: PipelineResult) -> None:
    m = result.metrics
    typer.echo(
        f"      out of time: AUC {m['auc']:.3f} (WoE scorecard {m['auc_scorecard']:.3f}, "
        f"incumbent rule {m['auc_incumbent_rule']:.3f}), ECE {m['ece']:.4f}"
    )
    state = (
        "promoted to @champion"
        if result.promoted
        else "not promoted: " + "; ".join(result.verdict.reasons())
    )
    name = "precredit-" + result.tenant
    typer.echo(f"      {name} version {result.version} @challenger, {state}")


def _platform_services(path: Path, as_of: dt.date) -> None:
    """Grade every entity and run the warning rules, printing counts."""
    from catalog import store
    from platform_services.evaluation import grading
    from platform_services.warnings.run import run_warnings

    with store.connect(path) as con:
        graded = grading.evaluate(con)
        found = run_warnings(con, as_of)
    grades = ", ".join(f"{g} {n:,}" for g, n in graded.grades.items())
    typer.echo(f"      graded {graded.entities:,} entities ({graded.per_second:,.0f}/s): {grades}")
    rules = ", ".join(f"{r} {n:,}" for r, n in found.by_rule.items() if n)
    typer.echo(f"      {found.warnings:,} warnings: {rules}")


def _offers(settings: Settings) -> None:
    """One batch of offers for the demo bank, with its exports."""
    from catalog import store
    from serving.db.engine import make_engine, session_factory
    from serving.decision.model_store import ModelHolder
    from serving.offer.run import OfferOptions, OfferSources, run_offers

    sessions = session_factory(make_engine(settings.service_db))
    models = ModelHolder(settings.mlflow_uri, settings.artifact_root, settings.model_cache)
    with store.connect(settings.store, read_only=True) as con:
        offers = run_offers(
            OfferSources(sessions, models, con),
            "demo_bank",
            OfferOptions(out_dir=settings.home / "offers" / "demo_bank"),
        )
    c = offers.counts
    typer.echo(
        f"      {c.scored:,} scored, {c.created:,} offers (valid until {offers.valid_until:%Y-%m-%d}) "
        f"in {offers.seconds:.1f} s; exports in {settings.home / 'offers' / 'demo_bank'}"
    )


def _example_code(con: store.Connection) -> str:
    """A healthy enterprise of the snapshot, for the copy-paste curl."""
    from features import snapshot

    rows = con.execute(
        f"SELECT uscc FROM {snapshot.TABLE} WHERE reg_entity_type = 0 AND court_in_force = 0 "
        "AND abn_in_force = 0 AND dis_in_force = 0 AND tax_grade_latest >= 4 "
        "ORDER BY tax_paid_cny_24m DESC, uscc LIMIT 1"
    ).fetchall()
    return str(rows[0][0]) if rows else ""


DEMO_PUBLIC_SHARE = 0.1  # of the demo's synthetic consents, those to public records only


def _demo_consents(path: Path, example: str, seed: int) -> str:
    """Synthetic consents of every snapshot entity for demo_bank (a seeded tenth: public records
    only, never `example`), as the SME financing platform would collect them; the first
    public-only code."""
    import hashlib

    import numpy as np

    from catalog import store, uscc
    from catalog.schema import DATA_SCOPES
    from features import snapshot
    from precredit.settings import get_settings
    from serving.db import consents
    from serving.db.engine import make_engine, session_factory

    with store.connect(path, read_only=True) as con:
        rows_ = con.execute(f"SELECT uscc FROM {snapshot.TABLE} ORDER BY uscc").fetchall()
    codes = [str(r[0]) for r in rows_ if uscc.is_valid(str(r[0]))]  # pilot-era codes: none
    public = np.random.default_rng(seed).random(len(codes)) < DEMO_PUBLIC_SHARE
    start = consents.today()
    rows = [
        consents.ConsentFields(
            code,
            ("public_records",) if only and code != example else tuple(DATA_SCOPES),
            "preapproval",
            start,
            start + dt.timedelta(days=365),
            hashlib.sha256(f"demo authorisation {code}".encode()).hexdigest(),
        )
        for code, only in zip(codes, public.tolist(), strict=True)
    ]
    with session_factory(make_engine(get_settings().service_db))() as session:
        if not consents.listed(session, "demo_bank"):
            consents.record_many(session, "demo_bank", rows, "demo")
            session.commit()
    typer.echo(
        f"      {len(rows):,} synthetic consents for demo_bank ({public.sum():,} public only)"
    )
    return next((r.uscc for r in rows if r.scope == ("public_records",)), "")


def _demo_key() -> str:
    """A fresh API key for the `demo_bank` tenant (registered on first use)."""
    from precredit.settings import get_settings
    from serving.db import repo
    from serving.db.engine import make_engine, session_factory
    from serving.db.migrate import upgrade

    url = get_settings().service_db
    upgrade(url)
    with session_factory(make_engine(url))() as session:
        if repo.get_tenant(session, "demo_bank") is None:
            options = repo.TenantOptions(require_consent=True)
            repo.create_tenant(session, "demo_bank", "Demo Bank", options)
        key = repo.issue_key(session, "demo_bank", ["score", "outcomes", "admin"])
        session.commit()
    return key
