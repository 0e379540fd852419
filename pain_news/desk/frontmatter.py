"""A piece's front matter as a form: read the fields, write changed ones back into the same YAML,
keeping its comments, key order and quoting (ruamel.yaml's round trip; PyYAML would drop comments).

The loader (pain_news/issue/loader.py) stays the one reader of what the fields mean: the desk
only moves text between the form and the file, and `check` judges the result.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from pain_news.errors import IssueError

#: Form field → front matter key (the call to action is the nested `cta:` mapping).
SIMPLE = (
    "title",
    "kind",
    "author",
    "condition",
    "summary",
    "learn_more_url",
    "reviewed_by",
    "reviewed_on",
)
FIELDS = (*SIMPLE, "cta_label", "cta_url")


def _yaml() -> Any:
    # lazy: ruamel.yaml loads only when the desk reads or writes front matter
    from ruamel.yaml import YAML

    yaml = YAML()  # round trip: comments, order, quotes and block styles are kept
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long title
    return yaml


def _load(front: str) -> Any:
    from ruamel.yaml.error import YAMLError

    try:
        data = _yaml().load(front)
    except YAMLError as exc:
        raise IssueError(f"the front matter is not valid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        from ruamel.yaml.comments import CommentedMap

        data = CommentedMap()
    if not hasattr(data, "get"):
        raise IssueError("the front matter must be 'key: value' lines")
    return data


def read_fields(front: str) -> dict[str, str]:
    """The form's values from the front matter text ("" for a key that is not there)."""
    data = _load(front)
    values = {key: _text(data.get(key)) for key in SIMPLE}
    cta = data.get("cta")
    cta = cta if hasattr(cta, "get") else {}
    values["cta_label"], values["cta_url"] = _text(cta.get("label")), _text(cta.get("url"))
    return values


def write_fields(front: str, fields: dict[str, str]) -> str:
    """The front matter with the form's values; the text itself when no value changed.

    Only the fields the form sent are touched: a key the form does not know stays as written."""
    wanted = {key: fields[key].strip() for key in FIELDS if key in fields}
    current = read_fields(front)
    if all(current[key] == value for key, value in wanted.items()):
        return front
    data = _load(front)
    for key in SIMPLE:
        if key in wanted:
            _set(data, key, wanted[key])
    if "cta_label" in wanted and "cta_url" in wanted:
        _set_cta(data, wanted["cta_label"], wanted["cta_url"])
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def _set_cta(data: Any, label: str, url: str) -> None:
    cta = data.get("cta")
    if not label and not url:
        data.pop("cta", None)
    elif hasattr(cta, "get"):
        _set(cta, "label", label)
        _set(cta, "url", url)
    else:
        from ruamel.yaml.comments import CommentedMap

        data["cta"] = CommentedMap([("label", label), ("url", url)])


def _set(data: Any, key: str, value: str) -> None:
    """Set one key, keeping its quoting when the value is unchanged; an emptied value removes it.

    A folded (`>`) or literal (`|`) block stays one; a YYYY-MM-DD stays a date (reviewed_on)."""
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    old = data.get(key)
    if _text(old) == value:
        return
    if not value:
        data.pop(key, None)
        return
    new: object = value
    if isinstance(old, FoldedScalarString):
        new = FoldedScalarString(value.rstrip("\n") + "\n")
    elif isinstance(old, LiteralScalarString):
        new = LiteralScalarString(value.rstrip("\n") + "\n")
    elif isinstance(old, dt.date) or (key == "reviewed_on" and _iso_date(value)):
        new = _iso_date(value) or value
    data[key] = new


def _iso_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _text(value: object) -> str:
    """A value as the form shows it (a block scalar without its final newline)."""
    return "" if value is None else str(value).rstrip("\n")
