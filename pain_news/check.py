"""`pain-news check`: lint an issue's sources and its built email before anyone receives it.

Source checks read the files leniently (every problem, with file and line); if the issue loads,
it is rendered and the output is checked (footer, leftover tags, Gmail's size clip), then each
piece's reading grade is measured. `--links` also requests every external link.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pain_news.checks import Finding, error, warning
from pain_news.checks.contact import phone_findings
from pain_news.checks.images import image_findings
from pain_news.checks.output import check_output
from pain_news.checks.readability import grade_findings, reading_grades
from pain_news.checks.sources import scan_sources
from pain_news.config import Config
from pain_news.content import Issue, load_issue
from pain_news.errors import CheckFailed, PainNewsError
from pain_news.render import Rendered, render_issue

if TYPE_CHECKING:
    from pain_news.build import BuildResult
    from pain_news.checks.links import LinkResult

__all__ = ["CheckReport", "Finding", "check_issue", "checked_build", "run_check"]


@dataclass(frozen=True)
class CheckReport:
    """Everything one `check` run found, plus the measurements it prints."""

    folder: Path
    findings: tuple[Finding, ...]
    grades: dict[str, float] = field(default_factory=dict)
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
    issue: Path | Issue,
    *,
    links: bool = False,
    readability: bool = True,
    rendered: Rendered | None = None,
) -> CheckReport:
    """Check one issue (a folder, or an already loaded Issue with its `rendered` output) and return every finding."""
    folder = (issue.folder if isinstance(issue, Issue) else issue).resolve()
    scan = scan_sources(folder)
    findings = list(scan.findings)
    loaded: Issue | None = issue if isinstance(issue, Issue) else None
    problem: Finding | None = None
    if loaded is None or rendered is None:
        loaded, rendered, problem = _load_and_render(config, issue)
    if problem is not None:
        # load_issue stops at the first problem; report it only when the lenient scan missed it.
        if not any(f.severity == "error" and f.path == problem.path for f in findings):
            findings.append(problem)
        return CheckReport(folder, _ordered(findings))
    assert loaded is not None and rendered is not None
    output_findings, size = check_output(config, rendered, scan, Path(config.build.out) / folder.name)
    findings.extend(output_findings)
    findings.extend(phone_findings(config, loaded))
    findings.extend(image_findings(loaded))
    grades: dict[str, float] = {}
    if readability:
        grades = reading_grades(loaded)
        findings.extend(grade_findings(loaded, grades))
    results: list[LinkResult] = []
    if links:
        from pain_news.checks.links import check_links, external_links  # http, ssl: only with --links

        base = config.newsletter.public_url.rstrip("/")
        # The issue's own web version and images are published with the archive, after the check.
        results = check_links(external_links(rendered.email_html, f"{base}/{folder.name}/" if base else ""))
        findings.extend(_link_findings(results))
    return CheckReport(folder, _ordered(findings), grades, size, tuple(results), links)


def check_issue(config: Config, issue: Path | Issue, *, links: bool = False) -> list[Finding]:
    """Every finding for one issue (see run_check for grades and sizes too)."""
    return list(run_check(config, issue, links=links).findings)


def _load_and_render(
    config: Config, issue: Path | Issue
) -> tuple[Issue | None, Rendered | None, Finding | None]:
    try:
        loaded = issue if isinstance(issue, Issue) else load_issue(issue, config.newsletter.public_url)
        return loaded, render_issue(loaded, config.newsletter, config.templates_dir), None
    except PainNewsError as exc:
        path = Path(exc.path) if exc.path is not None else None
        return (
            None,
            None,
            error(
                "source" if path and path.suffix in (".md", ".toml") else "template",
                exc.message,
                path,
                exc.line,
                exc.hint or "fix this, then run check again",
            ),
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


def checked_build(
    config: Config, issue_dir: Path, out_path: Path | None = None, *, force: bool = False
) -> tuple[BuildResult, CheckReport]:
    """Build an issue only when `check` finds no errors (or `force`); warnings go into meta.json."""
    from pain_news.build import build_issue, render

    # An issue that does not load fails here with content's own error, exactly as `build` always did.
    issue, rendered = render(config, issue_dir)
    # Reading grades are left to `check`: loading textstat's dictionary costs ~0.5 s per process.
    report = run_check(config, issue, readability=False, rendered=rendered)
    if report.errors and not force:
        lines = "\n".join(f"  {f.one_line(config.root)}" for f in report.errors)
        raise CheckFailed(
            f"{report.summary()}; not built:\n{lines}",
            hint=f"fix the errors (pain-news check {issue_dir} shows them all), or build anyway with --force",
        )
    warnings = tuple(f.one_line(config.root) for f in report.findings)
    return build_issue(config, issue_dir, out_path, warnings=warnings, rendered=(issue, rendered)), report
