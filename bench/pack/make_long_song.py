#!/usr/bin/python3
"""Writes a one-genre LPD-5-layout tree holding copies of a song as long as LPD-5's longest (959,040 steps at
24 per beat, 9,990 bars), to show that `tutti pack`'s memory follows the segments taken, not the song.

usage: make_long_song.py OUT_DIR [COPIES]
Dense, that song would be 5 x 959,040 x 128 bytes = 614 MB; sparse it is ~7 M active cells.
"""
import json
import os
import sys
import zipfile

import numpy as np

STEPS = 959_040


def track(seed, low, high, every, length):
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for start in range(0, STEPS - length, every):
        for pitch in rng.choice(np.arange(low, high), 3, replace=False):
            rows.append(np.arange(start, start + length))
            cols.append(np.full(length, pitch))
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    order = np.lexsort((rows, cols))  # CSC: by pitch, then time
    rows, cols = rows[order].astype(np.int32), cols[order]
    indptr = np.searchsorted(cols, np.arange(129)).astype(np.int32)
    return np.full(rows.size, 100, np.uint8), rows, indptr


def npy(array):
    import io
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def main():
    out, copies = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2
    specs = [(0, "Drums", 36, 47, 24, 3), (0, "Piano", 60, 72, 24, 12), (24, "Guitar", 48, 60, 24, 12),
             (32, "Bass", 33, 45, 48, 24), (48, "Strings", 60, 84, 96, 96)]
    members = {}
    info = {"beat_resolution": 24, "name": "long"}
    for i, (program, name, low, high, every, length) in enumerate(specs):
        data, indices, indptr = track(i, low, high, every, length)
        members[f"pianoroll_{i}_csc_data.npy"] = npy(data)
        members[f"pianoroll_{i}_csc_indices.npy"] = npy(indices)
        members[f"pianoroll_{i}_csc_indptr.npy"] = npy(indptr)
        members[f"pianoroll_{i}_csc_shape.npy"] = npy(np.array([STEPS, 128], np.int64))
        info[str(i)] = {"program": program, "is_drum": i == 0, "name": name}
    members["tempo.npy"] = npy(np.full(STEPS, 120.0))
    downbeat = np.zeros(STEPS, bool)
    downbeat[0] = True
    members["downbeat.npy"] = npy(downbeat)
    os.makedirs(os.path.join(out, "lastfm"), exist_ok=True)
    ids, lines = [], []
    for c in range(copies):
        md5 = f"{c:032x}"
        msd = f"TRLONG{c:012d}"
        folder = os.path.join(out, "lpd_5", "lpd_5_cleansed", msd[2], msd[3], msd[4], msd)
        os.makedirs(folder, exist_ok=True)
        with zipfile.ZipFile(os.path.join(folder, md5 + ".npz"), "w", zipfile.ZIP_DEFLATED) as z:
            for name, blob in members.items():
                z.writestr(name, blob)
            z.writestr("info.json", json.dumps(info))
        ids.append(msd)
        lines.append(f"{md5}    {msd}")
    with open(os.path.join(out, "cleansed_ids.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "lastfm", "id_list_long.txt"), "w") as f:
        f.write("\n".join(ids) + "\n")


if __name__ == "__main__":
    main()
