#!/usr/bin/python3
"""Where real rock's empty bars sit within a 4-bar training segment.

Reads the real LPD-5 slice (../shared/lpd5-real) directly with numpy, one file per distinct MIDI md5 of the
Last.fm rock list, and follows shared/lpd5.md section 3 for every candidate segment (not the random eight per
song the packer keeps): binarise, move each cell to round(t * 4 / 24), keep pitches 24..95, song length = last
active step + 1, candidate starts 0 .. n_total - 5 in bars, keep a segment only if every track has >= 10 active
cells in it. Prints, per track, the share of empty bars at each of the four positions and the share of segments
with one, two or three empty bars. Needs Debian's python3-numpy (/usr/bin/python3).
"""
import glob
import io
import sys
import zipfile

import numpy as np

root = sys.argv[1] if len(sys.argv) > 1 else "../shared/lpd5-real"
rock = set(open(f"{root}/lastfm/id_list_rock.txt").read().split())
songs = {}  # md5 -> the MSD ids it sits under (the slice holds only some of them)
for line in open(f"{root}/cleansed_ids.txt"):
    md5, msd = line.split()
    if msd in rock:
        songs.setdefault(md5, []).append(msd)


def load_roll(path):
    """(5, T, 72) bool at 4 steps per beat."""
    z = zipfile.ZipFile(path)
    arr = lambda name: np.load(io.BytesIO(z.read(name)))
    cells, length = [], 0
    for i in range(5):
        shape = arr(f"pianoroll_{i}_csc_shape.npy")
        rows, ptr = arr(f"pianoroll_{i}_csc_indices.npy"), arr(f"pianoroll_{i}_csc_indptr.npy")
        cols = np.repeat(np.arange(128), np.diff(ptr))
        cells.append((rows, cols))
        length = max(length, int(shape[0]))
    roll = np.zeros((5, int(np.round(length * 4 / 24)) + 1, 72), bool)
    for i, (rows, cols) in enumerate(cells):
        keep = (cols >= 24) & (cols < 96)
        roll[i, np.round(rows[keep] * 4 / 24).astype(int), cols[keep] - 24] = True
    return roll


names = ["Drums", "Piano", "Guitar", "Bass", "Strings"]
by_position, by_count, segments, read = np.zeros((5, 4)), np.zeros((5, 4)), 0, 0
for md5, msds in songs.items():
    files = [f for msd in msds for f in glob.glob(f"{root}/lpd_5/lpd_5_cleansed/{msd[2]}/{msd[3]}/{msd[4]}/{msd}/*.npz")]
    if not files:
        continue
    read += 1
    roll = load_roll(files[0])
    active = np.nonzero(roll.any(axis=(0, 2)))[0]
    if len(active) == 0:
        continue
    bars = (active[-1] + 1) // 16
    for start in range(max(0, bars - 4)):
        segment = roll[:, start * 16:start * 16 + 64]
        if (segment.reshape(5, -1).sum(1) < 10).any():
            continue
        segments += 1
        empty = ~segment.reshape(5, 4, -1).any(2)
        by_position += empty
        by_count[np.arange(5), empty.sum(1)] += 1
print(f"{read} distinct rock files in the slice, {segments} segments")
for i, name in enumerate(names):
    print(f"{name:8s} empty bars by position 1-4: " + " ".join(f"{100 * v / segments:5.2f}" for v in by_position[i]) +
          f" %  (all: {100 * by_position[i].sum() / segments / 4:.2f} %); segments with 1, 2, 3 empty bars: " +
          ", ".join(f"{100 * by_count[i][k] / segments:.2f}" for k in (1, 2, 3)) + " %")
