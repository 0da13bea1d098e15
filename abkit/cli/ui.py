"""`abkit ui`: the web app for product managers (webapp/)."""

from __future__ import annotations

from pathlib import Path

import typer

from abkit.cli.app import app, user_errors


@app.command()
@user_errors
def ui(
    db: Path = typer.Option(Path("abkit.duckdb"), "--db", help="DuckDB warehouse (opened per request, never held)."),
    specs: Path = typer.Option(Path("experiments"), "--specs", help="Folder of experiment specs (YAML) to list and edit."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    token: str = typer.Option(None, "--token", envvar="ABKIT_UI_TOKEN",
                              help="Require this token for every change (NAME:SECRET records NAME as the actor)."),
    user: str = typer.Option(None, "--user", help="Who the audit trail records when no token is set (default: OS user)."),
    lang: str = typer.Option("zh", "--lang", help="Default language: zh or en (users can switch)."),
) -> None:
    """Serve the experiments web app: list, create and edit specs, launch, analyse, decide, review texts."""
    import uvicorn

    from abkit.errors import AbkitError
    from reports.i18n import check_lang
    from webapp.app import create_app
    from webapp.config import UIConfig

    check_lang(lang)
    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        raise AbkitError(f"--host {host}: binding beyond this machine needs --token (or ABKIT_UI_TOKEN)")
    specs.mkdir(parents=True, exist_ok=True)
    config = UIConfig(db=db.resolve(), specs=specs.resolve(), token=token or None, user=user, lang=lang)
    env_note = " (token required for changes)" if token else ""
    typer.echo(f"abkit ui: http://{host}:{port}/ — {db} · specs in {specs}{env_note}")
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")
