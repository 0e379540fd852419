"""The `serve` app's handlers, one module per route family; web/app.py lists them in its route table.

Handlers are module-level functions: they read the config, store and queues from
`request.app.state.web` (web/context.py), parse the request, call one domain function (in a
worker thread: the store blocks) and render a page. Links only ever change something on POST:
mail gateways open every link in a message (docs/serve.md).
"""
