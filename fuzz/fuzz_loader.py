"""Coverage-guided fuzzing of the front end: bytes -> load_bytes -> check -> plan.

The property: whatever the bytes, jcnrc answers with diagnostics (each with a JCN code and a
position that resolves to line >= 1, column >= 1) or with a plan, and never raises. Any
exception is a crash. Every input is also read by the fast loader (``jcnrc/intent/fastyaml.py``, which
the pipeline uses for large files): when it returns data, that data must be exactly what the exact
loader returns.

Two engines, one target function (``exercise``):

* atheris (libFuzzer, coverage-guided), when it is installed:
      .venv/bin/python fuzz/fuzz_loader.py -max_total_time=600
  Every libFuzzer flag works (-max_len, -timeout, -jobs ...); seeds (the bundled examples) and
  a YAML dictionary are written to the work folder and passed to libFuzzer unless a corpus
  folder is given.
* a plain random loop (byte and token mutations of the same seeds), without atheris or with
  ``--plain``:
      .venv/bin/python fuzz/fuzz_loader.py --plain --seconds 600

Crashes do not stop the run (``--stop-on-crash`` makes them do so): each distinct one (by
exception type and innermost frame) is saved as ``<work>/crashes/<id>.yaml`` with its traceback
in ``<id>.txt``. ``<work>/stats.json`` is rewritten every few seconds with executions, crashes and
elapsed time, so the result survives libFuzzer's hard exit. Replay a crash with
``.venv/bin/python fuzz/fuzz_loader.py --replay FILE``. fuzz/README.md records the runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
DEFAULT_WORK = Path(os.environ.get("JCNRC_FUZZ_WORK", "/tmp/jcnrc-fuzz"))
CODE = re.compile(r"^JCN\d{3}$")
STATS_EVERY = 5.0  # seconds between two writes of stats.json
POOL_LIMIT = 2000  # plain mode: inputs kept for further mutation
SAMPLES_PER_CRASH = 20  # further inputs kept per distinct crash, as <id>-<n>.yaml

# Tokens that take the fuzzer quickly to the interesting parts of YAML and of the intent model.
DICTIONARY = [
    ": ", "- ", "---", "...", "&a ", "*a", "<<: ", "!!str ", "!!int ", "!!binary ", "!!set ", "!!omap ", "? ", "|", ">-",
    "{", "}", "[", "]", ",", "#", "'", '"', "\\u2028", "\\U0001F600", "\t", "\r\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n",
    "apiVersion", "jcnrc/v1", "kind", "Topology", "metadata", "name", "namespace", "target", "platter", "jcnr",
    "cluster", "provider", "aks", "eks", "kubeadm", "asn", "nodeSubnet", "podCidr", "serviceCidr", "underlayMtu",
    "kubeConfig", "bgp", "listenPort", "segmentRouting", "vniRange", "first", "last", "images", "nodePrep", "crpd",
    "nodes", "address", "role", "master", "worker", "isoLoopback", "ipv6Loopback", "vrfs", "routeTarget", "import",
    "export", "vni", "ipv4Pool", "ipv6Pool", "ipv4LinkPrefix", "ipv6LinkPrefix", "routeDistinguisherId", "pods",
    "node", "image", "command", "networks", "vrf", "interface", "ipv4", "ipv6", "mac", "mtu", "secrets", "mode",
    "reference", "inline", "external-secrets", "sops", "rootPassword", "crpdLicense", "env", "file", "store",
    "expect", "reach", "isolate", "10.240.0.4", "1.1.0.0/16", "abcd::1.1.0.0/112", "1.1.11.2/30", "11:11",
    "target:64512:1", "4200000000:7", "02:00:00:00:01:01", "49.0004.0102.4000.0004.00", "%eth0", "0x10", "1e3",
    "null", "~", "true", "on", "yes", "2001-01-01", ".inf", ".nan",
]


# ----------------------------------------------------------------------------- the target


class Broken(AssertionError):
    """A diagnostic that breaks the contract (no code, no position)."""


STAGES = ("refused by load", "refused by check", "refused by plan", "planned")


def exercise(data: bytes) -> str:
    """Run the front end on `data`; raise when jcnrc raises or a diagnostic breaks its contract.

    Returns how far the input got (one of STAGES), to show how deep a campaign reached.
    """
    from jcnrc.diagnostics import locate
    from jcnrc.intent.check import check
    from jcnrc.intent.load import load_bytes
    from jcnrc.plan.planner import plan

    loaded = load_bytes(data, "fuzz.yaml")
    _verify(loaded.diagnostics, loaded.source, locate)
    _compare_fast_loader(data, loaded)
    if not loaded.ok:
        if not any(d.is_error for d in loaded.diagnostics):
            raise Broken("the loader refused the input without an error")
        return STAGES[0]
    checked = check(loaded.data)
    _verify(checked.diagnostics, loaded.source, locate)
    if not checked.ok:
        if not any(d.is_error for d in checked.diagnostics):
            raise Broken("the checker refused the input without an error")
        return STAGES[1]
    planned = plan(checked.topology)
    _verify(planned.diagnostics, loaded.source, locate)
    return STAGES[3] if planned.plan is not None else STAGES[2]


def exercise_loaders(data: bytes) -> str:
    """Only the two loaders, compared (``--loaders``): many more inputs per second than `exercise`."""
    from jcnrc.diagnostics import locate
    from jcnrc.intent.load import load_bytes

    loaded = load_bytes(data, "fuzz.yaml")
    _verify(loaded.diagnostics, loaded.source, locate)
    _compare_fast_loader(data, loaded)
    return STAGES[0] if not loaded.ok else STAGES[3]


# Codes of checks that run before any YAML parser: the fast loader never sees such input.
_PRE_PARSE_CODES = {"JCN003", "JCN004", "JCN005", "JCN008", "JCN009"}


def _compare_fast_loader(data: bytes, loaded) -> None:
    """The fast loader (jcnrc/intent/fastyaml.py) may decline, but what it returns must be what the exact
    loader returns. The pipeline uses it only for files of 64 KiB and more; here it reads every input."""
    try:
        from jcnrc.intent import fastyaml
    except ImportError:
        return
    if any(d.code in _PRE_PARSE_CODES for d in loaded.diagnostics):
        return
    fast = fastyaml.parse(data.decode("utf-8").removeprefix("\ufeff"), 64)
    if fast is None:
        return
    if not loaded.ok:
        codes = sorted({d.code for d in loaded.diagnostics})
        raise Broken(f"the fast loader accepted input that the exact loader refuses with {codes}")
    if fast != loaded.data:
        raise Broken("the fast loader read the input differently from the exact loader")


def _verify(diagnostics, source, locate) -> None:
    for item in locate(diagnostics, source):
        if not CODE.match(item.diagnostic.code):
            raise Broken(f"diagnostic without a JCN code: {item.diagnostic}")
        if item.line < 1 or item.column < 1:
            raise Broken(f"diagnostic without a position: {item}")


# ----------------------------------------------------------------------------- crash bookkeeping


class Recorder:
    """Counts executions and keeps one input per distinct crash."""

    def __init__(self, work: Path, engine: str, stop_on_crash: bool, target=None) -> None:
        self.target = target or exercise
        self.work = work
        self.crashes_dir = work / "crashes"
        self.crashes_dir.mkdir(parents=True, exist_ok=True)
        self.engine = engine
        self.stop_on_crash = stop_on_crash
        self.started = time.monotonic()
        self.executions = 0
        self.crash_count = 0
        self.signatures: dict[str, str] = {}
        self.samples: dict[str, int] = {}
        self.slowest = (0.0, "")
        self.last_write = 0.0
        self.reached = dict.fromkeys(STAGES, 0)

    def run(self, data: bytes) -> None:
        self.executions += 1
        start = time.perf_counter()
        try:
            self.reached[self.target(data)] += 1
        except Exception as exc:  # the fuzzing target: every exception is a finding
            self._crash(data, exc)
            if self.stop_on_crash:
                self.write_stats()
                raise
        elapsed = time.perf_counter() - start
        if elapsed > self.slowest[0]:
            self.slowest = (elapsed, self._save("slowest", data))
        if time.monotonic() - self.last_write > STATS_EVERY:
            self.write_stats()

    def _crash(self, data: bytes, exc: Exception) -> None:
        self.crash_count += 1
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        signature = f"{type(exc).__name__} at {where}"
        name = hashlib.sha1(signature.encode()).hexdigest()[:12]
        if signature in self.signatures:
            # One signature can hide several causes (every fast-loader disagreement is one line of
            # this file): keep a few more inputs, smallest first, to look at.
            seen = self.samples.get(signature, 0)
            if seen < SAMPLES_PER_CRASH and len(data) <= 4096:
                self.samples[signature] = seen + 1
                self._save(f"{name}-{seen + 1}", data)
            return
        self.signatures[signature] = self._save(name, data)
        (self.crashes_dir / f"{name}.txt").write_text(
            f"{signature}\n\n{''.join(traceback.format_exception(exc))}", encoding="utf-8")
        print(f"\n[jcnrc-fuzz] new crash: {signature} -> {self.crashes_dir / name}.yaml", file=sys.stderr, flush=True)

    def _save(self, name: str, data: bytes) -> str:
        path = self.crashes_dir / f"{name}.yaml" if name != "slowest" else self.work / "slowest.yaml"
        path.write_bytes(data)
        return str(path)

    def write_stats(self) -> None:
        self.last_write = time.monotonic()
        stats = {
            "engine": self.engine,
            "seconds": round(time.monotonic() - self.started, 1),
            "executions": self.executions,
            "crashing_inputs": self.crash_count,
            "distinct_crashes": self.signatures,
            "inputs_by_stage_reached": self.reached,
            "slowest_input_seconds": round(self.slowest[0], 3),
            "slowest_input": self.slowest[1],
        }
        (self.work / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------- seeds


def seeds() -> list[bytes]:
    """The bundled examples, plus small shapes the examples lack (anchors, flow style, a merge key)."""
    found = [path.read_bytes() for path in EXAMPLES]
    found += [
        b"apiVersion: jcnrc/v1\nkind: Topology\nmetadata: {name: a}\n",
        b"base: &b {role: worker}\nnodes:\n  - <<: *b\n    name: n1\n    address: 10.240.0.5\n",
        b'vrfs: [{name: blue, routeTarget: {import: ["1:1"], export: ["1:2"]}, vni: 7}]\n',
    ]
    return found


def write_corpus(work: Path) -> tuple[Path, Path]:
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for data in seeds():
        (corpus / hashlib.sha1(data).hexdigest()).write_bytes(data)
    dictionary = work / "yaml.dict"
    dictionary.write_text("".join(f"{_dictionary_entry(token)}\n" for token in DICTIONARY), encoding="ascii")
    return corpus, dictionary


def _dictionary_entry(token: str) -> str:
    """A libFuzzer dictionary line: printable ASCII as is, every other byte as \\xNN."""
    escaped = "".join(chr(byte) if 0x20 <= byte < 0x7F and chr(byte) not in '\\"' else f"\\x{byte:02X}"
                      for byte in token.encode("utf-8"))
    return f'"{escaped}"'


# ----------------------------------------------------------------------------- engines


def run_atheris(argv: list[str], work: Path, stop_on_crash: bool) -> None:
    import atheris

    with atheris.instrument_imports(include=["jcnrc", "ruamel"]):
        # Imported only to be instrumented for coverage (one binding, `jcnrc`, for the three).
        import jcnrc.intent.check
        import jcnrc.intent.load
        import jcnrc.plan.planner  # noqa: F401  (imported for its instrumentation, see above)
    recorder = Recorder(work, "atheris", stop_on_crash)
    corpus, dictionary = write_corpus(work)
    flags = [a for a in argv if a.startswith("-")]
    folders = [a for a in argv if not a.startswith("-")] or [str(corpus)]
    defaults = {"-dict": str(dictionary), "-max_len": "65536", "-timeout": "20", "-rss_limit_mb": "3072"}
    for flag, value in defaults.items():
        if not any(a.startswith(flag + "=") for a in flags):
            flags.append(f"{flag}={value}")
    atheris.Setup([sys.argv[0], *flags, *folders], recorder.run)
    try:
        atheris.Fuzz()
    finally:
        recorder.write_stats()


def run_plain(seconds: float, work: Path, stop_on_crash: bool, seed: int, loaders: bool = False) -> Recorder:
    engine = f"plain (seed {seed}{', loaders only' if loaders else ''})"
    recorder = Recorder(work, engine, stop_on_crash, exercise_loaders if loaders else exercise)
    rng = random.Random(seed)
    pool = seeds()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # Loaders only: half the inputs are small YAML-like texts built from syntax tokens, where
        # the two parsers' corner cases are closer than in a mutated intent.
        data = yamlish(rng) if loaders and rng.random() < 0.5 else mutate(rng.choice(pool), rng, pool)
        before = dict(recorder.reached)
        recorder.run(data)
        # Stage feedback instead of coverage: keep mutants that got past the loader, so that
        # mutations of mutations explore the checker and the planner, not only YAML errors.
        got_deep = any(recorder.reached[stage] > before[stage] for stage in STAGES[1:])
        if got_deep and len(data) < 65536 and rng.random() < 0.2:
            pool.append(data)
            if len(pool) > POOL_LIMIT:
                del pool[len(EXAMPLES) + rng.randrange(len(pool) - len(EXAMPLES))]
    recorder.write_stats()
    return recorder


def mutate(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """A few edits (mostly one). Most keep the text valid UTF-8 YAML-ish, so that inputs get past
    the loader and reach the checker; raw byte edits are rare (the loader refuses those early)."""
    buffer = bytearray(data)
    operations = (_insert_token, _replace_value, _delete_span, _duplicate_line, _splice, _indent, _flip_bit, _random_bytes)
    weights = (30, 15, 15, 10, 15, 10, 3, 2)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 5))):
        buffer = rng.choices(operations, weights)[0](buffer, rng, pool)
    return bytes(buffer)


def _insert_token(buffer: bytearray, rng: random.Random, pool: list[bytes]) -> bytearray:
    position = rng.randint(0, len(buffer))
    buffer[position:position] = rng.choice(DICTIONARY).encode("utf-8")
    return buffer


def _replace_value(buffer: bytearray, rng: random.Random, pool: list[bytes]) -> bytearray:
    """The text after one `: ` up to the end of its line becomes a dictionary token."""
    starts = [m.end() for m in re.finditer(rb": ", buffer)]
    if not starts:
        return buffer
    start = rng.choice(starts)
    end = buffer.find(b"\n", start)
    end = len(buffer) if end < 0 else end
    buffer[start:end] = rng.choice(DICTIONARY).encode("utf-8")
    return buffer


def _delete_span(buffer: bytearray, rng: random.Random, pool: list[bytes]) -> bytearray:
    position = rng.randint(0, len(buffer))
    del buffer[position : position + rng.randint(1, 16)]
    return buffer


def _duplicate_line(buffer: bytearray, rng: random.Random, pool: list[bytes]) -> bytearray:
    lines = bytes(buffer).split(b"\n")
    line = rng.randrange(len(lines))
    lines.insert(line, lines[line])
    return bytearray(b"\n".join(lines))


def _splice(buffer: bytearray, rng: random.Random, pool: list[bytes]) -> bytearray:
    other = rng.choice(pool)
    start = rng.randint(0, len(other))
    position = rng.randint(0, len(buffer))
    buffer[position:position] = other[start : start + rng.randint(1, 200)]
    return buffer


def _indent(buffer: bytearray, rng: random.Random, pool: list[bytes]) -> bytearray:
    lines = bytes(buffer).split(b"\n")
    line = rng.randrange(len(lines))
    lines[line] = b" " * rng.choice([0, 1, 2, 3, 4, 8]) + lines[line].lstrip(b" ")
    return bytearray(b"\n".join(lines))


def _flip_bit(buffer: bytearray, rng: random.Random, pool: list[bytes]) -> bytearray:
    if buffer:
        buffer[rng.randrange(len(buffer))] ^= 1 << rng.randrange(8)
    return buffer


def _random_bytes(buffer: bytearray, rng: random.Random, pool: list[bytes]) -> bytearray:
    position = rng.randint(0, len(buffer))
    buffer[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    return buffer


# Pieces of YAML for `yamlish`: scalars of every resolver type, indicators, odd whitespace.
_SCALARS = ["a", "b", "name", "x y", "1", "-1", "0x1F", "0o7", "1.5", ".inf", "~", "null", "true", "yes", "on",
            "11:11", "a:b", "-a", "?a", "'q'", '"q"', "'a''b'", '"a\\tb"', "''", '""', "2001-01-01", "@x", "`x",
            "%x", "a#b", "a #b", "<<", "=", "!t", "!!str", "&a", "*a", "&a x", "*a ", "|", ">", "|-\n  t", ">\n  t\n  u"]
_SYNTAX = [": ", ":", " :", "- ", "-", "? ", "?", ", ", ",", "[", "]", "{", "}", "[]", "{}", " ", "  ", "\n", "\n  ",
           "\n- ", "\n  - ", "#c", " #c", "\t", "\r\n", "\r", "\x85", "\u2028", "---\n", "...\n", "\ufeff"]


def yamlish(rng: random.Random) -> bytes:
    """A short text made of YAML scalars and syntax, mostly shaped like a mapping."""
    parts = [rng.choice(("", "k: ", "k:\n  ", "- ", "{", "["))]
    for _ in range(rng.randint(1, 14)):
        parts.append(rng.choice(_SCALARS) if rng.random() < 0.5 else rng.choice(_SYNTAX))
    if rng.random() < 0.7:
        parts.append("\n")
    return "".join(parts).encode("utf-8")


def replay(path: Path) -> int:
    """Run one saved input and show what happens (a crash raises with its traceback)."""
    exercise(path.read_bytes())
    print(f"{path}: no crash")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=True)
    parser.add_argument("--plain", action="store_true", help="random loop without atheris")
    parser.add_argument("--seconds", type=float, default=600.0, help="plain mode: how long to run")
    parser.add_argument("--seed", type=int, default=0, help="plain mode: random seed")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="corpus, crashes and stats.json go here")
    parser.add_argument("--stop-on-crash", action="store_true", help="stop at the first crash")
    parser.add_argument("--loaders", action="store_true",
                        help="plain mode: compare the fast and the exact loader only, also on generated YAML-like text")
    parser.add_argument("--replay", type=Path, help="run one saved input and exit")
    options, rest = parser.parse_known_args(argv)
    if options.replay:
        return replay(options.replay)
    options.work.mkdir(parents=True, exist_ok=True)
    try:
        import atheris  # noqa: F401
    except ImportError:
        if not options.plain:
            print("atheris is not installed; running the plain random loop", file=sys.stderr)
        options.plain = True
    if options.plain:
        recorder = run_plain(options.seconds, options.work, options.stop_on_crash, options.seed, options.loaders)
        print(json.dumps({"executions": recorder.executions, "crashing_inputs": recorder.crash_count,
                          "distinct_crashes": recorder.signatures, "inputs_by_stage_reached": recorder.reached},
                         indent=2))
        return 1 if recorder.crash_count else 0
    run_atheris(rest, options.work, options.stop_on_crash)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
