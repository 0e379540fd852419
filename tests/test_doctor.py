"""`pain-news doctor` (pain_news/doctor/) against a real DNS server on loopback (dnslib), the
SendGrid stand-in and the `serve` app; and the doctor as a list send's gate."""

from __future__ import annotations

import pytest

from pain_news.doctor.outcomes import Budget
from pain_news.doctor.run import examine
from pain_news.ledger import CampaignLedger
from tests.fixtures.core import REAL_NEWSLETTER, error_lines, publish_archive, sign_off

DOMAIN = "tristatepain-news.org"
SPF = f'{DOMAIN}. 60 TXT "v=spf1 include:sendgrid.net ~all"'
MX = f"{DOMAIN}. 60 MX 10 mail.{DOMAIN}."
DKIM = (
    f"s1._domainkey.{DOMAIN}. 60 CNAME s1.domainkey.u123.wl45.sendgrid.net.\n"
    f"s2._domainkey.{DOMAIN}. 60 CNAME s2.domainkey.u123.wl45.sendgrid.net."
)
DMARC = f'_dmarc.{DOMAIN}. 60 TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@{DOMAIN}"'
WEB = f"news.{DOMAIN}. 60 A 192.0.2.10"
ALL_GOOD = "\n".join([SPF, MX, DKIM, DMARC, WEB])


def sendgrid_env(standin, nameserver: str, **extra: str) -> dict[str, str]:
    return {
        **REAL_NEWSLETTER,
        "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
        "PAIN_NEWS_SENDGRID_HOST": standin.url,
        "PAIN_NEWS_SENDGRID_ASM_GROUP_ID": "77",
        "SENDGRID_API_KEY": standin.api_key,
        "PAIN_NEWS_DNS_NAMESERVER": nameserver,
        **extra,
    }


def doctor(run_cli, env: dict[str, str], *args: str, exit_code: int = 0) -> list[str]:
    result = run_cli("doctor", *args, env=env, ok=exit_code == 0)
    assert result.exit_code == exit_code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.splitlines()


def line(lines: list[str], start: str) -> str:
    [found] = [text for text in lines if text.startswith(start)]
    return found


def test_a_domain_set_up_for_sendgrid_passes_every_check(run_cli, project, nameserver, sendgrid_standin):
    ns = nameserver(ALL_GOOD)
    lines = doctor(run_cli, sendgrid_env(sendgrid_standin, ns.address))
    assert all(text.split()[0] in ("ok", "warning", "error") for text in lines)
    assert line(lines, "ok      SPF:") == f"ok      SPF: {DOMAIN} authorises SendGrid"
    assert line(lines, "ok      DKIM:").endswith(f"s1._domainkey.{DOMAIN}, s2._domainkey.{DOMAIN} published")
    assert (
        line(lines, "ok      DMARC:") == f"ok      DMARC: _dmarc.{DOMAIN} publishes the policy p=quarantine"
    )
    assert line(lines, "ok      DMARC alignment:").endswith("aligns with DKIM")
    assert line(lines, "ok      newsletter.reply_to:").endswith(f"receives mail (MX mail.{DOMAIN})")
    assert f"ok      public_url: news.{DOMAIN} resolves" in lines
    assert "ok      SendGrid: unsubscribe group 77 exists (Pain News)" in lines
    assert line(lines, "ok      SendGrid: the API key has")
    # The endpoint's host resolves here, but the test's network stops at loopback: a warning.
    assert line(lines, "warning List-Unsubscribe:")
    assert not [text for text in lines if text.startswith("error")]
    assert sendgrid_standin.account_calls == ["/v3/scopes", "/v3/asm/groups/77"]
    assert sendgrid_standin.requests == 0  # nothing was sent


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        (
            ALL_GOOD.replace(SPF, ""),
            f"error   SPF: {DOMAIN} has no SPF record; fix: publish one TXT record at {DOMAIN}: "
            '"v=spf1 include:sendgrid.net ~all"',
        ),
        (
            ALL_GOOD.replace("include:sendgrid.net", "include:_spf.mailhost.test")
            + '\n_spf.mailhost.test. 60 TXT "v=spf1 ip4:192.0.2.0/24 ~all"',
            f"error   SPF: the SPF record of {DOMAIN} does not authorise SendGrid; fix: add "
            f"include:sendgrid.net to the SPF record at {DOMAIN}, before its all term",
        ),
        (
            ALL_GOOD.replace(DKIM, ""),
            f"error   DKIM: no DKIM record at s1._domainkey.{DOMAIN}, s2._domainkey.{DOMAIN}; fix: "
            f"authenticate {DOMAIN} in SendGrid → Settings → Sender Authentication and publish the CNAME "
            "records it shows",
        ),
        (
            ALL_GOOD.replace(DMARC, ""),
            f"error   DMARC: no DMARC record at _dmarc.{DOMAIN}; fix: publish a TXT record at _dmarc.{DOMAIN}: "
            f'"v=DMARC1; p=none; rua=mailto:dmarc@{DOMAIN}"',
        ),
        (
            ALL_GOOD.replace("p=quarantine; ", ""),
            f"error   DMARC: the record at _dmarc.{DOMAIN} has no policy (p=)",
        ),
    ],
    ids=["no-spf", "spf-without-sendgrid", "no-dkim", "no-dmarc", "dmarc-without-policy"],
)
def test_each_missing_record_is_an_error_with_its_fix(
    run_cli, project, nameserver, sendgrid_standin, zone, expected
):
    ns = nameserver(zone)
    lines = doctor(run_cli, sendgrid_env(sendgrid_standin, ns.address), exit_code=1)
    assert [text for text in lines if text.startswith("error")] == [
        text for text in lines if text.startswith(expected)
    ]


def test_a_from_domain_aligned_with_neither_dkim_nor_spf_is_an_error(
    run_cli, project, nameserver, sendgrid_standin
):
    """DKIM only on the parent domain and DMARC's strict alignment (adkim=s, aspf=s): DMARC fails."""
    sub = f"letters.{DOMAIN}"
    zone = "\n".join(
        [
            f'{sub}. 60 TXT "v=spf1 include:sendgrid.net ~all"',
            MX,
            DKIM,
            DMARC.replace("p=quarantine;", "p=reject; adkim=s; aspf=s;"),
            WEB,
        ]
    )
    env = sendgrid_env(
        sendgrid_standin, nameserver(zone).address, PAIN_NEWS_NEWSLETTER_FROM_EMAIL=f"news@{sub}"
    )
    lines = doctor(run_cli, env, exit_code=1)
    assert line(lines, "ok      SPF:") == f"ok      SPF: {sub} authorises SendGrid"
    assert line(lines, "ok      DKIM:").endswith(f"s1._domainkey.{DOMAIN}, s2._domainkey.{DOMAIN} published")
    assert line(lines, "error   DMARC alignment:").startswith(
        f"error   DMARC alignment: the From domain {sub} aligns with neither DKIM nor SPF"
    )


def test_a_nameserver_that_never_answers_gives_warnings_and_asks_once(
    run_cli, project, silent_nameserver, sendgrid_standin
):
    lines = doctor(run_cli, sendgrid_env(sendgrid_standin, silent_nameserver.address))
    for subject in ("SPF", "DKIM", "DMARC"):
        assert line(lines, f"warning {subject} of {DOMAIN} not checked: no answer from the nameserver")
    assert not [text for text in lines if text.startswith("error")]
    # One question from the domain checks, one from the unsubscribe probe: after the first
    # timeout nothing waits again, so the doctor stays within its budget.
    assert silent_nameserver.questions() == 2


def test_the_smtp_relay_is_authorised_through_an_include_of_its_addresses(
    run_cli, project, nameserver, make_config
):
    zone = "\n".join(
        [
            f'{DOMAIN}. 60 TXT "v=spf1 include:_spf.relay.test -all"',
            '_spf.relay.test. 60 TXT "v=spf1 ip4:198.51.100.0/24 -all"',
            "smtp.relay.test. 60 A 198.51.100.7",
            f'default._domainkey.{DOMAIN}. 60 TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEB"',
            MX,
            DMARC,
        ]
    )
    env = {
        **REAL_NEWSLETTER,
        "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
        "PAIN_NEWS_SMTP_HOST": "smtp.relay.test",
        "PAIN_NEWS_DNS_NAMESERVER": nameserver(zone).address,
        "PAIN_NEWS_DNS_DKIM_SELECTORS": "default",
    }
    report = examine(make_config(env), budget=Budget())
    lines = report.lines()
    assert f"ok      SPF: {DOMAIN} authorises the SMTP relay smtp.relay.test" in lines
    assert f"ok      DKIM: default._domainkey.{DOMAIN} published" in lines
    env["PAIN_NEWS_SMTP_HOST"] = "smtp.other.test"
    lines = examine(make_config(env)).lines()
    assert line(lines, "error   SPF:").endswith("before its all term")
    assert "does not authorise the SMTP relay smtp.other.test" in line(lines, "error   SPF:")


def test_the_key_s_missing_scope_and_an_unknown_group_are_errors(
    run_cli, project, nameserver, sendgrid_standin
):
    sendgrid_standin.scopes.remove("suppression.blocks.read")
    env = sendgrid_env(sendgrid_standin, nameserver(ALL_GOOD).address, PAIN_NEWS_SENDGRID_ASM_GROUP_ID="999")
    lines = doctor(run_cli, env, exit_code=1)
    assert line(lines, "error   SendGrid: the API key lacks suppression.blocks.read; fix: create an API key")
    assert line(lines, "error   SendGrid: unsubscribe group 999 does not exist; fix: create it in SendGrid")


def test_the_unsubscribe_endpoint_of_serve_answers_options_with_post(make_config, server, nameserver):
    """The real serve app on loopback: OPTIONS names POST; no subscriber is touched."""
    url = server.url
    env = {"PAIN_NEWS_NEWSLETTER_PUBLIC_URL": url, "PAIN_NEWS_DNS_NAMESERVER": nameserver(ALL_GOOD).address}
    lines = examine(make_config(env), "smtp").lines()
    assert f"ok      List-Unsubscribe: {url}/unsubscribe/… accepts POST (one-click unsubscribe)" in lines
    assert line(lines, "error   public_url:").startswith(f"error   public_url: {url} is not HTTPS")


def test_a_list_send_is_refused_by_the_doctor_s_errors_and_dry_run_lists_them(
    run_cli, project, store, make_config, sample_issue, nameserver, sendgrid_standin
):
    env = sendgrid_env(sendgrid_standin, nameserver(ALL_GOOD.replace(DMARC, "")).address)
    store.add("p1@example.org", "Pat", "One")
    publish_archive(make_config(REAL_NEWSLETTER))
    sign_off(make_config(REAL_NEWSLETTER), store, sample_issue)
    result = run_cli("send", str(sample_issue), "--yes", "--dry-run", env=env, ok=False)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "\n".join(error_lines(result)).startswith(
        f"Error: doctor: DMARC: no DMARC record at _dmarc.{DOMAIN}"
    )
    assert "Hint: publish a TXT record" in result.stderr
    # With another gate refusing too, the dry run lists both.
    toml = sample_issue / "issue.toml"
    toml.write_text("draft = true\n" + toml.read_text())
    result = run_cli("send", str(sample_issue), "--yes", "--dry-run", env=env, ok=False)
    lines = error_lines(result)
    assert lines[0] == "Error: the list send is refused (2 problems):"
    assert lines[1].startswith(f"  - doctor: DMARC: no DMARC record at _dmarc.{DOMAIN} (hint: publish")
    assert "remove draft = true from issue.toml to send" in lines[2]
    assert sendgrid_standin.requests == 0
    assert CampaignLedger.for_store(store).latest(sample_issue.name) is None


def test_a_list_send_warns_of_what_the_doctor_could_not_check_and_goes_ahead(
    run_cli, project, store, make_config, sample_issue, sendgrid_standin
):
    """The fixture's nameserver cannot be reached (tests/fixtures/pain-news.toml): warnings only."""
    env = {**sendgrid_env(sendgrid_standin, "127.0.0.1:9")}
    store.add("p1@example.org", "Pat", "One")
    publish_archive(make_config(REAL_NEWSLETTER))
    sign_off(make_config(REAL_NEWSLETTER), store, sample_issue)
    result = run_cli("send", str(sample_issue), "--yes", env=env)
    assert f"Warning: doctor: SPF of {DOMAIN} not checked: the nameserver 127.0.0.1:9 cannot be reached" in (
        result.stdout
    )
    assert sendgrid_standin.recipients() == ["p1@example.org"]


def test_a_nameserver_that_is_not_an_address_is_a_config_error(run_cli, project):
    result = run_cli("doctor", env={"PAIN_NEWS_DNS_NAMESERVER": "dns.example.org"}, ok=False)
    assert result.exit_code == 1
    assert "PAIN_NEWS_DNS_NAMESERVER: dns.nameserver must be an IP address" in result.stderr
