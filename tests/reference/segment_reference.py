#!/usr/bin/python3
"""Independent numpy computation of the tutorial's sample recipe, for cross-checking the C++ segmenter.

usage: segment_reference.py SONG.npz BAR [BAR ...]
Prints JSON: {"length": <steps after downsampling>, "bars": {"<bar>": [flat indices of active cells]}}
where a segment is the (5, 64, 72) bool array of bars [bar, bar + 4) and indices are numpy C-order.

Recipe (../shared/lpd5.md §3): binarise, move each active cell at step t to round(t * 4 / 24)
(numpy's round, as pypianoroll's set_resolution does), length = last active step + 1, stack the tracks,
keep pitches 24..95, cut 16 steps per bar.
"""
import json
import sys

import numpy as np


def main():
    path, bars = sys.argv[1], [int(b) for b in sys.argv[2:]]
    with np.load(path) as npz:
        names = set(npz.files)
        tracks = []
        i = 0
        while f"pianoroll_{i}_csc_shape" in names:
            data = npz[f"pianoroll_{i}_csc_data"]
            indices = npz[f"pianoroll_{i}_csc_indices"]
            indptr = npz[f"pianoroll_{i}_csc_indptr"]
            pitch = np.repeat(np.arange(128), np.diff(indptr))
            active = data > 0
            time = np.round(indices[active] * (4 / 24)).astype(np.int64)
            tracks.append((time, pitch[active]))
            i += 1
    length = max((int(t.max()) + 1 for t, _ in tracks if t.size), default=0)
    stacked = np.zeros((len(tracks), length, 128), dtype=bool)
    for k, (time, pitch) in enumerate(tracks):
        stacked[k, time, pitch] = True
    cropped = stacked[:, :, 24:96]
    out = {"length": length, "bars": {}}
    for bar in bars:
        segment = cropped[:, bar * 16:bar * 16 + 64]
        out["bars"][str(bar)] = np.flatnonzero(segment).tolist()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
