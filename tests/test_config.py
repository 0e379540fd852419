from pathlib import Path

import pytest

from pain_news.config.settings import load_config
from pain_news.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pain-news.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_values_are_read(tmp_path):
    path = write(tmp_path, '[newsletter]\nname = "Clinic News"\npublic_url = "https://n.example.org"\n')
    config = load_config(path, env={})
    assert config.newsletter.name == "Clinic News"
    assert config.newsletter.public_url == "https://n.example.org"
    assert config.root == tmp_path.resolve()


def test_environment_overrides_file(tmp_path):
    path = write(tmp_path, '[newsletter]\nname = "Clinic News"\n[delivery]\nrate = 5\n')
    config = load_config(
        path,
        env={
            "PAIN_NEWS_NEWSLETTER_NAME": "Env News",
            "PAIN_NEWS_DELIVERY_RATE": "2.5",
            "PAIN_NEWS_DELIVERY_TEST_RECIPIENTS": "a@example.org, b@example.org",
        },
    )
    assert config.newsletter.name == "Env News"
    assert config.delivery.rate == 2.5
    assert config.delivery.test_recipients == ("a@example.org", "b@example.org")


def test_database_url_override_and_relative_sqlite_path(tmp_path):
    path = write(tmp_path, "")
    assert (
        load_config(path, env={}).database_url == f"sqlite:///{tmp_path.resolve()}/subscribers/pain-news.db"
    )
    config = load_config(path, env={"PAIN_NEWS_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1/db"})
    assert config.database_url == "postgresql+psycopg://u@127.0.0.1/db"


def test_unknown_key_names_key_and_file(tmp_path):
    path = write(tmp_path, '[newsletter]\nnmae = "x"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert "newsletter.nmae" in str(err.value)
    assert str(path.resolve()) in str(err.value)


def test_unknown_section_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown section '\[mail\]'"):
        load_config(write(tmp_path, "[mail]\nx = 1\n"), env={})


def test_wrong_type_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="smtp.port must be a whole number"):
        load_config(write(tmp_path, '[smtp]\nport = "five"\n'), env={})


def test_bad_env_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="PAIN_NEWS_SMTP_PORT"):
        load_config(write(tmp_path, ""), env={"PAIN_NEWS_SMTP_PORT": "many"})


def test_broken_toml_names_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, '[newsletter]\nname = "unclosed\n'), env={})
    assert err.value.line == 2


def test_secrets_come_from_env_and_dotenv_never_repr(tmp_path):
    path = write(tmp_path, "")
    (tmp_path / ".env").write_text(
        "PAIN_NEWS_SECRET_KEY=from-dotenv-0123456789abcdef0123456789\nSENDGRID_API_KEY=SG.dotenv\n"
    )
    config = load_config(path, env={"SENDGRID_API_KEY": "SG.env-wins"})
    assert config.secrets.secret_key == "from-dotenv-0123456789abcdef0123456789"
    assert config.secrets.sendgrid_api_key == "SG.env-wins"
    assert "SG.env-wins" not in repr(config)
    assert "from-dotenv" not in repr(config)


def test_secret_keys_in_the_file_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="sendgrid.api_key"):
        load_config(write(tmp_path, '[sendgrid]\napi_key = "SG.leak"\n'), env={})


def test_config_found_by_walking_up(tmp_path):
    write(tmp_path, '[newsletter]\nname = "Walked"\n')
    deep = tmp_path / "issues" / "x"
    deep.mkdir(parents=True)
    assert load_config(env={}, cwd=deep).newsletter.name == "Walked"


def test_config_found_from_the_issue_folder_when_the_current_folder_has_none(tmp_path):
    project = tmp_path / "clinic"
    project.mkdir()
    write(project, '[newsletter]\nphone = "(555) 010-0199"\n')
    issue = project / "issues" / "2027-01"
    issue.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = load_config(env={}, cwd=elsewhere, issue_dir=issue)
    assert config.path == project / "pain-news.toml" and config.root == project
    assert config.newsletter.phone == "(555) 010-0199"
    assert config.database_url == f"sqlite:///{project / 'subscribers' / 'pain-news.db'}"
    assert config.searched_from == (elsewhere, issue)


def test_the_current_folders_config_comes_before_the_issue_folders(tmp_path):
    write(tmp_path, '[newsletter]\nname = "Here"\n')
    other = tmp_path / "other"
    (other / "issues" / "x").mkdir(parents=True)
    write(other, '[newsletter]\nname = "There"\n')
    assert load_config(env={}, cwd=tmp_path, issue_dir=other / "issues" / "x").newsletter.name == "Here"


def test_without_a_config_file_or_a_named_database_no_database_is_used(tmp_path):
    from pain_news.config.settings import require_database

    with pytest.raises(ConfigError) as refused:
        require_database(load_config(env={}, cwd=tmp_path, issue_dir=tmp_path / "issues" / "x"))
    assert str(tmp_path) in refused.value.message and str(tmp_path / "issues" / "x") in refused.value.message
    assert "pain-news init" in (refused.value.hint or "")
    require_database(load_config(env={"PAIN_NEWS_DATABASE_URL": "sqlite:///x.db"}, cwd=tmp_path))
    require_database(load_config(write(tmp_path, ""), env={}))  # a config file, default database


def test_pain_news_config_variable_selects_file(tmp_path):
    path = write(tmp_path, '[newsletter]\nname = "Chosen"\n')
    assert load_config(env={"PAIN_NEWS_CONFIG": str(path)}, cwd=Path("/")).newsletter.name == "Chosen"


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_invalid_provider_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="delivery.provider"):
        load_config(write(tmp_path, '[delivery]\nprovider = "carrier-pigeon"\n'), env={})


def test_negative_rate_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="delivery.rate must be 0"):
        load_config(write(tmp_path, ""), env={"PAIN_NEWS_DELIVERY_RATE": "-3"})


@pytest.mark.parametrize("value", ["-2", "65"])
def test_worker_processes_out_of_range_are_refused(tmp_path, value):
    with pytest.raises(ConfigError, match="delivery.processes must be -1"):
        load_config(write(tmp_path, ""), env={"PAIN_NEWS_DELIVERY_PROCESSES": value})
    assert load_config(write(tmp_path, "[delivery]\nprocesses = 0\n"), env={}).delivery.processes == 0


def test_a_short_secret_key_is_refused_with_a_hint(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, ""), env={"PAIN_NEWS_SECRET_KEY": "s" * 31})
    assert "PAIN_NEWS_SECRET_KEY is 31 bytes; it must be at least 32" in err.value.message
    assert "secrets.token_urlsafe(32)" in (err.value.hint or "")
    assert load_config(write(tmp_path, ""), env={"PAIN_NEWS_SECRET_KEY": "s" * 32}).secrets.secret_key


def test_previous_secret_keys_are_a_comma_separated_secret(tmp_path):
    (tmp_path / ".env").write_text("PAIN_NEWS_PREVIOUS_SECRET_KEYS=old-one, old-two,\n")
    config = load_config(write(tmp_path, ""), env={"PAIN_NEWS_SECRET_KEY": "n" * 40})
    assert config.secrets.verification_keys == ("n" * 40, "old-one", "old-two")
    assert "old-one" not in repr(config)


@pytest.mark.parametrize(
    "env, setting",
    [
        (
            {
                "PAIN_NEWS_SMTP_SECURITY": "none",
                "PAIN_NEWS_SMTP_USERNAME": "clinic",
                "PAIN_NEWS_SMTP_HOST": "mail.example.org",
            },
            'smtp.security = "none"',
        ),
        ({"PAIN_NEWS_SENDGRID_HOST": "http://api.sendgrid.com"}, "sendgrid.host"),
        ({"PAIN_NEWS_SENDGRID_HOST": "http://127.0.0.1.example.org:80"}, "sendgrid.host"),
    ],
)
def test_credentials_in_clear_text_to_another_machine_are_refused(tmp_path, env, setting):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, ""), env=env)
    assert err.value.message.startswith(setting)
    assert "clear text" in err.value.message and err.value.hint


@pytest.mark.parametrize(
    "env",
    [
        {
            "PAIN_NEWS_SMTP_SECURITY": "none",
            "PAIN_NEWS_SMTP_USERNAME": "u",
            "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
        },
        {
            "PAIN_NEWS_SMTP_SECURITY": "none",
            "PAIN_NEWS_SMTP_USERNAME": "u",
            "PAIN_NEWS_SMTP_HOST": "localhost",
        },
        {"PAIN_NEWS_SMTP_SECURITY": "none", "PAIN_NEWS_SMTP_HOST": "mail.example.org"},  # no credentials
        {"PAIN_NEWS_SENDGRID_HOST": "http://127.0.0.1:8025"},
        {"PAIN_NEWS_SENDGRID_HOST": "http://[::1]:8025"},
    ],
)
def test_clear_text_is_allowed_on_this_machine_or_without_credentials(tmp_path, env):
    load_config(write(tmp_path, ""), env=env)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"PAIN_NEWS_SERVE_SIGNUPS_PER_ADDRESS_PER_DAY": "0"}, "serve.signups_per_address_per_day"),
        ({"PAIN_NEWS_SERVE_TRUSTED_PROXIES": "10.0.0.1, proxy.local"}, "'proxy.local' is not an IP"),
    ],
)
def test_bad_serve_settings_are_refused(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, ""), env=env)


def test_phone_and_appointment_url_are_read_and_the_url_must_be_absolute(tmp_path):
    path = tmp_path / "pain-news.toml"
    path.write_text(
        '[newsletter]\nphone = "(555) 010-0199"\nappointment_url = "https://clinic.example/book"\n'
    )
    news = load_config(path, env={}).newsletter
    assert (news.phone, news.appointment_url) == ("(555) 010-0199", "https://clinic.example/book")
    path.write_text('[newsletter]\nappointment_url = "clinic.example/book"\n')
    with pytest.raises(ConfigError, match="newsletter.appointment_url must be an absolute http"):
        load_config(path, env={})


def test_phone_region_defaults_to_us_and_must_be_a_country_code(tmp_path):
    path = tmp_path / "pain-news.toml"
    path.write_text('[newsletter]\nphone = "020 7946 0000"\nphone_region = "GB"\n')
    assert load_config(path, env={}).newsletter.phone_region == "GB"
    assert load_config(write(tmp_path, ""), env={}).newsletter.phone_region == "US"
    with pytest.raises(ConfigError, match="newsletter.phone_region must be a two-letter country code"):
        load_config(path, env={"PAIN_NEWS_NEWSLETTER_PHONE_REGION": "USA"})


# --- a bad setting is named where it was set: the file's line, or the environment variable ------------


@pytest.mark.parametrize(
    "text, line, message",
    [
        (
            "[serve]\nsignups_per_client_per_hour = 0\n",
            2,
            "serve.signups_per_client_per_hour must be 1 or more",
        ),
        ('[newsletter]\nname = "N"\n\n[smtp]\nport = "x"\n', 5, "smtp.port must be a whole number"),
        ('[delivery]\nprovider = "carrier-pigeon"\n', 2, "delivery.provider must be one of"),
        ('[serve]\ntrusted_proxies = ["nonsense"]\n', 2, "serve.trusted_proxies: 'nonsense' is not an IP"),
    ],
)
def test_a_bad_setting_in_the_file_names_its_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value).startswith(f"{path}:{line}: {message}")


def test_a_bad_setting_from_the_environment_names_the_variable_not_the_file(tmp_path):
    path = write(tmp_path, "[serve]\nsignups_per_address_per_day = 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={"PAIN_NEWS_SERVE_SIGNUPS_PER_CLIENT_PER_HOUR": "0"})
    assert str(err.value) == (
        "PAIN_NEWS_SERVE_SIGNUPS_PER_CLIENT_PER_HOUR: serve.signups_per_client_per_hour must be 1 or more, got 0"
    )
