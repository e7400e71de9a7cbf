"""The offline classifier: TF-IDF word and character n-grams with a multinomial logistic regression.

It is trained on the shipped dataset's train split the first time it is needed and cached as a pickle
under the aslgate cache (ASLGATE_CACHE, else ~/.cache/aslgate), keyed by the dataset's sha256, the
scikit-learn version and a digest of the settings, so a changed dataset, library or setting retrains.

The scores are calibrated by a temperature fitted on out-of-fold logits of the train split (the raw
logistic regression is underconfident here: balanced class weights and strong regularisation).

Scoring does not go through scikit-learn's per-call machinery: the fitted vocabularies, idf weights
and coefficients are read out once and a text is scored with set lookups and one small matrix product
(the pipeline's own numbers, a test checks it), about ten times faster on a 4 kB text.
Features are binary (a text's distinct n-grams), so a repeated word costs nothing.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import pickle
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aslgate.gateway.classifier import LABELS, Label, Verdict
from aslgate.gateway.classifier_data import (
    DATASET_PATH,
    DatasetError,
    Example,
    dataset_sha256,
    load_dataset,
    split,
)

FEATURES_VERSION = 4
SEED = 15
_TOKEN_RE = re.compile(r"(?u)\b\w\w+\b")
_CHAR_NS = (4, 5)
_MAX_WORD_CHARS = 64  # character n-grams of a long blob (base64, hex) say little and cost much


def word_features(text: str) -> set[str]:
    """Distinct lower-cased word unigrams and bigrams."""
    toks = _TOKEN_RE.findall(text.lower())
    feats = set(toks)
    feats.update(f"{a} {b}" for a, b in itertools.pairwise(toks))
    return feats


def _padded_words(text: str) -> set[str]:
    return {w[:_MAX_WORD_CHARS] for w in text.lower().split()}


def _word_grams(w: str) -> set[str]:
    p = f" {w} "
    return {p[i : i + n] for n in _CHAR_NS for i in range(len(p) - n + 1)}


def char_features(text: str) -> set[str]:
    """Distinct character 4-5-grams inside each space-padded word (like scikit-learn's char_wb)."""
    feats: set[str] = set()
    for w in _padded_words(text):
        feats |= _word_grams(w)
    return feats


def build_pipeline() -> Any:
    """The untrained scikit-learn pipeline (imported lazily: scikit-learn takes ~0.5 s to import)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    words = TfidfVectorizer(analyzer=word_features, lowercase=False)
    chars = TfidfVectorizer(analyzer=char_features, lowercase=False, min_df=2)
    return Pipeline(
        [
            ("features", FeatureUnion([("words", words), ("chars", chars)])),
            ("lr", LogisticRegression(C=20.0, solver="newton-cg", max_iter=1000, class_weight="balanced")),
        ]
    )


def fit_pipeline(examples: Sequence[Example]) -> Any:
    missing = sorted(set(LABELS) - {e.label for e in examples})
    if missing:
        raise DatasetError(
            f"the train split has no example labeled {', '.join(missing)}; every label needs some"
        )
    pipe = build_pipeline()
    pipe.fit([e.text for e in examples], [e.label for e in examples])
    return pipe


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def fit_temperature(examples: Sequence[Example], folds: int = 5) -> float:
    """The temperature that makes the scores calibrated: fitted (by log loss) on out-of-fold logits of
    the training examples, since a model's logits on its own training texts are overconfident."""
    from scipy.optimize import minimize_scalar
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    labels = [e.label for e in examples]
    smallest = min(labels.count(lab) for lab in set(labels))
    if smallest < 2:
        return 1.0
    cv = StratifiedKFold(min(folds, smallest), shuffle=True, random_state=SEED)
    z = cross_val_predict(
        build_pipeline(), [e.text for e in examples], labels, cv=cv, method="decision_function"
    )
    classes = sorted(set(labels))
    y = np.array([classes.index(lab) for lab in labels])

    def nll(t: float) -> float:
        p = _softmax(z / t)
        return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())

    return round(float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x), 4)


@dataclass(frozen=True)
class _Part:
    vocab: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray  # classes by this part's features


_WORD_CACHE_MAX = 50_000  # about 10 MB of English words; emptied when full


class OfflineClassifier:
    """A fitted pipeline, scored by a fast path with the pipeline's exact arithmetic.

    The character part keeps a bounded cache from a word to the vocabulary indices of its n-grams:
    most words of a text were seen before, so a text costs about one dictionary lookup per distinct
    word."""

    def __init__(
        self, pipeline: Any, name: str = "offline-tfidf-lr", trained_on: str = "", temperature: float = 1.0
    ) -> None:
        self.pipeline = pipeline
        self.temperature = temperature
        self.name = name
        self.trained_on = trained_on
        lr = pipeline.named_steps["lr"]
        self.classes: tuple[Label, ...] = tuple(str(c) for c in lr.classes_)  # type: ignore[misc]
        if set(self.classes) - set(LABELS):
            raise ValueError(f"pipeline has labels outside {LABELS}: {self.classes}")
        transformers = dict(pipeline.named_steps["features"].transformer_list)
        if list(transformers) != ["words", "chars"]:
            raise ValueError(f"unexpected feature parts {list(transformers)}")
        coef = np.asarray(lr.coef_, dtype=np.float64)
        self.intercept = np.asarray(lr.intercept_, dtype=np.float64)
        n_words = len(transformers["words"].vocabulary_)
        self._words, self._chars = (
            _Part(dict(vec.vocabulary_), vec.idf_, coef[:, a:b])
            for vec, (a, b) in zip(
                transformers.values(), [(0, n_words), (n_words, coef.shape[1])], strict=True
            )
        )
        self._word_cache: dict[str, tuple[int, ...]] = {}

    def _char_indices(self, text: str) -> set[int]:
        cache, vocab = self._word_cache, self._chars.vocab
        out: set[int] = set()
        for w in _padded_words(text):
            ids = cache.get(w)
            if ids is None:
                ids = tuple(vocab[g] for g in _word_grams(w) if g in vocab)
                if len(cache) >= _WORD_CACHE_MAX:
                    cache.clear()
                cache[w] = ids
            out.update(ids)
        return out

    def probabilities(self, text: str) -> np.ndarray:
        """Calibrated class probabilities in `self.classes` order: the softmax of the pipeline's
        `decision_function` divided by the temperature (at temperature 1, `predict_proba`)."""
        z = self.intercept.copy()
        words = self._words
        found = word_features(text) & words.vocab.keys()
        parts = ((words, [words.vocab[g] for g in found]), (self._chars, self._char_indices(text)))
        for part, ids in parts:
            if not ids:
                continue
            idx = np.fromiter(ids, dtype=np.intp, count=len(ids))
            w = part.idf[idx]
            z += part.coef[:, idx] @ (w / np.sqrt(w @ w))
        return _softmax(z / self.temperature)

    def classify_sync(self, text: str) -> Verdict:
        p = self.probabilities(text)
        best = int(np.argmax(p))
        scores = {label: 0.0 for label in LABELS}
        scores.update({c: round(float(v), 6) for c, v in zip(self.classes, p, strict=True)})
        return Verdict(label=self.classes[best], score=scores[self.classes[best]], scores=scores)

    async def classify(self, text: str) -> Verdict:
        return self.classify_sync(text)


def cache_dir() -> Path:
    root = os.environ.get("ASLGATE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "aslgate")
    return Path(root) / "classifier"


def _config_digest() -> str:
    """A digest of the pipeline's settings, so a changed hyper-parameter never loads an old model."""
    params = build_pipeline().get_params(deep=True)
    plain = {
        k: (v.__qualname__ if callable(v) and hasattr(v, "__qualname__") else v)
        for k, v in params.items()
        if v is None
        or isinstance(v, str | int | float | bool | tuple)
        or (callable(v) and hasattr(v, "__qualname__"))
    }
    text = repr(sorted(plain.items())) + repr((_CHAR_NS, _MAX_WORD_CHARS, _TOKEN_RE.pattern, SEED))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _cache_path(sha: str) -> Path:
    import sklearn

    name = f"tfidf-lr-v{FEATURES_VERSION}-{_config_digest()}-{sha[:16]}-sklearn{sklearn.__version__}.pkl"
    return cache_dir() / name


def train_classifier(
    path: Path | str | None = None, *, use_cache: bool = True
) -> tuple[OfflineClassifier, dict[str, Any]]:
    """Train on a dataset's train split (or load the cached model for that exact file); also says how."""
    p = Path(path) if path is not None else DATASET_PATH
    examples = load_dataset(p)
    sha = dataset_sha256(p)
    cached = _cache_path(sha)
    info: dict[str, Any] = {"dataset": str(p), "sha256": sha, "cache": str(cached)}
    t0 = time.perf_counter()
    if use_cache and cached.is_file():
        try:
            with cached.open("rb") as fh:
                blob = pickle.load(fh)
            if blob.get("sha256") == sha:
                info.update(source="cache", seconds=time.perf_counter() - t0, temperature=blob["temperature"])
                return OfflineClassifier(
                    blob["pipeline"], trained_on=sha, temperature=blob["temperature"]
                ), info
        except Exception:  # a damaged or foreign cache file: retrain and overwrite it
            pass
    train = split(examples, "train")
    pipe = fit_pipeline(train)
    temperature = fit_temperature(train)
    info.update(source="trained", seconds=time.perf_counter() - t0, temperature=temperature)
    if use_cache:
        _write_atomic(cached, {"sha256": sha, "pipeline": pipe, "temperature": temperature})
    return OfflineClassifier(pipe, trained_on=sha, temperature=temperature), info


def _write_atomic(path: Path, blob: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pkl")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(blob, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only costs a retrain next time


@functools.cache
def load_default_classifier() -> OfflineClassifier:
    """The offline classifier trained on the shipped dataset (trained once per process, cached on disk)."""
    clf, _ = train_classifier()
    return clf
