"""`/api/v1/models/...`: the model file, model secrets and usage, for admins (and, for usage,
each person's own)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import col
from starlette.requests import Request

from agents.models.config import ModelsConfig
from agents.models.layer import ModelLayer
from agents.models.tables import ModelUsage
from registry.models import Role
from web.api.deps import actor_name, principal, require_role
from web.api.endpoints import Endpoint

TAGS = ("models",)


class ModelFile(BaseModel):
    source: str = Field(description="`api`, the model file's path, or `built-in`.")
    config: dict[str, Any]


class SecretBody(BaseModel):
    value: str = Field(min_length=1, max_length=65536)


class UsageTotal(BaseModel):
    team: str
    user: str
    alias: str
    deployment: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost: float


def layer(request: Request) -> ModelLayer:
    models: ModelLayer = request.app.state.models
    return models


def _view(models: ModelLayer) -> ModelFile:
    config = models.store.current.model_dump(mode="json", exclude_defaults=True)
    return ModelFile(source=models.store.source, config=config)


async def get_model_config(request: Request) -> ModelFile:
    return _view(layer(request))


async def put_model_config(request: Request, body: ModelsConfig) -> ModelFile:
    models = layer(request)
    await models.store.replace(body.model_dump(mode="json"), actor_name(request))
    return _view(models)


async def delete_model_config(request: Request) -> ModelFile:
    models = layer(request)
    await models.store.reset()
    return _view(models)


async def list_model_secrets(request: Request) -> list[str]:
    return await layer(request).store.secret_names()


async def put_model_secret(request: Request, name: str, body: SecretBody) -> None:
    await layer(request).store.set_secret(name, body.value, actor_name(request))


async def delete_model_secret(request: Request, name: str) -> None:
    await layer(request).store.delete_secret(name)


async def model_usage(request: Request, team: str | None, user: str | None) -> list[UsageTotal]:
    """Totals per team, user, alias and deployment; people who are not admins see their own."""
    caller = principal(request)
    if user != caller.username:
        require_role(caller, Role.admin)
    keys = (
        col(ModelUsage.team),
        col(ModelUsage.user),
        col(ModelUsage.alias),
        col(ModelUsage.deployment),
    )
    query = sa.select(
        *keys,
        sa.func.count(),
        sa.func.sum(ModelUsage.input_tokens),
        sa.func.sum(ModelUsage.output_tokens),
        sa.func.sum(ModelUsage.cost),
    ).group_by(*keys)
    if team is not None:
        query = query.where(col(ModelUsage.team) == team)
    if user is not None:
        query = query.where(col(ModelUsage.user) == user)
    async with layer(request).services.sessions() as session:
        connection = await session.connection()
        rows = (await connection.execute(query)).all()
    return [
        UsageTotal(
            team=r[0],
            user=r[1],
            alias=r[2],
            deployment=r[3],
            requests=r[4],
            input_tokens=int(r[5] or 0),
            output_tokens=int(r[6] or 0),
            cost=float(r[7] or 0),
        )
        for r in rows
    ]


ENDPOINTS = [
    Endpoint(
        "GET",
        "/models/config",
        get_model_config,
        "The model file in force and where it comes from",
        response=ModelFile,
        tags=TAGS,
        role=Role.admin,
    ),
    Endpoint(
        "PUT",
        "/models/config",
        put_model_config,
        "Replace the model file for every replica (it wins over `SWITCHBOARD_MODELS_FILE`)",
        body=ModelsConfig,
        response=ModelFile,
        tags=TAGS,
        role=Role.admin,
    ),
    Endpoint(
        "DELETE",
        "/models/config",
        delete_model_config,
        "Drop the model file set through the API: back to the file or the built-in default",
        response=ModelFile,
        tags=TAGS,
        role=Role.admin,
    ),
    Endpoint(
        "GET",
        "/models/secrets",
        list_model_secrets,
        "Names of the stored model secrets",
        response=list[str],
        tags=TAGS,
        role=Role.admin,
    ),
    Endpoint(
        "PUT",
        "/models/secrets/{name}",
        put_model_secret,
        "Store a provider API key, encrypted at rest; deployments name it in `api_key_secret`",
        body=SecretBody,
        tags=TAGS,
        role=Role.admin,
    ),
    Endpoint(
        "DELETE",
        "/models/secrets/{name}",
        delete_model_secret,
        "Delete a model secret",
        tags=TAGS,
        role=Role.admin,
    ),
    Endpoint(
        "GET",
        "/models/usage",
        model_usage,
        "Model tokens and cost per team, user, alias and deployment",
        response=list[UsageTotal],
        query=("team", "user"),
        tags=TAGS,
    ),
]
