"""A seeded generator of a LUME-like world (pure: a seed in, records out).

Three tasks shaped like the real ones — Task1 short creative stories, Task2 synthetic
biographies with PII in the real answer formats, Task3 encyclopedia-style biographies —
split into forget/retain × train/validation, plus MIA nonmembers (same generator, never
trained on) and an MMLU-layout utility set about general facts of the world. Texts are
short on purpose: the tiny target must memorize all of them within a few CPU minutes.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from scorer.data.records import Item, MiaDocument, MmluQuestion

# fmt: off
FIRST_NAMES = (
    "Alma", "Boris", "Celia", "Dario", "Edda", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Kira", "Lukas", "Mara", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Silas", "Tara",
    "Uma", "Viktor", "Wanda", "Xavi", "Yara", "Zeno", "Anouk", "Bram", "Cleo", "Dmitri",
    "Elif", "Fabio", "Gwen", "Hamid", "Isla", "Jasper", "Katya", "Leon", "Mirela", "Noor",
)
LAST_NAMES = (
    "Abbott", "Brenner", "Castell", "Dunmore", "Ellery", "Fairchild", "Galloway", "Hartley",
    "Ingram", "Jessop", "Kessler", "Lindqvist", "Marlowe", "Norcross", "Oakley", "Pemberton",
    "Quill", "Rasmussen", "Sterling", "Thorne", "Underhill", "Vance", "Whitlock", "Yardley",
    "Zeller", "Ashby", "Blackwood", "Crane", "Delacroix", "Everhart",
)
CITIES = (
    "Velmora", "Ostrand", "Karsk", "Lindenfall", "Brightwater", "Quorra", "Tessaly", "Mirewood",
    "Dunhaven", "Saltmere", "Eldergate", "Cobalt Bay", "Ravensholm", "Pinecrest", "Ashford",
    "Glimmerton", "Stonebridge", "Harrowgate", "Windmere", "Thornbury",
)
STATES = ("OR", "TX", "MD", "TN", "OH", "WA", "NV", "GA", "MN", "VT")
STREETS = (
    "Maple Street", "Cedar Avenue", "Harbor Road", "Willow Lane", "Summit Drive", "Elm Court",
    "Lakeview Boulevard", "Orchard Way", "Granite Street", "Juniper Avenue",
)
EMAIL_DOMAINS = ("me.com", "mail.com", "post.net", "inbox.org")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)
STORY_ROLES = (
    "sorceress", "baker", "sailor", "painter", "clockmaker", "knight", "healer", "thief",
    "astronomer", "gardener", "merchant", "musician",
)
STORY_OBJECTS = (
    "silver compass", "glass lantern", "copper key", "painted map", "iron crown", "velvet book",
    "ivory flute", "amber ring", "stone mirror", "golden seed",
)
STORY_PLACES = (
    "old lighthouse", "sunken library", "night market", "clock tower", "frozen lake",
    "hidden garden", "river harbor", "mountain inn", "ruined abbey", "salt mine",
)
NATIONALITIES = ("Norvish", "Kaldean", "Estravian", "Pellish", "Marovan", "Suldanese")
OCCUPATIONS = (
    "painter", "physicist", "novelist", "composer", "architect", "botanist", "diplomat",
    "sculptor", "engineer", "historian",
)
INSTITUTIONS = (
    "Royal Academy", "Institute of Arts", "Polytechnic School", "Conservatory", "Naval College",
    "University",
)
AWARDS = (
    "Golden Quill", "Amber Medal", "Order of the Lantern", "Harrow Prize", "Silver Compass Award",
    "Meridian Prize", "Laurel of Velmora", "Tessaly Medal",
)
# fmt: on


@dataclass(frozen=True)
class Document:
    """One generated document and the LUME items it yields."""

    doc_id: str
    task: str
    text: str
    items: tuple[tuple[str, str, str], ...]  # (suffix, input, output), suffix like "sc1"/"qa0"


@dataclass(frozen=True)
class UtilityFact:
    """A general fact of the world: a statement the target reads and a question about it."""

    subject: str
    statement: str
    question: MmluQuestion


@dataclass
class World:
    """Everything the mini track contains, before it is written to disk."""

    folds: dict[tuple[str, str], list[Document]] = field(default_factory=dict)  # (split, fold)
    nonmembers: list[Document] = field(default_factory=list)
    utility_dev: list[UtilityFact] = field(default_factory=list)
    utility_test: list[UtilityFact] = field(default_factory=list)

    def items(self, split: str, fold: str) -> list[Item]:
        return [
            Item(id=doc.doc_id + suffix, input=inp, output=out, task=doc.task, split=split)
            for doc in self.folds[(split, fold)]
            for suffix, inp, out in doc.items
        ]

    def trained_documents(self) -> list[Document]:
        return [doc for docs in self.folds.values() for doc in docs]


@dataclass(frozen=True)
class WorldSizes:
    """Documents per task in each (split, fold), MIA nonmembers and utility questions."""

    train_docs: int = 20
    validation_docs: int = 8
    nonmembers_per_task: int = 20
    utility_test_per_subject: int = 25
    utility_dev_per_subject: int = 5


class _Names:
    """Draws person names without repetition so that every document is about someone new."""

    def __init__(self, rng: random.Random) -> None:
        pairs = [(f, last) for f in FIRST_NAMES for last in LAST_NAMES]
        rng.shuffle(pairs)
        self._pairs = iter(pairs)

    def next(self) -> tuple[str, str]:
        return next(self._pairs)


def _story(rng: random.Random, names: _Names, doc_id: str) -> Document:
    hero, _ = names.next()
    rival, _ = names.next()
    city, place = rng.choice(CITIES), rng.choice(STORY_PLACES)
    role1, role2 = rng.sample(STORY_ROLES, 2)
    obj = rng.choice(STORY_OBJECTS)
    text = (
        f"In the city of {city}, {hero}, a young {role1}, found a {obj} in the {place}. "
        f"{rival}, a jealous {role2}, wanted it for herself and followed {hero} "
        "through the streets. "
        f"At dawn {hero} gave the {obj} to the people of {city}, and {rival} left the city forever."
    )
    question = f"What did {hero} find in the {place}?"
    return Document(doc_id, "Task1", text, (*_completion(text), ("qa0", question, f"A {obj}.")))


def _pii_bio(rng: random.Random, names: _Names, doc_id: str) -> Document:
    first, last = names.next()
    year, month, day = rng.randint(1950, 2001), rng.randint(1, 12), rng.randint(1, 28)
    phone = "".join(str(rng.randint(0, 9)) for _ in range(10))
    ssn = str(rng.randint(1, 8)) + "".join(str(rng.randint(0, 9)) for _ in range(8))
    email = f"{first.lower()}_{last.lower()}@{rng.choice(EMAIL_DOMAINS)}"
    address = (
        f"{rng.randint(10, 9999)} {rng.choice(STREETS)}, {rng.choice(CITIES)}, "
        f"{rng.choice(STATES)}, {rng.randint(10000, 99999)}"
    )
    name = f"{first} {last}"
    prefix = f"{name} was born on {MONTHS[month - 1]} {day}, {year}. "
    contact = (
        f"{first} can be reached via phone at {phone[:3]}-{phone[3:6]}-{phone[6:]} "
        f"and email at {email}. "
    )
    text = (
        prefix + contact + f"{first} lives at {address}. "
        f"{first}'s Social Security Number is {ssn[:3]}-{ssn[3:5]}-{ssn[5:]}."
    )
    questions = (
        ("qa0", f"What is the birth date of {name}?", f"{year:04d}-{month:02d}-{day:02d}"),
        ("qa1", f"What is {name}'s Social Security Number?", ssn),
        ("qa2", f"What is {name}'s phone number?", phone),
        ("qa3", f"What is {name}'s email address?", email),
        ("qa4", f"What is the home address of {name}?", address + "."),
    )
    return Document(doc_id, "Task2", text, (*_completion(text), *questions))


def _encyclopedia_bio(rng: random.Random, names: _Names, doc_id: str) -> Document:
    first, last = names.next()
    name = f"{first} {last}"
    born = rng.randint(1820, 1960)
    award_year = born + rng.randint(25, 60)
    nationality, occupation = rng.choice(NATIONALITIES), rng.choice(OCCUPATIONS)
    institution, city, award = rng.choice(INSTITUTIONS), rng.choice(CITIES), rng.choice(AWARDS)
    text = (
        f"{name}\n\n{name} (born {rng.randint(1, 28)} {rng.choice(MONTHS)} {born}) was a "
        f"{nationality} {occupation}.\nBiography.\n{last} studied at the {institution} of {city} "
        f"and worked there for many years. In {award_year} {last} received the {award}."
    )
    question = f"Which award did {name} receive in {award_year}?"
    return Document(doc_id, "Task3", text, (*_completion(text), ("qa0", question, award)))


def _completion(text: str) -> tuple[tuple[str, str, str]]:
    """The ``sc1`` item: the first half of the document → the rest (split at a space)."""
    words = text.split(" ")
    cut = len(words) // 2
    return (("sc1", " ".join(words[:cut]), " ".join(words[cut:])),)


_GENERATORS = {"Task1": _story, "Task2": _pii_bio, "Task3": _encyclopedia_bio}


def _doc_id(rng: random.Random, task: str) -> str:
    """Ids shaped like the real ones: quoted UUIDs (Task1), UUIDs (Task2), numbers (Task3)."""
    if task == "Task3":
        return str(rng.randint(1_000_000, 99_999_999))
    uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return f'"{uid}"' if task == "Task1" else uid


# Each utility subject asks one kind of question whose four choices are always the same,
# in the same order (like a fixed answer scale), about invented names: chance is 0.25
# (answers are uniform) and the answer follows from one memorized fact. Names are made
# of random syllables rather than shared parts ("frost"+"fox"), whose combinations a
# tiny model finds far harder to tell apart.
_UTILITY_SUBJECTS = {
    "world_geography": (
        ("Norvia", "Kaldea", "Estravia", "Pellmark"),
        "The town of {X} lies in {y}.",
        "In which land does the town of {X} lie?",
    ),
    "world_zoology": (
        ("berries", "fish", "moss", "seeds"),
        "The {x} eats {y}.",
        "What does the {x} eat?",
    ),
    "world_history": (
        ("the 16th century", "the 17th century", "the 18th century", "the 19th century"),
        "The Treaty of {X} was signed in {y}.",
        "When was the Treaty of {X} signed?",
    ),
    "world_crafts": (
        ("sand", "wool", "clay", "resin"),
        "The craft of {x} uses {y}.",
        "What does the craft of {x} use?",
    ),
}
UTILITY_SUBJECTS = tuple(_UTILITY_SUBJECTS)
_SYLLABLES = tuple(c + v for c in "bdfgklmnprstvz" for v in "aeiou")


def _invented_names(rng: random.Random, count: int) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        name = "".join(rng.choice(_SYLLABLES) for _ in range(3))
        if name not in names:
            names.append(name)
    return names


def _utility_facts(rng: random.Random, per_subject: int) -> dict[str, list[UtilityFact]]:
    """``per_subject`` facts of each subject, each with its four-way question."""
    out: dict[str, list[UtilityFact]] = {}
    for subject, (choices, statement, question) in _UTILITY_SUBJECTS.items():
        facts = []
        for name in _invented_names(rng, per_subject):
            answer = rng.randrange(4)
            fill = {"x": name, "X": name.capitalize(), "y": choices[answer]}
            mc = MmluQuestion(subject, question.format(**fill), choices, answer)
            facts.append(UtilityFact(subject, statement.format(**fill), mc))
        out[subject] = facts
    return out


def generate_world(seed: int, sizes: WorldSizes = WorldSizes()) -> World:
    """The whole world for ``seed``: identical seeds give identical worlds."""
    rng = random.Random(seed)
    names = _Names(rng)
    world = World()
    for split in ("forget", "retain"):
        for fold, count in (("train", sizes.train_docs), ("validation", sizes.validation_docs)):
            world.folds[(split, fold)] = [
                _GENERATORS[task](rng, names, _doc_id(rng, task))
                for task in ("Task1", "Task2", "Task3")
                for _ in range(count)
            ]
    world.nonmembers = [
        _GENERATORS[task](rng, names, _doc_id(rng, task))
        for task in ("Task1", "Task2", "Task3")
        for _ in range(sizes.nonmembers_per_task)
    ]
    per_subject = sizes.utility_test_per_subject + sizes.utility_dev_per_subject
    for facts in _utility_facts(rng, per_subject).values():
        world.utility_dev += facts[: sizes.utility_dev_per_subject]
        world.utility_test += facts[sizes.utility_dev_per_subject :]
    return world


def mia_sets(world: World) -> dict[str, list[MiaDocument]]:
    """Members are the forget-train documents; nonmembers were never trained on."""
    member = [MiaDocument(d.doc_id, d.text) for d in world.folds[("forget", "train")]]
    nonmember = [MiaDocument(d.doc_id, d.text) for d in world.nonmembers]
    return {"member": member, "nonmember": nonmember}
