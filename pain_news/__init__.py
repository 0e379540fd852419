"""Pain News: a markdown-first newsletter tool for TriState Pain Institute."""

from typing import Any


def __getattr__(name: str) -> Any:
    # Read lazily: importlib.metadata costs ~20 ms, which every `pain-news` start would pay.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("pain-news")
        except PackageNotFoundError:  # a source tree that was not installed
            return "0.0.0"
    raise AttributeError(name)
