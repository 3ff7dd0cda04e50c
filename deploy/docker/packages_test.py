#!/usr/bin/python3
"""Keeps deploy/docker's Dockerfiles in step with scripts/install-deps.sh (stdlib only; ctest -L deploy).

  /usr/bin/python3 deploy/docker/packages_test.py --root .

Reads install-deps.sh's `packages=( ... )` array at run time and every `apt-get install` of both Dockerfiles,
then checks:
  * the CPU build stage installs exactly install-deps.sh's list less TEST_ONLY; the CUDA build stage the same
    less CUDA_REPLACED, plus CUDA_ADDED. Every name in those tables must really be in install-deps.sh (or, for
    CUDA_ADDED, in the Dockerfile), and every package install-deps.sh adds conditionally must be in TEST_ONLY;
  * every -dev package of a build stage is paired, by a `# dev: NAME -> RUNTIME...` (or `-> none: why`) comment
    in the final stage, with runtime packages that the final stage installs and (apt-cache) that NAME depends
    on; every final-stage package is such a counterpart, a non-dev package of the build list, or has an
    `# extra: NAME: why` comment;
  * every final-stage package exists in Debian bookworm (apt-cache show; names from NVIDIA's CUDA repository
    are not in Debian's lists and are skipped, and no Ubuntu names are used);
  * both Dockerfiles are multi-stage, end as a non-root USER with /opt/tutti/bin on PATH, configure Release
    without tests, and use only TUTTI_* CMake options the repository defines;
  * the CUDA versions (CUDA, NCCL, LibTorch) agree.
Then it runs the same checks on small broken in-memory Dockerfiles and asserts each break is reported.
One line per check; exit status 1 with file:line and package on any failure.
"""

import argparse
import io
import os
import re
import shlex
import shutil
import subprocess
import sys

# Packages scripts/install-deps.sh installs only for tests, benchmarks or the web page's browser test: neither
# image builds tests (TUTTI_BUILD_TESTS=OFF) or runs them. Each must be in install-deps.sh (checked).
TEST_ONLY = {
    "libgtest-dev": "GoogleTest suites; the images configure with TUTTI_BUILD_TESTS=OFF",
    "libgmock-dev": "GoogleTest suites; the images configure with TUTTI_BUILD_TESTS=OFF",
    "python3-numpy": "Python fixture generators and independent checks in tests",
    "python3-mido": "tests read our MIDI files back with it",
    "python3-yaml": "only Python test scripts read YAML with it; the binaries use yaml-cpp",
    "python3-torch": "--with-bench only: the Python reference the benchmarks compare against",
    "chromium": "the web page's browser test (tests/web)",
    "nodejs": "runs playwright-core for tests/web (added only when node is missing)",
    "npm": "installs playwright-core for tests/web (added only when node is missing)",
    "slurm-wlm": "the deploy/slurm test's own single-node cluster",
    "munge": "Slurm's authentication, for the deploy/slurm test",
    "openttd-openmsx": "real Standard MIDI Files the accompaniment tests and bench read",
}

# In the CUDA build stage, install-deps.sh packages replaced by the LibTorch zip (checked to be in its list).
CUDA_REPLACED = {
    "libtorch-dev": "Debian's LibTorch is CPU-only; the CUDA LibTorch zip from download.pytorch.org replaces it",
    "libopenblas0-openmp": "BLAS for Debian's LibTorch only; the LibTorch zip links its own",
}

# Packages only the CUDA build stage installs (regex over names after ARG expansion; each must match one).
CUDA_ADDED = {
    r"ca-certificates": "NVIDIA's apt repository is https",
    r"unzip": "unpacks the LibTorch zip",
    r"cuda-minimal-build-\d+-\d+": "nvcc and CUDA headers: LibTorch's CMake config enables the CUDA language",
    r"cuda-libraries-dev-\d+-\d+": "cuBLAS, cuFFT, cuRAND, NVRTC ... that LibTorch's CMake config looks for",
    r"cuda-nvtx-\d+-\d+": "NVTX, which LibTorch's CMake config looks for",
    r"libnccl2": "NCCL runtime (TUTTI_WITH_NCCL=ON)",
    r"libnccl-dev": "nccl.h and libnccl.so for the NCCL backend (TUTTI_WITH_NCCL=ON)",
}

# Names from NVIDIA's CUDA repository for debian12: Debian's apt-cache does not know them, so their existence
# and dependencies are not checked here (only the image build can).
NVIDIA_REPO_NAME = re.compile(r"^(cuda-|libnccl|libcudnn|libcublas|libcufft|libcurand|libcusparse|libcusolver|"
                              r"libnpp|libnvjpeg|libnvjitlink)")

DEV_NAME = re.compile(r"-dev(-\d+-\d+)?$")  # libfoo-dev, cuda-libraries-dev-12-4
DEPENDS_DEPTH = 2  # a runtime counterpart must be within this many Depends of its -dev package


class Problem(Exception):
    pass


# ---------------------------------------------------------------------------------------------- install-deps.sh

def _strip_bash_comment(line):
    # A `#` starts a comment at the start of a word (not inside one, e.g. "${#packages[@]}").
    out, prev = [], " "
    for ch in line:
        if ch == "#" and prev in " \t(":
            break
        out.append(ch)
        prev = ch
    return "".join(out)


def parse_install_deps(text, path="scripts/install-deps.sh"):
    """Returns (base, conditional): lists of (name, line) from `packages=( ... )` and every `packages+=( ... )`."""
    lines = text.splitlines()
    base, conditional, found_base = [], [], False
    i = 0
    while i < len(lines):
        code = _strip_bash_comment(lines[i])
        m = re.search(r"(?<![\w$])packages(\+?)=\(", code)
        if not m:
            i += 1
            continue
        is_add = m.group(1) == "+"
        rest, lineno, words = code[m.end():], i + 1, []
        while True:
            close = rest.find(")")
            chunk = rest if close < 0 else rest[:close]
            words += [(w, lineno) for w in chunk.split()]
            if close >= 0:
                break
            i += 1
            if i >= len(lines):
                raise Problem(f"{path}:{lineno}: unterminated packages=( array")
            lineno, rest = i + 1, _strip_bash_comment(lines[i])
        for w, ln in words:
            if not re.fullmatch(r"[a-z0-9][a-z0-9+.-]*", w):
                raise Problem(f"{path}:{ln}: '{w}' in the packages array is not a plain package name")
        if is_add:
            conditional += words
        elif found_base:
            raise Problem(f"{path}:{lineno}: a second packages=( array")
        else:
            base, found_base = words, True
        i += 1
    if not found_base:
        raise Problem(f"{path}: no packages=( ... ) array")
    return base, conditional


# ------------------------------------------------------------------------------------------------- Dockerfiles

class Instruction:
    def __init__(self, keyword, args, line, end_line, raw_lines):
        self.keyword, self.args, self.line, self.end_line, self.raw_lines = keyword, args, line, end_line, raw_lines


class Stage:
    def __init__(self, index, name, line):
        self.index, self.name, self.line = index, name, line
        self.instructions, self.comments, self.args = [], [], {}
        self.packages = []  # (name, line, raw token)


def logical_lines(text):
    """Yields ('comment', line, text) and ('instr', Instruction); joins `\\` continuations the way Docker does
    (comment lines inside a continuation are dropped)."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if not s:
            i += 1
            continue
        if s.startswith("#"):
            yield ("comment", i + 1, s[1:].strip())
            i += 1
            continue
        start, parts, raw = i + 1, [], []
        while True:
            cur = lines[i]
            raw.append((i + 1, cur))
            stripped = cur.rstrip()
            if stripped.endswith("\\"):
                parts.append(stripped[:-1])
                i += 1
                while i < len(lines) and lines[i].strip().startswith("#"):
                    i += 1
                if i >= len(lines):
                    break
                continue
            parts.append(stripped)
            break
        joined = " ".join(p.strip() for p in parts).strip()
        keyword, _, args = joined.partition(" ")
        yield ("instr", Instruction(keyword.upper(), args.strip(), start, i + 1, raw))
        i += 1


def expand(value, args, where):
    def sub(m):
        name = m.group(1) or m.group(3)
        default = m.group(2)
        if name in args and args[name] is not None:
            return args[name]
        if default is not None:
            return default
        raise Problem(f"{where}: ${{{name}}} is not an ARG with a value")
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)", sub, value)


_APT_OPTS_WITH_VALUE = {"-o", "--option", "-t", "--target-release", "-c", "--config-file"}


def apt_installs(command):
    """Package tokens of every `apt-get install` / `apt install` in a shell command."""
    lex = shlex.shlex(command, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    segments, cur = [], []
    for tok in lex:
        if tok in ("&&", "||", ";", "|", "&", "(", ")"):
            segments.append(cur)
            cur = []
        else:
            cur.append(tok)
    segments.append(cur)
    out = []
    for seg in segments:
        for k, tok in enumerate(seg):
            if tok in ("apt-get", "apt") or tok.endswith("/apt-get"):
                rest = seg[k + 1:]
                j = 0
                while j < len(rest) and rest[j].startswith("-"):
                    j += 2 if rest[j] in _APT_OPTS_WITH_VALUE else 1
                if j < len(rest) and rest[j] == "install":
                    j += 1
                    while j < len(rest):
                        t = rest[j]
                        if t.startswith("-"):
                            j += 2 if t in _APT_OPTS_WITH_VALUE else 1
                            continue
                        out.append(t)
                        j += 1
                break
    return out


def package_name(token):
    return re.split(r"[=:/]", token, maxsplit=1)[0]


def parse_dockerfile(text, path):
    global_args, stages = {}, []
    for kind, *rest in logical_lines(text):
        if kind == "comment":
            line, body = rest
            if stages:
                stages[-1].comments.append((line, body))
            continue
        ins = rest[0]
        where = f"{path}:{ins.line}"
        if ins.keyword == "FROM":
            words = ins.args.split()
            name = words[words.index("AS") + 1] if "AS" in words else (
                words[words.index("as") + 1] if "as" in words else None)
            stages.append(Stage(len(stages), name, ins.line))
            continue
        if ins.keyword == "ARG":
            name, eq, default = ins.args.partition("=")
            name = name.strip()
            scope = stages[-1].args if stages else global_args
            if eq:
                scope[name] = expand(default.strip().strip('"'), {**global_args, **scope}, where)
            else:
                scope[name] = global_args.get(name) if stages else None
            continue
        if not stages:
            continue
        stage = stages[-1]
        stage.instructions.append(ins)
        if ins.keyword == "RUN":
            cmd = re.sub(r"^(--\S+\s+)+", "", ins.args)  # --mount=... flags
            for tok in apt_installs(cmd):
                name = package_name(expand(tok, stage.args, where))
                line = ins.line
                for ln, raw in ins.raw_lines:
                    if re.search(r"(^|\s)" + re.escape(tok) + r"(\s|\\|$)", raw):
                        line = ln
                        break
                stage.packages.append((name, line, tok))
    return global_args, stages


def parse_annotations(stage, path):
    """`# dev: NAME -> A B [: why]` / `# dev: NAME -> none: why` and `# extra: NAME: why` in a stage."""
    dev, extra, problems = {}, {}, []
    for line, body in stage.comments:
        where = f"{path}:{line}"
        m = re.match(r"dev:\s*(\S+)\s*->\s*(.*)$", body)
        if m:
            try:
                name = expand(m.group(1), stage.args, where)
                targets, _, why = expand(m.group(2), stage.args, where).partition(":")
            except Problem as e:
                problems.append(str(e))
                continue
            names = targets.split()
            if names == ["none"]:
                names = []
                if not why.strip():
                    problems.append(f"{where}: '{name} -> none' needs a reason ('-> none: why')")
            elif not names or "none" in names:
                problems.append(f"{where}: '{body}': expected '-> PKG...' or '-> none: why'")
            if name in dev:
                problems.append(f"{where}: {name} is paired twice")
            dev[name] = (names, line)
            continue
        m = re.match(r"extra:\s*(\S+?):\s*(.*)$", body)
        if m:
            name = expand(m.group(1), stage.args, where)
            if not m.group(2).strip():
                problems.append(f"{where}: extra '{name}' needs a reason")
            extra[name] = line
    return dev, extra, problems


# ------------------------------------------------------------------------------------------------------ apt-cache

class Apt:
    """Debian's package lists through apt-cache; `available` is False where there are none."""

    def __init__(self):
        self.available = False
        self._deps = {}
        if shutil.which("apt-cache"):
            r = subprocess.run(["apt-cache", "show", "--no-all-versions", "libc6"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.available = r.returncode == 0 and "Package: libc6" in r.stdout

    def existing(self, names):
        if not names:
            return set()
        r = subprocess.run(["apt-cache", "show", "--no-all-versions", *sorted(names)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return {m.group(1) for m in re.finditer(r"^Package: (\S+)$", r.stdout, re.M)}

    def depends(self, names):
        todo = sorted(set(names) - set(self._deps))
        if todo:
            r = subprocess.run(["apt-cache", "depends", "--no-recommends", "--no-suggests", "--no-conflicts",
                                "--no-breaks", "--no-replaces", "--no-enhances", *todo],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            cur = None
            for line in r.stdout.splitlines():
                if line and not line[0].isspace():
                    cur = line.strip()
                    self._deps.setdefault(cur, set())
                elif cur is not None:
                    m = re.match(r"\s*\|?(?:Pre)?Depends:\s*<?([^>\s]+)>?", line)
                    if m:
                        self._deps[cur].add(m.group(1))
                    elif line.startswith("    "):  # a provider of a virtual dependency
                        self._deps[cur].add(line.strip())
            for n in todo:
                self._deps.setdefault(n, set())
        return {n: self._deps[n] for n in names}

    def closures(self, names, depth):
        """{name: every package within `depth` Depends of it}; one apt-cache call per level for all names."""
        frontier = set(names)
        for _ in range(depth):
            level = self.depends(sorted(frontier))
            frontier = set().union(*level.values()) - set(self._deps) if level else set()
        out = {}
        for n in names:
            seen, cur = set(), {n}
            for _ in range(depth):
                cur = set().union(*(self._deps.get(c, set()) for c in cur)) - seen
                seen |= cur
            out[n] = seen
        return out


# --------------------------------------------------------------------------------------------------------- checks

class Report:
    def __init__(self, out=sys.stdout):
        self.out, self.failed, self.count = out, 0, 0

    def check(self, label, problems, note=""):
        self.count += 1
        if problems:
            self.failed += 1
            print(f"FAIL {label}", file=self.out)
            for p in problems:
                print(f"     {p}", file=self.out)
        else:
            print(f"ok   {label}{(' (' + note + ')') if note else ''}", file=self.out)


def expected_build(base, flavour):
    drop = set(TEST_ONLY) | (set(CUDA_REPLACED) if flavour == "cuda" else set())
    return [(n, ln) for n, ln in base if n not in drop]


def check_dockerfile(report, path, text, flavour, base, cmake_options, apt, deps_path="scripts/install-deps.sh"):
    """All checks of one Dockerfile; flavour 'cpu' or 'cuda'."""
    label = os.path.basename(path)
    try:
        global_args, stages = parse_dockerfile(text, path)
    except Problem as e:
        report.check(f"{label}: parses", [str(e)])
        return
    # --- structure
    problems = []
    if len(stages) < 2:
        problems.append(f"{path}: {len(stages)} FROM line(s); a multi-stage build needs at least 2")
    report.check(f"{label}: multi-stage ({len(stages)} FROM)", problems)
    if not stages:
        return
    final, builds = stages[-1], stages[:-1]
    users = [i for i in final.instructions if i.keyword == "USER"]
    problems = []
    if not users:
        problems.append(f"{path}:{final.line}: the final stage has no USER, so it runs as root")
    else:
        user = users[-1].args.split(":")[0].strip()
        if user in ("root", "0", ""):
            problems.append(f"{path}:{users[-1].line}: the final stage's USER is root ('{users[-1].args}')")
    report.check(f"{label}: final stage runs as a non-root USER", problems,
                 users[-1].args if users and not problems else "")
    problems = []
    envs = [i for i in final.instructions if i.keyword == "ENV"]
    if not any(re.search(r"\bPATH=(\S*:)?/opt/tutti/bin/?(:|\s|$)", e.args) for e in envs):
        problems.append(f"{path}:{final.line}: no ENV PATH=/opt/tutti/bin:... in the final stage")
    if not any(i.keyword == "COPY" and "--from=" in i.args and "/opt/tutti" in i.args for i in final.instructions):
        problems.append(f"{path}:{final.line}: the final stage copies no /opt/tutti from a build stage")
    report.check(f"{label}: /opt/tutti/bin copied and on PATH", problems)
    # --- CMake configure: Release, no tests, only options the repository defines
    problems = []
    runs = [i for s in builds for i in s.instructions if i.keyword == "RUN"]
    cmake_runs = [i for i in runs if re.search(r"\bcmake\s+(-S|-B)", i.args)]
    if not cmake_runs:
        problems.append(f"{path}: no build stage runs `cmake -S ... -B ...`")
    for ins in cmake_runs:
        defs = dict(re.findall(r"-D(\w+)(?::\w+)?=(\S+)", ins.args))
        if defs.get("CMAKE_BUILD_TYPE") != "Release":
            problems.append(f"{path}:{ins.line}: configure without -DCMAKE_BUILD_TYPE=Release")
        if defs.get("TUTTI_BUILD_TESTS") != "OFF":
            problems.append(f"{path}:{ins.line}: configure without -DTUTTI_BUILD_TESTS=OFF")
        if flavour == "cuda" and defs.get("TUTTI_WITH_NCCL") != "ON":
            problems.append(f"{path}:{ins.line}: the CUDA image must configure -DTUTTI_WITH_NCCL=ON")
        if flavour == "cuda" and "Torch_DIR" not in defs and "CMAKE_PREFIX_PATH" not in defs:
            problems.append(f"{path}:{ins.line}: the CUDA image must point Torch_DIR at the CUDA LibTorch")
        for name in defs:
            if name.startswith("TUTTI_") and name not in cmake_options:
                problems.append(f"{path}:{ins.line}: -D{name}: no such option in the repository's CMake files")
    report.check(f"{label}: configures Release, tests off, with the repository's options", problems)
    # --- build stage packages versus install-deps.sh
    built = [p for s in builds for p in s.packages]
    built_names = {n for n, _, _ in built}
    want = expected_build(base, flavour)
    want_names = {n for n, _ in want}
    problems = []
    install_line = min((ln for _, ln, _ in built), default=builds[0].line if builds else 1)
    for n, ln in want:
        if n not in built_names:
            problems.append(f"{path}:{install_line}: the build stage does not install '{n}' ({deps_path}:{ln})")
    added_used = {pat: False for pat in CUDA_ADDED}
    for n, ln, _ in built:
        if n in want_names:
            continue
        if flavour == "cuda":
            pats = [p for p in CUDA_ADDED if re.fullmatch(p, n)]
            if pats:
                added_used[pats[0]] = True
                continue
        why = ("test-only in install-deps.sh" if n in TEST_ONLY else
               "replaced by the CUDA LibTorch" if flavour == "cuda" and n in CUDA_REPLACED else
               f"not in {deps_path}")
        problems.append(f"{path}:{ln}: the build stage installs '{n}' ({why})")
    if flavour == "cuda":
        for pat, used in added_used.items():
            if not used:
                problems.append(f"{path}: CUDA_ADDED '{pat}' matches no package of the build stage (stale entry)")
    seen = set()
    for n, ln, _ in built:
        if n in seen:
            problems.append(f"{path}:{ln}: '{n}' installed twice")
        seen.add(n)
    note = (f"{len(want)} of install-deps.sh's {len(base)}" +
            (f", + {len(built_names - want_names)} CUDA" if flavour == "cuda" else ""))
    report.check(f"{label}: build stage installs install-deps.sh's list less the declared exceptions",
                 problems, note)
    # --- runtime: pairing of -dev packages, accounting, existence
    runtime = final.packages
    runtime_names = {n for n, _, _ in runtime}
    dev, extra, problems = parse_annotations(final, path)
    devs = sorted(n for n in built_names if DEV_NAME.search(n))
    counterparts = {}
    for n in devs:
        if n not in dev:
            problems.append(f"{path}:{final.line}: build-stage -dev package '{n}' has no "
                            f"'# dev: {n} -> RUNTIME...' (or '-> none: why') line in the final stage")
    for n, (targets, line) in dev.items():
        if n not in built_names:
            problems.append(f"{path}:{line}: '# dev: {n}' names a package the build stage does not install")
        for t in targets:
            counterparts.setdefault(t, (n, line))
            if t not in runtime_names:
                problems.append(f"{path}:{line}: runtime counterpart '{t}' of {n} is not installed by the final stage")
    report.check(f"{label}: every -dev package has its runtime counterpart or a reason", problems,
                 f"{len(devs)} -dev packages")
    problems = []
    build_non_dev = {n for n in built_names if not DEV_NAME.search(n)}
    for n, ln, _ in runtime:
        if n not in counterparts and n not in build_non_dev and n not in extra:
            problems.append(f"{path}:{ln}: runtime package '{n}' is neither a -dev counterpart, nor in the build "
                            f"list, nor an '# extra: {n}: why'")
    for n, line in extra.items():
        if n not in runtime_names:
            problems.append(f"{path}:{line}: '# extra: {n}' names a package the final stage does not install")
    report.check(f"{label}: every runtime package is accounted for", problems, f"{len(runtime)} packages")
    debian = sorted(n for n in runtime_names if not NVIDIA_REPO_NAME.match(n))
    nvidia = sorted(runtime_names - set(debian))
    skipped = f"; not checked (NVIDIA's repository): {' '.join(nvidia)}" if nvidia else ""
    if apt is None or not apt.available:
        report.check(f"{label}: runtime packages exist in Debian bookworm", [],
                     "SKIPPED: no apt-cache with package lists" if apt is not None else "apt-cache not used")
    else:
        have = apt.existing(debian)
        problems = [f"{path}:{ln}: runtime package '{n}' is not in Debian's package lists (apt-cache show)"
                    for n, ln, _ in runtime if n in debian and n not in have]
        report.check(f"{label}: runtime packages exist in Debian bookworm", problems,
                     f"{len(debian)} checked with apt-cache{skipped}")
        problems, checked = [], 0
        reaches = apt.closures([n for n in dev if not NVIDIA_REPO_NAME.match(n)], DEPENDS_DEPTH)
        for n, (targets, line) in sorted(dev.items()):
            if NVIDIA_REPO_NAME.match(n):
                continue
            reach = reaches[n]
            for t in targets:
                if NVIDIA_REPO_NAME.match(t):
                    continue
                checked += 1
                if t not in reach:
                    problems.append(f"{path}:{line}: '{t}' is not among {n}'s dependencies (apt-cache depends, "
                                    f"depth {DEPENDS_DEPTH}): wrong pairing?")
        report.check(f"{label}: each -dev package really depends on its runtime counterparts", problems,
                     f"{checked} pairs checked with apt-cache")
    # --- CUDA versions agree
    if flavour == "cuda":
        problems = []
        a = global_args
        cv, pkg, nccl, url = (a.get("CUDA_VERSION"), a.get("CUDA_PKG"), a.get("NCCL_VERSION"),
                              a.get("LIBTORCH_URL"))
        if not all((cv, pkg, nccl, url)):
            problems.append(f"{path}: expected global ARGs CUDA_VERSION, CUDA_PKG, NCCL_VERSION, LIBTORCH_URL")
        else:
            if pkg != cv.replace(".", "-"):
                problems.append(f"{path}: CUDA_PKG={pkg} is not CUDA_VERSION={cv} with a dash")
            if not nccl.endswith("+cuda" + cv):
                problems.append(f"{path}: NCCL_VERSION={nccl} is not built for CUDA {cv}")
            if f"/cu{cv.replace('.', '')}/" not in url or "cxx11-abi" not in url:
                problems.append(f"{path}: LIBTORCH_URL is not the cxx11-ABI LibTorch for CUDA {cv}: {url}")
        report.check(f"{label}: CUDA, NCCL and LibTorch versions agree", problems,
                     f"CUDA {cv}, NCCL {nccl}" if not problems else "")


def cmake_options_of(root):
    names = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and not d.startswith("build")
                       and d not in ("node_modules", "demo-out")]
        for f in filenames:
            if f == "CMakeLists.txt" or f.endswith(".cmake"):
                with open(os.path.join(dirpath, f), encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                names |= set(re.findall(r"\boption\(\s*(TUTTI_\w+)", text))
                names |= set(re.findall(r"\bset\(\s*(TUTTI_\w+)\s+[^)]*\bCACHE\b", text))
    return names


def check_install_deps_tables(report, base, conditional, deps_path):
    names = {n for n, _ in base} | {n for n, _ in conditional}
    problems = [f"packages_test.py TEST_ONLY: '{n}' is not in {deps_path} (stale entry: remove it)"
                for n in sorted(TEST_ONLY) if n not in names]
    for n, ln in conditional:
        if n not in TEST_ONLY:
            problems.append(f"{deps_path}:{ln}: '{n}' is added conditionally; decide whether the images need it "
                            f"(add it to both Dockerfiles, or to TEST_ONLY with a reason)")
    report.check("TEST_ONLY names are all in install-deps.sh, every conditional package is decided", problems,
                 f"{len(TEST_ONLY)} test-only")
    base_names = {n for n, _ in base}
    problems = [f"packages_test.py CUDA_REPLACED: '{n}' is not in {deps_path}'s packages=( ) (stale entry)"
                for n in sorted(CUDA_REPLACED) if n not in base_names]
    report.check("CUDA_REPLACED names are all in install-deps.sh", problems)


# ----------------------------------------------------------------------------------------------- self-checks

_SELF_DEPS = """\
packages=(
  cmake libfoo-dev   # a comment
  libbar-dev chromium
)
if ! command -v node >/dev/null; then packages+=(nodejs npm); fi
"""

_SELF_DOCKERFILE = """\
FROM debian:bookworm AS build
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \\
      cmake libfoo-dev \\
      libbar-dev \\
 && rm -rf /var/lib/apt/lists/*
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release -DTUTTI_BUILD_TESTS=OFF && cp /build/bin/* /opt/tutti/bin/

FROM debian:bookworm-slim
# dev: libfoo-dev -> libfoo1
# dev: libbar-dev -> none: header-only
RUN apt-get update && apt-get install -y --no-install-recommends libfoo1 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/tutti /opt/tutti
USER 10001:10001
ENV PATH=/opt/tutti/bin:$PATH
"""


def self_checks(report):
    """The checks above on small broken Dockerfiles: each break must be reported."""
    base, cond = parse_install_deps(_SELF_DEPS, "self/install-deps.sh")
    problems = []
    if [n for n, _ in base] != ["cmake", "libfoo-dev", "libbar-dev", "chromium"] or \
            [n for n, _ in cond] != ["nodejs", "npm"] or [ln for _, ln in base] != [2, 2, 3, 3]:
        problems.append(f"self-check: install-deps parser read {base} + {cond}")
    report.check("self-check: install-deps.sh parser (array across lines, comments, packages+=)", problems)

    cases = [
        ("a correct Dockerfile passes", lambda t: t, None),
        ("a package missing from the build stage is reported",
         lambda t: t.replace("      libbar-dev \\\n", ""), "does not install 'libbar-dev'"),
        ("an extra build-stage package is reported",
         lambda t: t.replace("cmake libfoo-dev", "cmake libfoo-dev libextra-dev"), "installs 'libextra-dev'"),
        ("a test-only package in the build stage is reported",
         lambda t: t.replace("cmake libfoo-dev", "cmake libfoo-dev chromium"), "installs 'chromium' (test-only"),
        ("a final stage without USER (root) is reported",
         lambda t: t.replace("USER 10001:10001\n", ""), "no USER, so it runs as root"),
        ("a final stage with USER root is reported",
         lambda t: t.replace("USER 10001:10001", "USER root"), "USER is root"),
        ("a single-stage Dockerfile is reported",
         lambda t: t.split("\nFROM debian:bookworm-slim")[0], "at least 2"),
        ("/opt/tutti/bin missing from PATH is reported",
         lambda t: t.replace("ENV PATH=/opt/tutti/bin:$PATH", "ENV PATH=/usr/bin"), "no ENV PATH=/opt/tutti/bin"),
        ("an unpaired -dev package is reported",
         lambda t: t.replace("# dev: libbar-dev -> none: header-only\n", ""), "'libbar-dev' has no"),
        ("a missing runtime counterpart is reported",
         lambda t: t.replace("--no-install-recommends libfoo1", "--no-install-recommends"),
         "counterpart 'libfoo1' of libfoo-dev is not installed"),
        ("an unexplained runtime package is reported",
         lambda t: t.replace("--no-install-recommends libfoo1", "--no-install-recommends libfoo1 vim"),
         "runtime package 'vim' is neither"),
        ("tests left on is reported",
         lambda t: t.replace("-DTUTTI_BUILD_TESTS=OFF", "-DTUTTI_BUILD_TESTS=ON"), "-DTUTTI_BUILD_TESTS=OFF"),
        ("an unknown TUTTI_ option is reported",
         lambda t: t.replace("-DTUTTI_BUILD_TESTS=OFF", "-DTUTTI_BUILD_TESTS=OFF -DTUTTI_NO_SUCH=ON"),
         "-DTUTTI_NO_SUCH: no such option"),
    ]
    saved = dict(TEST_ONLY)
    try:
        TEST_ONLY.clear()
        TEST_ONLY.update({"chromium": "self-check", "nodejs": "self-check", "npm": "self-check"})
        for name, mutate, expect in cases:
            buf = io.StringIO()
            sub = Report(out=buf)
            check_dockerfile(sub, "self/Dockerfile", mutate(_SELF_DOCKERFILE), "cpu", base,
                             {"TUTTI_BUILD_TESTS"}, None, "self/install-deps.sh")
            out = buf.getvalue()
            if expect is None:
                ok = sub.failed == 0
                why = "" if ok else "it was reported:\n" + out
            else:
                ok = sub.failed > 0 and expect in out
                why = "" if ok else f"expected a failure containing {expect!r}, got:\n{out}"
            report.check(f"self-check: {name}", [] if ok else [why])
    finally:
        TEST_ONLY.clear()
        TEST_ONLY.update(saved)


# ------------------------------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."),
                    help="repository root (default: two levels above this file)")
    ap.add_argument("--no-apt", action="store_true", help="do not ask apt-cache (existence and dependency checks)")
    opts = ap.parse_args()
    root = os.path.abspath(opts.root)
    report = Report()
    deps_rel = "scripts/install-deps.sh"
    try:
        with open(os.path.join(root, deps_rel), encoding="utf-8") as f:
            base, conditional = parse_install_deps(f.read(), deps_rel)
    except (OSError, Problem) as e:
        report.check("install-deps.sh parses", [str(e)])
        return 1
    report.check("install-deps.sh parses", [],
                 f"{len(base)} packages, {len(conditional)} conditional: "
                 f"{' '.join(n for n, _ in conditional)}")
    check_install_deps_tables(report, base, conditional, deps_rel)
    apt = None if opts.no_apt else Apt()
    options = cmake_options_of(root)
    for flavour in ("cpu", "cuda"):
        rel = f"deploy/docker/Dockerfile.{flavour}"
        try:
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            report.check(f"{rel} exists", [str(e)])
            continue
        check_dockerfile(report, rel, text, flavour, base, options, apt, deps_rel)
        ignore = rel + ".dockerignore"
        problems = []
        try:
            with open(os.path.join(root, ignore), encoding="utf-8") as f:
                patterns = {l.strip() for l in f if l.strip() and not l.startswith("#")}
            for must in ("build", ".git", "**/node_modules"):
                if must not in patterns:
                    problems.append(f"{ignore}: does not leave out '{must}'")
        except OSError as e:
            problems.append(f"{ignore}: {e}")
        report.check(f"{os.path.basename(ignore)}: keeps build trees out of the context", problems)
    self_checks(report)
    print(f"packages_test: {report.count} checks, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
