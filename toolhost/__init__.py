"""The single authenticated MCP endpoint: authenticate, authorise, route, audit, trace.

Filled by the toolhost issue.
"""
