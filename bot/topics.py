"""Topics of questions: tagging with the workspace vocabulary, which grows with the hashtags people use."""

from __future__ import annotations

from sqlmodel import Session

from bot.tagging import Vocabulary, load_yaml_vocabulary, tags_for
from storage import queries
from storage.models import Channel, Question, Workspace


def vocabulary(session: Session, *, ws: Workspace) -> Vocabulary:
    return Vocabulary(queries.vocabulary(session, ws=ws))


def channel_defaults(channel: Channel | None) -> list[str]:
    """The default tags a channel gives its questions."""
    return [t for t in (channel.default_tags.split(",") if channel else []) if t.strip()]


def tag_question(session: Session, *, question: Question, defaults: list[str] | None = None) -> list[str]:
    """Find and store a question's tags; new hashtags join the vocabulary.

    `defaults` are its channel's default tags, when the caller has read the channel already.
    """
    ws = Workspace.of(question)
    vocab = vocabulary(session, ws=ws)
    if defaults is None:
        defaults = channel_defaults(queries.channel(session, ws=ws, channel_id=question.channel))
    tags = tags_for(question.text, vocabulary=vocab, channel_defaults=defaults)[:10]
    for tag in tags:
        if vocab.canonical(tag) is None:
            queries.add_tag(session, ws=ws, name=tag)
    if tags:  # a new question has no tags to replace
        queries.set_question_tags(session, ws=ws, question_id=question.id or 0, tags=tags, replace=False)
    return tags


def set_topics(session: Session, *, question: Question, names: list[str]) -> list[str]:
    """The asker's own choice of topics: aliases become their canonical tag, new names join the vocabulary."""
    ws = Workspace.of(question)
    vocab = vocabulary(session, ws=ws)
    tags = list(dict.fromkeys(vocab.canonical(n) or n for n in names))[:10]
    for tag in tags:
        if vocab.canonical(tag) is None:
            queries.add_tag(session, ws=ws, name=tag)
    queries.set_question_tags(session, ws=ws, question_id=question.id or 0, tags=tags)
    return tags


def import_vocabulary(session: Session, *, ws: Workspace, yaml_text: str) -> int:
    """Seed the vocabulary from YAML (`tags: {kubernetes: [k8s]}`); returns how many names were added."""
    added = 0
    for name, aliases in load_yaml_vocabulary(yaml_text).items():
        added += queries.add_tag(session, ws=ws, name=name)
        for alias in aliases:
            added += queries.add_tag(session, ws=ws, name=alias, alias_of=name)
    return added
