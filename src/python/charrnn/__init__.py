"""charrnn: character-level recurrent language models from Python.

A client of libcharrnn (through its C extension ``charrnn._charrnn``), like
the ``charrnn`` command line program: load a snapshot and generate, stream or
score text, or train a model. This module checks arguments, picks defaults
and runs the training loop; the computing is the library's, with the GIL
released while it works.

    >>> import charrnn
    >>> model = charrnn.load("models/fortunes.crnn")
    >>> model.generate("The ", length=80, temperature=0.8, seed=1)   # doctest: +SKIP
    >>> for piece in model.stream("Once", length=200):              # doctest: +SKIP
    ...     print(piece, end="", flush=True)
    >>> model.evaluate("some text to score").bits_per_char           # doctest: +SKIP
    >>> charrnn.train("corpus.txt", "model.crnn", max_iters=500)     # doctest: +SKIP

Errors: every failure the library reports raises a subclass of
:class:`charrnn.Error` carrying the library's message (``.status`` holds its
short name, such as ``"io"``), which also derives from the Python exception it
is most like: :class:`FileError` is an ``OSError`` (a file that cannot be read
or written, a full disk), :class:`ArgumentError`, :class:`EncodingError`,
:class:`VocabularyError` and :class:`DataError` are ``ValueError``\\ s,
:class:`OutOfMemory` is a ``MemoryError``, :class:`NumericError` an
``ArithmeticError``; :class:`SnapshotError` (not a snapshot, damaged, or from
a newer charrnn) only an ``Error``. Arguments of the wrong type raise
``TypeError``; values out of range ``ValueError`` (or ArgumentError, when the
library is the one that refuses them).

Threads: the library computes on process-wide thread pools (``threads=`` of
:func:`load` and :func:`train`, and :func:`set_threads`, set their size for
every model at once), and one thread at a time calls into it; other Python
threads run meanwhile.

What this module does not do: the ``charrnn train`` command's loss log (CSV)
and SVG curves, its progress line, MPI, and the sampling of the shipped model
without a path.
"""

from __future__ import annotations

import codecs
import math
import os
import threading
import time as _time
from typing import Callable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from . import _charrnn
from ._charrnn import (
    ArgumentError,
    DataError,
    EncodingError,
    Error,
    FileError,
    NumericError,
    OutOfMemory,
    SnapshotError,
    VocabularyError,
)

__all__ = [
    "load", "train", "Model", "Evaluation", "Trace", "Progress", "TrainResult", "set_threads",
    "get_threads", "Error", "FileError", "ArgumentError", "EncodingError", "VocabularyError",
    "DataError", "SnapshotError", "NumericError", "OutOfMemory", "__version__",
]

__version__: str = _charrnn.version

PathLike = Union[str, "os.PathLike[str]"]

_U64 = 2**64 - 1
_MAX_STREAMS = 65536


# ------------------------------------------------------------------ argument checks

def _int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high} (got {value})")
    return value


def _number(name: str, value: object, low: float, high: float, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    x = float(value)
    if not (math.isfinite(x) and (low < x if low_open else low <= x) and x <= high):
        side = "(" if low_open else "["
        raise ValueError(f"{name} must be in {side}{low}, {high}] (got {value})")
    return x


def _path(name: str, value: object) -> str:
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if isinstance(path, str):
            return path
    raise TypeError(f"{name} must be a path (str or os.PathLike), not {type(value).__name__}")


def _stops(stop: object) -> tuple:
    if stop is None:
        return ()
    texts = [stop] if isinstance(stop, str) else stop
    if not isinstance(texts, (list, tuple)):
        raise TypeError(f"stop must be a str or a list of str, not {type(stop).__name__}")
    out = []
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"stop texts must be str, not {type(text).__name__}")
        if not text or "\0" in text:
            raise ValueError("a stop text must be non-empty and hold no NUL character")
        out.append(text.encode("utf-8"))
    return tuple(out)


def set_threads(threads: int) -> None:
    """Sets the library's compute threads for the whole process (0: all cores)."""
    _charrnn.set_threads(_int("threads", threads, 0, _MAX_STREAMS))


def get_threads() -> int:
    """The library's compute threads (process-wide)."""
    return _charrnn.get_threads()


# ------------------------------------------------------------------ models

class Trace(NamedTuple):
    """What a model makes of a text, position by position (:meth:`Model.trace`);
    the arrays of ``charrnn inspect``'s report."""

    text: str
    """The characters traced (the text, cut after max_chars)."""
    nats: List[float]
    """-ln p of each character given those before it; NaN where nothing was
    predicted (the first character, and characters left out)."""
    top: List[List[Tuple[str, float]]]
    """The most likely characters at each position with their probabilities,
    most likely first (empty where nothing was predicted)."""
    h: Optional[memoryview]
    """Each layer's hidden state after each character: floats shaped
    (len(text), layers, hidden), or None without states. Index it as
    ``h[i, layer, cell]``; ``numpy.asarray(h)`` makes it an array."""
    c: Optional[memoryview]
    """The LSTM's cell state, shaped like h (None for other cells)."""
    gates: Optional[memoryview]
    """The LSTM's gate activations (input, forget, candidate, output) at each
    character: shaped (len(text), layers, 4, hidden), or None."""
    nats_per_char: float
    """The mean of nats over the predicted characters: :meth:`Model.evaluate`'s
    figure on the same (cut) text."""
    characters: int
    """Characters predicted."""
    unseen: int
    """Characters the model never saw (as U+FFFD where it has it, else left out)."""


class Evaluation(NamedTuple):
    """The score of a text (:meth:`Model.evaluate`), as ``charrnn eval`` reports it."""

    nats_per_char: float
    """Mean cross-entropy in nats per character (lower is better)."""
    bits_per_char: float
    """The same in bits: nats_per_char / ln 2."""
    nats: float
    """The summed loss: nats_per_char x characters."""
    characters: int
    """Characters predicted (a stream's first is not)."""
    unseen: int
    """Characters of the text the model never saw (scored as U+FFFD where its
    vocabulary has it, else left out)."""
    unseen_chars: str
    """The first few distinct unseen characters, in order of appearance."""


class Model:
    """A loaded snapshot (or exported model): :func:`load` makes one.

    Several threads may use one model: each call takes a generator of its
    own, and calls into the library take turns.
    """

    def __init__(self, path: PathLike) -> None:
        self.path: str = _path("path", path)
        self._lock = threading.Lock()
        first = _charrnn.Generator(self.path, 1)  # reads and checks the file now
        self._idle = [first]
        self._evaluator: Optional[_charrnn.Evaluator] = None
        self._evaluator_lock = threading.Lock()
        self.vocab_size: int = first.vocab_size
        """Characters in the model's vocabulary."""

    def __repr__(self) -> str:
        return f"<charrnn.Model {self.path!r}, {self.vocab_size} characters>"

    @property
    def info(self) -> dict:
        """What the snapshot says of itself: ``config`` (the training
        configuration), ``vocab_size``, ``parameters``, ``step``, losses,
        ``weights`` (``"f32"``, ``"f16"`` or ``"bf16"``), ..."""
        return _charrnn.snapshot_info(self.path)

    # A generator of at least n streams: an idle one, else a new one.
    def _take(self, n: int) -> "_charrnn.Generator":
        with self._lock:
            for i, g in enumerate(self._idle):
                if g.capacity >= n:
                    return self._idle.pop(i)
        return _charrnn.Generator(self.path, n)

    def _give(self, g: "_charrnn.Generator", ids: Sequence[int]) -> None:
        for i in ids:
            g.cancel(i)
        with self._lock:
            if len(self._idle) < 4:
                self._idle.append(g)

    @staticmethod
    def _request(prompt: object, length: object, temperature: object, top_k: object,
                 top_p: object, seed: object, stop: object) -> tuple:
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, not {type(prompt).__name__}")
        length = _int("length", length, 0, _U64)
        temperature = _number("temperature", temperature, 0.0, 1e30)
        top_k = 0 if top_k is None else _int("top_k", top_k, 0, 0x110000)
        top_p = 1.0 if top_p is None else _number("top_p", top_p, 0.0, 1.0, low_open=True)
        if seed is None:
            seed = int.from_bytes(os.urandom(8), "little")
        seed = _int("seed", seed, 0, _U64)
        return (prompt.encode("utf-8"), seed, temperature, top_k, top_p, length, _stops(stop))

    # Starts the streams of a request (n of them, seed + i each): the
    # library checks the request here, at the call.
    def _start(self, request: tuple, n: int) -> tuple:
        prompt, seed, temperature, top_k, top_p, length, stop = request
        g = self._take(n)
        ids: list = []
        try:
            for i in range(n):
                ids.append(g.add(prompt, (seed + i) & _U64, temperature, top_k, top_p, length,
                                 stop))
        except BaseException:
            self._give(g, ids)
            raise
        return g, ids

    # Steps the streams to their end, yielding (index, text piece) as the
    # pieces are made final. A stream left early (an exception, a closed
    # iterator) ends, and the generator goes back to the idle ones.
    def _run(self, g: "_charrnn.Generator", ids: list) -> Iterator[tuple]:
        try:
            index = {sid: i for i, sid in enumerate(ids)}
            decoders = [codecs.getincrementaldecoder("utf-8")() for _ in ids]
            while g.running:
                for sid, text, end in g.step():
                    i = index[sid]
                    piece = decoders[i].decode(text, final=bool(end))
                    if piece:
                        yield i, piece
        finally:
            self._give(g, ids)

    def generate(self, prompt: str = "", length: int = 1000, temperature: float = 1.0,
                 top_k: Optional[int] = None, top_p: Optional[float] = None,
                 seed: Optional[int] = None, stop: Union[str, Sequence[str], None] = None,
                 n: int = 1) -> Union[str, list]:
        """Generates text after ``prompt`` (which is not repeated in the result).

        ``length``: characters to generate at most. ``temperature``: 0 always
        takes the most likely character, higher is wilder. ``top_k``: draw
        among the k most likely characters only; ``top_p``: among the most
        likely ones whose probabilities reach p (None: all). ``seed``: the
        same seed gives the same text (None: a random one). ``stop``: a text
        or a list of texts; the text ends where it first contains one, which
        is left out. ``n``: with n > 1, a list of n texts made side by side
        in one batch, text i with seed ``seed + i`` (so text i is what
        ``generate(..., seed=seed + i)`` returns).

        With seed S, ``generate(p, seed=S)`` is the text ``charrnn sample
        --prime p --seed S`` prints after the prime. Raises
        :class:`VocabularyError` for a prompt character the model never saw
        (the message names it).
        """
        n = _int("n", n, 1, _MAX_STREAMS)
        request = self._request(prompt, length, temperature, top_k, top_p, seed, stop)
        parts: list = [[] for _ in range(n)]
        for i, piece in self._run(*self._start(request, n)):
            parts[i].append(piece)
        texts = ["".join(p) for p in parts]
        return texts[0] if n == 1 else texts

    def stream(self, prompt: str = "", length: int = 1000, temperature: float = 1.0,
               top_k: Optional[int] = None, top_p: Optional[float] = None,
               seed: Optional[int] = None,
               stop: Union[str, Sequence[str], None] = None) -> Iterator[str]:
        """Like :meth:`generate` (one text), yielding the text in pieces as it
        is made; the pieces join to the text generate returns. Arguments are
        checked at the call; closing the iterator early ends the stream."""
        request = self._request(prompt, length, temperature, top_k, top_p, seed, stop)
        pieces = self._run(*self._start(request, 1))
        return (piece for _, piece in pieces)

    def evaluate(self, text: str, strict: bool = False) -> Evaluation:
        """Scores ``text``: the model's cross-entropy in nats and bits per
        character (:class:`Evaluation`), read as ``charrnn eval`` reads a file
        holding the same text, and equal to its figures. Characters the model
        never saw are scored as U+FFFD where its vocabulary has it, and
        otherwise left out; both are counted (``unseen``). ``strict``: an
        unseen character is a :class:`VocabularyError` instead. A text with
        fewer than 2 characters to score is a :class:`DataError`."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        if not isinstance(strict, bool):
            raise TypeError(f"strict must be True or False, not {type(strict).__name__}")
        data = text.encode("utf-8")
        with self._evaluator_lock:
            if self._evaluator is None:
                self._evaluator = _charrnn.Evaluator(self.path)
            r = self._evaluator.text(data, strict)
        if r["characters"] == 0:
            e = DataError(f"the text is too short to score: {r['text_characters']} characters "
                          "(at least 2 the model can read)")
            e.status = "data"
            raise e
        nats = r["nats_per_char"]
        return Evaluation(nats, nats / math.log(2), r["nats"], r["characters"], r["unseen"],
                          r["unseen_examples"])


    def trace(self, text: str, max_chars: Optional[int] = None, top_k: int = 5,
              states: bool = True) -> Trace:
        """Reads ``text`` (its first ``max_chars`` characters, if given) as
        :meth:`evaluate` does and returns, per character, how surprised the
        model was, the candidates it expected and (``states``) each layer's
        states (:class:`Trace`). Its nats summed give :meth:`evaluate`'s figure
        for texts of up to 32,767 characters."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        if max_chars is not None and (not isinstance(max_chars, int) or isinstance(max_chars, bool)):
            raise TypeError(f"max_chars must be an int or None, not {type(max_chars).__name__}")
        if max_chars is not None and max_chars < 1:
            raise ArgumentError(f"max_chars must be at least 1 (got {max_chars})")
        if not isinstance(top_k, int) or isinstance(top_k, bool):
            raise TypeError(f"top_k must be an int, not {type(top_k).__name__}")
        if not isinstance(states, bool):
            raise TypeError(f"states must be True or False, not {type(states).__name__}")
        with self._evaluator_lock:
            if self._evaluator is None:
                self._evaluator = _charrnn.Evaluator(self.path)
            r = self._evaluator.trace(text.encode("utf-8"), max_chars or 0, top_k, states)
        n, layers, hidden = len(r["text"]), r["layers"], r["hidden"]

        def shaped(raw: Optional[bytes], *shape: int) -> Optional[memoryview]:
            if raw is None or n == 0:
                return None
            return memoryview(raw).cast("B").cast("f", shape)

        return Trace(r["text"], r["nats"], r["top"], shaped(r["h"], n, layers, hidden),
                     shaped(r["c"], n, layers, hidden), shaped(r["gates"], n, layers, 4, hidden),
                     r["nats_per_char"], r["characters"], r["unseen"])


def load(path: PathLike, threads: Optional[int] = None) -> Model:
    """Loads a snapshot or an exported model for generating and scoring text.

    ``threads``: the library's compute threads, for the whole process (None:
    leave as is; 0: all cores). Raises :class:`FileError` (an ``OSError``)
    naming the path if it cannot be read, :class:`SnapshotError` if it is no
    snapshot or is damaged.
    """
    if threads is not None:
        set_threads(threads)
    return Model(path)


# ------------------------------------------------------------------ training

class Progress(NamedTuple):
    """What :func:`train` hands its ``on_progress`` callback after every step."""

    step: int
    """Optimisation steps done (counted from the start of training)."""
    epoch: float
    """Passes over the training split, fractional."""
    loss: float
    """This step's training loss, nats per character."""
    smooth_loss: float
    """The training loss, exponentially smoothed."""
    val_loss: float
    """The last validation loss (NaN before the first)."""
    best_val_loss: float
    """The best validation loss so far (NaN before the first)."""
    learning_rate: float
    """The rate of the next step, after the schedule."""
    elapsed: float
    """Seconds since this run began."""
    chars_per_second: float
    """Characters trained per second in this run."""
    done: float
    """Share of the run done, by whichever limit is nearest (0 to 1)."""


class TrainResult(NamedTuple):
    """What :func:`train` returns."""

    output: str
    """The snapshot written (at every evaluation and at the end)."""
    best_output: Optional[str]
    """The snapshot of the best validation loss (NAME.best.crnn), or None."""
    steps: int
    epoch: float
    train_loss: float
    """The smoothed training loss at the end (NaN if no step ran)."""
    val_loss: float
    """Validation loss at the end, over the whole split or as much of it as
    ``charrnn train``'s final figures read (NaN: no validation split)."""
    best_val_loss: float
    test_loss: float
    """Loss over the test split, read as the validation one (NaN: no test split)."""
    seconds: float
    config: dict
    """The configuration trained (sizes picked for the corpus included)."""
    plan: Optional[dict] = None
    """How a run with ``time`` was planned (seconds, steps, epochs, the speeds
    measured, ``command``: the equivalent call), or None."""


_SIZE_OPTIONS = ("layers", "hidden", "embed", "batch", "seq", "dropout")


def _best_path(path: str) -> str:
    return path[:-5] + ".best.crnn" if len(path) > 5 and path.endswith(".crnn") \
        else path + ".best"


def train(corpus: Union[PathLike, Sequence[PathLike], None], output: PathLike = "model.crnn", *,
          cell: Optional[str] = None, layers: Optional[int] = None,
          hidden: Optional[int] = None, embed: Optional[int] = None,
          batch: Optional[int] = None, seq: Optional[int] = None, lr: Optional[float] = None,
          optimizer: Optional[str] = None, schedule: Optional[str] = None,
          lr_decay: Optional[float] = None, decay_every: Optional[float] = None,
          warmup: Optional[int] = None, cooldown: Optional[int] = None,
          weight_decay: Optional[float] = None,
          dropout: Optional[float] = None, reset_state: Optional[bool] = None,
          forget_bias: Optional[float] = None, clip: Optional[float] = None,
          seed: Optional[int] = None, val_fraction: Optional[float] = None,
          test_fraction: Optional[float] = None, lossy: Optional[bool] = None,
          normalize: Optional[str] = None, max_vocab: Optional[int] = None,
          max_iters: Optional[int] = None, epochs: Optional[float] = None,
          time: Optional[float] = None, eval_every: Optional[int] = None,
          eval_chars: Optional[int] = None, save_every: Optional[int] = None,
          patience: Optional[int] = None, threads: Optional[int] = None,
          engine: str = "auto", cache_dir: Optional[PathLike] = None,
          init_from: Optional[PathLike] = None, resume: Optional[PathLike] = None,
          on_progress: Optional[Callable[[Progress], object]] = None,
          plan: bool = True) -> TrainResult:
    """Trains a model on ``corpus`` and writes it to ``output``, as
    ``charrnn train CORPUS... -o OUTPUT`` does with the same options.

    ``corpus``: a file or directory (walked in name order, hidden entries
    skipped), or a list of them joined in order; with ``resume`` it may be
    None (the corpus the snapshot records). Options, named as ``charrnn
    train``'s (see its --help): model ``cell`` ("lstm", "gru", "rnn-tanh",
    "rnn-relu"; "rnn" is rnn-tanh), ``layers``, ``hidden``, ``embed``;
    training ``batch``, ``seq``, ``lr``, ``optimizer`` ("adam", "rmsprop",
    "sgd"), ``schedule`` ("constant", "step", "cosine"), ``lr_decay``,
    ``decay_every``, ``warmup``, ``cooldown``, ``weight_decay``, ``dropout``,
    ``reset_state``, ``forget_bias``, ``clip``, ``seed``, ``val_fraction``,
    ``test_fraction``; corpus ``lossy``, ``normalize`` ("nfc", "nfkc"),
    ``max_vocab``, ``cache_dir`` ("" keeps the token ids in memory);
    stopping and saving ``max_iters``, ``epochs`` (default 10 unless
    max_iters or time is given), ``time`` (seconds), ``eval_every`` (default
    200), ``eval_chars`` (0: whole split), ``save_every``, ``patience``;
    machine ``threads`` (process-wide), ``engine``. Unset options take the
    library's defaults; with none of layers, hidden, embed, batch, seq and
    dropout given, the sizes suit the corpus (crnn_train_config_fit, the
    rule ``charrnn train`` follows). ``init_from``: fine-tune from that
    snapshot's weights (its shape and options unless given). ``resume``:
    continue that snapshot's run exactly (only the stopping and saving
    options may be given).

    ``time`` on a new run plans it, as ``charrnn train --time`` does (unless
    ``plan`` is False, when the time only stops the run): the whole call ends
    within it, and the options not given are chosen (model, batch, seq, lr,
    a cosine schedule and its cooldown, dropout, eval_every) after measuring this machine's
    speed; ``TrainResult.plan`` says what was chosen and measured.

    ``on_progress(progress)`` is called after every step with a
    :class:`Progress`; returning False stops the run as a limit would. A
    snapshot is written at every evaluation and at the end, and the best by
    validation loss next to it as NAME.best.crnn. On Ctrl-C (or a
    KeyboardInterrupt raised by on_progress) the snapshot is saved, then the
    KeyboardInterrupt propagates; ``train(..., resume=output)`` continues.
    Returns a :class:`TrainResult`.
    """
    started = _time.monotonic()
    output = _path("output", output)
    if corpus is None:
        paths: list = []
    elif isinstance(corpus, (str, os.PathLike)):
        paths = [_path("corpus", corpus)]
    elif isinstance(corpus, (list, tuple)):
        paths = [_path("corpus", c) for c in corpus]
    else:
        raise TypeError(f"corpus must be a path or a list of paths, not {type(corpus).__name__}")
    if resume is not None:
        resume = _path("resume", resume)
    if init_from is not None:
        init_from = _path("init_from", init_from)
    if cache_dir is not None:
        cache_dir = _path("cache_dir", cache_dir)
    if not isinstance(engine, str):
        raise TypeError(f"engine must be a str, not {type(engine).__name__}")
    if on_progress is not None and not callable(on_progress):
        raise TypeError("on_progress must be callable")

    given = {k: v for k, v in {
        "cell": "rnn-tanh" if cell == "rnn" else cell, "layers": layers, "hidden": hidden,
        "embed": embed, "batch": batch, "seq": seq, "learning_rate": lr,
        "optimizer": optimizer, "schedule": schedule, "lr_decay": lr_decay,
        "decay_every": decay_every, "warmup_steps": warmup, "cooldown_steps": cooldown,
        "weight_decay": weight_decay,
        "dropout": dropout, "reset_state": reset_state, "forget_bias": forget_bias,
        "clip": clip, "seed": seed, "val_fraction": val_fraction,
        "test_fraction": test_fraction, "lossy": lossy, "normalize": normalize,
        "max_vocab": max_vocab}.items() if v is not None}
    if resume is not None:
        if given:
            raise ValueError("a resumed run keeps its model and training options; only corpus, "
                             "output and the stopping and saving options can be given with "
                             f"resume (got {', '.join(sorted(given))})")
        if init_from is not None:
            raise ValueError("init_from starts a new run from a model's weights and resume "
                             "continues a run: give one of them")
        if len(paths) > 1:
            raise ValueError("a resumed run reads the corpus its snapshot records: give one "
                             "path only if it moved")
    elif not paths:
        raise ValueError("no corpus given")

    limits = {"max_iters": (max_iters, 1), "eval_every": (eval_every, 1),
              "save_every": (save_every, 1), "patience": (patience, 1),
              "eval_chars": (eval_chars, 0)}
    for name, (value, low) in limits.items():
        if value is not None:
            _int(name, value, low, _U64)
    if epochs is not None:
        epochs = _number("epochs", epochs, 0, 1e9)
    if time is not None:
        time = _number("time", time, 0, 1e9)
    if threads is not None:
        set_threads(threads)

    config = None
    if resume is None:
        if init_from is not None:  # the model's own configuration, a fresh schedule
            config = _charrnn.snapshot_info(init_from)["config"]
            config["schedule_steps"] = 0
            config["max_vocab"] = 0
        else:
            config = _charrnn.default_config()
        config.update(given)
        planned = bool(time) and plan
        if init_from is None and not planned and not any(k in given for k in _SIZE_OPTIONS):
            try:
                size = _charrnn.corpus_bytes(paths)
            except Error:
                size = None  # the trainer reports the problem
            if size is not None:
                config, _ = _charrnn.fit_config(config, size)

    if resume is None and time and plan:
        return _planned(paths, output, config, given, init_from, engine, cache_dir, time,
                        started, {"max_iters": max_iters, "max_epochs": epochs,
                                  "eval_every": eval_every, "save_every": save_every,
                                  "patience": patience,
                                  "eval_chars": None if eval_chars is None else
                                  eval_chars or _U64}, on_progress)
    trainer = _charrnn.Trainer(paths, config, init_from=init_from, resume=resume,
                               engine=engine, cache_dir=cache_dir)
    rs = trainer.run_settings()
    if resume is None:
        rs["eval_every"] = 200
        rs["max_epochs"] = 0.0 if max_iters or (time or 0) > 0 else 10.0
    for name in ("max_iters", "eval_every", "save_every", "patience"):
        if limits[name][0]:
            rs[name] = limits[name][0]
    if epochs is not None:
        rs["max_epochs"] = epochs
    if eval_chars is not None:
        rs["eval_chars"] = eval_chars or _U64
    trainer.set_run_settings(rs)
    rs = trainer.run_settings()  # with the part validation reads chosen
    return _Run(trainer, output, rs, time or 0.0, on_progress).run()


# The library's CRNN_GIVEN_* bits of the settings a plan keeps, by config key.
_GIVEN_BITS = {"cell": 1 << 0, "layers": 1 << 1, "hidden": 1 << 2, "embed": 1 << 3,
               "batch": 1 << 4, "seq": 1 << 5, "learning_rate": 1 << 6, "schedule": 1 << 7,
               "warmup_steps": 1 << 8, "dropout": 1 << 9, "forget_bias": 1 << 10,
               "weight_decay": 1 << 12, "cooldown_steps": 1 << 14}
_GIVEN_EVAL_EVERY = 1 << 11
_SHAPE_BITS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3)


def _planned(paths: list, output: str, config: dict, given: dict, init_from: Optional[str],
             engine: str, cache_dir: Optional[str], seconds: float, started: float,
             limits: dict, on_progress: Optional[Callable[[Progress], object]]) -> TrainResult:
    """A new run planned for ``seconds`` (crnn_trainer_plan), then run."""
    bits = 0
    for key in given:
        bits |= _GIVEN_BITS.get(key, 0)
    if limits["eval_every"]:
        bits |= _GIVEN_EVAL_EVERY
    if init_from is not None:
        bits |= _SHAPE_BITS
    rs = {k: v for k, v in limits.items() if v}
    trainer = _charrnn.Trainer(paths, config, init_from=init_from, engine=engine,
                               cache_dir=cache_dir, plan_seconds=seconds,
                               plan_spent=_time.monotonic() - started, given=bits,
                               run_settings=rs, scratch=output + ".plan-probe")
    st = trainer.status()
    bf16 = trainer.plan()["bf16"] and engine == "auto"  # the plan measured bf16 faster here

    def command(rs: dict, c: dict) -> str:
        args = [f"{k}={v!r}" for k, v in (
            ("cell", c["cell"]), ("layers", c["layers"]), ("hidden", c["hidden"]),
            ("embed", c["embed"]), ("batch", c["batch"]), ("seq", c["seq"]),
            ("lr", c["learning_rate"]), ("schedule", c["schedule"]),
            ("warmup", c["warmup_steps"]), ("weight_decay", c["weight_decay"]),
            ("dropout", c["dropout"]), ("forget_bias", c["forget_bias"]))]
        if c["schedule"] == "cosine" and c["cooldown_steps"]:
            args.append(f"cooldown={c['cooldown_steps']}")
        if bf16:
            args.append("engine='onednn-bf16'")
        args += [f"max_iters={rs['max_iters']}", f"eval_every={rs['eval_every']}"]
        return f"charrnn.train({paths!r}, {output!r}, {', '.join(args)})"

    rs = trainer.run_settings()
    trainer.set_plan_command(command(rs, st["config"]))
    run = _Run(trainer, output, rs, seconds, on_progress, started)
    # The library fixes the length after the warm-up or where the cooldown
    # starts (crnn_trainer_plan); the status's plan_open says while it is open.
    run.plan_command = command if st["plan_open"] else None
    return run.run()


class _Run:
    """One training run: the loop of ``charrnn train`` (src/cli/train.c)."""

    def __init__(self, trainer: "_charrnn.Trainer", output: str, rs: dict, seconds: float,
                 on_progress: Optional[Callable[[Progress], object]],
                 started: Optional[float] = None) -> None:
        self.t = trainer
        self.plan = trainer.plan()
        self.started = started  # the time counts from here (else from the loop's start)
        self.eval_seconds = 0.0
        self.eval_read = 0
        self.plan_command: Optional[Callable[[dict, dict], str]] = None
        self.plan_open = trainer.status()["plan_open"]
        self.output = output
        self.best = _best_path(output)
        self.best_written = False
        self.rs = rs
        self.seconds = seconds
        self.on_progress = on_progress

    def save_best(self, st: dict) -> None:
        if st["best_val_step"] == st["step"]:
            self.t.save(self.best)
            self.best_written = True

    def final_bound(self, st: dict) -> int:
        """What the final figures read of each held-out split (0: all), as the CLI."""
        if self.plan and self.plan["final_chars"]:
            return self.plan["final_chars"]
        periodic = self.rs["eval_chars"]
        trained = st["step"] * st["config"]["batch"] * st["config"]["seq"] // 10
        return 0 if periodic == _U64 else max(trained, min(2 * periodic, _U64))

    def final_seconds(self, st: dict) -> float:
        """What the end of the run will take, by the speeds measured so far."""
        if self.eval_seconds > 0 and self.eval_read > 0:
            cps = self.eval_read / self.eval_seconds
        elif self.plan:
            cps = self.plan["eval_chars_per_second"]
        else:
            return 0.0
        bound = self.final_bound(st)
        chars = sum(min(bound, st[k]) if bound else st[k] for k in ("val_chars", "test_chars"))
        every = self.rs["eval_every"]
        if not (every and st["step"] % every == 0):
            chars += min(self.rs["eval_chars"], st["val_chars"])
        return chars / cps + 3 * (self.plan["save_seconds"] if self.plan else 0.0)

    def evaluate(self) -> None:
        t0 = _time.monotonic()
        self.t.evaluate()
        self.eval_seconds += _time.monotonic() - t0
        self.eval_read += self.t.status()["last_val_chars"]

    def limit_reached(self, st: dict, elapsed: float) -> bool:
        rs = self.rs
        if rs["max_iters"] and st["step"] >= rs["max_iters"]:
            return True
        if rs["max_epochs"] > 0 and st["epoch"] >= rs["max_epochs"] - 1e-9:
            return True
        if self.seconds > 0 and st["step"] > self.start_step and \
                elapsed + self.final_seconds(st) >= self.seconds:
            return True
        return bool(rs["patience"] and rs["eval_every"] and not math.isnan(st["best_val_loss"])
                    and (st["step"] - st["best_val_step"]) // rs["eval_every"] >= rs["patience"])

    def done_fraction(self, st: dict, start_step: int, elapsed: float) -> float:
        f = 0.0
        rs = self.rs
        if rs["max_iters"] > start_step:
            f = max(f, (st["step"] - start_step) / (rs["max_iters"] - start_step))
        if rs["max_epochs"] > 0:
            f = max(f, st["epoch"] / rs["max_epochs"])
        if self.seconds > 0:
            f = max(f, elapsed / self.seconds)
        return min(f, 1.0)

    def run(self) -> TrainResult:
        t, rs = self.t, self.rs
        st = t.status()
        start_step = self.start_step = st["step"]
        chars_per_step = st["config"]["batch"] * st["config"]["seq"]
        start = _time.monotonic()
        clock = self.started if self.started is not None else start
        smooth = math.nan
        saved_at_step = False
        try:
            while True:
                st = t.status()
                if self.limit_reached(st, _time.monotonic() - clock):
                    break
                loss = t.step()  # a Ctrl-C during the step raises here, after it
                smooth = loss if math.isnan(smooth) else 0.95 * smooth + 0.05 * loss
                st = t.status()
                if self.plan_command and st["plan_open"] != self.plan_open:
                    self.plan_open = st["plan_open"]  # the length moved, or was fixed
                    self.rs = rs = t.run_settings()
                    t.set_plan_command(self.plan_command(rs, st["config"]))
                    self.plan = t.plan()
                    if not self.plan_open:
                        self.plan_command = None
                if rs["eval_every"] and st["step"] % rs["eval_every"] == 0:
                    if st["val_chars"] >= 2:  # val_fraction 0: nothing to evaluate
                        self.evaluate()
                        st = t.status()
                    t.save(self.output)
                    if st["val_chars"] >= 2:
                        self.save_best(st)
                    saved_at_step = True
                elif rs["save_every"] and st["step"] % rs["save_every"] == 0:
                    t.save(self.output)
                    saved_at_step = True
                else:
                    saved_at_step = False
                if self.on_progress is not None:
                    elapsed = _time.monotonic() - start
                    rate = (st["step"] - start_step) * chars_per_step / elapsed if elapsed else 0.0
                    p = Progress(st["step"], st["epoch"], loss, smooth, st["last_val_loss"],
                                 st["best_val_loss"], st["learning_rate"], elapsed, rate,
                                 self.done_fraction(st, start_step, elapsed))
                    if self.on_progress(p) is False:
                        break
        except KeyboardInterrupt:
            t.save(self.output)  # as the CLI does on SIGINT: resume continues from here
            raise
        return self.finish(st, saved_at_step, smooth, _time.monotonic() - start)

    def finish(self, st: dict, saved_at_step: bool, smooth: float,
               seconds: float) -> TrainResult:
        t, rs = self.t, self.rs
        st = t.status()
        if not saved_at_step or (math.isnan(st["last_val_loss"]) and st["val_chars"] >= 2):
            if st["val_chars"] >= 2:
                self.evaluate()
                st = t.status()
                self.save_best(st)
            t.save(self.output)
        # The final figures, bounded as the CLI bounds them: twice what
        # periodic validation reads or a tenth of the characters trained
        # (a planned run: the plan's bound).
        periodic = rs["eval_chars"]
        bound = self.final_bound(st)
        val = test = math.nan
        if st["val_chars"] >= 2:
            if periodic >= st["val_chars"]:
                val = st["last_val_loss"]
            else:
                val, _ = t.measure("validation", bound)
        if st["test_chars"] >= 2:
            test, _ = t.measure("test", bound)
        best = self.best if self.best_written or os.path.exists(self.best) else None
        return TrainResult(self.output, best, st["step"], st["epoch"], smooth, val,
                           st["best_val_loss"], test, seconds, st["config"], self.plan)
