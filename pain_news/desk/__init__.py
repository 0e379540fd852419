"""`pain-news desk`: a local web app over the project's own files, for a staffer who writes, checks,
approves and sends an issue from the browser (docs/desk.md).

A layer on top, like cli/ and web/: nothing imports it. Every action calls the functions the
commands call (scaffold, loader, check, sign-off, gates, ledger), so there is no second code path.
"""
