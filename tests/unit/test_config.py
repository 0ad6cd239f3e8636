"""The config file: partners, outlets, editors; typos refused with key and line."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, parse_config, sha256_hex

GOOD = f"""
[[partners]]
id = "ap"
keys_sha256 = ["{sha256_hex("key-one")}", "{sha256_hex("key-two")}"]

[[outlets]]
name = "web"
url = "http://127.0.0.1:9/hook"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

[[editors]]
id = "desk"
token_sha256 = "{sha256_hex("editor-token")}"
"""


def test_partner_keys_are_checked_against_their_hashes_and_rotate() -> None:
    config = parse_config(GOOD)
    ap = config.partner_for_key("key-one")
    assert ap is not None
    assert ap.id == "ap"
    assert config.partner_for_key("key-two") is ap
    assert config.partner_for_key("key-three") is None


def test_editor_tokens_are_checked_against_their_hashes() -> None:
    config = parse_config(GOOD)
    desk = config.editor_for_token("editor-token")
    assert desk is not None
    assert desk.id == "desk"
    assert config.editor_for_token("editor-token ") is None


def test_unknown_key_is_refused_with_its_name_and_line() -> None:
    text = GOOD.replace('url = "http', 'ulr = "http')
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "newsroom.toml")
    message = str(caught.value)
    assert "outlets.0.ulr" in message
    assert "unknown key" in message
    line = text.splitlines().index('ulr = "http://127.0.0.1:9/hook"') + 1
    assert f"(line {line})" in message


def test_outlet_secret_must_be_a_standard_webhooks_secret() -> None:
    with pytest.raises(ConfigError, match="whsec_"):
        parse_config(GOOD.replace('secret = "whsec_', 'secret = "plain_'))


def test_invalid_toml_names_the_file() -> None:
    with pytest.raises(ConfigError, match=r"^newsroom.toml: "):
        parse_config("[[partners]\nid = 1", "newsroom.toml")


def test_example_config_is_valid() -> None:
    from pathlib import Path

    from shared.config import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "newsroom.example.toml")
    assert config.partner_for_key("demo-partner-key") is not None
    assert config.editor_for_token("demo-editor-token") is not None


@pytest.mark.parametrize(("first", "second"), [("alpha", "alpha-x"), ("alpha", "alpha"), ("a-b", "a-b-c")])
def test_partner_ids_that_could_be_confused_are_refused(first: str, second: str) -> None:
    with pytest.raises(ConfigError, match=rf"partners: .*'{first}'"):
        parse_config(f'[[partners]]\nid = "{first}"\n\n[[partners]]\nid = "{second}"\n')


def test_partner_ids_that_merely_share_a_start_are_fine() -> None:
    config = parse_config('[[partners]]\nid = "alpha"\n\n[[partners]]\nid = "alphax"\n')
    assert [p.id for p in config.partners] == ["alpha", "alphax"]
