"""IPTC's published ninjs JSON schemas, loaded once and used to validate items.

The schemas are IPTC's files (`ninjs-schema_<major>.<minor>.json`), read from the
folder in the `ninjs_schema_dir` setting; `$ref`s are resolved only against
files in that folder (GeoJSON included), never fetched over the network. Without
the folder, items are still checked by the normaliser's own rules.

Valid items (nearly all traffic) are checked by the compiled Rust validator
(jsonschema-rs, some 50× faster); only an item it refuses goes through the Python
`jsonschema` validator too, whose best-match error names the field most precisely.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from services.ingest.items import ItemError, pointer

_SCHEMA_FILE = re.compile(r"^ninjs-schema_(\d+)\.(\d+)\.json$")


@dataclass
class NinjsSchemas:
    """Validators by ninjs version ("1.6", "2.1", …) plus the newest of each major."""

    validators: dict[str, Validator] = field(default_factory=dict)
    fast: dict[str, Any] = field(default_factory=dict)  # jsonschema_rs validators (untyped)

    @classmethod
    def load(cls, folder: Path | None) -> NinjsSchemas:
        if folder is None or not folder.is_dir():
            return cls()
        documents: dict[str, dict[str, Any]] = {}
        for path in [*folder.glob("*.json"), *folder.parent.glob("validation/test_suite/*.json")]:
            documents[path.name] = json.loads(path.read_text(encoding="utf-8"))
        resources = {
            str(doc.get("$id") or doc.get("id") or name): Resource.from_contents(
                doc, default_specification=_spec_of(doc)
            )
            for name, doc in documents.items()
            if isinstance(doc, dict)
        }

        def refuse_remote(uri: str) -> Resource[Any]:
            raise NoSuchResource(ref=uri)  # type: ignore[call-arg]

        registry: Registry[Any] = Registry(retrieve=refuse_remote).with_resources(  # type: ignore[call-arg]
            resources.items()
        )
        by_uri = {uri: resource.contents for uri, resource in resources.items()}

        def local_only(uri: str) -> Any:
            if uri.rstrip("#") in by_uri:
                return by_uri[uri.rstrip("#")]
            raise ValueError(f"{uri} is not a local schema; remote schemas are never fetched")

        validators: dict[str, Validator] = {}
        fast: dict[str, Any] = {}
        for name, doc in documents.items():
            match = _SCHEMA_FILE.match(name)
            if not match:
                continue
            version = f"{match[1]}.{match[2]}"
            validator_class = validator_for(doc, default=Draft202012Validator)
            validators[version] = validator_class(
                doc, registry=registry, format_checker=validator_class.FORMAT_CHECKER
            )
            # Draft 3 (ninjs 1.0) is not supported by the Rust engine: Python validates it alone.
            with contextlib.suppress(ValueError, jsonschema_rs.ReferencingError):
                fast[version] = jsonschema_rs.validator_for(doc, retriever=local_only, validate_formats=False)
        return cls(validators, fast)

    def pick(self, version: str) -> tuple[str, Validator] | None:
        """The schema for "2.1", or for a bare major ("2") the newest 2.x."""
        if version in self.validators:
            return version, self.validators[version]
        major = version.split(".")[0]
        candidates = sorted(
            (v for v in self.validators if v.split(".")[0] == major),
            key=lambda v: tuple(int(p) for p in v.split(".")),
        )
        if not candidates:
            return None
        return candidates[-1], self.validators[candidates[-1]]

    def check(self, item: Any, version: str) -> None:
        """Raise ItemError naming the first schema violation (by JSON pointer)."""
        picked = self.pick(version)
        if picked is None:
            return
        schema_version, validator = picked
        fast = self.fast.get(schema_version)
        if fast is not None and fast.is_valid(item):
            return
        error = best_match(validator.iter_errors(item))
        if error is not None:
            raise ItemError(_where(error), f"{_explain(error)} (ninjs {schema_version} schema)")
        if fast is not None:  # the engines disagree: trust the stricter one, still naming the field
            for rust_error in fast.iter_errors(item):
                where = pointer(*rust_error.instance_path)
                raise ItemError(where, f"{rust_error.message} (ninjs {schema_version} schema)")


def _spec_of(doc: dict[str, Any]) -> Any:
    from referencing.jsonschema import DRAFT202012, specification_with

    return specification_with(str(doc.get("$schema", "")), default=DRAFT202012)


def _where(error: ValidationError) -> str:
    path = list(error.absolute_path)
    if (
        error.validator == "required"
        and isinstance(error.instance, dict)
        and isinstance(error.validator_value, list)
    ):
        missing = next((p for p in error.validator_value if p not in error.instance), None)
        if missing is not None:
            path.append(missing)
    elif error.validator in ("additionalProperties", "unevaluatedProperties") and isinstance(
        error.instance, dict
    ):
        extra = re.findall(r"'([^']+)'", error.message)
        if extra:
            path.append(extra[0])
    return pointer(*path) if path else "/"


def _explain(error: ValidationError) -> str:
    message = error.message
    shown = repr(error.instance)
    if len(shown) > 80 and message.startswith(shown):
        message = "the value" + message[len(shown) :]
    return message if len(message) <= 300 else message[:297] + "..."
