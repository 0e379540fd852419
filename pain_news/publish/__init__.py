"""Publishing an issue: the build folder (atomic, with meta.json), the web archive and the preview."""
