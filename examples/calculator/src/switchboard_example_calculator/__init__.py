"""An MCP server for safe arithmetic, unit conversion and statistics."""

__version__ = "0.1.0"
