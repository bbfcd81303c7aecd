"""The OpenAPI bridge: serves one version's stored tools over stdio and turns each call into
the HTTP request its binding describes, with credentials from the server's secrets.

Runs in the version's sandbox (`python -m sandboxes.bridges.openapi CONFIG`), behind the egress
proxy; `config` is also imported on the host, which writes the configuration it reads.
"""
