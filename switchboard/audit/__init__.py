"""The tamper-evident audit log: who did what, when, on whose behalf, and how it ended."""
