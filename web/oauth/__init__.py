"""OAuth for MCP clients: who a client is, checked before anything is granted to it."""
