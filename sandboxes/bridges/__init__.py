"""MCP servers that Switchboard itself runs inside sandboxes, in front of things that are not
MCP servers (an HTTP API described by OpenAPI).

Everything below this package runs in a container: it imports only the standard library, the
packages its image installs, and its own modules, never the rest of Switchboard.
"""
