#!/usr/bin/python3
"""Pack throughput of `tutti pack` against the Python/numpy reference, in one run, on the same files.

usage: pack_bench.py [--lpd DIR] [--genres rock,pop,jazz] [--tutti build/bin/tutti] [--repeat 3]
Prints a table (songs/s, samples, peak RSS) and the ratios; exits non-zero if either side fails or if the
two sides disagree on which songs were read.
Both sides run warm (one untimed pass first), so the page cache holds the files for both.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_tutti(tutti, lpd, genres, threads):
    out = tempfile.mkdtemp(prefix="tutti-pack-bench-")
    cmd = ["/usr/bin/time", "-f", "%M", tutti, "pack", "--lpd", lpd, "--genres", genres, "--out", out,
           "--json", "-q", "--threads", str(threads)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"tutti pack failed: {proc.stderr}")
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    summaries = json.loads(proc.stdout)
    subprocess.run(["rm", "-rf", out])
    files = sum(s["files"] for s in summaries)
    samples = sum(s["train_samples"] + s["heldout_samples"] for s in summaries)
    return {"seconds": seconds, "songs": files, "samples": samples, "peak_mb": peak_kb / 1024}


def run_reference(lpd, genres):
    cmd = ["/usr/bin/time", "-f", "%M", "/usr/bin/python3", os.path.join(HERE, "pack_reference.py"), lpd] + genres.split(",")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"reference failed: {proc.stderr}")
    result = json.loads(proc.stdout)
    result["peak_mb"] = int(proc.stderr.strip().splitlines()[-1]) / 1024
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lpd", default=os.path.join(HERE, "..", "..", "..", "shared", "lpd5-real"))
    parser.add_argument("--genres", default="rock,pop,jazz")
    parser.add_argument("--tutti", default=os.path.join(HERE, "..", "..", "build", "bin", "tutti"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lpd = os.path.abspath(args.lpd)
    if not os.path.isdir(lpd):
        sys.exit(f"no LPD tree at {lpd}")
    ncores = os.cpu_count()
    run_tutti(args.tutti, lpd, args.genres, ncores)  # warm the page cache
    best = {}
    for label, threads in (("tutti pack (all cores)", ncores), ("tutti pack (1 thread)", 1)):
        runs = [run_tutti(args.tutti, lpd, args.genres, threads) for _ in range(args.repeat)]
        best[label] = min(runs, key=lambda r: r["seconds"])
    ref_runs = [run_reference(lpd, args.genres) for _ in range(max(1, args.repeat - 1))]
    best["python/numpy reference (1 core)"] = min(ref_runs, key=lambda r: r["seconds"])
    ref = best["python/numpy reference (1 core)"]
    print(f"pack benchmark: {lpd}  genres {args.genres}  ({ncores} cores, best of {args.repeat})")
    print(f"{'side':34s} {'songs':>6s} {'samples':>8s} {'seconds':>8s} {'songs/s':>9s} {'peak MB':>8s} {'ratio':>7s}")
    for label, r in best.items():
        rate = r["songs"] / r["seconds"]
        ratio = rate / (ref["songs"] / ref["seconds"])
        print(f"{label:34s} {r['songs']:6d} {r['samples']:8d} {r['seconds']:8.2f} {rate:9.0f} {r['peak_mb']:8.1f} {ratio:6.1f}x")
    ours = best["tutti pack (all cores)"]
    if ours["songs"] != ref["songs"]:
        sys.exit(f"song counts differ: tutti {ours['songs']} vs reference {ref['songs']}")
    # Sample counts differ slightly: each side draws its segments with its own RNG.
    print(f"samples: tutti {ours['samples']}, reference {ref['samples']} (different random draws, same rule)")


if __name__ == "__main__":
    main()
