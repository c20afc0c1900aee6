"""Common given names, to tell a column of people's names from one of place or product names at
any number of distinct values ("Anna Meyer" and "New York" both look like capitalised words).

A plain list, written for this purpose: frequent first names across Europe, the Americas, Africa
and Asia (romanised). A column is taken for names when most of its distinct values start with one
of them; a name missing here only makes the check less sure, never wrong about a category.
"""

from __future__ import annotations

GIVEN_NAMES = frozenset(
    """
    aaron abdul abdullah abigail adam adrian agnes ahmed aisha alan albert alejandro alex
    alexander alexandra alfred ali alice alicia amanda amelia amir amy ana andrea andreas
    andrew angela anita ann anna anne annie anthony antonio arjun arthur aya barbara beatriz
    ben benjamin bernard beth betty bianca bill bob brandon brian bruno carl carla carlos
    carmen carol caroline catherine charles charlotte chen chloe chris christian christina
    christine christopher clara claire daniel daniela david deborah dennis diana diego dmitri
    dominik donald dorothy edward elena eli elias elizabeth ella ellen emily emma eric erik
    ethan eva evelyn fatima felix fernando fiona francesca francisco frank franz freya gabriel
    gary george georg gerhard giulia giuseppe grace greta gregory hannah hans harry heather
    helen helena henry hiroshi hugo ian ines ingrid irene isaac isabel isabella ivan jack
    jacob james jan jane janet jason javier jean jennifer jens jessica jim joan joanna joe
    johan johann john jonas jonathan jorge jose joseph joshua juan judith julia julian julie
    jun justin karen karin katarina kate katharina kathleen kenji kevin kim klaus kofi kwame
    larry laura lea lena leo leon liam lily linda lisa liu lucas lucia luis luisa luka lukas
    mads magnus manuel marco margaret maria marie marina mario mark marta martin mary mateo
    matteo matthew max maximilian mehmet mei melissa mia michael michelle miguel mike mohamed
    mohammed muhammad nadia nancy natalia nathan nicholas nicole niklas nina noah nora olga
    oliver olivia omar oscar pablo patricia patrick paul paula pedro peter philip pierre priya
    rachel rafael rahul ravi rebecca richard robert roberto rosa ruth ryan sakura samuel
    sandra sara sarah sebastian sergei sharon simon sofia sophia sophie stefan stephanie
    stephen steven susan svetlana takeshi tamara thomas tim timothy tobias tom tomas ursula
    valentina vanessa victor victoria vincent walter wei william xavier yan yara yuki yusuf
    zoe
    """.split()  # noqa: SIM905 (a word list reads better as text)
)


def starts_with_given_name(value: str) -> bool:
    """Whether a value's first word is a common given name (case ignored)."""
    first = value.strip().split(" ", 1)[0].lower()
    return first in GIVEN_NAMES
