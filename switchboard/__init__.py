"""Switchboard's core wiring: settings, database, the command line and the ASGI application.

The domain lives in the top-level packages (`registry`, `sandboxes`, `toolhost`, `agents`,
`web`); this package only assembles them.
"""
