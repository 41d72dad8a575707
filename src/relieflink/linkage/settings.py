"""Model settings as data: a YAML file under ``schemas/linkage/`` and, once
trained, the same document with the learned parameters, saved as JSON and
reloadable (as Splink's settings dictionary).

The document is validated with pydantic at every depth (blocking passes,
comparisons and their levels, training, clustering, households): an unknown
or misspelled key (``treshold``, ``em_max_itr``) is refused with a
:class:`~relieflink.config.errors.ConfigError` naming the file and the dotted
key, never replaced by a default. Names that refer to other parts of the
document (a training session's blocking pass, a gate's comparison and level
labels, ...) are checked too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from relieflink.config.errors import ConfigError, from_validation_error, read_yaml
from relieflink.config.paths import schemas_dir
from relieflink.linkage.blocking import BlockingPass
from relieflink.linkage.comparisons import LEVEL_KINDS, Comparison

Probability = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainingSession(_Strict):
    """EM on the pairs of one blocking pass, ignoring the comparisons on its key (Splink's sessions)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    blocking_pass: str = Field(alias="pass")
    exclude: list[str] = []  # comparisons the pass's key decides
    take: dict[str, list[str]] = {}  # comparison -> level labels whose m this session alone estimates


class Training(_Strict):
    u_sample_pairs: int = Field(1_000_000, ge=1)
    seed: int = 42
    u_weight_by_records: bool = False  # random pairs drawn in proportion to the records of each node
    initial_prior: float = Field(0.1, gt=0, lt=1)
    prior: Literal["candidates", "random_pairs"] = "candidates"  # what the scoring prior λ is of
    estimate_u: bool = False  # EM re-estimates u too (else u stays the random-pair u)
    sessions: list[TrainingSession] | None = None
    em_max_iter: int = Field(300, ge=1)
    em_tol: float = Field(1e-7, gt=0)
    tf_min_u: float = Field(1e-6, gt=0)


class Gate(_Strict):
    """Evidence that is no evidence under another comparison's outcome: when a comparison is at
    one of the ``when`` levels, the ``cap`` comparisons' weights are capped (bits)."""

    when: dict[str, list[str]] = Field(min_length=1)
    cap: dict[str, float] = Field(min_length=1)


class _CannotLinkRule(_Strict):
    differ: str | None = None  # a column whose two present values differ
    comparison: str | None = None  # ... and/or a comparison whose level is one of ``levels``
    levels: list[str] = []


class SameRecordRule(_CannotLinkRule):
    """Two nodes named on one input record (``columns``, e.g. file and row)."""

    kind: Literal["same_record"]
    columns: list[str] = Field(min_length=1)


class SameKeyRule(_CannotLinkRule):
    """Two nodes sharing the value of column ``key``."""

    kind: Literal["same_key"]
    key: str


CannotLinkRule = Annotated[Union[SameRecordRule, SameKeyRule], Field(discriminator="kind")]


class Anchor(_Strict):
    """Anchored clustering: persons are anchored on ``column`` (valid resident IDs)."""

    column: str
    name_comparison: str
    vote_column: str | None = None  # the name most records of the key carry is the key's owner
    contradicting_levels: list[str] = Field(min_length=1)
    clear_columns: list[str] | None = None  # evidence a contradicting node loses (default: ``column``)


class Clustering(_Strict):
    method: Literal["components", "anchored", "one_to_one"] = "components"
    match_probability: Probability = 0.9
    review_probability: Probability = 0.5
    cannot_link_probability: Probability = 0.01
    margin: float = Field(3.0, ge=0)  # bits the best anchor must beat the second-best by
    # month to month (anchored): last month's link of a row linkage leaves unattached holds while the
    # current evidence of its best pair with the person (bits, the prior left out) is at least this
    previous_link_evidence: float = 0.0
    unique_candidate_probability: Probability | None = None
    max_rounds: int = Field(4, ge=1)
    gates: list[Gate] = []
    cannot_link: list[CannotLinkRule] = []
    anchor: Anchor | None = None

    @model_validator(mode="after")
    def _anchored_needs_an_anchor(self) -> "Clustering":
        if self.method == "anchored" and self.anchor is None:
            raise ValueError("method anchored needs an anchor (clustering.anchor)")
        return self


class Households(_Strict):
    address_phone_max_persons: int = Field(8, ge=2)  # an address+phone shared by more persons glues nobody
    relation_roles: list[str] = []  # in relief.yaml and the models trained with it; nothing reads it yet


class Settings(_Strict):
    """A linkage model: fields, comparisons, blocking, thresholds and (once trained) m, u, λ."""

    name: str
    doc: str | None = Field(None, exclude=True)
    link_type: Literal["dedupe", "link"] = "dedupe"
    prepare: str = "plain"  # feature preparer (relieflink.linkage.prepare.PREPARERS)
    unique_id: str | None = None  # the id column of the data set (documentation)
    string_columns: list[str] = []
    int_columns: list[str] = []
    flags: list[str] = []
    blocking: list[BlockingPass] = []
    comparisons: list[Comparison] = []
    training: Training = Training()
    clustering: Clustering = Clustering()
    households: Households = Households()
    # learned parameters
    prior: float | None = None  # λ: probability that two random nodes (or candidates) match
    m: dict[str, list[float]] | None = None
    u: dict[str, list[float]] | None = None
    u_random: dict[str, list[float]] | None = None  # u among random pairs (EM's starting point)
    trained_on: dict[str, Any] | None = None

    # -- loading / saving ------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Any, source: str | None = None) -> "Settings":
        """Validate a settings document (YAML or trained JSON); ConfigError names the file and key."""
        path = Path(source or "linkage settings")
        try:
            settings = cls.model_validate(d)
        except ValidationError as exc:
            raise from_validation_error(path, exc, document=d, tags=_TAGS) from None
        _check_references(settings, path)
        return settings

    @classmethod
    def load(cls, path: str | Path) -> "Settings":
        """Load a YAML settings file, or a trained model JSON; a bare name means schemas/linkage/NAME.yaml."""
        p = Path(path)
        if not p.suffix and not p.exists():
            p = schemas_dir() / "linkage" / f"{path}.yaml"
        if p.suffix != ".json":
            return cls.from_dict(read_yaml(p), source=str(p))
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(p, f"cannot read the file ({exc.strerror})") from None
        except ValueError:
            raise ConfigError(p, "is not valid JSON; load the linkage_model.json a run wrote") from None
        return cls.from_dict(d, source=str(p))

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.model_dump(mode="json", by_alias=True, exclude={"blocking", "comparisons"}),
            "blocking": [b.to_dict() for b in self.blocking],
            "comparisons": [c.to_dict() for c in self.comparisons],
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")

    @property
    def is_trained(self) -> bool:
        return self.m is not None and self.u is not None and self.prior is not None

    def comparison(self, name: str) -> Comparison:
        for c in self.comparisons:
            if c.name == name:
                return c
        raise KeyError(name)


#: Discriminator values pydantic puts into an error's location (left out of the dotted key).
_TAGS = LEVEL_KINDS | {"same_record", "same_key"}


def _check_references(s: Settings, path: Path) -> None:
    """Names that point at other parts of the document must exist there."""
    from relieflink.linkage.prepare import PREPARERS

    def refuse(key: str, message: str) -> None:
        raise ConfigError(path, message, key=key)

    if s.prepare not in PREPARERS:
        refuse("prepare", f"unknown feature preparer {s.prepare!r} (known: {', '.join(sorted(PREPARERS))})")
    names = [c.name for c in s.comparisons]
    for name in names:
        if names.count(name) > 1:
            refuse(f"comparisons.{name}", "two comparisons have this name")
    labels = {c.name: c.labels for c in s.comparisons}

    def levels_of(key: str, comparison: str | None, wanted: list[str]) -> None:
        if comparison is None:
            return
        if comparison not in labels:
            refuse(key, f"no comparison named {comparison!r} (known: {', '.join(labels)})")
        unknown = [w for w in wanted if w not in labels[comparison]]
        if unknown:
            refuse(key, f"comparison {comparison!r} has no level {unknown[0]!r} "
                        f"(its levels: {', '.join(labels[comparison])})")

    passes = [b.name for b in s.blocking]
    for b in s.blocking:
        if b.only_if is not None and b.only_if not in s.flags:
            refuse(f"blocking.{b.name}.only_if", f"{b.only_if!r} is not one of the flags ({', '.join(s.flags)})")
    for i, sess in enumerate(s.training.sessions or []):
        if sess.blocking_pass not in passes:
            refuse(f"training.sessions.{i}.pass", f"no blocking pass named {sess.blocking_pass!r}")
        for c in sess.exclude:
            levels_of(f"training.sessions.{i}.exclude", c, [])
        for c, wanted in sess.take.items():
            levels_of(f"training.sessions.{i}.take.{c}", c, wanted)
    for i, gate in enumerate(s.clustering.gates):
        for c, wanted in gate.when.items():
            levels_of(f"clustering.gates.{i}.when.{c}", c, wanted)
        for c in gate.cap:
            levels_of(f"clustering.gates.{i}.cap.{c}", c, [])
    for i, rule in enumerate(s.clustering.cannot_link):
        levels_of(f"clustering.cannot_link.{i}.comparison", rule.comparison, rule.levels)
        if rule.levels and rule.comparison is None:
            refuse(f"clustering.cannot_link.{i}.levels", "levels are levels of a comparison: name it (comparison:)")
    if s.clustering.anchor is not None:
        a = s.clustering.anchor
        levels_of("clustering.anchor.name_comparison", a.name_comparison, a.contradicting_levels)
    if s.m is not None:
        for c, values in (s.m | (s.u or {})).items():
            if c not in labels or len(values) != len(labels[c]):
                refuse(f"m.{c}", "learned parameters that do not fit the comparisons; retrain the model")
