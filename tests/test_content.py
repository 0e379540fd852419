import datetime as dt
import shutil

import pytest

from pain_news.content import load_issue
from pain_news.errors import IssueError
from tests.fixtures.core import BAD, SAMPLE_ISSUE


def test_sample_issue_loads_in_section_order():
    issue = load_issue(SAMPLE_ISSUE, "https://news.example.org")
    assert issue.slug == "2026-12-winter"
    assert issue.date == dt.date(2026, 12, 1)
    assert [p.kind for p in issue.pieces] == ["spotlight", "article", "article"]
    spotlight = issue.pieces[0]
    assert spotlight.condition == "Failed spine surgery syndrome"
    assert [s.heading for s in spotlight.sections][-3:] == ["Causes", "Symptoms", "Treatments"]
    assert "<li>Scar tissue formed after the operation</li>" in spotlight.sections[1].html
    assert spotlight.reviewed_on == dt.date(2026, 11, 2)


def test_without_sections_pieces_are_ordered_by_file_name(tmp_path):
    folder = tmp_path / "issue"
    shutil.copytree(SAMPLE_ISSUE, folder)
    toml = folder / "issue.toml"
    toml.write_text("\n".join(ln for ln in toml.read_text().splitlines() if not ln.startswith("sections")))
    (folder / "01-spotlight-failed-spine-surgery.md").rename(folder / "09-spotlight.md")
    issue = load_issue(folder)
    assert [p.slug for p in issue.pieces] == ["02-winter-activity", "03-first-visit", "09-spotlight"]


def test_greeting_tag_becomes_distinct_html_and_text_placeholders():
    issue = load_issue(SAMPLE_ISSUE)
    assert issue.intro is not None
    assert "Dear %%h.first_name|friend%%," in issue.intro.html
    assert "Dear %%t.first_name|friend%%," in issue.intro.text


def test_unknown_tag_is_recorded_with_its_line(tmp_path):
    folder = tmp_path / "issue"
    shutil.copytree(SAMPLE_ISSUE, folder)
    md = folder / "02-winter-activity.md"
    md.write_text(md.read_text().replace("Cold weather", "Hi {{ frist_name }}. Cold weather"))
    piece = load_issue(folder).pieces[1]
    assert piece.unknown_tags == [("{{ frist_name }}", 8)]


def test_relative_images_point_at_public_url(tmp_path):
    folder = tmp_path / "2027-01"
    shutil.copytree(SAMPLE_ISSUE, folder)
    (folder / "images").mkdir()
    (folder / "images" / "walk.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    md = folder / "02-winter-activity.md"
    md.write_text(
        md.read_text().replace(
            "layout: half\n", "layout: half\nimage: images/walk.png\nimage_alt: A winter walk\n"
        )
    )
    piece = load_issue(folder, "https://news.example.org/").pieces[1]
    assert piece.image is not None
    assert piece.image.url == "https://news.example.org/2027-01/images/walk.png"


@pytest.mark.parametrize(
    "case, message, line",
    [
        ("missing-issue-toml", "issue.toml: file not found", None),
        ("broken-toml", "invalid TOML", 1),
        ("broken-yaml", "broken YAML front matter", None),
        ("unknown-kind", "unknown kind 'newz' (expected article or spotlight)", 3),
        ("spotlight-missing-section", "spotlight is missing the '## Symptoms' section", None),
        ("spotlight-no-reviewer", "spotlight needs 'reviewed_by'", 2),
        ("missing-image", "image not found: images/missing.jpg", 4),
    ],
)
def test_bad_issue_gives_clear_error_with_location(case, message, line):
    with pytest.raises(IssueError) as err:
        load_issue(BAD / case)
    assert message in str(err.value)
    assert str(BAD / case) in str(err.value)
    if line is not None:
        assert err.value.line == line


def _issue_linking(tmp_path, body_or_front: str, *, front: bool = False):
    """A copy of the sample in tmp_path/issues/x whose article links (or shows, in front matter) a target."""
    folder = tmp_path / "issues" / "x"
    shutil.copytree(SAMPLE_ISSUE, folder)
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "notes.txt").write_text("private")
    md = folder / "02-winter-activity.md"
    text = md.read_text()
    if front:
        text = text.replace("layout: half\n", f"layout: half\n{body_or_front}\n")
    else:
        text = text.replace("Cold weather", f"{body_or_front} Cold weather")
    md.write_text(text)
    return folder


@pytest.mark.parametrize(
    "case, snippet, line",
    [
        ("markdown-link", "See [notes](../../private/notes.txt).", 8),
        ("markdown-image", "![Notes](../../private/notes.txt)", 8),
        ("front-matter-image", "image: ../../private/notes.txt\nimage_alt: Notes", 6),
    ],
)
def test_targets_outside_the_issue_folder_are_refused_with_file_and_line(tmp_path, case, snippet, line):
    folder = _issue_linking(tmp_path, snippet, front=case.startswith("front"))
    with pytest.raises(IssueError) as err:
        load_issue(folder)
    assert "../../private/notes.txt is outside the issue folder" in str(err.value)
    assert err.value.path == folder / "02-winter-activity.md"
    assert err.value.line == line


def test_a_symlink_that_leaves_the_issue_folder_is_refused(tmp_path):
    folder = _issue_linking(tmp_path, "See [notes](notes.txt).")
    (folder / "notes.txt").symlink_to(tmp_path / "private" / "notes.txt")
    with pytest.raises(IssueError, match="notes.txt is outside the issue folder"):
        load_issue(folder)


def test_dot_dot_that_stays_inside_the_issue_folder_is_fine(tmp_path):
    folder = _issue_linking(tmp_path, "See [notes](images/../notes.txt).")
    (folder / "notes.txt").write_text("fine")
    assert load_issue(folder).assets == ["images/../notes.txt"]


def test_sections_cannot_name_a_piece_outside_the_issue_folder(tmp_path):
    folder = _issue_linking(tmp_path, "")
    (tmp_path / "issues" / "other.md").write_text((folder / "03-first-visit.md").read_text())
    toml = folder / "issue.toml"
    toml.write_text(
        "\n".join(
            'sections = ["02-winter-activity", "../other"]' if ln.startswith("sections") else ln
            for ln in toml.read_text().splitlines()
        )
        + "\n"
    )
    with pytest.raises(IssueError, match="sections names '../other', which is outside the issue folder"):
        load_issue(folder)
