"""The screening service (联审联批) for agency systems: ``relieflink serve OUT --keys KEYS.yaml``.

Thin on top of :mod:`relieflink.screening`, like the command line: ``app``
(routes and the door every request passes: key, rate limit, audit log),
``models`` (requests and answers, the OpenAPI description), ``screening`` (the
one adapter to the screening library, where the visibility contract is
applied), ``keys`` (KEYS.yaml), ``limits`` (schemas/service.yaml and the rate
limiter), ``store`` (recorded applications), ``auditlog``. FastAPI and uvicorn
come with the ``serve`` extra.
"""

from __future__ import annotations

DEFAULT_PORT = 8765
AUDIT_LOG_FILE = "relieflink-audit-log.jsonl"
