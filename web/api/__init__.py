"""The `/api/v1` JSON API: everything the CLI does, over HTTP, described by OpenAPI."""
