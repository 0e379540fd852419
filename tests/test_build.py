import json
import shutil

import pytest

from pain_news.build import build_issue
from pain_news.errors import IssueError, TemplateError
from tests.fixtures.core import BAD


def test_build_writes_all_outputs(config, sample_issue, tmp_path):
    result = build_issue(config, sample_issue, tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["email.html", "email.txt", "meta.json", "web.html"]
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["subject"] == "Pain after back surgery? You have options"
    assert meta["sizes"]["email.html"] == len((tmp_path / "out" / "email.html").read_bytes())
    assert meta["word_counts"]["02-winter-activity"] > 20
    assert result.out == (tmp_path / "out").resolve()


def test_same_sources_give_identical_bytes(config, sample_issue, tmp_path):
    build_issue(config, sample_issue, tmp_path / "a")
    build_issue(config, sample_issue, tmp_path / "b")
    for name in ("email.html", "email.txt", "web.html", "meta.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_default_output_is_build_issue_folder(config, sample_issue, project):
    build_issue(config, sample_issue)
    assert (project / "build" / "2026-12-winter" / "email.html").is_file()


def test_images_are_copied_into_the_build(config, sample_issue, tmp_path):
    (sample_issue / "images").mkdir()
    (sample_issue / "images" / "walk.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    md = sample_issue / "02-winter-activity.md"
    md.write_text(md.read_text().replace("layout: half\n", "layout: half\nimage: images/walk.png\nimage_alt: A winter walk\n"))
    build_issue(config, sample_issue, tmp_path / "out")
    assert (tmp_path / "out" / "images" / "walk.png").read_bytes().endswith(b"fake")
    html = (tmp_path / "out" / "email.html").read_text()
    assert 'src="https://news.tristatepain.example/2026-12-winter/images/walk.png"' in html
    assert 'alt="A winter walk"' in html


def test_failed_build_keeps_the_previous_output(config, sample_issue, tmp_path):
    out = tmp_path / "out"
    build_issue(config, sample_issue, out)
    before = (out / "email.html").read_bytes()
    (sample_issue / "02-winter-activity.md").write_text("---\nkind: newz\n---\n")
    with pytest.raises(IssueError):
        build_issue(config, sample_issue, out)
    assert (out / "email.html").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "project"]  # no temp folders left


def test_missing_markdown_image_names_file_and_line(config, tmp_path):
    with pytest.raises(IssueError) as err:
        build_issue(config, BAD / "missing-markdown-image", tmp_path / "out")
    assert "file not found: images/chart.png" in str(err.value)
    assert err.value.line == 8
    assert not (tmp_path / "out").exists()


def test_broken_template_names_template_and_line(config, sample_issue, project, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(project / "templates", templates)
    article = templates / "article.mjml.j2"
    article.write_text(article.read_text().replace("{%- if piece.author %}", "{%- if piece.author %"))
    config = config.with_overrides(build=type(config.build)(templates=str(templates)))
    with pytest.raises(TemplateError) as err:
        build_issue(config, sample_issue, tmp_path / "out")
    assert "article.mjml.j2" in str(err.value)
    assert err.value.line is not None
    assert not (tmp_path / "out").exists()


def test_misspelled_template_variable_names_template_and_line(config, sample_issue, project, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(project / "templates", templates)
    footer = templates / "footer.mjml.j2"
    footer.write_text(footer.read_text().replace("newsletter.postal_address", "newsletter.postal_adress"))
    config = config.with_overrides(build=type(config.build)(templates=str(templates)))
    with pytest.raises(TemplateError) as err:
        build_issue(config, sample_issue, tmp_path / "out")
    assert "footer.mjml.j2" in str(err.value)
    assert "postal_adress" in str(err.value)
