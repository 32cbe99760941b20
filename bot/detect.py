"""Implicit question detection: is a channel message a knowledge question worth capturing?"""

import re

# Only the head of a message is examined: real questions are asked early, and a 40,000-character
# paste must cost no more than a short message (the detector runs on every channel message).
MAX_CHARS = 2_000
_YES_NO_NEED = 4  # yes/no questions are mostly pings and status checks: they need more substance


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)  # an unclosed fence runs to the end
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_QUOTE_LINE = re.compile(r"^[ \t]*(?:>|&gt;).*$", re.MULTILINE)
_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_EMOJI = re.compile(r":[a-z0-9_+'-]*[a-z][a-z0-9_+'-]*:", re.IGNORECASE)
# A terminator only ends a sentence when followed by space, so "22.04" or "file.py" stay whole.
_SENTENCE = re.compile(r"(?:[^.!?؟\n]|[.!?؟]++(?=[^\s.!?؟]))*[.!?؟]*")  # possessive: linear time
_CLAUSE_SPLIT = re.compile(r"[,;:()\[\]]+|\s[-–—]+\s|\bbut\b")
_WORD = re.compile(r"\b[^\W\d_]+(?:['-][^\W\d_]+)*\b")
# Greetings and hedges that precede the actual question ("hey team, so how do we ...").
_FILLER = re.compile(r"(?:(?:but|so|and|also|or|then|ok|okay|btw|hey|hi|hello|um|uh|help|sorry)\W+)*")

_AUX = r"(?:do|does|did|is|are|am|was|were|can|could|should|would|will|shall|has|have|might|must)"
_ASK_VERB = r"(?:please\s+)?(?:explain|tell|point|clarify|show|walk|help\s+me\s+understand|know|happen)"
# Openers that make a question even without a "?": interrogative + auxiliary, or a help phrase.
_STRONG = re.compile(
    rf"(?:how|why|where|when|what|which)\s+{_AUX}\b"
    r"|(?:how|why|where|when|what)'?s\b"
    rf"|(?:what|which)\s+[^\W\d_][\w-]*(?:\s+[\w-]+)?\s+{_AUX}\b"
    r"|how\s+(?:long|many|much|often|soon)\b"
    r"|is\s+there\b"
    r"|(?:do|does|did)?\s*(?:any|some)(?:one|body)\s+(?:here\s+)?(?:know|knows|familiar|aware)\b"
    r"|do\s+(?:you|u)\s+(?:happen\s+to\s+)?know\b"
    r"|any\s+(?:idea|ideas|clue|pointers|tips|advice)\s+(?:on|how|why|what|where|whether|if|about|for)\b"
    rf"|(?:can|could|would)\s+(?:someone|anyone|somebody|anybody|you|u)\s+{_ASK_VERB}\b"
    r"|(?:i'm\s+|i\s+am\s+|just\s+)?(?:wondering|curious)\s+(?:how|why|what|where|whether|if|which|who|when)\b"
    r"|(?:i'm\s+|i\s+am\s+)?(?:trying|need|want|looking)\s+to\s+(?:figure\s+out|understand|find\s+out"
    r"|work\s+out|learn)\s+(?:how|why|what|where|whether|if|which|who|when)\b"
    r"|need\s+help\s+(?:understanding|figuring|finding)\b"
)
# Openers that only make a question when the sentence ends with "?".
_WH = re.compile(r"(?:how|why|where|when|what|which|who|whom|whose)\b")
_YES_NO = re.compile(rf"(?:{_AUX}|\w+n't|may|(?:any|some)(?:one|body))\b")
# Asks addressed to a person, or for someone to *do* something, are requests rather than knowledge.
_PERSONAL = re.compile(rf"(?:can|could|would|will|won't|did|do|are|were|have)\s+(?:you|u)\b(?!\s+{_ASK_VERB})")
_REQUEST = re.compile(rf"(?:can|could|would|will)\s+(?:some|any)(?:one|body)\b(?!\s+{_ASK_VERB})")
# Small talk, social logistics, rhetorical and venting patterns: capturing these would be noise.
_NOT_KNOWLEDGE = re.compile(
    r"\bhow(?:'s|s|\s+is|\s+are|\s+was|\s+were)\s+(?:it|you|ya|u|everyone|everybody|everyone's|things|life|your)\b"
    r"|\bwhat'?s\s+up\b|\bwho(?:'s|\s+is|\s+are)\s+(?:coming|joining|bringing|going|in|up|around|free|out)\b"
    r"|\bhow\s+did\s+(?:\S+\s+){1,4}go\b|\bhow\s+(?:are|is)\s+(?:we|things)\s+(?:doing|tracking|looking)\b"
    r"|\bwhy\s+would\s+(?:anyone|anybody|someone|you)\b|\bwho\s+even\b|\bwhat\s+could\s+possibly\b"
    r"|\bwho\s+knew\b|\bguess\s+(?:who|what)\b"
    r"|\b(?:isn't|aren't|wasn't)\s+(?:it|that|this)\b|\bis\s+it\s+just\s+me\b|\bam\s+i\s+the\s+only\b"
    r"|\b(?:any|some|every)(?:one|body)\s+else\b|\b(?:ugh+|seriously|wtf|smh|sigh|omg|ffs)\b"
    r"|,\s*(?:right|no|eh|huh)\s*\?+$"
)
# Laughter marks a joke; it is checked on the raw head because emoji codes are stripped later.
_HUMOUR = re.compile(
    r":(?:joy|rofl|laughing|sweat_smile|upside_down_face|face_?palm|wink|stuck_out_tongue\w*):"
    r"|[😂🤣😅🙃😜]|\b(?:lol|lmao|rofl|haha\w*)\b",
    re.IGNORECASE,
)
# Yes/no questions about the asker's own things ("has anyone seen my ...") are personal asks.
_MINE = re.compile(r"\bmy\b")
_SELF_ANSWER = re.compile(r"(?:because|'?cause|bc|coz)\b")
_SOCIAL = _words(
    "lunch breakfast brunch coffee pizza beer beers drinks snacks cake party birthday weekend farewell bbq"
    " karaoke leftover leftovers borrow weather rain raining snow snowing"
)
_SCHEDULING = _words("standup stand-up retro sync meeting calendar invite booked all-hands")
# Words that carry no topic: a question needs a few words beyond these to be answerable knowledge.
_STOP = _words(
    """a an the and or but so if then than to of in on at for from by with about into over after before as
    up down out off is are was were be been being am do does did done doing have has had having can could
    should would will shall may might must i me my mine we us our you your u ya he she it its they them
    their this that these those there here what whats which who whom whose why how hows where wheres when
    anyone anybody someone somebody everyone everybody anything something everything nothing know knows
    any some all each every no not just still yet again now today tonight tomorrow yesterday really very
    quick question hey hi hello thanks thank please pls ok okay yeah yes also too else ever even one get
    got go going let lets like want wants need sure right well think new monday tuesday wednesday thursday
    friday saturday sunday morning week later soon what's it's i'm i've we're you're that's there's who's
    where's how's don't doesn't isn't can't i'll let's we've wait team guys folks"""
)


def _markup(match: re.Match[str], *, readable: bool) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("@", "!")):
        # People and broadcasts read as "@name" (a date keeps its fallback text); they carry no topic.
        name = target[1:].split("^")[0]
        if not readable:
            return " "
        if target.startswith("@") or name in ("here", "channel", "everyone") or not label:
            return "@" + (label or name).lstrip("@")
        return label
    if target.startswith("#"):
        return "#" + (label or target[1:])
    return label or (target.removeprefix("mailto:") if readable else " ")


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def question_text(text: str) -> str:
    """The message with Slack markup made readable and whitespace collapsed, for display and indexing."""
    return " ".join(_unescape(_MARKUP.sub(lambda m: _markup(m, readable=True), text)).split())


def _prose(text: str) -> str:
    """The asker's own words: no code, quotes, mentions, bare links or emoji (emoji act as a pause)."""
    text = _QUOTE_LINE.sub("\n", _CODE_BLOCK.sub("\n", text[:MAX_CHARS]))
    text = _INLINE_CODE.sub(" code ", text)  # a code span names something concrete: one content word
    text = _MARKUP.sub(lambda m: _markup(m, readable=False), text)
    return _unescape(_EMOJI.sub(" ; ", text)).replace("’", "'").lower()


def _needed_words(clause: str, asks: bool) -> int:
    """How many content words make the sentence a question, given this clause's opener (0: no opener)."""
    clause = _FILLER.sub("", clause.strip(), count=1)
    if _PERSONAL.match(clause) or _REQUEST.match(clause):
        return 0
    if _STRONG.match(clause):
        return 2 if asks else 3
    if asks and _WH.match(clause):
        return 3
    return _YES_NO_NEED if asks and _YES_NO.match(clause) else 0


def _is_question(sentence: str, following: str) -> bool:
    asks = sentence.endswith(("?", "؟"))
    needs = [n for n in (_needed_words(c, asks) for c in _CLAUSE_SPLIT.split(sentence)) if n]
    if not needs:  # most sentences stop here, before the costlier checks below
        return False
    words = [w for w in _WORD.findall(sentence) if len(w) > 1 and w not in _STOP]
    need = min(needs)
    if need == _YES_NO_NEED and (_SCHEDULING.intersection(words) or _MINE.search(sentence)):
        return False
    return (
        len(words) >= need
        and not _SOCIAL.intersection(words)
        and not _NOT_KNOWLEDGE.search(sentence)
        and not _SELF_ANSWER.match(following)
    )


def looks_like_question(text: str) -> bool:
    """True when a channel message is a real question a colleague could answer (precision first)."""
    head = text[:MAX_CHARS]
    sentences = [s for s in (s.strip() for s in _SENTENCE.findall(_prose(head))) if s]
    found = any(_is_question(s, nxt) for s, nxt in zip(sentences, [*sentences[1:], ""], strict=False))
    return found and not _HUMOUR.search(head)
