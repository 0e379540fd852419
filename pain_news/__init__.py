"""Pain News: a markdown-first newsletter tool for TriState Pain Institute."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pain-news")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
