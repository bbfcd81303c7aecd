"""Where the model file lives: the database (set through the API) wins over the YAML file, and
the built-in `default` fills in. Model secrets are kept sealed beside it.

Each replica re-reads the database when a request comes more than
`SWITCHBOARD_MODELS_REFRESH_SECONDS` after its last read, so a change made through one replica's
API reaches the others that soon; the replica that made it uses it at once.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import anyio
from sqlmodel import col, select

from agents.models.config import ModelsConfig, load_models_file, parse_config
from agents.models.tables import ModelConfigDocument, ModelSecret
from registry.errors import RegistryError
from registry.models import utcnow
from registry.secretbox import SecretBox
from switchboard.db import Sessions, transaction

logger = logging.getLogger(__name__)
SECRET_CONTEXT = "model-secret#"  # noqa: S105  (an encryption context, not a secret)


class MissingSecretError(RegistryError):
    status_code = 404


class ConfigStore:
    def __init__(
        self,
        sessions: Sessions,
        box: SecretBox,
        models_file: Path | None,
        refresh_seconds: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._refresh_seconds = refresh_seconds
        self._read_at = 0.0
        self._box = box
        self._file = models_file
        self._file_config: ModelsConfig | None = None
        self._revision: int | None = None
        self._sealed: dict[str, bytes] = {}
        self.current = ModelsConfig().with_default()
        self.source = "built-in"

    async def load(self) -> None:
        """Read the file (once) and the database; a bad file stops start-up with its errors."""
        if self._file is not None:
            self._file_config = await anyio.to_thread.run_sync(load_models_file, self._file)
        await self.refresh()

    async def fresh(self) -> ModelsConfig:
        """The current model file, re-read first if the last read is older than the interval."""
        if time.monotonic() - self._read_at >= self._refresh_seconds:
            try:
                await self.refresh()
            except Exception:
                logger.exception("could not re-read the stored model file; keeping the last one")
        return self.current

    async def refresh(self) -> None:
        self._read_at = time.monotonic()
        async with self._sessions() as session:
            row = (await session.exec(select(ModelConfigDocument))).first()
            secrets = (await session.exec(select(ModelSecret.name, ModelSecret.ciphertext))).all()
        self._sealed = dict(secrets)
        revision = 0 if row is None else row.revision
        if revision == self._revision:
            return
        self._revision = revision
        if row is not None:
            try:
                stored = parse_config(row.document, "the stored model file")
            except ValueError:
                logger.exception("the model file stored through the API is not valid; ignoring it")
            else:
                self.current, self.source = stored.with_default(), "api"
                return
        if self._file_config is not None:
            self.current, self.source = self._file_config.with_default(), str(self._file)
        else:
            self.current, self.source = ModelsConfig().with_default(), "built-in"

    async def replace(self, document: dict[str, Any], actor: str) -> ModelsConfig:
        """Validate and store `document` as the model file for every replica."""
        config = parse_config(document, "the model file")
        stored = config.model_dump(mode="json", exclude_defaults=True)
        async with transaction(self._sessions) as session:
            row = (await session.exec(select(ModelConfigDocument))).first()
            if row is None:
                row = ModelConfigDocument(document=stored, updated_by=actor)
            else:
                row.document, row.revision = stored, row.revision + 1
                row.updated_by, row.updated_at = actor, utcnow()
            session.add(row)
        self._revision = None
        await self.refresh()
        return self.current

    async def reset(self) -> None:
        """Drop the stored model file: back to the YAML file or the built-in default."""
        async with transaction(self._sessions) as session:
            row = (await session.exec(select(ModelConfigDocument))).first()
            if row is not None:
                await session.delete(row)
        self._revision = None
        await self.refresh()

    async def set_secret(self, name: str, value: str, actor: str) -> None:
        sealed = self._box.seal(SECRET_CONTEXT + name, value)
        async with transaction(self._sessions) as session:
            row = (await session.exec(select(ModelSecret).where(ModelSecret.name == name))).first()
            if row is None:
                row = ModelSecret(name=name, ciphertext=sealed, updated_by=actor)
            else:
                row.ciphertext, row.updated_by, row.updated_at = sealed, actor, utcnow()
            session.add(row)
        self._sealed[name] = sealed

    async def delete_secret(self, name: str) -> None:
        async with transaction(self._sessions) as session:
            row = (await session.exec(select(ModelSecret).where(ModelSecret.name == name))).first()
            if row is None:
                raise MissingSecretError(f"no model secret named {name!r}")
            await session.delete(row)
        self._sealed.pop(name, None)

    async def secret_names(self) -> list[str]:
        async with self._sessions() as session:
            return list(
                await session.exec(select(ModelSecret.name).order_by(col(ModelSecret.name)))
            )

    def secret(self, name: str) -> str | None:
        sealed = self._sealed.get(name)
        return None if sealed is None else self._box.open(SECRET_CONTEXT + name, sealed)
