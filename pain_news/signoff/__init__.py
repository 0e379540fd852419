"""Sign-off: a reviewer's approval bound to a hash of exactly what every recipient reads.

content.py (the approval hash and the copy of the sources), approve.py (approving in the terminal or by the emailed link,
asking for a review, the diff, the status a send and `report` look at). Their SQL is in pain_news/ledger/approvals.py. docs/sending.md, "Sign-off".
"""
