"""A small task-list HTTP API with a hand-written OpenAPI description, for `import-openapi`."""

__version__ = "0.1.0"
