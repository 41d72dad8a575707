"""Probabilistic record linkage (SPEC §4): persons and households.

Public API::

    from relieflink.linkage import Settings, Linker, dedupe, link, link_mentions

* :class:`Settings` — a model as data (``schemas/linkage/*.yaml``; trained: JSON).
* :class:`Linker` — prepare → collapse → block → compare → train (EM) → score → cluster.
* :func:`dedupe` / :func:`link` — one or two generic tables (FEBRL).
* :func:`link_mentions` — relief mentions into persons and households.
* :mod:`relieflink.linkage.evaluate` — pairwise and cluster metrics.
"""

from __future__ import annotations

from relieflink.linkage.engine import LinkResult, Linker, dedupe, link
from relieflink.linkage.settings import Settings

__all__ = ["Settings", "Linker", "LinkResult", "dedupe", "link", "link_mentions", "ReliefLinkage"]


def __getattr__(name):
    if name in ("link_mentions", "ReliefLinkage"):
        from relieflink.linkage import persons
        return getattr(persons, name)
    raise AttributeError(name)
