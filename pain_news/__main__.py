"""`python -m pain_news`."""

from pain_news.cli import main

main()
