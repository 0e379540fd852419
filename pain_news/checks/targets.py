"""Links and images in the pieces: empty or script targets, plain http, missing alt text, heavy images.

Whether a relative target is inside the issue folder and exists is the loader's rule
(pain_news/issue/pieces.py); these are the rules a built email can survive but a reader should not meet.
"""

from __future__ import annotations

import re
from pathlib import Path

from pain_news.checks import CheckInput, Finding, error, warning
from pain_news.issue.model import Target, is_relative, local_path

IMAGE_MAX_BYTES = 1024 * 1024
#: markdown-it drops these links silently when rendering, so they are looked for in the source text.
SCRIPT_TARGET = re.compile(
    r"(?:\]\(\s*<?\s*|<|^\s*\[[^\]]+\]:\s*<?\s*)(?P<target>(?:javascript|vbscript):[^)\s>]*)", re.I | re.M
)


def check_targets(data: CheckInput) -> list[Finding]:
    """Every link and image target of every piece (front matter and body)."""
    findings = []
    for source in data.loaded.sources:
        for target in source.targets:
            findings.extend(_target_findings(target, source.path))
        for number, text in enumerate(source.body.splitlines()):
            for match in SCRIPT_TARGET.finditer(text):
                findings.append(
                    error(
                        "script-link",
                        f"link target is a script: {match['target']}",
                        source.path,
                        source.body_line + number,
                        "use an https:// address; mail clients and our renderer drop script links",
                    )
                )
    return findings


def _target_findings(target: Target, path: Path) -> list[Finding]:
    label, url, line = target.kind, target.url, target.line
    findings = []
    if target.kind == "image" and not target.alt.strip():
        fix = (
            "add image_alt: a short description of what the image shows"
            if target.in_front_matter
            else "write the description between the brackets: ![what it shows](file.jpg)"
        )
        findings.append(error("image-alt", f"image {url or '(no target)'} has no alt text", path, line, fix))
    if not url.strip():
        findings.append(
            error(
                "empty-link",
                f"{label} with an empty target",
                path,
                line,
                f"give the {label} a URL or remove it",
            )
        )
    elif url.strip().lower().startswith(("javascript:", "vbscript:")):
        # Body links never get here (markdown-it drops them); check_targets finds those in the text.
        findings.append(
            error("script-link", f"{label} target is a script: {url}", path, line, "use an https:// address")
        )
    elif url.startswith("http://"):
        findings.append(
            warning(
                "plain-http",
                f"{label} uses plain http://: {url}",
                path,
                line,
                "use https:// if the site supports it",
            )
        )
    elif target.kind == "image" and is_relative(url):
        local = local_path(path.parent, url)
        if local is not None and local.is_file() and local.stat().st_size > IMAGE_MAX_BYTES:
            findings.append(
                warning(
                    "large-image",
                    f"image {url} is {local.stat().st_size / (1024 * 1024):.1f} MB (over 1 MB)",
                    path,
                    line,
                    "resize it (1200 px wide is plenty) or save it as a smaller JPEG",
                )
            )
    return findings
