"""`newsroom check`: ingest's reading of partner files, offline (pure, and the CLI in-process)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app
from services.ingest.check import as_text, check_file
from services.ingest.items import Reading

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agency"


def test_the_report_names_format_identity_dates_media_and_warnings() -> None:
    report = check_file((FIXTURES / "g2-picture.xml").read_bytes(), Reading("check"))
    assert report["format"] == "newsml-g2"
    [item] = report["items"]
    assert (item["id"], item["version"], item["type"]) == ("urn:newsml:epa.eu:20240501:pic-1", 1, "picture")
    assert item["dates"] == {"versioncreated": "2024-05-01T12:00:00+00:00"}
    assert [r["name"] for r in item["renditions"]] == ["highRes", "thumb"]
    assert item["credit"] == "EPA/Jeanne Martin"
    assert [w["field"] for w in item["warnings"]] == ["/newsItem/contentSet/remoteContent[2]/@size"]
    text = as_text("g2-picture.xml", report)
    assert "accepted: urn:newsml:epa.eu:20240501:pic-1 v1 picture" in text
    assert "rendition: name=highRes href=https://media.example/pic-1.jpg" in text


def test_a_refused_item_says_where_and_the_command_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<nitf><head/></nitf>")
    good = FIXTURES / "iptc7901-dpa-latin1.txt"
    result = CliRunner().invoke(app, ["check", str(good), str(bad)])
    assert result.exit_code == 1
    assert "iptc7901-dpa-latin1.txt: iptc7901" in result.output
    assert "REFUSED (422) at /nitf/head/docdata/doc-id/@id-string" in result.output


def test_json_reports_and_the_partners_timezone(tmp_path: Path) -> None:
    path = FIXTURES / "ninjs-extensions.json"
    args = ["check", "--json", "--timezone", "Pacific/Auckland", "--schemas", str(tmp_path), str(path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["file"] == str(path)
    [item] = report["items"]
    assert item["dates"]["versioncreated"] == "2016-01-12T12:35:40+13:00"
    assert item["warnings"][0]["action"] == "no UTC offset; read as Pacific/Auckland time"
