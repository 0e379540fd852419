"""The one web app (Starlette): unsubscribe, signup, webhook, archive pages and the editor preview."""
