"""Jobs: plain functions that ask the database what is due now and record what they did."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.deps import Deps
from storage import queries

log = logging.getLogger("peerbot.jobs")

# Slack retries a failed delivery for about an hour; a day of event ids covers every retry.
EVENT_ID_RETENTION = timedelta(days=1)


def prune_processed_events(deps: Deps) -> int:
    """Forget event ids too old for Slack to retry, so the table stays small."""
    with deps.db() as s:
        removed = queries.forget_events_before(s, cutoff=deps.clock() - EVENT_ID_RETENTION)
        s.commit()
    if removed:
        log.info("pruned %d processed event ids", removed)
    return removed
