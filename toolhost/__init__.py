"""The single authenticated MCP endpoint: authenticate, authorise, route, audit, trace."""
