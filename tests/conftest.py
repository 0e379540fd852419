"""Shared fixtures. Fixture families live in tests/fixtures/*.py and are registered here."""

pytest_plugins = [
    "tests.fixtures.core",
    "tests.fixtures.browser",
    "tests.fixtures.store",
    "tests.fixtures.desk",
    "tests.fixtures.editor",
    "tests.fixtures.sendgrid_standin",
    "tests.fixtures.smtp",
    "tests.fixtures.web",
    "tests.fixtures.nameserver",
]


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite tests/golden/ from the current output"
    )
