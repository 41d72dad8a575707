"""The Jinja2 environment of the HTML reports: templates, filters, inline assets.

Templates live under ``relieflink/report/templates/`` (package data) and are
rendered with autoescaping on: every value is escaped unless a template says
otherwise, which only the page's own CSS and script files do (read from the
same folder, never from data). Filters format numbers, money and dates the
way every report shows them. Nothing here adds a timestamp: the same inputs
give the same bytes.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from relieflink.privacy import as_text, is_blank


def money(v: object) -> str:
    """``1,234.50``; empty for a missing or non-numeric value."""
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if x != x:
        return ""
    return f"{x:,.2f}"


def count(v: object) -> str:
    """``12,345``."""
    try:
        return f"{int(v):,}"  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return as_text(v)


def date_str(v: object) -> str:
    """``2015-03-01``; empty when missing."""
    if is_blank(v):
        return ""
    try:
        ts = pd.Timestamp(v)
    except (TypeError, ValueError):
        return str(v)
    if pd.isna(ts):
        return ""
    return ts.strftime("%Y-%m-%d")


def asset(name: str) -> str:
    """A CSS or script file of the templates folder, as text (inlined: the page needs no network)."""
    text = resources.files("relieflink.report").joinpath("templates", name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"templates/{name} may not contain a closing script or style tag")
    return text


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("relieflink.report", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(money=money, count=count, date=date_str)
    env.globals.update(asset=asset)
    return env


def render(template: str, **context: object) -> str:
    """Render ``templates/<template>`` with ``context``."""
    return environment().get_template(template).render(**context)


__all__ = ["asset", "count", "date_str", "environment", "money", "render"]
