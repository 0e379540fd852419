import datetime as dt
import shutil

import pytest

from pain_news.errors import IssueError
from pain_news.issue.loader import load_issue, read_issue
from tests.fixtures.core import BAD, SAMPLE_ISSUE
from tests.fixtures.editor import ARTICLE, ISSUE_TOML


def test_sample_issue_loads_in_section_order():
    issue = load_issue(SAMPLE_ISSUE, "https://news.example.org")
    assert issue.slug == "2026-12-winter"
    assert issue.date == dt.date(2026, 12, 1)
    assert [p.kind for p in issue.pieces] == ["spotlight", "article", "article"]
    spotlight = issue.pieces[0]
    assert spotlight.condition == "Failed spine surgery syndrome"
    assert [s.heading for s in spotlight.sections][-3:] == ["Causes", "Symptoms", "Treatments"]
    assert "<li>Scar tissue forming</li>" in spotlight.sections[1].html
    assert spotlight.reviewed_on == dt.date(2026, 11, 2)


def test_without_sections_pieces_are_ordered_by_file_name(tmp_path):
    folder = tmp_path / "issue"
    shutil.copytree(SAMPLE_ISSUE, folder)
    toml = folder / "issue.toml"
    toml.write_text("\n".join(ln for ln in toml.read_text().splitlines() if not ln.startswith("sections")))
    (folder / "01-spotlight-failed-spine-surgery.md").rename(folder / "09-spotlight.md")
    (folder / "01-spotlight-failed-spine-surgery.es.md").rename(folder / "09-spotlight.es.md")
    issue = load_issue(folder)
    # NAME.es.md files are the Spanish editions of their pieces, never pieces of their own
    assert [p.slug for p in issue.pieces] == ["02-winter-activity", "03-first-visit", "09-spotlight"]
    assert [p.slug for p in issue.edition("es").pieces] == [p.slug for p in issue.pieces]


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
        ("impossible-date", "reviewed_on must be a real date (YYYY-MM-DD), got '2026-13-20'", 7),
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


# --- one loader: every finding at once --------------------------------------------------------


def _write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


FIVE_PROBLEMS_TOML = 'title = "Spring 2027"\nnumber = 2\ndate = 2027-03-01\nsubjet = "Spring news"\n'
FIVE_PROBLEMS_ARTICLE = (
    "---\nkind: article\ntitel: Short walks help\n---\n\nGet the [handout](images/handout.pdf).\n"
)
FIVE_PROBLEMS_SPOTLIGHT = """---
kind: spotlight
condition: Sciatica
summary: Pain down one leg.
learn_more_url: https://www.tristatepain.example/sciatica/
reviewed_by: clinic-reviewer
reviewed_on: 2026-11-31
---

## Causes

- A disc that presses on a nerve

## Treatments

- Physical therapy
"""


def test_an_issue_with_five_problems_reports_all_five_at_once(tmp_path):
    folder = _write(
        tmp_path / "2027-03-spring",
        {
            "issue.toml": FIVE_PROBLEMS_TOML,
            "01-article.md": FIVE_PROBLEMS_ARTICLE,
            "02-spotlight.md": FIVE_PROBLEMS_SPOTLIGHT,
        },
    )
    result = read_issue(folder)
    assert result.issue is None
    got = [(f.path.name if f.path else None, f.line, f.code, f.message) for f in result.errors]
    assert got == [
        ("issue.toml", 4, "unknown-key", "unknown key 'subjet' in issue.toml (did you mean 'subject'?)"),
        (
            "01-article.md",
            3,
            "unknown-key",
            "unknown front matter key 'titel' for an article (did you mean 'title'?)",
        ),
        (
            "01-article.md",
            6,
            "missing-file",
            "file not found: images/handout.pdf (relative links and images must be in the issue folder)",
        ),
        (
            "02-spotlight.md",
            7,
            "invalid-value",
            "reviewed_on must be a real date (YYYY-MM-DD), got '2026-11-31'",
        ),
        ("02-spotlight.md", 9, "spotlight-section", "spotlight is missing the '## Symptoms' section"),
    ]
    # The missing-file hint names the path the author wrote, not only the file name.
    assert result.errors[2].fix == "add images/handout.pdf to the issue folder, or fix the name"


def test_load_issue_raises_the_first_error_and_says_check_lists_them_all(tmp_path):
    folder = _write(
        tmp_path / "2027-03-spring",
        {
            "issue.toml": FIVE_PROBLEMS_TOML,
            "01-article.md": FIVE_PROBLEMS_ARTICLE,
            "02-spotlight.md": FIVE_PROBLEMS_SPOTLIGHT,
        },
    )
    with pytest.raises(IssueError) as err:
        load_issue(folder)
    assert (
        str(err.value)
        == f"{folder / 'issue.toml'}:4: unknown key 'subjet' in issue.toml (did you mean 'subject'?)"
    )
    assert "pain-news check on this issue lists all 5 problems" in (err.value.hint or "")


@pytest.mark.parametrize("value", ["2026-13-20", "2026-11-31"])
def test_an_impossible_review_date_names_file_line_and_field(tmp_path, value):
    text = FIVE_PROBLEMS_SPOTLIGHT.replace("2026-11-31", value).replace(
        "## Treatments", "## Symptoms\n\n- Pain down one leg\n\n## Treatments"
    )
    folder = _write(tmp_path / "x", {"issue.toml": ISSUE_TOML, "02-spotlight.md": text})
    [finding] = read_issue(folder).errors
    assert finding.one_line(tmp_path) == (
        f"x/02-spotlight.md:7: error [invalid-value] reviewed_on must be a real date (YYYY-MM-DD), got '{value}' "
        "(fix: write the date of the medical review as YYYY-MM-DD, e.g. 2026-11-02)"
    )


def test_an_impossible_issue_date_names_the_line_and_field(tmp_path):
    folder = _write(
        tmp_path / "x",
        {"issue.toml": ISSUE_TOML.replace("2027-03-01", "2027-13-01"), "01-article.md": ARTICLE},
    )
    [finding] = read_issue(folder).errors
    assert (finding.line, finding.code) == (3, "invalid-value")
    assert finding.message == "date must be a real date (YYYY-MM-DD), got 2027-13-01"


def test_a_draft_loads_with_draft_set(tmp_path):
    folder = _write(tmp_path / "x", {"issue.toml": ISSUE_TOML + "draft = true\n", "01-article.md": ARTICLE})
    assert load_issue(folder).draft is True
    folder = _write(tmp_path / "y", {"issue.toml": ISSUE_TOML + 'draft = "yes"\n', "01-article.md": ARTICLE})
    [finding] = read_issue(folder).errors
    assert (finding.line, finding.message) == (6, "draft must be true or false")


def test_a_symlinked_piece_outside_the_issue_folder_is_refused_without_sections(tmp_path):
    (tmp_path / "private.md").write_text(ARTICLE.replace("Short walks help", "Private notes"))
    folder = _write(tmp_path / "x", {"issue.toml": ISSUE_TOML, "01-article.md": ARTICLE})
    (folder / "02-notes.md").symlink_to(tmp_path / "private.md")
    [finding] = read_issue(folder).errors
    assert (finding.code, finding.path) == ("outside-folder", folder / "02-notes.md")
    assert finding.message == "02-notes.md is a link to a file outside the issue folder"
    with pytest.raises(IssueError, match="outside the issue folder"):
        load_issue(folder)


@pytest.mark.parametrize(
    "on, problem",
    [
        (dt.date(2027, 10, 1), None),
        (dt.date(2027, 11, 3), "reviewed_on 2026-11-02 is more than 12 months before today (2027-11-03)"),
        (dt.date(2026, 11, 1), "reviewed_on 2026-11-02 is after today (2026-11-01)"),
    ],
)
def test_the_model_tells_a_send_whether_each_review_is_current(on, problem):
    issue = load_issue(SAMPLE_ISSUE)
    found = issue.review_problems(on, 12, "today")
    assert [p.message for _, p in found] == ([problem] if problem else [])


def test_check_and_the_send_word_a_review_problem_the_same(config, sample_issue, tmp_path):
    """One review rule (pain_news/issue/model.py review_problem): check's warning and the send's
    refusal say the same words, each measured from its own day."""
    from pain_news.campaign.gates import SendRequest, medical_review_is_current
    from pain_news.campaign.options import SendOptions
    from pain_news.checks.run import checked_build, run_check

    for spotlight in sample_issue.glob("*spotlight*.md"):  # every edition: the review is the same
        spotlight.write_text(
            spotlight.read_text().replace("reviewed_on: 2026-11-02", "reviewed_on: 2025-10-01")
        )
    [warned] = [
        f for f in run_check(config, sample_issue, readability=False).findings if f.code == "review-old"
    ]
    result = checked_build(config, sample_issue, tmp_path / "out")[0]
    on = dt.date(2026, 12, 1)  # the sample's issue date: both measure from the same day
    with pytest.raises(IssueError) as refused:
        medical_review_is_current(
            SendRequest(
                config=config, issue_dir=sample_issue, options=SendOptions(provider="outbox", today=on)
            ),
            result,
        )
    assert (
        warned.message == "reviewed_on 2025-10-01 is more than 12 months before the issue date (2026-12-01)"
    )
    said = warned.message.replace("the issue date", "today")
    assert refused.value.message == f"medical review is not current for a list send: {said}"
    assert refused.value.hint == warned.fix


@pytest.mark.parametrize(
    ("written", "on_disk", "hint"),
    [
        ("winter-walk.jpg", "images/winter-walk.jpg", "did you mean images/winter-walk.jpg? Fix the name"),
        (
            "images/winter-walk.jpeg",
            "images/winter-walk.jpg",
            "did you mean images/winter-walk.jpg? Fix the name",
        ),
        (
            "images/winter-wlak.jpg",
            "images/winter-walk.jpg",
            "did you mean images/winter-walk.jpg? Fix the name",
        ),
        (
            "images/handout.pdf",
            "images/winter-walk.jpg",
            "add images/handout.pdf to the issue folder, or fix the name",
        ),
    ],
)
def test_a_missing_image_suggests_the_file_meant(tmp_path, written, on_disk, hint):
    folder = _write(
        tmp_path / "2027-01-january",
        {
            "issue.toml": 'title = "January"\ndate = 2027-01-01\nnumber = 1\nsubject = "S"\npreheader = "P"\n',
            "01-article.md": f"---\nkind: article\ntitle: A walk\n---\n\n![A path in snow]({written})\n",
        },
    )
    (folder / on_disk).parent.mkdir(parents=True, exist_ok=True)
    (folder / on_disk).write_bytes(b"\x89PNG")
    [missing] = [f for f in read_issue(folder).findings if f.code == "missing-file"]
    assert missing.fix == hint
