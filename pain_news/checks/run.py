"""`pain-news check`: every finding of the loader, then the checks registered in CHECKS.

The loader (pain_news/issue/loader.py) reads leniently and reports every problem with file and line;
if the issue loads it is rendered, and each check in CHECKS looks at the sources, the model or the
output (footer, leftover tags, Gmail's size clip). Then each piece's reading grade is measured;
`--links` also requests every external link.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pain_news.checks import CheckInput, Finding, error, warning
from pain_news.checks.addressing import check_addressing
from pain_news.checks.contact import phone_findings
from pain_news.checks.headers import check_headers
from pain_news.checks.images import image_findings
from pain_news.checks.inbox import check_inbox
from pain_news.checks.output import check_output, largest_copy_bytes
from pain_news.checks.parity import check_parity
from pain_news.checks.readability import FORMULAS, edition_scores, grade_findings, reading_grades
from pain_news.checks.reader import check_reader
from pain_news.checks.replies import check_replies
from pain_news.checks.review import check_review, check_reviewer
from pain_news.checks.scaffold import check_scaffold
from pain_news.checks.tags import check_tags
from pain_news.checks.targets import check_targets
from pain_news.config.settings import Config
from pain_news.errors import CheckFailed, PainNewsError
from pain_news.issue.loader import Issue, LoadResult, read_issue
from pain_news.publish.build import build_issue
from pain_news.render.pipeline import Rendered, render_issue

if TYPE_CHECKING:
    # lazy: httpx and ssl load only for `check --links`
    from pain_news.checks.links import LinkResult
    from pain_news.publish.build import BuildResult

__all__ = ["CHECKS", "CheckReport", "Finding", "check_issue", "checked_build", "checked_render", "run_check"]

#: The checks `check` (and so `build`, `archive` and `send`) runs after the loader, in this order.
#: Each takes a CheckInput and returns Findings; register a new one by adding it here.
CHECKS: tuple[Callable[[CheckInput], list[Finding]], ...] = (
    check_inbox,
    check_addressing,
    check_headers,
    check_tags,
    check_targets,
    check_review,
    check_reviewer,
    check_scaffold,
    check_output,
    lambda data: phone_findings(data.config, data.loaded.issue) if data.loaded.issue else [],
    lambda data: image_findings(data.loaded.issue) if data.loaded.issue else [],
    check_reader,
    check_replies,
    check_parity,
)


@dataclass(frozen=True)
class CheckReport:
    """Everything one `check` run found, plus the measurements it prints."""

    folder: Path
    findings: tuple[Finding, ...]
    grades: dict[str, float] = field(default_factory=dict)
    # Each other edition's scores by its language's formula: {"es": {"01-spotlight": 68.2}}.
    edition_grades: dict[str, dict[str, float]] = field(default_factory=dict)
    email_bytes: int | None = None
    links: tuple[LinkResult, ...] = ()
    links_checked: bool = False

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def strict(self) -> CheckReport:
        """The same report with every warning counted as an error (`--strict`)."""
        return replace(self, findings=tuple(replace(f, severity="error") for f in self.findings))

    def summary(self) -> str:
        n_err, n_warn = len(self.errors), len(self.warnings)
        return f"{self.folder.name}: {n_err} error{'s' * (n_err != 1)}, {n_warn} warning{'s' * (n_warn != 1)}"

    def as_dict(self, relative_to: Path | None = None) -> dict[str, Any]:
        return {
            "issue": self.folder.name,
            "ok": not self.errors,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "findings": [f.as_dict(relative_to) for f in self.findings],
            "reading_grades": self.grades,
            "edition_reading_scores": self.edition_grades,
            "email_html_bytes": self.email_bytes,
            "links_checked": self.links_checked,
            "links": [{"url": r.url, "status": r.status, "detail": r.detail} for r in self.links],
        }

    def to_json(self, relative_to: Path | None = None) -> str:
        return json.dumps(self.as_dict(relative_to), indent=2, ensure_ascii=False, sort_keys=True) + "\n"

    def lines(self, relative_to: Path | None = None) -> list[str]:
        """Human-readable report: findings, reading grades, size, link results, summary."""
        out = [f.one_line(relative_to) for f in self.findings]
        if self.grades:
            out.append("Reading grade (Flesch–Kincaid, aim for 8 or below):")
            out.extend(f"  {slug}: {grade:.1f}" for slug, grade in self.grades.items())
        for language, scores in self.edition_grades.items():
            out.append(f"Reading level of the {language} edition ({FORMULAS[language][0]}):")
            out.extend(f"  {slug}: {score:.1f}" for slug, score in scores.items())
        if self.email_bytes is not None:
            out.append(
                f"Largest personalised email HTML: {self.email_bytes / 1024:.1f} KB (Gmail clips at 102 KB)"
            )
        for result in self.links:
            out.append(f"  link {result.status}: {result.url} ({result.detail})")
        out.append(self.summary())
        return out


def run_check(
    config: Config,
    issue: Path | LoadResult,
    *,
    links: bool = False,
    readability: bool = True,
    rendered: Rendered | None = None,
) -> CheckReport:
    """Check one issue (a folder, or the loader's result with its `rendered` output) and return every finding."""
    loaded = (
        issue
        if isinstance(issue, LoadResult)
        else read_issue(issue, config.newsletter.public_url, config.topic_keys, config.languages)
    )
    findings = list(loaded.findings)
    if rendered is None and loaded.issue is not None:
        try:
            rendered = render_issue(loaded.issue, config.newsletter, config.templates_dir, config.reviewers)
        except PainNewsError as exc:
            findings.append(_template_finding(exc))
    size = largest_copy_bytes(config, rendered) if rendered is not None else None
    data = CheckInput(config, loaded, rendered, size)
    for check in CHECKS:
        findings.extend(check(data))
    grades: dict[str, float] = {}
    editions: dict[str, dict[str, float]] = {}
    if readability and loaded.pieces:
        grades, editions, levels = _reading_levels(config, loaded)
        findings.extend(levels)
    results: list[LinkResult] = []
    if links and rendered is not None:
        # lazy: httpx and ssl load only for `check --links`
        from pain_news.checks.links import check_links, external_links

        base = config.newsletter.public_url.rstrip("/")
        # The issue's own web version and images are published with the archive, after the check.
        prefix = f"{base}/{loaded.folder.name}/" if base else ""
        # lazy: only `check --links` compares claims with their sources
        from pain_news.checks.claims import source_urls

        urls = external_links(rendered.email_html, prefix)
        results = check_links(sorted({*urls, *source_urls(loaded.pieces)}))
        findings.extend(_link_findings(results))
    return CheckReport(
        loaded.folder, _ordered(findings), grades, editions, data.email_bytes, tuple(results), links
    )


def _reading_levels(
    config: Config, loaded: LoadResult
) -> tuple[dict[str, float], dict[str, dict[str, float]], list[Finding]]:
    """The default edition's grades, each other edition's scores by its language's formula, and
    every piece that misses its language's target in [check]."""
    grades = reading_grades(loaded.pieces)
    findings = grade_findings(loaded.pieces, grades, "en", config.check.reading_grade_max)
    editions: dict[str, dict[str, float]] = {}
    for edition in loaded.issue.editions if loaded.issue is not None else ():
        target = config.check.target(edition.language)
        if edition.language not in FORMULAS or target is None:
            continue
        scores = editions[edition.language] = edition_scores(edition.pieces, edition.language)
        findings.extend(grade_findings(edition.pieces, scores, edition.language, target))
    return grades, editions, findings


def check_issue(config: Config, issue: Path | LoadResult, *, links: bool = False) -> list[Finding]:
    """Every finding for one issue (see run_check for grades and sizes too)."""
    return list(run_check(config, issue, links=links).findings)


def _template_finding(exc: PainNewsError) -> Finding:
    path = Path(exc.path) if exc.path is not None else None
    return error(
        "template", exc.message, path, exc.line, exc.hint or "fix the template, then run check again"
    )


def _link_findings(results: list[LinkResult]) -> list[Finding]:
    findings = [
        error("broken-link", f"link answers HTTP {r.detail}: {r.url}", fix="fix or remove the link")
        for r in results
        if r.status == "broken"
    ]
    unchecked = [r for r in results if r.status == "not checked"]
    if unchecked:
        findings.append(
            warning(
                "links-not-checked",
                f"{len(unchecked)} link(s) not checked (no answer: {unchecked[0].detail})",
                fix="run check --links again with a network connection",
            )
        )
    return findings


def _ordered(findings: list[Finding]) -> tuple[Finding, ...]:
    """By file, then line; findings about no file (config, links) come last."""
    return tuple(sorted(findings, key=lambda f: (f.path is None, str(f.path or ""), f.line or 0)))


def checked_render(
    config: Config, issue_dir: Path, *, force: bool = False, refused: str = "not built"
) -> tuple[Issue, Rendered, CheckReport]:
    """Load, render and check an issue; raise the loader's first error, or CheckFailed on check errors.

    The one gate for build and archive (and so send): what one refuses, the others refuse too.
    `force` lets check errors through (an issue that does not load never gets through).
    """
    loaded = read_issue(issue_dir, config.newsletter.public_url, config.topic_keys, config.languages)
    issue = loaded.require()
    rendered = render_issue(issue, config.newsletter, config.templates_dir, config.reviewers)
    # Reading grades are left to `check`: loading textstat's dictionary costs ~0.5 s per process.
    report = run_check(config, loaded, readability=False, rendered=rendered)
    if report.errors and not force:
        lines = "\n".join(f"  {f.one_line(config.root)}" for f in report.errors)
        raise CheckFailed(
            f"{report.summary()}; {refused}:\n{lines}",
            hint=f"fix the errors (pain-news check {issue_dir} shows them all), or build anyway with --force",
        )
    return issue, rendered, report


def checked_build(
    config: Config, issue_dir: Path, out_path: Path | None = None, *, force: bool = False
) -> tuple[BuildResult, CheckReport]:
    """Build an issue only when `check` finds no errors (or `force`); warnings go into meta.json."""

    issue, rendered, report = checked_render(config, issue_dir, force=force)
    warnings = tuple(f.one_line(config.root) for f in report.findings)
    return build_issue(config, issue_dir, out_path, warnings=warnings, rendered=(issue, rendered)), report
