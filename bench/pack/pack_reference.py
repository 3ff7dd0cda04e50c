#!/usr/bin/python3
"""Python/numpy reference for `tutti pack`: the same steps on the same files, the way a researcher would
write them with numpy (the MuseGAN tutorial's recipe without pypianoroll's object overhead).

usage: pack_reference.py LPD_ROOT GENRE [GENRE ...]   → prints JSON {"songs": n, "samples": m, "seconds": s}

Steps per genre: read the Last.fm list and cleansed_ids.txt, map ids to song files (deduplicated by md5),
then per song: np.load the .npz, rebuild each track from its CSC members, binarise, move cells to
round(t * 4 / 24), stack to (5, length, 128), keep pitches 24..95, draw up to 8 bar-aligned 4-bar segments,
keep those where every track has >= 10 active cells, bit-pack them (np.packbits).
"""
import json
import os
import sys
import time

import numpy as np


def song_files(root, genre, md5_by_id):
    files = {}
    with open(os.path.join(root, "lastfm", f"id_list_{genre}.txt")) as f:
        for line in f:
            msd = line.strip()
            md5 = md5_by_id.get(msd)
            if not md5 or md5 in files:
                continue
            path = os.path.join(root, "lpd_5", "lpd_5_cleansed", msd[2], msd[3], msd[4], msd, md5 + ".npz")
            if os.path.exists(path):
                files[md5] = path
    return sorted(files.items())


def samples_of(path, rng):
    with np.load(path) as npz:
        tracks = []
        for i in range(5):
            data = npz[f"pianoroll_{i}_csc_data"]
            indices = npz[f"pianoroll_{i}_csc_indices"]
            indptr = npz[f"pianoroll_{i}_csc_indptr"]
            pitch = np.repeat(np.arange(128), np.diff(indptr))
            active = data > 0
            tracks.append((np.round(indices[active] * (4 / 24)).astype(np.int64), pitch[active]))
    length = max((int(t.max()) + 1 for t, _ in tracks if t.size), default=0)
    n_bars = length // 16
    if n_bars - 4 <= 0:
        return []
    stacked = np.zeros((5, length, 128), dtype=bool)
    for k, (t, p) in enumerate(tracks):
        stacked[k, t, p] = True
    roll = stacked[:, :, 24:96]
    out = []
    for bar in rng.choice(n_bars - 4, min(n_bars // 4, 8), replace=False):
        segment = roll[:, bar * 16:bar * 16 + 64]
        if (segment.sum(axis=(1, 2)) >= 10).all():
            out.append(np.packbits(segment.reshape(-1), bitorder="little"))
    return out


def main():
    root, genres = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    md5_by_id = {}
    with open(os.path.join(root, "cleansed_ids.txt")) as f:
        for line in f:
            md5, msd = line.split()
            md5_by_id[msd] = md5
    rng = np.random.default_rng(0)
    songs = samples = 0
    for genre in genres:
        for _, path in song_files(root, genre, md5_by_id):
            songs += 1
            samples += len(samples_of(path, rng))
    print(json.dumps({"songs": songs, "samples": samples, "seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
