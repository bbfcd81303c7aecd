"""Hardened Docker containers for tool servers: images built locally, stdio sessions, warm pools.

Knows nothing about users; the next issue (sandboxes) fills it.
"""
