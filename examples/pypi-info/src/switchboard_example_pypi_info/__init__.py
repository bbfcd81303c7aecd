"""An MCP server that looks up Python packages on PyPI's JSON API."""

__version__ = "0.1.0"
