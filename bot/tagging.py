"""Topics of a question: hashtags, channel defaults, and vocabulary terms (with aliases) found by rapidfuzz."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import yaml
from rapidfuzz import process
from rapidfuzz.distance import OSA

MAX_TAG = 40
SCAN_CHARS = 5_000  # vocabulary terms are looked for in the start of a message only: fast on 40,000 chars
HASHTAG_CHARS = 40_000
_SHORT = 3  # terms this short ("go", "ci", "aws") match only as exact whole tokens

_DROP = re.compile(r"[^a-z0-9.+#-]")
_SPACES = re.compile(r"[\s_]+")
_DASHES = re.compile(r"-{2,}")
_TRAILING = re.compile(r"[-.]+$")
_ALNUM = re.compile(r"[a-z0-9]")
# "#k8s" but not "C#", "&#39;", a Slack channel link "<#C123|x>" or "##"; an all-digit "#42" is an issue number.
_HASHTAG = re.compile(r"(?<![\w&<#])#(\w[\w.+#-]*)")
_SLACK_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")  # <@U1>, <!here>, <http://x|label>: keep the label
_TOKEN = re.compile(r"\.?[a-z0-9][a-z0-9.+#]*")


def _ascii_lower(raw: str) -> str:
    return unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().lower()


def _clean(raw: str) -> str:
    text = _SPACES.sub("-", _ascii_lower(raw).strip())
    text = _DASHES.sub("-", _DROP.sub("", text)).lstrip("#-")
    return _TRAILING.sub("", text)


def normalise_tag(raw: str) -> str | None:
    """'#Kubernetes Ops' → 'kubernetes-ops'; None when nothing usable remains (see `tag_problem`)."""
    text = _clean(raw)
    if not _ALNUM.search(text) or len(text) > MAX_TAG:
        return None
    return text


def tag_problem(raw: str) -> str | None:
    """Why `raw` cannot be a tag, in words for the person who typed it; None when it can."""
    if normalise_tag(raw) is not None:
        return None
    if len(_clean(raw)) > MAX_TAG:
        return f"A tag can be at most {MAX_TAG} characters long."
    return "A tag needs at least one letter or digit (allowed: a-z, 0-9, and . + # -)."


def _forms(word: str) -> set[str]:
    """Exact spellings that count for `word`: itself, and plurals unless it is short."""
    if len(word) <= _SHORT:
        return {word}
    forms = {word, word + "s", word + "es"}
    if word.endswith("y"):
        forms.add(word[:-1] + "ies")
    return forms


def _typos_allowed(word: str) -> int:
    return 0 if len(word) < 6 else 1 if len(word) < 9 else 2


@dataclass(frozen=True)
class _Term:
    canonical: str
    words: tuple[str, ...]


class Vocabulary:
    """Canonical tags with their aliases; `find` spots them in free text."""

    def __init__(self, terms: Mapping[str, Iterable[str]]) -> None:
        lookup: dict[str, str] = {}
        for raw_name, aliases in terms.items():
            name = _valid(raw_name, what="tag")
            if lookup.get(name, name) != name:
                raise ValueError(f"tag {raw_name!r} is already an alias of {lookup[name]!r}")
            lookup[name] = name
            for raw_alias in aliases:
                alias = _valid(raw_alias, what=f"alias of {raw_name!r}")
                if lookup.get(alias, name) != name:
                    raise ValueError(f"alias {raw_alias!r} of {raw_name!r} already means {lookup[alias]!r}")
                lookup[alias] = name
        self._lookup = lookup
        parsed = [_Term(name, tuple(w for w in form.split("-") if w)) for form, name in lookup.items()]
        self._by_first: dict[str, list[_Term]] = {}  # terms by their first word
        for term in parsed:
            self._by_first.setdefault(term.words[0], []).append(term)
        self._exact: dict[str, set[str]] = {}  # spelling in the text → the term words it stands for
        self._fuzzy: dict[str, list[str]] = {}  # long words by first letter, for typo matching
        for word in {w for term in parsed for w in term.words}:
            for form in _forms(word):
                self._exact.setdefault(form, set()).add(word)
            if _typos_allowed(word):
                self._fuzzy.setdefault(word[0], []).append(word)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._lookup.values())

    def as_dict(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {name: [] for name in sorted(self.names)}
        for form, name in sorted(self._lookup.items()):
            if form != name:
                out[name].append(form)
        return out

    def extended(self, names: Iterable[str]) -> Vocabulary:
        """The vocabulary grown by use: new valid tags join as canonical names; known ones change nothing."""
        grown = self.as_dict()
        for raw in names:
            name = normalise_tag(raw)
            if name is not None and name not in self._lookup:
                grown[name] = []
        return Vocabulary(grown)

    def canonical(self, name: str) -> str | None:
        """The canonical tag for a tag or alias, in any spelling normalise_tag accepts; None if unknown."""
        norm = normalise_tag(name)
        return None if norm is None else self._lookup.get(norm)

    def hashtags(self, text: str) -> list[str]:
        """Explicit #tags in order: known ones as their canonical name, new ones normalised."""
        out: list[str] = []
        for match in _HASHTAG.finditer(text[:HASHTAG_CHARS]):
            if match.group(1).isdigit():
                continue
            tag = self.canonical(match.group(1)) or normalise_tag(match.group(1))
            if tag is not None and tag not in out:
                out.append(tag)
        return out

    def terms(self, text: str) -> list[str]:
        """Vocabulary terms (and aliases, typos, plurals) in the text, in order of first appearance."""
        plain = _SLACK_MARKUP.sub(lambda m: " " + (m.group(2) or "") + " ", text[:SCAN_CHARS])
        tokens = [t.rstrip(".") for t in _TOKEN.findall(_ascii_lower(plain))]
        hits = {tok: self._word_hits(tok) for tok in set(tokens)}
        found: dict[str, int] = {}
        for i, token in enumerate(tokens):
            for word in sorted(hits[token]):
                for term in self._by_first.get(word, ()):
                    if term.canonical not in found and _matches_at(term.words, tokens, hits, i):
                        found[term.canonical] = i
        return sorted(found, key=lambda name: (found[name], name))

    def find(self, text: str) -> set[str]:
        return set(self.hashtags(text)) | set(self.terms(text))

    def _word_hits(self, token: str) -> set[str]:
        hits = set(self._exact.get(token, ()))
        bucket = self._fuzzy.get(token[:1], [])
        if len(token) >= 5 and bucket:
            for word, distance, _ in process.extract(token, bucket, scorer=OSA.distance, score_cutoff=2, limit=None):
                if distance <= _typos_allowed(word) and abs(len(word) - len(token)) <= 2:
                    hits.add(word)
        return hits


def _matches_at(words: tuple[str, ...], tokens: list[str], hits: Mapping[str, set[str]], i: int) -> bool:
    """Whether the tokens from position i spell `words`, one token per word."""
    if i + len(words) > len(tokens):
        return False
    return all(word in hits[tokens[i + j]] for j, word in enumerate(words))


def _valid(raw: object, *, what: str) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"{what} {raw!r} must be text")
    name = normalise_tag(raw)
    if name is None:
        raise ValueError(f"{what} {raw!r} is not a valid tag: {tag_problem(raw)}")
    return name


def tags_for(text: str, *, vocabulary: Vocabulary, channel_defaults: Iterable[str] = ()) -> list[str]:
    """A question's tags: its hashtags, then the channel's defaults, then vocabulary terms; no repeats."""
    defaults = [vocabulary.canonical(raw) or normalise_tag(raw) for raw in channel_defaults]
    ordered = [*vocabulary.hashtags(text), *(d for d in defaults if d), *vocabulary.terms(text)]
    return list(dict.fromkeys(ordered))


def load_yaml_vocabulary(text: str) -> dict[str, list[str]]:
    """Parse `tags: {kubernetes: [k8s, kube]}` into normalised {name: [aliases]}; ValueError names the bad entry."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"the tag vocabulary is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or "tags" not in doc:
        raise ValueError("the tag vocabulary must be a mapping with a 'tags' key")
    tags = doc["tags"]
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise ValueError("'tags' must map each tag to a list of aliases")
    entries: dict[str, list[str]] = {}
    for name, aliases in tags.items():
        if aliases is None:
            aliases = []
        elif isinstance(aliases, str):
            aliases = [aliases]
        elif not isinstance(aliases, list):
            raise ValueError(f"tag {name!r}: aliases must be a list, not {type(aliases).__name__}")
        canonical = _valid(name, what="tag")
        if canonical in entries:
            raise ValueError(f"tag {name!r} appears twice (as {canonical!r})")
        entries[canonical] = [_valid(alias, what=f"alias of {name!r}") for alias in aliases]
    return Vocabulary(entries).as_dict()
