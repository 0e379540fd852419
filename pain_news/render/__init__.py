"""Rendering: templates → MJML → inlined HTML, the text part and the web version; images, line wrapping."""
