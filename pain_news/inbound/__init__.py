"""Inbound mail: replies, opt-outs by email, automatic replies and bounce reports (docs/serve.md).

message.py reads one raw message (or an Inbound Parse post) into plain facts, rules.py says what
it is, answers.py makes the messages it sends, handle.py acts and records one reply event.
"""
