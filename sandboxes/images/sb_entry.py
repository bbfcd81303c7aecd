#!/usr/bin/python3 -I
"""Secrets entrypoint, installed in every tool image as `/usr/local/bin/sb-entry`.

Secrets must stay out of `docker inspect`, argv and logs, so the caller sends them as the first
stdin line, a JSON object of environment variables (`{"API_KEY": "..."}`), and then speaks MCP on
the same stdin. The line is read one byte at a time, so nothing after it is consumed before the
server is exec'd with the variables added. Errors never echo the line: it holds secrets.
Stays compatible with old Python 3 versions, since OCI images bring their own interpreter.

When `SB_STDIO_SOCKET` names a unix socket (mounted from the host), stdin and stdout are that
socket instead of Docker's attach stream: one copy less per message, and the secrets line never
passes through the Docker engine. stderr stays with Docker, for the server's log.
"""

from __future__ import annotations

import json
import os
import socket
import sys

MAX_LINE_BYTES = 1 << 20
STDIO_SOCKET = "SB_STDIO_SOCKET"
USAGE = 'send a JSON object of strings, such as {"API_KEY": "..."}, then a newline'


class EntryError(Exception):
    """The first stdin line is not a usable environment; exits with status 2."""


def read_first_line(fd: int = 0) -> bytes:
    line = bytearray()
    while True:
        byte = os.read(fd, 1)
        if not byte:
            raise EntryError(f"stdin ended before the first line was complete; {USAGE}")
        if byte == b"\n":
            return bytes(line)
        line += byte
        if len(line) > MAX_LINE_BYTES:
            raise EntryError(f"the first stdin line is longer than {MAX_LINE_BYTES} bytes")


def parse_environment(line: bytes) -> dict[str, str]:
    try:
        value = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise EntryError(f"the first stdin line is not UTF-8; {USAGE}") from None
    except ValueError as exc:
        where = getattr(exc, "colno", "?")
        raise EntryError(f"the first stdin line is not JSON (column {where}); {USAGE}") from None
    if not isinstance(value, dict):
        raise EntryError(f"the first stdin line is JSON but not an object; {USAGE}")
    environment: dict[str, str] = {}
    for key, item in value.items():
        if not key or "=" in key or "\0" in key:
            raise EntryError(f"{key!r} is not a valid environment variable name")
        if not isinstance(item, str) or "\0" in item:
            raise EntryError(f"the value of {key!r} must be a string without NUL bytes")
        environment[key] = item
    return environment


def connect_stdio(path: str) -> None:
    """Make the socket at `path` the server's stdin and stdout (both inherited by the exec)."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
    except OSError as exc:
        connection.close()
        raise EntryError(f"cannot connect to the stdio socket {path}: {exc.strerror}") from None
    os.dup2(connection.fileno(), 0)
    os.dup2(connection.fileno(), 1)
    connection.close()


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write("sb-entry: give the server command as arguments\n")
        return 2
    try:
        stdio_socket = os.environ.pop(STDIO_SOCKET, "")
        if stdio_socket:
            connect_stdio(stdio_socket)
        environment = parse_environment(read_first_line())
    except (EntryError, OSError) as exc:
        sys.stderr.write(f"sb-entry: {exc}\n")
        return 2
    os.environ.update(environment)
    try:
        os.execvp(argv[1], argv[1:])  # noqa: S606 - exec is the point: become the server
    except OSError as exc:
        sys.stderr.write(f"sb-entry: cannot start {argv[1]!r}: {exc.strerror}\n")
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv))
