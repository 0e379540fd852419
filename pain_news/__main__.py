"""`python -m pain_news`."""

from pain_news.cli import main

if __name__ == "__main__":  # never when a worker process (campaign/personalizing.py) imports it
    main()
