"""A piece's front matter as a form: read the fields, write changed ones back into the same YAML,
keeping its comments, key order and quoting (ruamel.yaml's round trip; PyYAML would drop comments).

The loader (pain_news/issue/loader.py) stays the one reader of what the fields mean: the desk
only moves text between the form and the file, and `check` judges the result.
"""

from __future__ import annotations

import io
from typing import Any

from pain_news.errors import IssueError

#: Form field → front matter key (the call to action is the nested `cta:` mapping).
FIELDS = ("title", "kind", "condition", "reviewed_by", "cta_label", "cta_url")
SIMPLE = ("title", "kind", "condition", "reviewed_by")


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
    """The front matter with the form's values; the text itself when no value changed."""
    wanted = {key: fields.get(key, "").strip() for key in FIELDS}
    if wanted == read_fields(front):
        return front
    data = _load(front)
    for key in SIMPLE:
        _set(data, key, wanted[key])
    label, url = wanted["cta_label"], wanted["cta_url"]
    cta = data.get("cta")
    if not label and not url:
        data.pop("cta", None)
    elif hasattr(cta, "get"):
        _set(cta, "label", label)
        _set(cta, "url", url)
    else:
        from ruamel.yaml.comments import CommentedMap

        data["cta"] = CommentedMap([("label", label), ("url", url)])
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def _set(data: Any, key: str, value: str) -> None:
    """Set one key, keeping its quoting when the value is unchanged; an emptied value removes it."""
    if _text(data.get(key)) == value:
        return
    if not value:
        data.pop(key, None)
    else:
        data[key] = value


def _text(value: object) -> str:
    return "" if value is None else str(value)
