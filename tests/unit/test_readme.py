"""The README's configuration reference lists every setting and every config-file key."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from shared.config import Editor, NewsroomConfig, Outlet, OutletFilters, OutletWording, Partner
from shared.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_with_its_environment_variable() -> None:
    missing = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env = alias.choices[0] if alias is not None else f"NEWSROOM_{name.upper()}"  # type: ignore[union-attr]
        if f"`{env}`" not in README:
            missing.append(env)
    assert missing == []


def test_every_config_file_key_is_documented() -> None:
    models: list[type[BaseModel]] = [NewsroomConfig, Partner, Outlet, OutletFilters, OutletWording, Editor]
    missing = [
        f"{model.__name__}.{name}"
        for model in models
        for name in model.model_fields
        if f"`{name}`" not in README and name not in {"partners", "outlets", "editors", "filters", "wording"}
    ]
    assert missing == []
