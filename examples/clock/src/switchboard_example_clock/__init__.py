"""An MCP server that tells the time in any IANA timezone and does calendar arithmetic."""

__version__ = "0.1.0"
