"""Who is asking: accounts, roles, sessions, tokens and the scopes they carry."""
