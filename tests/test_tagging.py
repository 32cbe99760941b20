"""Tags of a question: normalised names, aliases, typos and plurals, short terms, hashtags, the YAML vocabulary."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.tagging import SCAN_CHARS, Vocabulary, load_yaml_vocabulary, normalise_tag, tag_problem, tags_for

VOCAB = Vocabulary(
    {
        "kubernetes": ["k8s", "kube"],
        "postgres": ["postgresql", "pg"],
        "go": ["golang"],
        "ci": [],
        "aws": [],
        "rust": [],
        "database": [],
        "query": [],
        "terraform": [],
        "machine-learning": ["ml"],
        "c++": ["cpp"],
        ".net": ["dotnet"],
    }
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Kubernetes", "kubernetes"),
        ("#K8s", "k8s"),
        ("Kubernetes Ops", "kubernetes-ops"),
        ("on_call", "on-call"),
        ("  C++ ", "c++"),
        ("c#", "c#"),
        (".NET", ".net"),
        ("node.js.", "node.js"),
        ("Café au lait", "cafe-au-lait"),
        ("--x--", "x"),
        ("what?!", "what"),
        ("a" * 40, "a" * 40),
        ("", None),
        ("###", None),
        ("!!!", None),
        ("кубер", None),  # nothing of it is a-z or 0-9
        ("a" * 41, None),
    ],
)
def test_normalise_tag(raw: str, expected: str | None) -> None:
    assert normalise_tag(raw) == expected


def test_refused_tags_come_with_a_reason() -> None:
    assert tag_problem("kubernetes") is None
    assert "at most 40" in (tag_problem("x" * 60) or "")
    assert "letter or digit" in (tag_problem("#!?") or "")


@given(st.text(max_size=60))
def test_normalised_tags_are_valid_and_stable(raw: str) -> None:
    tag = normalise_tag(raw)
    if tag is not None:
        assert re.fullmatch(r"[a-z0-9.+#-]{1,40}", tag)
        assert normalise_tag(tag) == tag


def test_aliases_map_to_the_canonical_tag() -> None:
    assert VOCAB.canonical("K8s") == "kubernetes"
    assert VOCAB.canonical("#kube") == "kubernetes"
    assert VOCAB.canonical("kubernetes") == "kubernetes"
    assert VOCAB.canonical("PostgreSQL") == "postgres"
    assert VOCAB.canonical("docker") is None
    assert VOCAB.find("our k8s cluster talks to pg") == {"kubernetes", "postgres"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the kubernets pods keep restarting", {"kubernetes"}),  # typo
        ("Kuberentes ingress", {"kubernetes"}),  # transposed letters
        ("two databases and three queries", {"database", "query"}),  # plurals
        ("terraforms everywhere", {"terraform"}),
        ("postgress is slow", {"postgres"}),
    ],
)
def test_typos_and_plurals_match(text: str, expected: set[str]) -> None:
    assert VOCAB.find(text) == expected


def test_short_terms_match_only_as_whole_tokens() -> None:
    assert VOCAB.find("I am going to the gym") == set()
    assert VOCAB.find("Is Go's scheduler preemptive?") == {"go"}
    assert VOCAB.find("golang generics") == {"go"}
    assert VOCAB.find("CI/CD is red") == {"ci"}
    assert VOCAB.find("the cis benchmark, awsome") == set()
    assert VOCAB.find("deploy to AWS") == {"aws"}


def test_four_letter_terms_take_plurals_but_no_typos() -> None:
    assert VOCAB.find("I trust rusty code") == set()
    assert VOCAB.find("rust crates") == {"rust"}


def test_multi_word_terms() -> None:
    assert VOCAB.find("new to machine learning") == {"machine-learning"}
    assert VOCAB.find("machine-learning ops") == {"machine-learning"}
    assert VOCAB.find("an ML model") == {"machine-learning"}
    assert VOCAB.find("the machine is learning") == set()


def test_symbols_in_terms() -> None:
    assert VOCAB.find("c++ templates vs .NET generics") == {"c++", ".net"}
    assert VOCAB.find("dotnet and cpp") == {"c++", ".net"}


def test_hashtags() -> None:
    assert VOCAB.hashtags("help with #K8s and #New_Topic please") == ["kubernetes", "new-topic"]
    assert VOCAB.hashtags("C# and F# are languages") == []
    assert VOCAB.hashtags("see issue #42 and &#39;quoted&#39;") == []
    assert VOCAB.hashtags("posted in <#C0123|general>") == []
    assert VOCAB.hashtags("#kubernetes. #kubernetes, #k8s!") == ["kubernetes"]


def test_slack_markup_is_not_read_as_words() -> None:
    text = "<@U0123> see <https://kubernetes.io/docs|the postgres docs> <!here>"
    assert VOCAB.find(text) == {"postgres"}


def test_tags_for_orders_and_deduplicates() -> None:
    text = "Our #beta kube cluster cannot reach postgresql #k8s"
    tags = tags_for(text, vocabulary=VOCAB, channel_defaults=["Platform Team", "K8s", "!!"])
    assert tags == ["beta", "kubernetes", "platform-team", "postgres"]


def test_long_texts_are_cut_before_scanning() -> None:
    text = "aws " + "filler " * 6_000 + "terraform"
    assert len(text) > 40_000
    assert VOCAB.find(text) == {"aws"}  # the terraform mention is past SCAN_CHARS
    assert text.index("terraform") > SCAN_CHARS


def test_vocabulary_refuses_conflicts_and_bad_names() -> None:
    with pytest.raises(ValueError, match="'pg'"):
        Vocabulary({"postgres": ["pg"], "pgadmin": ["pg"]})
    with pytest.raises(ValueError, match="'k8s'"):
        Vocabulary({"kubernetes": ["k8s"], "k8s": []})
    with pytest.raises(ValueError, match="'###'"):
        Vocabulary({"###": []})


def test_vocabulary_grows_by_use() -> None:
    grown = VOCAB.extended(["Helm", "k8s", "!!"])
    assert grown.canonical("helm") == "helm"
    assert grown.canonical("k8s") == "kubernetes"
    assert VOCAB.canonical("helm") is None
    assert grown.find("helm charts") == {"helm"}


def test_yaml_vocabulary() -> None:
    text = """
tags:
  Kubernetes: [k8s, kube]
  postgres: [PostgreSQL, pg]
  go: golang
  rust:
"""
    assert load_yaml_vocabulary(text) == {
        "go": ["golang"],
        "kubernetes": ["k8s", "kube"],
        "postgres": ["pg", "postgresql"],
        "rust": [],
    }
    assert load_yaml_vocabulary("tags:\n") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tags: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "'tags' key"),
        ("topics: {}", "'tags' key"),
        ("tags: [a, b]", "map each tag"),
        ("tags: {kubernetes: 8}", "tag 'kubernetes': aliases must be a list"),
        ("tags: {'###': []}", "tag '###' is not a valid tag"),
        ("tags: {kubernetes: [[k8s]]}", "alias of 'kubernetes' ['k8s'] must be text"),
        ("tags: {kubernetes: ['!!']}", "alias of 'kubernetes' '!!' is not a valid tag"),
        ("tags: {K8s: [], k8s: []}", "tag 'k8s' appears twice"),
        ("tags: {postgres: [pg], pgadmin: [pg]}", "alias 'pg' of 'pgadmin'"),
        ("tags: {1.5: []}", "tag 1.5 must be text"),
    ],
)
def test_yaml_vocabulary_errors_name_the_entry(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        load_yaml_vocabulary(text)
