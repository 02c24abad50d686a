"""`precredit serve` and `precredit banks ...`: run the API, manage tenants and their keys."""

from __future__ import annotations

import os
import socket
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from catalog.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class Promotion(StrEnum):
    """How a bank's challenger becomes champion."""

    auto = "auto"  # as soon as it passes the gate
    manual = "manual"  # after an admin approves it (POST /v1/models/promote)


Pooling = Annotated[
    bool,
    typer.Option(
        "--pooling/--no-pooling", help="Opt into pooled training data with other pooling banks"
    ),
]

banks_app = typer.Typer(help="Banks (tenants) and their API keys.", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Serve the scoring API with uvicorn (OpenAPI docs at /docs)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from precredit.settings import get_settings
    from serving import http
    from serving.db.migrate import upgrade

    upgrade(get_settings().migration_db)  # once, before workers start
    # Workers read it to size their database pools: together they hold PRECREDIT_DB_CONNECTIONS.
    os.environ["PRECREDIT_WORKERS"] = str(max(workers, 1))
    limits = http.Limits.of(get_settings())
    config = http.config("serving.app:create_app", host, port, workers, limits, factory=True)
    if workers <= 1:
        uvicorn.Server(config).run()
        return
    Multiprocess(config, sockets=[_listener(host, port)]).run()


def _listener(host: str, port: int) -> socket.socket:
    """The workers' shared listening socket, created as TCP explicitly.

    uvicorn's own (`socket.socket(family)`, protocol 0) reaches the workers with `proto == 0`,
    so asyncio skips TCP_NODELAY on accepted connections and every answer waits ~40 ms for a
    delayed ACK. With IPPROTO_TCP, accepted sockets get TCP_NODELAY as in one-process mode.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise InvalidInput(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.set_inheritable(True)
    return sock


def session() -> Session:
    """A session on the service database (migrated to head first)."""
    return _sessions()


def _sessions() -> Session:
    from precredit.settings import get_settings
    from serving.db.engine import make_engine, session_factory
    from serving.db.migrate import upgrade

    url = get_settings().service_db
    upgrade(url)
    return session_factory(make_engine(url))()


@banks_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Display name of the bank")],
    bank_id: Annotated[
        str | None, typer.Option("--id", help="Tenant id (default: from the name)")
    ] = None,
    admin: Annotated[bool, typer.Option(help="Also allow model operations (admin scope)")] = False,
    pooling: Pooling = False,
    promotion: Promotion = Promotion.manual,
    require_consent: Annotated[
        bool,
        typer.Option(
            "--require-consent/--no-require-consent",
            help="Score only entities with a valid consent (default; off: development only)",
        ),
    ] = True,
) -> None:
    """Register a bank and print its API key once, alone on the last line."""
    from serving.db import repo

    tenant = bank_id or name.strip().lower().replace(" ", "_").replace("-", "_")
    scopes = ["score", "outcomes"] + (["admin"] if admin else [])
    with _sessions() as session:
        options = repo.TenantOptions(pooling, promotion.value, require_consent=require_consent)
        repo.create_tenant(session, tenant, name, options)
        key = repo.issue_key(session, tenant, scopes)
        session.commit()
    typer.echo(
        f"bank {tenant} registered with scopes {', '.join(scopes)}; its API key (shown once):"
    )
    typer.echo(key)


@banks_app.command("set")
def set_policy(
    bank_id: Annotated[str, typer.Argument(help="Tenant id")],
    pooling: Annotated[
        bool | None,
        typer.Option("--pooling/--no-pooling", help="Opt in or out of pooled training data"),
    ] = None,
    promotion: Annotated[Promotion | None, typer.Option(help="Challenger promotion policy")] = None,
    financing: Annotated[
        bool | None,
        typer.Option(
            "--financing/--no-financing", help="Answer the SME financing platform's requests"
        ),
    ] = None,
    require_consent: Annotated[
        bool | None,
        typer.Option(
            "--require-consent/--no-require-consent",
            help="Score only entities with a valid consent",
        ),
    ] = None,
) -> None:
    """Change a bank's pooling opt-in, promotion policy or financing-platform opt-in."""
    from serving.db import repo

    with _sessions() as session:
        tenant = repo.get_tenant(session, bank_id)
        if tenant is None:
            raise NotFound(f"no tenant {bank_id!r}")
        if pooling is not None:
            tenant.pooling_opt_in = pooling
        if promotion is not None:
            tenant.promotion_policy = promotion.value
        if financing is not None:
            tenant.financing_opt_in = financing
        if require_consent is not None:
            tenant.require_consent = require_consent
        session.commit()
        typer.echo(
            f"bank {tenant.id}: pooling {'on' if tenant.pooling_opt_in else 'off'}, "
            f"promotion {tenant.promotion_policy}, "
            f"financing requests {'on' if tenant.financing_opt_in else 'off'}, "
            f"consent {'required' if tenant.require_consent else 'not required'}"
        )


@banks_app.command("key")
def new_key(
    bank_id: Annotated[str, typer.Argument(help="Tenant id")],
    admin: Annotated[bool, typer.Option(help="Also allow model operations (admin scope)")] = False,
) -> None:
    """Issue another key for an existing bank (printed once, alone on the last line)."""
    from serving.db import repo

    with _sessions() as session:
        key = repo.issue_key(session, bank_id, ["score", "outcomes"] + (["admin"] if admin else []))
        session.commit()
    typer.echo(key)


@banks_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="Key id (see `banks list`)")]) -> None:
    """Revoke an API key; requests with it get 401 from then on."""
    from serving.db import repo

    with _sessions() as session:
        repo.revoke_key(session, key_id)
        session.commit()
    typer.echo(f"key {key_id} revoked")


@banks_app.command("list")
def list_banks() -> None:
    """Banks and their keys (ids and prefixes only; never a secret)."""
    from serving.db import repo

    with _sessions() as session:
        for tenant in repo.list_tenants(session):
            typer.echo(f"{tenant.id:20} {tenant.name}")
            for key in repo.list_keys(session, tenant.id):
                state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
                typer.echo(
                    f"    {key.id}  {key.prefix}…  {','.join(sorted(key.scopes)):22} {state}"
                    + (f"  ({key.name})" if key.name else "")
                )
