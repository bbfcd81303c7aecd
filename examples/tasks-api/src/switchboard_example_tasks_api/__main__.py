"""`python -m switchboard_example_tasks_api --port 8081`: serve the API with uvicorn."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import uvicorn

from switchboard_example_tasks_api.app import create_app
from switchboard_example_tasks_api.store import TaskStore

API_KEY_VARIABLE = "TASKS_API_KEY"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="switchboard-example-tasks-api",
        description=f"A small task-list HTTP API. Set ${API_KEY_VARIABLE} to require a bearer key.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8081, help="port (default: %(default)s)")
    parser.add_argument(
        "--database",
        default=":memory:",
        help="SQLite file to keep tasks in (default: in memory, lost on exit)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    api_key = os.environ.get(API_KEY_VARIABLE) or None
    if api_key is None:
        print(f"warning: ${API_KEY_VARIABLE} is not set; the API is open", file=sys.stderr)
    app = create_app(TaskStore(args.database), api_key=api_key)
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
