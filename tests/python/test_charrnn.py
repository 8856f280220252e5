"""test_charrnn.py: the charrnn Python package against the charrnn program.

Generation and scoring must give what `charrnn sample` and `charrnn eval` give;
training must pick the sizes `charrnn train` picks, call back, save on Ctrl-C
and resume; every bad input must raise the documented exception. Run by
tests/python/run.py under `meson test` (CHARRNN_CLI names the program,
CHARRNN_TEST_MODEL the shipped model); it needs no network.
"""
import json
import math
import os
import re
import signal
import subprocess
import threading
import time

import pytest

import charrnn

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.environ.get("CHARRNN_TEST_MODEL",
                       os.path.join(HERE, "..", "..", "models", "fortunes.crnn"))
CLI = os.environ.get("CHARRNN_CLI")


def cli(*args, check=True):
    if not CLI:
        pytest.skip("CHARRNN_CLI is not set (run through meson test)")
    r = subprocess.run([CLI, *args], capture_output=True)
    if check and r.returncode != 0:
        raise AssertionError(f"charrnn {' '.join(args)}: {r.returncode}: {r.stderr.decode()}")
    return r


@pytest.fixture(scope="module")
def model():
    return charrnn.load(MODEL)


@pytest.fixture
def corpus(tmp_path):
    lines = [f"line {i}: the quick brown fox jumps over the lazy dog, {i * 7 % 13} times.\n"
             for i in range(300)]
    path = tmp_path / "corpus.txt"
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


# ------------------------------------------------------------------ generation

def test_generate_is_reproducible(model):
    a = model.generate("The ", length=120, seed=7)
    assert isinstance(a, str) and len(a) == 120
    assert model.generate("The ", length=120, seed=7) == a
    assert model.generate("The ", length=120, seed=8) != a


@pytest.mark.parametrize("temperature,extra", [(0, []), (0.8, ["--top-k", "20"]),
                                               (1.0, ["--top-p", "0.9"])])
def test_generate_matches_charrnn_sample(model, temperature, extra):
    prime = "What is "
    out = cli("sample", MODEL, "--prime", prime, "--seed", "42", "-t", str(temperature),
              "-n", "200", *extra).stdout.decode("utf-8")
    kw = {"top_k": 20} if "--top-k" in extra else {"top_p": 0.9} if "--top-p" in extra else {}
    text = model.generate(prime, length=200, temperature=temperature, seed=42, **kw)
    assert out == prime + text + "\n"


def test_n_choices_are_single_generates_with_seed_plus_i(model):
    texts = model.generate("A", length=80, seed=100, n=4)
    assert isinstance(texts, list) and len(texts) == 4
    for i, text in enumerate(texts):
        assert text == model.generate("A", length=80, seed=100 + i)
    assert len(set(texts)) > 1
    # and as `charrnn sample --count`: samples separated by a blank line
    out = cli("sample", MODEL, "--prime", "A", "--seed", "100", "-n", "80", "--count", "4")
    assert out.stdout.decode("utf-8") == "\n\n".join("A" + t for t in texts) + "\n"


def test_stream_pieces_join_to_generate(model):
    pieces = list(model.stream("Some", length=150, seed=5, temperature=0.9))
    assert len(pieces) > 1 and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces) == model.generate("Some", length=150, seed=5, temperature=0.9)


def test_stream_closed_early_frees_its_stream(model):
    it = model.stream(length=10000, seed=1)
    first = next(it)
    it.close()
    assert first and model.generate(length=5, seed=1) == model.generate(length=5, seed=1)


def test_stop_texts_end_the_text_and_are_left_out(model):
    full = model.generate("The ", length=400, seed=3, temperature=0.7)
    stop = full[100:103]
    text = model.generate("The ", length=400, seed=3, temperature=0.7, stop=stop)
    assert text == full[:full.index(stop)]
    assert stop not in text
    other = full[60:62]
    both = model.generate("The ", length=400, seed=3, temperature=0.7, stop=[stop, other])
    assert both == full[:min(full.index(stop), full.index(other))]
    out = cli("sample", MODEL, "--prime", "The ", "--seed", "3", "-t", "0.7", "-n", "400",
              "--stop", stop).stdout.decode("utf-8")
    assert out == "The " + text + stop + "\n"  # the CLI prints its stop text


def test_length_zero_and_no_prompt(model):
    assert model.generate("The", length=0, seed=1) == ""
    assert len(model.generate(length=30, seed=1)) == 30


# ------------------------------------------------------------------ evaluation

def eval_cli(path):
    r = cli("eval", "--json", MODEL, path, check=False)
    if r.returncode == 0:
        return json.loads(r.stdout)["total"]["nats_per_char"], 1e-6
    out = cli("eval", MODEL, path).stdout.decode()  # a build without JSON: 4 decimals
    return float(re.search(r"([0-9.]+) nats/char", out).group(1)), 1e-4


def test_evaluate_agrees_with_charrnn_eval(model, tmp_path):
    text = "You will be happy and successful in all you do.\n" * 20 + "Fin.\n"
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    r = model.evaluate(text)
    nats, tolerance = eval_cli(str(path))
    assert abs(r.nats_per_char - nats) < tolerance
    assert math.isclose(r.bits_per_char, r.nats_per_char / math.log(2))
    assert r.characters > 900 and r.unseen == 0 and r.unseen_chars == ""
    assert math.isclose(r.nats, r.nats_per_char * r.characters)


def test_evaluate_unseen_characters(model, tmp_path):
    text = "Hello Жизнь, hello world.\n" * 5
    r = model.evaluate(text)
    assert r.unseen == 25 and r.unseen_chars.startswith("Ж")
    path = tmp_path / "unseen.txt"
    path.write_text(text, encoding="utf-8")
    nats, tolerance = eval_cli(str(path))
    assert abs(r.nats_per_char - nats) < tolerance
    with pytest.raises(charrnn.VocabularyError, match="U\\+0416"):
        model.evaluate(text, strict=True)


def test_evaluate_bad_input(model):
    with pytest.raises(charrnn.DataError, match="too short"):
        model.evaluate("a")
    with pytest.raises(TypeError):
        model.evaluate(b"bytes are not text")
    with pytest.raises(TypeError):
        model.evaluate("text", strict="yes")


def test_trace_agrees_with_evaluate(model):
    text = "Hello Жизнь, \"hello\" (world).\n" * 8
    t = model.trace(text)
    e = model.evaluate(text)
    scored = [x for x in t.nats if not math.isnan(x)]
    assert len(t.text) == len(text) and t.characters == e.characters == len(scored)
    assert abs(sum(scored) / len(scored) - e.nats_per_char) <= 1e-9 * e.nats_per_char
    assert t.unseen == e.unseen == 40
    assert math.isnan(t.nats[0]) and math.isnan(t.nats[text.index("Ж")])
    layers, hidden = t.h.shape[1], t.h.shape[2]
    assert t.h.shape == (len(text), layers, hidden) and t.c.shape == t.h.shape
    assert t.gates.shape == (len(text), layers, 4, hidden)
    i = 2  # "l", predicted
    o, c, h = t.gates[i, 0, 3, 7], t.c[i, 0, 7], t.h[i, 0, 7]
    assert abs(h - o * math.tanh(c)) < 1e-5  # the LSTM's h = o tanh(c)
    probs = [p for _, p in t.top[i]]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    cut = model.trace(text, max_chars=20, states=False, top_k=2)
    assert cut.text == text[:20] and cut.h is None and cut.gates is None
    assert all(len(c) == 2 for c, x in zip(cut.top, cut.nats) if not math.isnan(x))
    with pytest.raises(TypeError):
        model.trace(b"bytes")
    with pytest.raises(charrnn.ArgumentError):
        model.trace(text, top_k=65)
    with pytest.raises(charrnn.ArgumentError):
        model.trace(text, max_chars=0)


# ------------------------------------------------------------------ bad input

def test_load_missing_file(tmp_path):
    missing = str(tmp_path / "missing.crnn")
    with pytest.raises(OSError, match=re.escape(missing)) as e:
        charrnn.load(missing)
    assert isinstance(e.value, charrnn.FileError) and e.value.status == "io"


def test_load_not_a_snapshot(corpus):
    with pytest.raises(charrnn.SnapshotError) as e:
        charrnn.load(corpus)
    assert isinstance(e.value, charrnn.Error) and e.value.status == "format"


def test_load_bad_types():
    with pytest.raises(TypeError):
        charrnn.load(42)
    with pytest.raises(TypeError):
        charrnn.load(MODEL, threads="4")
    with pytest.raises(ValueError):
        charrnn.load(MODEL, threads=-1)


def test_threads_are_set():
    before = charrnn.get_threads()
    try:
        charrnn.load(MODEL, threads=1)
        assert charrnn.get_threads() == 1
    finally:
        charrnn.set_threads(before)


def test_unknown_prompt_character_is_named(model):
    with pytest.raises(charrnn.VocabularyError, match="'П' \\(U\\+041F\\)") as e:
        model.generate("Привет", length=5)
    assert isinstance(e.value, ValueError) and e.value.status == "vocabulary"
    with pytest.raises(charrnn.VocabularyError):
        model.stream("Ж")  # at the call, not at the first piece
    with pytest.raises(UnicodeEncodeError):
        model.generate("\ud800")


@pytest.mark.parametrize("kwargs,error", [
    ({"prompt": 5}, TypeError),
    ({"length": "10"}, TypeError),
    ({"length": 1.5}, TypeError),
    ({"temperature": "hot"}, TypeError),
    ({"temperature": True}, TypeError),
    ({"seed": 1.5}, TypeError),
    ({"top_k": 2.0}, TypeError),
    ({"stop": 5}, TypeError),
    ({"stop": ["ok", 5]}, TypeError),
    ({"n": "2"}, TypeError),
    ({"length": -1}, ValueError),
    ({"temperature": -0.5}, ValueError),
    ({"temperature": float("nan")}, ValueError),
    ({"top_k": -1}, ValueError),
    ({"top_p": 0}, ValueError),
    ({"top_p": 1.5}, ValueError),
    ({"seed": -1}, ValueError),
    ({"seed": 2**64}, ValueError),
    ({"stop": ""}, ValueError),
    ({"stop": ["a", ""]}, ValueError),
    ({"n": 0}, ValueError),
    ({"n": 65537}, ValueError),
])
def test_generate_bad_arguments(model, kwargs, error):
    args = {"length": 5, **kwargs}
    with pytest.raises(error):
        model.generate(**args)
    if "n" not in kwargs:
        with pytest.raises(error):
            model.stream(**args)


# ------------------------------------------------------------------ training

def test_train_picks_the_cli_sizes_and_output_loads(corpus, tmp_path):
    out = str(tmp_path / "py.crnn")
    seen = []
    result = charrnn.train(corpus, out, max_iters=6, seed=3, cache_dir="",
                           on_progress=seen.append)
    assert [p.step for p in seen] == [1, 2, 3, 4, 5, 6]
    assert all(isinstance(p, charrnn.Progress) and p.loss > 0 for p in seen)
    assert seen[-1].done == pytest.approx(1.0)
    assert result.output == out and result.steps == 6
    assert result.train_loss > 0 and not math.isnan(result.val_loss)
    assert not math.isnan(result.test_loss)
    info = charrnn.load(out).info
    assert info["step"] == 6
    # the sizes `charrnn train` picks for the same corpus
    r = cli("train", corpus, "-o", str(tmp_path / "cli.crnn"), "--max-iters", "1",
            "--no-cache")
    picked = re.search(r"picked (\d+) x (\d+), embedding (\d+), batch (\d+) x (\d+)",
                       r.stderr.decode())
    assert picked, r.stderr.decode()
    c = result.config
    assert (c["layers"], c["hidden"], c["embed"], c["batch"], c["seq"]) == \
        tuple(int(x) for x in picked.groups())
    assert info["config"] == c
    text = charrnn.load(out).generate("line", length=40, seed=1)
    assert len(text) == 40


def test_train_same_as_cli(corpus, tmp_path):
    # the same options give the same snapshot step and configuration
    out = str(tmp_path / "a.crnn")
    charrnn.train(corpus, out, layers=1, hidden=32, embed=16, batch=8, seq=20, lr=0.003,
                  max_iters=4, cache_dir="", engine="own")
    cli("train", corpus, "-o", str(tmp_path / "b.crnn"), "--layers", "1", "--hidden", "32",
        "--embed", "16", "--batch", "8", "--seq", "20", "--lr", "0.003", "--max-iters", "4",
        "--no-cache", "--engine", "own", "-q")
    a = charrnn.load(out)
    b = charrnn.load(str(tmp_path / "b.crnn"))
    assert a.info["config"] == b.info["config"]
    assert a.generate(length=100, seed=9) == b.generate(length=100, seed=9)


def test_on_progress_false_stops(corpus, tmp_path):
    out = str(tmp_path / "stop.crnn")
    result = charrnn.train(corpus, out, max_iters=50, cache_dir="",
                           on_progress=lambda p: p.step < 3)
    assert result.steps == 3 and charrnn.load(out).info["step"] == 3


def test_keyboard_interrupt_from_callback_saves(corpus, tmp_path):
    out = str(tmp_path / "int.crnn")

    def interrupt(p):
        if p.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        charrnn.train(corpus, out, max_iters=50, cache_dir="", on_progress=interrupt)
    info = charrnn.load(out).info
    assert info["step"] == 3 and info["resumable"]
    result = charrnn.train(None, out, resume=out, max_iters=5, cache_dir="")
    assert result.steps == 5


def test_sigint_in_callback_saves(corpus, tmp_path):
    out = str(tmp_path / "sig.crnn")

    def interrupt(p):
        if p.step == 2:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        charrnn.train(corpus, out, max_iters=50, cache_dir="", on_progress=interrupt)
    assert charrnn.load(out).info["step"] == 2


def test_sigint_during_steps_saves(corpus, tmp_path):
    # Ctrl-C arrives while the library trains (GIL released): raised after
    # the step, with the snapshot saved.
    out = str(tmp_path / "ctrl-c.crnn")
    steps = []
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            charrnn.train(corpus, out, time=60, cache_dir="", plan=False,
                          on_progress=lambda p: steps.append(p.step))
    finally:
        timer.cancel()
    info = charrnn.load(out).info
    assert info["step"] >= 1 and info["step"] in (steps[-1], steps[-1] + 1)


def test_train_time_plans_as_the_cli(corpus, tmp_path):
    # time plans a new run: the call ends within it, the schedule ends at the
    # planned step, options given are kept; plan=False only stops
    out = str(tmp_path / "planned.crnn")
    t0 = time.monotonic()
    r = charrnn.train(corpus, out, time=4, threads=1, cache_dir="")
    elapsed = time.monotonic() - t0
    assert elapsed <= 5.0 and elapsed >= 4 * 0.7, elapsed
    assert r.plan and r.plan["seconds"] == 4 and r.plan["steps"] >= r.steps >= 1
    assert r.config["schedule"] == "cosine" and r.config["schedule_steps"] == r.plan["steps"]
    assert r.plan["command"].startswith("charrnn.train(")
    r = charrnn.train(corpus, str(tmp_path / "given.crnn"), time=3, hidden=24, dropout=0.05,
                      weight_decay=0.02, engine="own", threads=1, cache_dir="")
    assert r.config["hidden"] == 24 and r.config["dropout"] == pytest.approx(0.05)
    assert r.config["weight_decay"] == pytest.approx(0.02)
    assert not r.plan["chosen"] & (1 << 2)  # hidden was given, not chosen
    assert not r.plan["chosen"] & (1 << 12)  # nor weight decay
    assert not r.plan["chosen"] & (1 << 13) and r.plan["bf16"] is False  # nor the engine
    assert "weight_decay=0.02," in r.plan["command"]
    # the cosine holds until its last 30%, where the length is fixed (bounded
    # by max_iters 200: warm-up 10, cooldown 60); cooldown=0 keeps the decay
    # from the warm-up's end
    r = charrnn.train(corpus, str(tmp_path / "cool.crnn"), time=60, max_iters=200, hidden=16,
                      threads=1, cache_dir="")
    assert r.steps == 200 and r.config["schedule_steps"] == 200
    assert r.config["cooldown_steps"] == 60 and r.plan["chosen"] & (1 << 14)
    assert "cooldown=60," in r.plan["command"] and "max_iters=200," in r.plan["command"]
    # a hold slower than foreseen (the callback sleeps between its steps):
    # the decay starts once 70% of the time after the warm-up is gone, at a
    # step checked every 8, before step 140; the command line says where
    r = charrnn.train(corpus, str(tmp_path / "slow.crnn"), time=8, max_iters=200, hidden=16,
                      threads=1, cache_dir="",
                      on_progress=lambda p: time.sleep(0.1) if p.step > 10 else None)
    c = r.config
    fixed = c["schedule_steps"] - c["cooldown_steps"]
    assert c["cooldown_steps"] > 0 and fixed < 140 and fixed % 8 == 0, c
    assert f"cooldown={c['cooldown_steps']}," in r.plan["command"], r.plan["command"]
    r = charrnn.train(corpus, str(tmp_path / "nocool.crnn"), time=60, max_iters=200, hidden=16,
                      cooldown=0, threads=1, cache_dir="")
    assert r.config["cooldown_steps"] == 0 and not r.plan["chosen"] & (1 << 14)
    assert "cooldown" not in r.plan["command"]
    r = charrnn.train(corpus, str(tmp_path / "stop.crnn"), time=1, plan=False,
                      max_iters=10**6, hidden=16, threads=1, cache_dir="")
    assert r.plan is None and 1 <= r.steps < 10**6


def test_train_missing_corpus(tmp_path):
    missing = str(tmp_path / "nothing.txt")
    with pytest.raises(OSError, match=re.escape(missing)):
        charrnn.train(missing, str(tmp_path / "m.crnn"), max_iters=1)
    assert not os.path.exists(tmp_path / "m.crnn")


@pytest.mark.parametrize("kwargs,error", [
    ({"layers": "2"}, TypeError),
    ({"lr": "fast"}, TypeError),
    ({"reset_state": 1}, TypeError),
    ({"max_iters": 2.5}, TypeError),
    ({"on_progress": 5}, TypeError),
    ({"engine": 1}, TypeError),
    ({"layers": 0}, charrnn.ArgumentError),
    ({"batch": 0}, charrnn.ArgumentError),
    ({"lr": -1.0}, charrnn.ArgumentError),
    ({"dropout": 1.5}, charrnn.ArgumentError),
    ({"cell": "transformer"}, ValueError),
    ({"optimizer": "lbfgs"}, ValueError),
    ({"engine": "gpu"}, ValueError),
    ({"max_iters": -3}, ValueError),
    ({"epochs": -1}, ValueError),
    ({"seed": 2**64}, ValueError),
])
def test_train_bad_options(corpus, tmp_path, kwargs, error):
    with pytest.raises(error):
        charrnn.train(corpus, str(tmp_path / "bad.crnn"), cache_dir="",
                      **{"max_iters": 1, **kwargs})


def test_train_bad_calls(corpus, tmp_path):
    out = str(tmp_path / "x.crnn")
    with pytest.raises(TypeError):
        charrnn.train(5, out)
    with pytest.raises(TypeError):
        charrnn.train(corpus, out, no_such_option=1)
    with pytest.raises(ValueError):
        charrnn.train(None, out)
    with pytest.raises(ValueError, match="resumed run keeps"):
        charrnn.train(None, out, resume=out, layers=3)
