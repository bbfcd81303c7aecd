"""What every command gets: the services, the acting user and how to print."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.models import User
from registry.teams import ensure_user
from switchboard.services import Services


@dataclass
class Command:
    services: Services
    args: argparse.Namespace

    @property
    def as_json(self) -> bool:
        return bool(self.args.json)

    async def actor(self, session: AsyncSession) -> User:
        return await ensure_user(session, self.args.actor)
