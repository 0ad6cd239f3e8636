"""The AsyncAPI 3.0 document of the streams, built from `shared.streams.channels` and the
pydantic events of `shared/events.py`: every stream the services write, its real payload,
who sends and who receives it, and nothing else."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.keys import Keys
from shared.streams import channels

REF = "#/components/schemas/{model}"


def document(keys: Keys) -> dict[str, Any]:
    found = channels(keys)
    models: dict[str, type[BaseModel]] = {m.__name__: m for c in found for m in c.messages}
    _, schemas = models_json_schema([(m, "validation") for m in models.values()], ref_template=REF)
    out_channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel in found:
        name = channel_id(channel.address)
        refs = {m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in channel.messages}
        out_channels[name] = {
            "address": channel.address,
            "description": channel.description,
            "messages": refs,
        }
        messages = [{"$ref": f"#/channels/{name}/messages/{m}"} for m in refs]
        for action, who in (("send", channel.sender), ("receive", channel.receiver)):
            operations[f"{who.replace(' ', '-')}.{action}.{name}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{name}"},
                "messages": messages,
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Newsroom streams",
            "version": "1",
            "description": f"Redis streams between ingest, enrich and publish (key prefix `{keys.prefix}`). "
            "Events travel in FastStream's binary envelope in the `__data__` field, except the dead "
            "letters and delivery changes, whose fields are the stream entry's own.",
        },
        "defaultContentType": "application/json",
        "channels": out_channels,
        "operations": operations,
        "components": {
            "messages": {
                name: {
                    "name": name,
                    "title": name,
                    "summary": (m.__doc__ or "").split("\n")[0],
                    "payload": {"$ref": REF.format(model=name)},
                }
                for name, m in models.items()
            },
            "schemas": schemas.get("$defs", {}),
        },
    }


def channel_id(address: str) -> str:
    """`{nr:in}:stories.received` -> `stories.received` (ids take no braces or colons)."""
    return address.partition("}:")[2]
