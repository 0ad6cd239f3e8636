"""Related links and duplicates on a real Redis index: the acceptance stories of issue 5.

The ceasefire story (the shape of ../shared/data/samples/published-article.txt,
written anew here) arrives after two earlier stories on the Nagorno-Karabakh
fighting, an older one outside the window, a ceasefire elsewhere, and unrelated
wire copy; it must link exactly the two earlier ones, with reasons.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.enrich.related.index import IndexPolicy, StoryIndex
from services.enrich.related.linker import RelatedLinker
from shared.config import NewsroomConfig
from shared.connections import RedisClient
from shared.settings import Settings
from shared.story import EntityTag, Story

pytestmark = pytest.mark.integration

CEASEFIRE_AT = datetime(2016, 4, 5, 14, 0, tzinfo=UTC)


def at(days_before: float) -> datetime:
    return CEASEFIRE_AT - timedelta(days=days_before)


def story(partner: str, uri: str, when: datetime, headline: str, body: str, **fields: Any) -> Story:
    paragraphs = "".join(f"<p>{p.strip()}</p>" for p in body.strip().split("\n\n"))
    return Story(
        partner=partner,
        uri=uri,
        firstcreated=when,
        versioncreated=fields.pop("versioncreated", when),
        language="en",
        headline=headline,
        body_html=paragraphs,
        **fields,
    )


CEASEFIRE = story(
    "wire-a",
    "urn:a:ceasefire",
    CEASEFIRE_AT,
    "A ceasefire has been declared in Nagorno-Karabakh",
    """
    Azerbaijan and the breakaway region of Nagorno-Karabakh said on Tuesday they were halting
    hostilities after four days of intense fighting that had raised fears of all-out war between
    Azerbaijan and Armenia.

    Dozens of soldiers were killed on both sides in the flare-up of the decades-old ethnic conflict
    between mainly Muslim Azeris and their Christian Armenian neighbours. The war after the Soviet
    collapse killed about 30,000 people.

    Azerbaijan's defence ministry said military actions on the contact line between the armed forces
    of Armenia and Azerbaijan were halted by mutual agreement. Separatist forces in Nagorno-Karabakh
    said they had been ordered to halt fire.

    Russia, France and the United States, who mediate in the conflict as the Minsk Group, planned
    to send envoys to the region. Turkey said it would stand by Azerbaijan; Moscow has a defence
    alliance with Armenia.
    """,
)

PUTIN = story(
    "wire-b",
    "urn:b:putin",
    at(2.5),
    "Putin tells Armenia and Azerbaijan to cool it after fighting erupts in disputed region",
    """
    Russian President Vladimir Putin urged Armenia and Azerbaijan to stop fighting over
    Nagorno-Karabakh after the worst clashes in the breakaway region in years.

    Azerbaijan said a dozen of its soldiers were killed and a helicopter was shot down; the
    Armenian-backed separatists of Nagorno-Karabakh reported their own losses and accused Azeri
    forces of shelling villages along the contact line.

    The Kremlin called on both sides to show restraint. Russia sells weapons to both countries
    and has a military base in Armenia.
    """,
)

ERUPTS = story(
    "wire-a",
    "urn:a:erupts",
    at(3.5),
    "Heavy fighting erupts between Azerbaijan and Armenian separatists in Nagorno-Karabakh",
    """
    Azerbaijan and ethnic Armenian separatists in Nagorno-Karabakh accused each other of
    launching attacks along the contact line, in the fiercest fighting since a 1994 truce.

    Armenia's defence ministry said Azeri forces had attacked with tanks, artillery and
    helicopters. Azerbaijan said its soldiers were killed repelling separatist shelling.

    The Minsk Group of Russia, France and the United States has mediated in the
    Nagorno-Karabakh conflict for two decades without a settlement.
    """,
)

OLD_KARABAKH = story(
    "wire-a",
    "urn:a:old-karabakh",
    at(90),
    "Armenia and Azerbaijan presidents meet on Nagorno-Karabakh, no breakthrough",
    """
    The presidents of Armenia and Azerbaijan met in Switzerland to discuss the
    Nagorno-Karabakh conflict but reported no breakthrough, Minsk Group mediators said.

    The talks were the first in a year over the breakaway region, where sporadic fighting
    on the contact line has killed soldiers on both sides.
    """,
)

SYRIA = story(
    "wire-b",
    "urn:b:syria",
    at(1),
    "Syria truce largely holds as Geneva peace talks resume",
    """
    A cessation of hostilities in Syria brokered by the United States and Russia largely held
    on Monday as United Nations envoy Staffan de Mistura prepared to resume peace talks in Geneva.

    Opposition groups reported violations near Aleppo and Damascus, and the Syrian government
    accused rebels of shelling army positions.
    """,
)

UNRELATED = [
    story(
        "wire-a",
        "urn:a:stocks",
        at(1),
        "Wall Street closes higher as oil prices rally",
        """
        U.S. stocks rose on Monday, led by energy shares, as crude oil prices rallied on hopes of a
        production freeze by major exporters. The Dow Jones industrial average gained 0.6 percent and
        the Nasdaq composite added 0.8 percent.
        """,
    ),
    story(
        "wire-b",
        "urn:b:football",
        at(2),
        "Barcelona beat Atletico Madrid in Champions League quarter-final first leg",
        """
        Luis Suarez scored twice as Barcelona came from behind to beat ten-man Atletico Madrid 2-1
        at the Camp Nou in the first leg of their Champions League quarter-final.
        """,
    ),
    story(
        "wire-a",
        "urn:a:floods",
        at(4),
        "Monsoon floods cut off villages in northern Bangladesh",
        """
        Heavy rain flooded hundreds of villages in northern Bangladesh, cutting roads and leaving
        thousands of families without clean water, disaster management officials said.
        """,
    ),
    story(
        "wire-b",
        "urn:b:phones",
        at(6),
        "Smartphone maker unveils cheaper model to win back buyers",
        """
        The company introduced a smaller, cheaper handset with a faster processor and a better
        camera, hoping to revive sales that slowed for the first time since its launch.
        """,
    ),
]


def place(name: str, qid: str) -> EntityTag:
    return EntityTag(name=name, uri=f"http://www.wikidata.org/entity/{qid}", kind="place", relevance=0.9)


# What an entity tagger would find (issue 4); the scorer must work with and without them.
TAGS = {
    CEASEFIRE.id: [place("Azerbaijan", "Q227"), place("Armenia", "Q399"), place("Nagorno-Karabakh", "Q2346")],
    PUTIN.id: [place("Armenia", "Q399"), place("Azerbaijan", "Q227"), place("Nagorno-Karabakh", "Q2346")],
    ERUPTS.id: [place("Azerbaijan", "Q227"), place("Nagorno-Karabakh", "Q2346"), place("Armenia", "Q399")],
    SYRIA.id: [place("Syria", "Q858"), place("Geneva", "Q71"), place("Aleppo", "Q41183")],
}


@pytest.fixture
def linker(redis: RedisClient, settings: Settings) -> RelatedLinker:
    index = StoryIndex(redis, settings.keys, IndexPolicy(ttl_seconds=400 * 86400.0))
    return RelatedLinker(index, k=5, window_days=30)


async def ingest(linker: RelatedLinker, stories: list[Story], *, tagged: bool) -> None:
    for s in stories:
        await linker.link_and_index(
            s, TAGS.get(s.id, []) if tagged else [], received_at=s.versioncreated or CEASEFIRE_AT, now=NOW
        )


NOW = CEASEFIRE_AT + timedelta(minutes=5)
EARLIER = [OLD_KARABAKH, ERUPTS, *UNRELATED[:2], PUTIN, SYRIA, *UNRELATED[2:]]


@pytest.mark.parametrize("tagged", [False, True], ids=["without-entities", "with-entities"])
async def test_ceasefire_links_exactly_the_two_earlier_stories(linker: RelatedLinker, tagged: bool) -> None:
    await ingest(linker, EARLIER, tagged=tagged)
    links = await linker.link_and_index(
        CEASEFIRE, TAGS[CEASEFIRE.id] if tagged else [], received_at=NOW, now=NOW
    )
    assert {link.story_id for link in links.related} == {PUTIN.id, ERUPTS.id}
    assert links.duplicates == []
    by_id = {link.story_id: link for link in links.related}
    assert by_id[PUTIN.id].days_apart == pytest.approx(2.5)
    assert by_id[ERUPTS.id].days_apart == pytest.approx(3.5)
    for link in links.related:
        assert link.score > 0
        assert "earlier" in link.reason
        assert f"score {link.score:.2f}" in link.reason
        if tagged:
            assert set(link.shared_entities) == {"Azerbaijan", "Armenia", "Nagorno-Karabakh"}
            assert "shares" in link.reason


async def related_ids(linker: RelatedLinker, s: Story, now: datetime = NOW) -> set[str]:
    links = await linker.link_and_index(s, [], received_at=now, now=now)
    return {link.story_id for link in links.related}


def version(s: Story, number: int, **changes: Any) -> Story:
    return s.model_copy(update={"version": number, **changes})


async def test_killed_story_is_never_offered_again(linker: RelatedLinker) -> None:
    await ingest(linker, [ERUPTS, PUTIN], tagged=False)
    kill = version(PUTIN, 2, pubstatus="canceled")
    assert (await linker.link_and_index(kill, [], received_at=NOW, now=NOW)).outcome == "killed"
    assert await related_ids(linker, CEASEFIRE) == {ERUPTS.id}
    # a late copy of an older version (a redelivered entry) cannot bring it back
    late = await linker.link_and_index(PUTIN, [], received_at=NOW, now=NOW)
    assert late.outcome == "killed"
    assert await linker.index.get(PUTIN.id) is None
    ranked = await linker.related_to(CEASEFIRE.id, 5, now=NOW)
    assert ranked is not None
    assert {link.story_id for link in ranked.related} == {ERUPTS.id}


async def test_new_version_replaces_and_is_not_related_to_its_old_version(linker: RelatedLinker) -> None:
    await ingest(linker, [ERUPTS, PUTIN], tagged=False)
    update = version(
        ERUPTS,
        2,
        versioncreated=at(3),
        body_html=ERUPTS.body_html + "<p>Azerbaijan said it had recaptured two hilltops.</p>",
    )
    links = await linker.link_and_index(update, [], received_at=NOW, now=NOW)
    assert links.outcome == "indexed"
    assert ERUPTS.id not in {link.story_id for link in links.related}
    assert ERUPTS.id not in {link.story_id for link in links.duplicates}
    entry = await linker.index.get(ERUPTS.id)
    assert entry is not None
    assert entry.version == 2
    # one story, one entry: the ceasefire still links it once, never twice
    ceasefire = await linker.link_and_index(CEASEFIRE, [], received_at=NOW, now=NOW)
    assert sorted(link.story_id for link in ceasefire.related) == sorted([ERUPTS.id, PUTIN.id])
    # an older version arriving late does not replace the newer one
    assert (await linker.link_and_index(ERUPTS, [], received_at=NOW, now=NOW)).outcome == "stale"
    entry = await linker.index.get(ERUPTS.id)
    assert entry is not None
    assert entry.version == 2


async def test_withheld_and_embargoed_are_offered_only_once_usable(linker: RelatedLinker) -> None:
    withheld = version(PUTIN, 1, pubstatus="withheld")
    embargoed = ERUPTS.model_copy(update={"embargoed": NOW + timedelta(hours=1)})
    await ingest(linker, [withheld, embargoed], tagged=False)
    assert await related_ids(linker, CEASEFIRE) == set()

    await linker.link_and_index(version(PUTIN, 2), [], received_at=NOW, now=NOW)  # released
    later = NOW + timedelta(hours=2)  # the embargo has lifted; no new version needed
    ranked = await linker.related_to(CEASEFIRE.id, 5, now=later)
    assert ranked is not None
    assert {link.story_id for link in ranked.related} == {PUTIN.id, ERUPTS.id}


async def test_redistributed_copy_is_a_duplicate_not_related(linker: RelatedLinker) -> None:
    await ingest(linker, [*UNRELATED, PUTIN, ERUPTS], tagged=False)
    copy = story(
        "wire-c",
        "urn:c:redistributed",
        at(2),
        ERUPTS.headline,
        ERUPTS.body_html.replace("<p>", "\n\n").replace("</p>", "") + "\n\n(Distributed by wire C.)",
    )
    links = await linker.link_and_index(copy, [], received_at=NOW, now=NOW)
    assert [d.story_id for d in links.duplicates] == [ERUPTS.id]
    assert links.duplicates[0].score >= 0.8
    assert "same story" in links.duplicates[0].reason
    assert {link.story_id for link in links.related} == {PUTIN.id}
    # and the ceasefire gets one of the two copies, not both: they are one thread
    ceasefire = await linker.link_and_index(CEASEFIRE, [], received_at=NOW, now=NOW)
    ids = {link.story_id for link in ceasefire.related}
    assert PUTIN.id in ids
    assert len(ids & {ERUPTS.id, copy.id}) == 1


async def test_related_to_ranks_later_stories_too(linker: RelatedLinker) -> None:
    await ingest(linker, [ERUPTS, CEASEFIRE, *UNRELATED], tagged=False)
    ranked = await linker.related_to(ERUPTS.id, 5, now=NOW)
    assert ranked is not None
    assert [link.story_id for link in ranked.related] == [CEASEFIRE.id]
    assert "later" in ranked.related[0].reason
    assert await linker.related_to("wire-x-unknown", 5, now=NOW) is None


MARKET_TALK = (
    "market trading shares investors prices session analysts index dealers gains losses volume "
    "exchange brokers futures bonds currency economy demand supply. "
)


async def test_a_story_indexed_while_the_index_was_young_stays_findable_by_its_rarer_words(
    linker: RelatedLinker,
) -> None:
    # Indexed first, every word looks equally rare: its strongest terms then are its most
    # repeated, the market talk, not the few words that say what happened. It must still be
    # found by those once the market talk has become common.
    first = story(
        "wire-a",
        "urn:a:cloves",
        at(1),
        "Market trading shares investors prices",
        MARKET_TALK * 2 + "Zanzibar cloves harvest cyclone warehouse ferry dhow stonetown.",
    )
    fillers = [
        story("wire-b", f"urn:b:market-{n}", at(1 - n / 100), f"Market report {n}", MARKET_TALK * 2)
        for n in range(30)
    ]
    later = story(
        "wire-c",
        "urn:c:cyclone",
        at(0.5),
        "Cyclone hits the Zanzibar clove harvest",
        "A cyclone destroyed a warehouse of cloves after the harvest; a ferry and a dhow sank off Stonetown.",
    )
    await ingest(linker, [first, *fillers, later], tagged=False)
    ranked = await linker.related_to(later.id, 5, now=NOW)
    assert ranked is not None
    assert [link.story_id for link in ranked.related][:1] == [first.id]


async def test_entries_expire_from_when_they_were_indexed(redis: RedisClient, settings: Settings) -> None:
    index = StoryIndex(redis, settings.keys, IndexPolicy(ttl_seconds=10 * 86400.0))
    linker = RelatedLinker(index, k=5, window_days=30)
    # a story dated 90 days ago is indexed: its own date does not expire it
    indexed = await linker.link_and_index(OLD_KARABAKH, [], received_at=NOW, now=NOW)
    assert indexed.outcome == "indexed"
    nine_days_on = NOW + timedelta(days=9)
    await linker.link_and_index(ERUPTS, [], received_at=nine_days_on, now=nine_days_on)
    entry = await index.get(OLD_KARABAKH.id)
    assert entry is not None
    # eleven days after it was indexed, the next write drops it, its ids in postings too
    old_postings = index.postings_of(entry)
    assert old_postings
    later = NOW + timedelta(days=11)
    await linker.link_and_index(CEASEFIRE, [], received_at=later, now=later)
    assert await index.get(OLD_KARABAKH.id) is None
    for key in old_postings:
        assert await redis.zscore(key, OLD_KARABAKH.id) is None
    # ERUPTS was indexed two days later, so it is still there
    assert await index.get(ERUPTS.id) is not None


async def test_memory_per_story_is_small(redis: RedisClient, linker: RelatedLinker) -> None:
    stories = [*EARLIER, CEASEFIRE]
    await ingest(linker, stories, tagged=True)
    index = linker.index
    keys = {index.docs, index.df, index.expiry}
    for s in stories:
        entry = await index.get(s.id)
        assert entry is not None
        keys.update(index.postings_of(entry))
    used = sum([await redis.memory_usage(key, samples=0) or 0 for key in keys])
    # Small structures are packed (listpacks); bench/related.py measures the large-index figure.
    # In a nine-story index nearly every one of a story's 32 postings is a key of its own, so
    # this is the worst case per story, not the large index's (README, "Measured").
    assert used / len(stories) < 6144


async def test_sample_article_with_its_real_dates_under_the_real_clock(
    redis: RedisClient, settings: Settings
) -> None:
    """The 2016 stories enriched today, with default settings, in one batch: the ceasefire links
    exactly the two earlier stories on the fighting (one of them earlier in the same batch)."""
    from services.enrich.pipeline import build_enricher
    from shared.events import StoryReceived, utcnow

    enricher = build_enricher(settings.model_copy(update={"tagging": False}), NewsroomConfig(), redis)
    assert enricher.clock is utcnow  # the real clock: ten years after the stories' own dates

    def received(s: Story) -> StoryReceived:
        return StoryReceived(story_id=s.id, trace_id="t", received_at=utcnow(), story=s)

    first, *rest = EARLIER
    await enricher.enrich_batch([received(first)])
    *earlier, enrichment = await enricher.enrich_batch([received(s) for s in [*rest, CEASEFIRE]])
    assert {link.story_id for link in enrichment.related} == {PUTIN.id, ERUPTS.id}
    by_id = {link.story_id: link for link in enrichment.related}
    assert by_id[PUTIN.id].days_apart == pytest.approx(2.5)
    assert by_id[ERUPTS.id].days_apart == pytest.approx(3.5)
    assert all("earlier" in link.reason and "lexical" in link.reason for link in enrichment.related)
    assert enrichment.age_label is not None
    assert "years" in enrichment.age_label
    # PUTIN arrived earlier in this same batch and still links to ERUPTS from the batch before
    putin = earlier[rest.index(PUTIN)]
    assert ERUPTS.id in {link.story_id for link in putin.related}
    # the editors' lookup finds it too (it is in the index, not expired by its own date)
    ranked = await enricher.linker.related_to(CEASEFIRE.id, 5, now=utcnow()) if enricher.linker else None
    assert ranked is not None
    assert {link.story_id for link in ranked.related} >= {PUTIN.id, ERUPTS.id}


async def test_concurrent_versions_leave_the_newest(linker: RelatedLinker, redis: RedisClient) -> None:
    """Two replicas indexing versions of one story at once: the newest wins, postings stay clean."""
    versions = [version(ERUPTS, n, headline=f"{ERUPTS.headline} update {n}") for n in range(1, 7)]
    await asyncio.gather(
        *(linker.link_and_index(versions[n - 1], [], received_at=NOW, now=NOW) for n in (3, 1, 6, 2, 5, 4))
    )
    entry = await linker.index.get(ERUPTS.id)
    assert entry is not None
    assert entry.version == 6
    for key in linker.index.postings_of(entry):
        assert await redis.zscore(key, ERUPTS.id) is not None
    df = await redis.hget(linker.index.df, "#docs")
    assert df is not None
    assert int(df) == 1  # one story, however many versions


async def test_candidates_are_the_strongest_in_order_past_the_ranking_cut_and_skipped_ones(
    redis: RedisClient, settings: Settings
) -> None:
    # Story n shares n + 1 of the query's words, so its shared weight is n + 1. With 3
    # candidates wanted, 20 ids go past the script's cut (it ranks only the 6 strongest
    # first); when the 6 strongest are embargoed, the answer must come from the rest, in order.
    index = StoryIndex(redis, settings.keys, IndexPolicy(ttl_seconds=30 * 86400.0, max_candidates=3))
    linker = RelatedLinker(index, k=5, window_days=30)
    words = [f"zeta{chr(97 + i)}{chr(97 + i)}x" for i in range(20)]

    def numbered(n: int, embargoed: datetime | None) -> Story:
        return story(
            "wire-a", f"urn:a:cut:{n}", at(1), f"Report {n}", " ".join(words[: n + 1]), embargoed=embargoed
        )

    async def strongest() -> list[str]:
        query = await index.get(numbered(19, None).id)
        assert query is not None
        weights = {index.term_posting("en", w): 1.0 for w in words}
        found = await index.candidates(query, weights, now=NOW.timestamp())
        return [entry.story_id for entry in found.entries]

    for n in range(20):
        await linker.link_and_index(numbered(n, None), [], received_at=NOW, now=NOW)
    assert await strongest() == [numbered(n, None).id for n in (18, 17, 16)]  # 19 is the query

    later = NOW + timedelta(days=1)
    for n in range(13, 19):
        await linker.link_and_index(numbered(n, later), [], received_at=NOW, now=NOW)
    assert await strongest() == [numbered(n, None).id for n in (12, 11, 10)]
