"""Build services/enrich/tagging/kb/geonames.tsv from GeoNames dump files.

    .venv/bin/python scripts/build_geonames_kb.py DUMP_DIR [--out PATH]

DUMP_DIR holds three files from https://download.geonames.org/export/dump/ :
`no-country.txt` (regions, seas and ranges outside any one country),
`admin1CodesASCII.txt` and `admin2Codes.txt` (first- and second-order divisions).
The output is sorted and deterministic, so rebuilding from the same dump gives the same
file. Run it when GeoNames publishes changes worth having; the tagger only reads the TSV.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.enrich.tagging.geonames import Place, divisions, news_features

OUT = Path(__file__).resolve().parents[1] / "services/enrich/tagging/kb/geonames.tsv"
HEADER = """\
# GeoNames places for the tagger's knowledge base, built by scripts/build_geonames_kb.py
# from https://download.geonames.org/export/dump/ ({sources}).
# Data: GeoNames (https://www.geonames.org/), licensed CC BY 4.0.
# Columns: geonameid, tier (area | admin1 | admin2), countries, name, aliases (|-separated)
"""


def places(dump: Path) -> Iterator[Place]:
    with (dump / "no-country.txt").open(encoding="utf-8") as lines:
        yield from news_features(lines)
    with (dump / "admin1CodesASCII.txt").open(encoding="utf-8") as lines:
        yield from divisions(lines, "admin1")
    with (dump / "admin2Codes.txt").open(encoding="utf-8") as lines:
        yield from divisions(lines, "admin2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump", type=Path, help="folder with the GeoNames dump files")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    unique = {place.geonameid: place for place in places(args.dump)}
    rows = sorted(unique.values(), key=lambda place: (place.tier, place.geonameid))
    sources = "no-country.txt, admin1CodesASCII.txt, admin2Codes.txt"
    with args.out.open("w", encoding="utf-8") as out:
        out.write(HEADER.format(sources=sources))
        for place in rows:
            out.write(place.to_tsv() + "\n")
    counts = {tier: sum(p.tier == tier for p in rows) for tier in ("area", "admin1", "admin2")}
    print(f"wrote {len(rows)} places to {args.out}: {counts}")


if __name__ == "__main__":
    main()
