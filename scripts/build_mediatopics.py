"""Derive `services/ingest/data/mediatopics.json` from IPTC's Media Topics (CC BY 4.0).

Input: IPTC's `cptall-en-GB.json` (the whole Media Topic NewsCodes scheme), e.g.
`../shared/data/iptc/mediatopic/cptall-en-GB.json`. Output: for each topic only its
English name and its broader topic, which is all ingest needs to add a subject's
parents. The scheme is © IPTC, licensed CC BY 4.0
(http://creativecommons.org/licenses/by/4.0/); the output keeps that attribution.

    python scripts/build_mediatopics.py ../shared/data/iptc/mediatopic/cptall-en-GB.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "services/ingest/data/mediatopics.json"


def main(source: Path) -> None:
    scheme = json.loads(source.read_text(encoding="utf-8"))
    topics: dict[str, list[str | None]] = {}
    for concept in scheme["conceptSet"]:
        code = concept["qcode"].removeprefix("medtop:")
        broader = [b.rsplit("/", 1)[-1] for b in concept.get("broader", [])]
        topics[code] = [concept.get("prefLabel", {}).get("en-GB"), broader[0] if broader else None]
    document = {
        "attribution": f"IPTC Media Topics, {scheme['copyrightHolder']}; released {scheme['dateReleased']}",
        "licence": scheme["licenceLink"],
        "source": scheme["uri"],
        "topics": dict(sorted(topics.items())),
    }
    OUT.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{len(topics)} topics → {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
