"""`pain-news doctor`: is the sending domain and account ready for a list send (SPF, DKIM, DMARC,
the addresses and URLs, the unsubscribe endpoint, the SendGrid key)? Also a send gate
(pain_news/campaign/gates.py); docs/sending.md "Before a list send: the domain doctor"."""
