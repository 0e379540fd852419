"""`pain-news doctor`: is the sending domain and account ready for a list send."""

from __future__ import annotations

import click

from pain_news.cli.app import App, cli
from pain_news.config.settings import PROVIDERS
from pain_news.errors import DomainNotReady


@cli.command("doctor")
@click.option(
    "--provider", type=click.Choice(PROVIDERS), help="Check for this provider instead of delivery.provider."
)
@click.pass_obj
def doctor_cmd(app: App, provider: str | None) -> None:
    """Check SPF, DKIM, DMARC, the addresses and URLs, and the SendGrid key before a list send.

    One line per check, starting ok, warning or error, each with its fix. Exits 1 when any check
    is an error (a list send through smtp or sendgrid refuses then); DNS or the network that cannot
    be reached only warns. Takes about two seconds at most.

    \b
    Example:
        pain-news doctor
        pain-news doctor --provider sendgrid
    """
    # lazy: dnspython and the checks load only when the doctor runs (docs/development.md)
    from pain_news.doctor.run import examine

    report = examine(app.config, provider)
    for line in report.lines():
        click.echo(line)
    if report.errors:
        raise DomainNotReady(
            f"{len(report.errors)} of the checks above found errors",
            hint="a list send through smtp or sendgrid refuses until each is fixed as its line says",
        )
