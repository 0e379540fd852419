"""pain-news archive: index newest first, /latest/, a valid Atom feed, drafts skipped, absolute links."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from tests.fixtures.editor import ISSUE_TOML, SPOTLIGHT

BASE = "https://news.tristatepain.example"
ATOM = "{http://www.w3.org/2005/Atom}"


def toml_for(number: int, date: str, title: str, draft: bool = False) -> str:
    text = ISSUE_TOML.replace("number = 2", f"number = {number}").replace("2027-03-01", date)
    text = text.replace('title = "Spring 2027"', f'title = "{title}"')
    return text + ("draft = true\n" if draft else "")


@pytest.fixture
def archive_project(project, make_issue):
    """The sample (2026-12-01), two later issues with an image, and a draft that must never appear."""
    article = "---\nkind: article\ntitle: Walk\n---\n\n![A short walk](images/walk.png)\n\nWalk each day.\n"
    make_issue(
        "2027-03-spring",
        toml_for(2, "2027-03-01", "Spring 2027"),
        files={"01-article.md": article, "images/walk.png": b"\x89PNG-spring"},
    )
    make_issue("2027-06-summer", toml_for(3, "2027-06-01", "Summer 2027"))
    make_issue("2027-09-autumn", toml_for(4, "2027-09-01", "Autumn 2027 draft", draft=True))
    return project


def files_of(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def text_of(element: ET.Element, path: str) -> str | None:
    """The text of the child at `path`, which must exist."""
    found = element.find(path)
    assert found is not None, f"no {path}"
    return found.text


def test_archive_lists_issues_newest_first_and_skips_drafts(run_cli, archive_project, tmp_path):
    out = tmp_path / "site"
    result = run_cli("archive", "--out", str(out))
    assert "Archived 3 issue(s)" in result.stdout and "skipped 1 draft(s): 2027-09-autumn" in result.stdout
    index = (out / "index.html").read_text()
    order = [
        index.index(f'href="{BASE}/{slug}/"')
        for slug in ("2027-06-summer", "2027-03-spring", "2026-12-winter")
    ]
    assert order == sorted(order)
    assert "2027-09-autumn" not in index and "draft" not in index
    assert not (out / "2027-09-autumn").exists()
    assert sorted(p.name for p in out.iterdir()) == [
        ".pain-news-archive",
        "2026-12-winter",
        "2027-03-spring",
        "2027-06-summer",
        "feed.xml",
        "index.html",
        "latest",
    ]


def test_each_issue_has_a_stable_url_and_latest_shows_the_newest(run_cli, archive_project, tmp_path):
    out = tmp_path / "site"
    run_cli("archive", "--out", str(out))
    for slug in ("2026-12-winter", "2027-03-spring", "2027-06-summer"):
        assert (out / slug / "index.html").is_file()
    assert (out / "latest" / "index.html").read_bytes() == (
        out / "2027-06-summer" / "index.html"
    ).read_bytes()
    assert "Summer 2027" in (out / "latest" / "index.html").read_text()
    # Images travel with their issue, at the URL the email uses.
    assert (out / "2027-03-spring" / "images" / "walk.png").read_bytes() == b"\x89PNG-spring"
    assert (
        f'src="{BASE}/2027-03-spring/images/walk.png"' in (out / "2027-03-spring" / "index.html").read_text()
    )


def test_feed_is_valid_atom_newest_first(run_cli, archive_project, tmp_path):
    out = tmp_path / "site"
    run_cli("archive", "--out", str(out))
    feed = ET.parse(out / "feed.xml").getroot()
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert feed.find(f"{ATOM}{required}") is not None
    assert text_of(feed, f"{ATOM}updated") == "2027-06-01T00:00:00Z"
    assert text_of(feed, f"{ATOM}author/{ATOM}name")
    entries = feed.findall(f"{ATOM}entry")
    assert [text_of(e, f"{ATOM}id") for e in entries] == [
        f"{BASE}/2027-06-summer/",
        f"{BASE}/2027-03-spring/",
        f"{BASE}/2026-12-winter/",
    ]
    for entry in entries:
        for required in ("id", "title", "updated", "summary"):
            assert text_of(entry, f"{ATOM}{required}")
        link = entry.find(f"{ATOM}link")
        assert link is not None and link.get("href") == text_of(entry, f"{ATOM}id")


def test_every_link_in_the_archive_is_absolute(run_cli, archive_project, tmp_path):
    out = tmp_path / "site"
    run_cli("archive", "--out", str(out))
    for page in ["index.html", "feed.xml", "latest/index.html", "2027-03-spring/index.html"]:
        targets = re.findall(r'(?:href|src)="([^"]*)"', (out / page).read_text())
        assert targets, page
        relative = [t for t in targets if not t.startswith(("https://", "mailto:", "tel:"))]
        assert relative == [], page


def test_archive_output_is_byte_for_byte_deterministic(run_cli, archive_project, tmp_path):
    run_cli("archive", "--out", str(tmp_path / "one"))
    run_cli("archive", "--out", str(tmp_path / "two"))
    assert files_of(tmp_path / "one") == files_of(tmp_path / "two")


def test_rebuilding_the_archive_removes_issues_that_became_drafts(run_cli, archive_project, tmp_path):
    out = tmp_path / "site"
    run_cli("archive", "--out", str(out))
    toml = archive_project / "issues" / "2027-06-summer" / "issue.toml"
    toml.write_text(toml.read_text() + "draft = true\n")
    run_cli("archive", "--out", str(out))
    assert not (out / "2027-06-summer").exists()
    assert "Spring 2027" in (out / "latest" / "index.html").read_text()


def test_archive_needs_public_url(run_cli, project, tmp_path):
    out = tmp_path / "site"
    result = run_cli("archive", "--out", str(out), ok=False, env={"PAIN_NEWS_NEWSLETTER_PUBLIC_URL": ""})
    assert result.exit_code == 1
    assert "missing key 'newsletter.public_url'" in result.stderr
    assert not out.exists()


def test_archive_with_a_broken_issue_fails_and_keeps_the_old_site(
    run_cli, archive_project, make_issue, tmp_path
):
    out = tmp_path / "site"
    run_cli("archive", "--out", str(out))
    before = files_of(out)
    make_issue(
        "2027-12-winter",
        toml_for(5, "2027-12-01", "Winter 2027"),
        files={"01-article.md": "no front matter\n"},
    )
    result = run_cli("archive", "--out", str(out), ok=False)
    assert result.exit_code == 1
    assert "01-article.md:1: missing YAML front matter" in result.stderr
    assert files_of(out) == before


# --- the archive replaces only its own folder, and writes only inside it --------------------------------


@pytest.mark.parametrize(
    "out, relation",
    [
        ("issues", "is the issues folder"),
        ("issues/2026-12-winter", "is inside the issues folder"),
        ("templates", "is the templates folder"),
        (".", "contains the issues folder"),
    ],
)
def test_archive_refuses_an_output_folder_in_or_around_the_sources(run_cli, archive_project, out, relation):
    before = files_of(archive_project)
    result = run_cli("archive", "--out", out, ok=False)
    assert result.exit_code == 1
    assert (
        f"Error: refusing to write the archive into {(archive_project / out).resolve()}: it {relation}"
        in result.stderr
    )
    assert files_of(archive_project) == before


def test_archive_refuses_to_replace_a_folder_it_did_not_write(
    run_cli, archive_project, sample_issue, tmp_path
):
    site = tmp_path / "site"
    site.mkdir()
    (site / "keep.txt").write_text("mine")
    result = run_cli("archive", "--out", str(site), ok=False)
    assert result.exit_code == 1
    assert (
        f"Error: refusing to replace {site}: it is not empty and was not written by pain-news archive"
        in result.stderr
    )
    assert files_of(site) == {"keep.txt": b"mine"}
    # A build folder is not an archive folder either.
    run_cli("build", str(sample_issue), "--out", str(tmp_path / "built"))
    before = files_of(tmp_path / "built")
    assert run_cli("archive", "--out", str(tmp_path / "built"), ok=False).exit_code == 1
    assert files_of(tmp_path / "built") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built", "project", "site"]


def test_archive_of_an_issue_linking_outside_its_folder_fails_and_writes_nothing(
    run_cli, archive_project, tmp_path
):
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "notes.txt").write_text("private")
    md = archive_project / "issues" / "2027-06-summer" / "01-article.md"
    # From issues/2027-06-summer/, this names tmp_path/private/notes.txt, a sibling of the project.
    md.write_text(md.read_text() + "\nSee [notes](../../../private/notes.txt).\n")
    out = tmp_path / "site"
    result = run_cli("archive", "--out", str(out), ok=False)
    assert result.exit_code == 1
    assert "01-article.md:8: ../../../private/notes.txt is outside the issue folder" in result.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private", "project"]


def test_an_issue_linking_a_missing_file_stops_the_archive_with_file_and_line(run_cli, project, sample_issue):
    md = sample_issue / "02-winter-activity.md"
    md.write_text(md.read_text() + "\nSee [the handout](handout.pdf).\n")
    result = run_cli("archive", "--out", str(project / "site"), ok=False)
    assert result.exit_code == 1
    assert "02-winter-activity.md:" in result.stderr and "file not found: handout.pdf" in result.stderr
    assert not (project / "site").exists()


# --- the archive refuses what build refuses; drafts never stop it -----------------------------


def test_archive_refuses_a_script_call_to_action_that_build_refuses(run_cli, archive_project, tmp_path):
    out = tmp_path / "site"
    run_cli("archive", "--out", str(out))
    before = files_of(out)
    md = archive_project / "issues" / "2027-06-summer" / "01-article.md"
    md.write_text(
        md.read_text().replace(
            "title: Short walks help\n",
            "title: Short walks help\ncta:\n  label: Go\n  url: javascript:alert(1)\n",
        )
    )
    built = run_cli("build", str(md.parent), "--out", str(tmp_path / "built"), ok=False)
    assert built.exit_code == 1 and "[script-link]" in built.stderr
    result = run_cli("archive", "--out", str(out), ok=False)
    assert result.exit_code == 1
    assert "2027-06-summer: 1 error, 0 warnings; not archived" in result.stderr
    assert (
        "01-article.md:4: error [script-link] link target is a script: javascript:alert(1)" in result.stderr
    )
    assert "issue 2027-06-summer is not archived; the last archive is left as it was" in result.stderr
    assert files_of(out) == before
    assert b"javascript:" not in b"".join(files_of(out).values())


def test_a_broken_draft_does_not_stop_the_archive(run_cli, archive_project, make_issue, tmp_path):
    make_issue(
        "2027-11-broken-draft",
        toml_for(6, "2027-11-01", "Half written", draft=True),
        files={"01-article.md": "---\nkind: article\ntitel: [unfinished\n---\n", "02-spotlight.md": None},
    )
    result = run_cli("archive", "--out", str(tmp_path / "site"))
    assert "Archived 3 issue(s)" in result.stdout
    assert "skipped 2 draft(s): 2027-09-autumn, 2027-11-broken-draft" in result.stdout


def test_a_broken_published_issue_is_named_and_the_last_archive_kept(
    run_cli, archive_project, make_issue, tmp_path
):
    out = tmp_path / "site"
    run_cli("archive", "--out", str(out))
    before = files_of(out)
    make_issue(
        "2027-12-winter",
        toml_for(5, "2027-12-01", "Winter 2027"),
        files={"02-spotlight.md": SPOTLIGHT.replace("2027-02-01", "2027-13-01")},
    )
    result = run_cli("archive", "--out", str(out), ok=False)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"Error: {archive_project / 'issues' / '2027-12-winter' / '02-spotlight.md'}:7: reviewed_on must be a "
        "real date (YYYY-MM-DD), got '2027-13-01' (issue 2027-12-winter is not archived; the last archive is "
        "left as it was)"
    )
    assert files_of(out) == before


def test_the_archive_serves_each_edition_at_its_own_url_linked_by_hreflang(
    run_cli, archive_project, tmp_path
):
    out = tmp_path / "site"
    run_cli("archive", "--out", str(out))
    english = (out / "2026-12-winter" / "index.html").read_text()
    spanish = (out / "2026-12-winter" / "es" / "index.html").read_text()
    assert '<html lang="en">' in english and '<html lang="es">' in spanish
    assert "Síntomas" in spanish and "Symptoms" in english
    for page in (english, spanish):
        assert f'<link rel="alternate" hreflang="es" href="{BASE}/2026-12-winter/es/">' in page
        assert f'<link rel="alternate" hreflang="en" href="{BASE}/2026-12-winter/">' in page
    assert not (out / "2027-03-spring" / "es").exists()  # an issue with one edition has no es/
