"""Text toolkit: Markdown and sentence parsing, editing helpers, markers, rule files."""
