import json
import re
import shutil

import pytest

from pain_news.errors import IssueError, PainNewsError, TemplateError
from pain_news.publish.build import build_issue
from tests.fixtures.core import BAD


def test_build_writes_all_outputs(config, sample_issue, tmp_path):
    result = build_issue(config, sample_issue, tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [".pain-news-build", "email.html", "email.txt", "es", "meta.json", "web.html"]
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
    md.write_text(
        md.read_text().replace(
            "layout: half\n", "layout: half\nimage: images/walk.png\nimage_alt: A winter walk\n"
        )
    )
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


def build_with_edited_template(config, project, sample_issue, tmp_path, name, old, new):
    """Build the sample with one template edited (old → new) in a copy of the templates."""
    templates = tmp_path / "templates"
    shutil.copytree(project / "templates", templates)
    path = templates / name
    path.write_text(path.read_text().replace(old, new))
    config = config.with_overrides(build=type(config.build)(templates=str(templates)))
    with pytest.raises(TemplateError) as err:
        build_issue(config, sample_issue, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    return err.value


@pytest.mark.parametrize(
    "name, old, new, words",
    [
        ("article.mjml.j2", "{%- if piece.author %}", "{%- if piece.author %", ["template syntax error"]),
        ("footer.mjml.j2", "newsletter.postal_address", "newsletter.postal_adress", ["postal_adress"]),
    ],
    ids=["syntax-error", "misspelled-variable"],
)
def test_broken_template_names_template_and_line(
    config, sample_issue, project, tmp_path, name, old, new, words
):
    error = build_with_edited_template(config, project, sample_issue, tmp_path, name, old, new)
    assert name in str(error)
    assert error.line is not None
    for word in words:
        assert word in str(error)


# --- outputs stay in their folder, and only pain-news's own folders are replaced --------------------


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_marks_its_folder_with_a_deterministic_marker(config, sample_issue, tmp_path):
    build_issue(config, sample_issue, tmp_path / "a")
    build_issue(config, sample_issue, tmp_path / "b")
    assert (tmp_path / "a" / ".pain-news-build").read_bytes() == (
        tmp_path / "b" / ".pain-news-build"
    ).read_bytes()
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")


def test_a_link_outside_the_issue_folder_fails_the_build_with_file_and_line(
    run_cli, sample_issue, project, tmp_path
):
    (project / "private").mkdir()
    (project / "private" / "notes.txt").write_text("private")
    md = sample_issue / "02-winter-activity.md"
    md.write_text(
        md.read_text().replace("Cold weather", "See [notes](../../private/notes.txt). Cold weather")
    )
    for force in ([], ["--force"]):
        result = run_cli("build", str(sample_issue), "--out", str(tmp_path / "out"), *force, ok=False)
        assert result.exit_code == 1
        assert "02-winter-activity.md:8: ../../private/notes.txt is outside the issue folder" in result.stderr
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "out").exists() and not (tmp_path / "private").exists()


@pytest.mark.parametrize(
    "out, relation",
    [
        ("issues/2026-12-winter", "is the issue folder"),
        ("issues/2026-12-winter/out", "is inside the issue folder"),
        ("issues", "is the issues folder"),
        ("issues/elsewhere", "is inside the issues folder"),
        ("templates/out", "is inside the templates folder"),
        (".", "contains the issue folder"),
    ],
)
def test_build_refuses_an_output_folder_in_or_around_the_sources(
    run_cli, sample_issue, project, out, relation
):
    before = snapshot(project)
    result = run_cli("build", str(sample_issue), "--out", out, ok=False)
    assert result.exit_code == 1
    assert (
        f"Error: refusing to write the build into {(project / out).resolve()}: it {relation}" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert snapshot(project) == before  # sources untouched, nothing added


def test_build_refuses_to_replace_a_folder_it_did_not_write(run_cli, sample_issue, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "keep.txt").write_text("mine")
    result = run_cli("build", str(sample_issue), "--out", str(site), ok=False)
    assert result.exit_code == 1
    assert (
        f"Error: refusing to replace {site}: it is not empty and was not written by pain-news build"
        in result.stderr
    )
    assert snapshot(site) == {"keep.txt": b"mine"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project", "site"]  # no temp folders left


def test_build_fills_an_empty_folder_and_replaces_its_own(config, sample_issue, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    build_issue(config, sample_issue, out)
    (out / "stale.txt").write_text("from an older build")
    build_issue(config, sample_issue, out)
    assert not (out / "stale.txt").exists() and (out / "email.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "project"]


@pytest.mark.parametrize("name", ["../escape.txt", "a/../../escape.txt", "/tmp/escape.txt"])
def test_write_tree_refuses_a_destination_outside_its_folder(tmp_path, name):
    from pain_news.publish.build import write_tree

    source = tmp_path / "source.txt"
    source.write_text("x")
    for files, copies in (({name: "x"}, {}), ({}, {name: source})):
        with pytest.raises(IssueError, match="outside the output folder"):
            write_tree(tmp_path / "out", files, copies, kind="build", protected={})
        assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.txt"]


def test_a_build_from_before_the_marker_is_replaced_but_not_with_foreign_files(
    config, sample_issue, tmp_path
):
    out = tmp_path / "out"
    build_issue(config, sample_issue, out)
    (out / ".pain-news-build").unlink()  # as older versions wrote it (with no editions)
    shutil.rmtree(out / "es")
    build_issue(config, sample_issue, out)
    assert (out / ".pain-news-build").is_file()
    (out / ".pain-news-build").unlink()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(PainNewsError, match="not written by pain-news build"):
        build_issue(config, sample_issue, out)
    assert (out / "keep.txt").read_text() == "mine"


def test_each_edition_is_built_in_its_own_folder_with_its_language(config, sample_issue, tmp_path):
    result = build_issue(config, sample_issue, tmp_path / "out")
    es = tmp_path / "out" / "es"
    assert sorted(p.name for p in es.iterdir()) == ["email.html", "email.txt", "meta.json", "web.html"]
    html = (es / "email.html").read_text()
    assert '<html lang="es"' in html and 'role="article" lang="es"' in html  # the body's wrapper too
    assert "<title>¿Dolor después de una cirugía de espalda? Tiene opciones</title>" in html
    assert "Enfoque en una afección: síndrome de cirugía de columna fallida" in (es / "email.txt").read_text()
    assert "Failed spine surgery" not in (es / "email.txt").read_text()
    assert '<html lang="es">' in (es / "web.html").read_text()
    assert '<html lang="en"' in (tmp_path / "out" / "email.html").read_text()
    meta = json.loads((es / "meta.json").read_text())
    assert (meta["language"], meta["subject"]) == (
        "es",
        "¿Dolor después de una cirugía de espalda? Tiene opciones",
    )
    assert json.loads((tmp_path / "out" / "meta.json").read_text())["languages"] == ["en", "es"]
    assert "es edition in es/" in result.summary_line()


def test_editions_link_each_other_with_hreflang(config, sample_issue, tmp_path):
    build_issue(config, sample_issue, tmp_path / "out")
    base = "https://news.tristatepain.example/2026-12-winter/"
    for page in (tmp_path / "out" / "web.html", tmp_path / "out" / "es" / "web.html"):
        text = page.read_text()
        assert f'<link rel="alternate" hreflang="en" href="{base}">' in text
        assert f'<link rel="alternate" hreflang="es" href="{base}es/">' in text
    assert (
        f'href="{base}es/" hreflang="es" lang="es">Español</a>' in (tmp_path / "out" / "web.html").read_text()
    )


def test_an_edition_file_missing_fails_the_whole_build(config, sample_issue, tmp_path):
    (sample_issue / "02-winter-activity.es.md").unlink()
    with pytest.raises(PainNewsError, match="02-winter-activity.md has no 'es' edition") as caught:
        build_issue(config, sample_issue, tmp_path / "out")
    assert caught.value.path == sample_issue.resolve() / "02-winter-activity.es.md"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (('languages = ["en", "es"]', 'languages = ["en", "fr"]'), "languages names 'fr'"),
        (('languages = ["en", "es"]', 'languages = ["es"]'), "must include the default language 'en'"),
        (("\n[es]\nsubject = ", "\n[es]\nsubjet = "), "unknown key 'subjet' in [es]"),
        (('title = "Invierno 2026"', ""), "missing key 'title' in [es]"),
    ],
)
def test_bad_edition_settings_name_the_line(config, sample_issue, tmp_path, change, message):
    toml = sample_issue / "issue.toml"
    toml.write_text(toml.read_text().replace(*change))
    with pytest.raises(PainNewsError, match=re.escape(message)) as caught:
        build_issue(config, sample_issue, tmp_path / "out")
    assert caught.value.line is not None
    assert not (tmp_path / "out").exists()


def test_an_issue_without_languages_has_one_edition_and_no_es_folder(config, sample_issue, tmp_path):
    toml = sample_issue / "issue.toml"
    toml.write_text(toml.read_text().replace('languages = ["en", "es"]', "").split("[es]")[0])
    build_issue(config, sample_issue, tmp_path / "out")
    assert not (tmp_path / "out" / "es").exists()
    assert "hreflang" not in (tmp_path / "out" / "web.html").read_text()
