"""Sign-off: a reviewer's approval bound to a hash of exactly what every recipient reads.

content.py (the approval hash and the copy of the sources), book.py (the approvals and the emailed
requests: the only SQL about them), approve.py (approving in the terminal or by the emailed link,
asking for a review, the diff, the status a send and `report` look at). docs/sending.md, "Sign-off".
"""
