"""`switchboard serve` settles its heap once started; apps made elsewhere (tests) do not."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

from starlette.applications import Starlette

from switchboard.heap import OLDER_THRESHOLDS, YOUNG_THRESHOLD

PROBE = """
import asyncio, gc, json, sys
from switchboard.app import create_app
from switchboard.heap import settle_after_startup
from switchboard.settings import Settings

async def main() -> None:
    app = create_app(Settings(), on_ready=settle_after_startup)
    async with app.router.lifespan_context(app):
        ready = {"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}
        app_frozen = any(obj is app for obj in gc.get_objects())
    print(json.dumps({**ready, "app_tracked_after_freeze": app_frozen}))

asyncio.run(main())
"""


def test_serving_process_freezes_its_startup_heap(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["SWITCHBOARD_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["threshold"] == [YOUNG_THRESHOLD, *OLDER_THRESHOLDS]
    assert seen["frozen"] > 10_000, "what startup built is in the permanent generation"
    assert not seen["app_tracked_after_freeze"], "the app was frozen with the rest of startup"


def test_apps_made_without_the_hook_leave_the_collector_alone(app: Starlette) -> None:
    assert gc.get_threshold()[0] != YOUNG_THRESHOLD
    assert gc.get_freeze_count() == 0
