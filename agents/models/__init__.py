"""The routed model layer: every model call in Switchboard goes through it.

`config` (aliases -> deployments), `router` (fallback, retries, cooldowns, limits, accounting),
`providers` (the wire formats), `pydantic_model` (the model the agent engine uses), `openai_api`
(`/v1` for other applications) and `admin_api` (`/api/v1/models`). Kept import-free so the
migrations can load `tables` alone.
"""
