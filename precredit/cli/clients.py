"""`precredit operators add` and `precredit financing-platform add`: the platform's own keys.

Both live on the platform's tenant (`platform`, created on first use; no bank may take that id).
An operator's key (scopes admin + operator) is the only one that promotes platform models; the
SME financing platform's key (scope platform) sends financing requests. Each key prints once,
alone on the last line.
"""

from __future__ import annotations

from typing import Annotated

import typer

operators_app = typer.Typer(
    help="Platform operators: the admins who promote platform models.", no_args_is_help=True
)
financing_app = typer.Typer(
    help="The SME financing platform's client (platform scope).", no_args_is_help=True
)
NameArgument = Annotated[str, typer.Argument(help="Who holds the key (shown in `banks list`)")]


def _platform_key(name: str, scopes: list[str]) -> str:
    from precredit.cli.retrain import _sessions
    from serving.db import repo

    with _sessions()() as session:
        repo.ensure_platform(session)
        key = repo.issue_key(session, "platform", scopes, name=name)
        session.commit()
    return key


@operators_app.command("add")
def add_operator(name: NameArgument) -> None:
    """A platform operator's admin key (promotes platform models), printed once."""
    key = _platform_key(name, ["admin", "operator"])
    typer.echo(
        f"operator {name.strip()} added with scopes admin, operator; its API key (shown once):"
    )
    typer.echo(key)


@financing_app.command("add")
def add_financing_platform(name: NameArgument) -> None:
    """The SME financing platform's client key (platform scope), printed once."""
    key = _platform_key(name, ["platform"])
    typer.echo(f"financing platform client {name.strip()} added with scope platform; its API key:")
    typer.echo(key)
