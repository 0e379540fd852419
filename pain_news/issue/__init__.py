"""The issue: its model, the one loader, pieces, markdown, placeholders and findings; the scaffold."""
