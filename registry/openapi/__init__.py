"""OpenAPI 3.0 and 3.1 documents turned into MCP tool definitions, one tool per operation.

`load_openapi` parses and checks a JSON or YAML document; `tools_from_openapi` derives the
tools, their JSON Schema 2020-12 input and output schemas, scopes and call bindings. Both
raise `InvalidDocumentError` listing every problem found, each at a JSON pointer.
"""

from registry.openapi.document import OpenAPIImport, tools_from_openapi
from registry.openapi.load import load_openapi, read_openapi

__all__ = ["OpenAPIImport", "load_openapi", "read_openapi", "tools_from_openapi"]
