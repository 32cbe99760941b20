"""A small PNG bar chart of weekly activity, drawn without a screen (matplotlib's Agg backend).

Public channels only, under the privacy rule of `bot.stats`: a week with fewer than MIN_GROUP askers is drawn
as zero and its label says "too few".
"""

from __future__ import annotations

import io
from datetime import datetime

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sqlmodel import Session

from bot.digest import MIN_GROUP
from bot.stats import weekly_activity
from storage.models import Workspace

WIDTH, HEIGHT, DPI = 8, 4, 100  # 800 × 400 px


def weekly_activity_png(session: Session, *, ws: Workspace, now: datetime, weeks: int = 12) -> bytes | None:
    """Questions asked and answered per ISO week as a PNG; None when no week has enough people to show."""
    data = weekly_activity(session, ws=ws, now=now, weeks=weeks)
    if all(w.questions is None for w in data):
        return None
    fig = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = list(range(len(data)))
    asked = [w.questions or 0 for w in data]
    answered = [w.answered or 0 for w in data]
    ax.bar([x - 0.2 for x in xs], asked, width=0.4, label="asked", color="#4a7bd0")
    ax.bar([x + 0.2 for x in xs], answered, width=0.4, label="answered", color="#3aa55d")
    ax.set_xticks(xs, [w.start.strftime("%d %b") + ("\ntoo few" if w.questions is None else "") for w in data])
    ax.tick_params(axis="x", labelsize=7)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("questions")
    ax.set_title(f"Questions per week, public channels (weeks with fewer than {MIN_GROUP} askers not shown)")
    ax.title.set_fontsize(9)
    ax.legend(loc="upper left", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()
