"""Safe XML reading shared by the NewsML-G2 and NITF parsers.

Parsing goes through defusedxml: entity declarations (billion laughs, quadratic
blow-up) and external references (XXE, remote DTDs) are refused, never expanded
or fetched. A plain `<!DOCTYPE nitf SYSTEM "nitf.dtd">` is allowed and ignored,
since real NITF carries one. Element names are compared without namespaces so
G2 and NITF in any namespace (or none) read the same.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from services.ingest.items import PayloadError

MAX_DEPTH = 100
"""Deepest element nesting accepted. Real NewsML-G2 and NITF stay under 20; walking and
serialising elements recurses, so 5,000 levels would exhaust Python's stack."""


def parse_xml(body: bytes) -> Element:
    """The document's root element, or PayloadError saying why it cannot be read."""
    try:
        root: Element = fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise PayloadError(
            "xml-forbidden",
            "XML construct refused",
            f"{type(exc).__name__}: entity declarations and external references are not accepted "
            "(they enable entity-expansion and external-entity attacks); send the document without them.",
        ) from None
    except (LookupError, ValueError) as exc:  # an encoding unknown ("UTB-8") or expat cannot ("utf-7")
        raise PayloadError(
            "invalid-xml", "Body is not well-formed XML", f"the XML declaration names {exc}"
        ) from None
    except ParseError as exc:
        line, column = exc.position
        raise PayloadError(
            "invalid-xml",
            "Body is not well-formed XML",
            f"{_reason(exc)} at line {line}, column {column + 1}",
            where=f"line {line}, column {column + 1}",
        ) from None
    _refuse_deep(root)
    return root


def _refuse_deep(root: Element) -> None:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PayloadError(
                "xml-too-deep",
                "XML nested too deeply",
                f"elements are nested more than {MAX_DEPTH} levels deep (at <{local(element.tag)}>); "
                "no news format needs that many.",
                where=f"/{local(root.tag)}",
            )
        stack.extend((inner, depth + 1) for inner in element)


def _reason(exc: ParseError) -> str:
    text = str(exc)
    return text.split(":")[0] if ":" in text else text


def local(tag: object) -> str:
    """`{namespace}name` → `name` (comments and processing instructions → "")."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def children(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element if local(child.tag) == name)


def descendant(element: Element | None, *names: str) -> Element | None:
    """First element anywhere below (or at) `element` named one of `names`, any letter case.

    Inline XHTML arrives in upper case from some agencies (`BODY`, `P`).
    """
    if element is None:
        return None
    wanted = {name.lower() for name in names}
    return next((e for e in element.iter() if local(e.tag).lower() in wanted), None)


def child(element: Element | None, *path: str) -> Element | None:
    """First element down `path` (local names), or None."""
    current = element
    for name in path:
        if current is None:
            return None
        current = next(children(current, name), None)
    return current


def text_of(element: Element | None) -> str | None:
    """All text inside the element, whitespace collapsed; None when absent or empty."""
    if element is None:
        return None
    joined = " ".join("".join(element.itertext()).split())
    return joined or None


def attribute(element: Element | None, name: str) -> str | None:
    if element is None:
        return None
    for key, value in element.attrib.items():
        if local(key) == name:
            return value.strip() or None
    return None


def lang_of(element: Element) -> str | None:
    return element.attrib.get("{http://www.w3.org/XML/1998/namespace}lang")


# Metadata blocks inside a body, never text: an XHTML head, dpa's `<header>` block.
_NOT_TEXT = {"head", "title", "header", "meta", "link"}
# Agencies wrap bodies in `<TEXT>`; the HTML sanitiser reads `<text>` as SVG's and drops
# everything inside it, so the wrapper becomes a neutral block.
_RENAMED = {"text": "div"}


def inner_markup(element: Element) -> str:
    """The element's content as namespace-free, lower-case HTML-ish markup (fed to the sanitiser)."""
    parts = [html.escape(element.text or "", quote=False)]
    for node in element:
        parts.append(_markup(node))
    return "".join(parts)


def _markup(element: Element) -> str:
    name = local(element.tag).lower()
    tail = html.escape(element.tail or "", quote=False)
    if not name or name in _NOT_TEXT:
        return tail
    name = _RENAMED.get(name, name)
    attributes = "".join(
        f' {local(key).lower()}="{html.escape(value)}"' for key, value in element.attrib.items() if local(key)
    )
    return f"<{name}{attributes}>{inner_markup(element)}</{name}>{tail}"
