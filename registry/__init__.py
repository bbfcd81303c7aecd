"""The catalogue: tool servers, their versions and tools, review state, grants and secrets.

This package knows nothing about HTTP or Docker: it parses manifests and OpenAPI documents and
keeps the catalogue consistent in the database.
"""
