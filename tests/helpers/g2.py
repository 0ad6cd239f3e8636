"""Reading IPTC's NewsML-G2 example files in tests, independently of the parser under test."""

from __future__ import annotations

import xml.etree.ElementTree as ET

G2 = "{http://iptc.org/std/nar/2006-10-01/}"
_WORDS = ("contentMeta/headline", "contentMeta/description", "contentSet/inlineXML", "contentSet/inlineData")


def has_words(item: ET.Element) -> bool:
    """What a reader could see: a headline, inline text, a caption/summary or a remote file.

    IPTC's listings include metadata-only skeletons; ingest refuses those as blank.
    """
    for path in _WORDS:
        found = item.find("/".join(G2 + part for part in path.split("/")))
        if found is not None and "".join(found.itertext()).strip():
            return True
    return item.find(f"{G2}contentSet/{G2}remoteContent") is not None
