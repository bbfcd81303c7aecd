"""The `switchboard` command line: the same operations as the JSON API, on the local database."""
