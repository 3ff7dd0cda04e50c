#!/usr/bin/python3
"""Writes the .npz/.npy fixtures of tutti_npz_test with numpy (no pypianoroll or scipy needed).

Run from anywhere: /usr/bin/python3 tests/testdata/npz/make_fixtures.py. The output is committed; rerun only
to change the fixtures (zip timestamps change, content does not).

The song (T = 202 steps, resolution 24) is saved the way each pypianoroll version saves it:
  legacy.npz     pypianoroll 0.3 / LPD: "beat_resolution", tempo and downbeat (T,), zip without ZIP64 extras
  v1.npz         pypianoroll >= 1.0: np.savez_compressed (ZIP64 extras in local headers) + info.json appended,
                 "resolution", name null, tempo and downbeat (T, 1), an extra beat.npy, a track named ""
  v1_ff_sizes.npz  v1.npz with 0xFFFFFFFF sizes in each local header that has a ZIP64 extra field (as the
                 spec asks; the numpy-written members), so only the central directory has usable sizes
  v1_stored.npz  as v1.npz but np.savez (stored members, no compression)
  dense.npz      Tutti's extension: dense pianoroll_<i>.npy (T, 128), one in Fortran order
Track 2 is empty and stored as LPD stores it: shape (0, 128), empty bool data. Track 3 is binary (|b1).
"""
import io
import json
import os
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
T = 202
RES = 24


def song_rolls():
    rng = np.random.RandomState(7)
    drums = np.zeros((T, 128), np.uint8)
    for t in range(0, T, 12):
        drums[t, 36 if t % 24 == 0 else 42] = 100 + t % 20
    piano = np.zeros((T, 128), np.uint8)
    for start in range(0, T - 10, 24):
        for pitch in (60, 64, 67):
            piano[start:start + 20, pitch + start % 5] = rng.randint(1, 128)
    piano[T - 1, 127] = 127  # last step, last pitch
    piano[0, 0] = 1
    guitar = np.zeros((T, 128), np.uint8)  # empty
    bass = np.zeros((T, 128), bool)
    for start in range(0, T, 48):
        bass[start:start + 30, 36 + (start // 48) % 3] = True
    return [drums, piano, guitar, bass]


TRACKS = [(0, True, "Drums"), (0, False, ""), (24, False, "Guitar"), (32, False, "Bass")]


def csc(dense):
    """scipy.sparse.csc_matrix(dense)'s data/indices/indptr/shape, as pypianoroll saves them."""
    if not dense.any():  # LPD's empty track
        return dict(data=np.zeros(0, bool), indices=np.zeros(0, np.int32),
                    indptr=np.zeros(129, np.int32), shape=np.array((0, 128), np.int64))
    cols, rows = np.nonzero(dense.T)  # column-major order: by pitch, then by time
    counts = np.bincount(cols, minlength=128)
    return dict(data=dense[rows, cols], indices=rows.astype(np.int32),
                indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int32),
                shape=np.array(dense.shape, np.int64))


def tempo_downbeat():
    tempo = np.full(T, 120.0)
    tempo[100:] = 90.5
    downbeat = np.zeros(T, bool)
    downbeat[0] = True
    return tempo, downbeat


def info(key, name, names=None):
    d = {key: RES, "name": name}
    for i, (program, is_drum, track_name) in enumerate(TRACKS):
        d[str(i)] = {"program": program, "is_drum": is_drum,
                     "name": track_name if names is None else names[i]}
    return d


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def arrays(rolls, tempo_shape, beat=False, dense=False):
    tempo, downbeat = tempo_downbeat()
    out = {"tempo": tempo.reshape(tempo_shape), "downbeat": downbeat.reshape(tempo_shape)}
    if beat:
        out["beat"] = (np.arange(T) % RES == 0).reshape(tempo_shape)
    for i, roll in enumerate(rolls):
        if dense:  # an empty track as bool, as LPD stores empty tracks (they read back binary)
            roll = roll if roll.any() else roll.astype(bool)
            out["pianoroll_%d" % i] = np.asfortranarray(roll) if i == 1 else roll
        else:
            for k, v in csc(roll).items():
                out["pianoroll_%d_csc_%s" % (i, k)] = v
    return out


def write_legacy(path, members, info_dict, compression=zipfile.ZIP_DEFLATED):
    """pypianoroll 0.3 era: plain zip entries (no ZIP64 extras), info.json last."""
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, array in members.items():
            zf.writestr(name + ".npy", npy_bytes(array))
        zf.writestr("info.json", json.dumps(info_dict))


def write_v1(path, members, info_dict, compressed=True):
    """pypianoroll 1.0's save(): np.savez[_compressed] then append info.json."""
    (np.savez_compressed if compressed else np.savez)(path, **members)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("info.json", json.dumps(info_dict),
                    zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED)


def patch_local_sizes(src, dst):
    with open(src, "rb") as f:
        data = bytearray(f.read())
    with zipfile.ZipFile(src) as zf:
        for zi in zf.infolist():
            h = zi.header_offset
            extra_len = int.from_bytes(data[h + 28:h + 30], "little")
            if extra_len >= 20 and data[h + 30 + len(zi.filename):][:2] == b"\x01\x00":  # ZIP64 extra
                data[h + 18:h + 26] = b"\xff" * 8
    with open(dst, "wb") as f:
        f.write(data)


def out(name):
    return os.path.join(HERE, name)


def main():
    rolls = song_rolls()
    write_legacy(out("legacy.npz"), arrays(rolls, (T,)), info("beat_resolution", "fixture"))
    write_v1(out("v1.npz"), arrays(rolls, (T, 1), beat=True), info("resolution", None))
    patch_local_sizes(out("v1.npz"), out("v1_ff_sizes.npz"))
    write_v1(out("v1_stored.npz"), arrays(rolls, (T, 1), beat=True), info("resolution", None), compressed=False)
    write_legacy(out("dense.npz"), arrays(rolls, (T,), dense=True), info("resolution", "dense"))

    # .npy versions and orders for the parser.
    a = np.arange(24, dtype=np.int16).reshape(2, 3, 4) - 5
    with open(out("f_order_i2.npy"), "wb") as f:
        np.lib.format.write_array(f, np.asfortranarray(a), version=(1, 0))
    for version in (2, 3):
        with open(out("v%d_u4.npy" % version), "wb") as f:
            np.lib.format.write_array(f, np.arange(5, dtype=np.uint32), version=(version, 0))
    np.save(out("big_endian.npy"), np.arange(3, dtype=">i4"))

    # Bad files: a one-track song, each broken in one way.
    small = [rolls[0][:30]]
    def members(**changes):
        m = {}
        for k, v in csc(small[0]).items():
            m["pianoroll_0_csc_" + k] = v
        m.update(changes)
        return {k: v for k, v in m.items() if v is not None}
    one_info = {"resolution": RES, "name": "bad", "0": {"program": 0, "is_drum": True, "name": "Drums"}}
    bad = lambda name: os.path.join(HERE, "bad", name)
    write_v1(bad("good.npz"), members(), one_info)
    with open(bad("good.npz"), "rb") as f:
        good = f.read()
    with open(bad("truncated.npz"), "wb") as f:
        f.write(good[:len(good) // 2])
    with open(bad("not_a_zip.npz"), "wb") as f:
        f.write(b"this is not a zip archive\n")
    write_v1(bad("missing_member.npz"), members(pianoroll_0_csc_indices=None), one_info)
    c = csc(small[0])
    write_v1(bad("wrong_dtype.npz"), members(pianoroll_0_csc_indptr=c["indptr"].astype(np.float32)), one_info)
    write_v1(bad("indptr_length.npz"), members(pianoroll_0_csc_indptr=c["indptr"][:128]), one_info)
    write_v1(bad("data_length.npz"), members(pianoroll_0_csc_data=c["data"][:-1]), one_info)
    bad_indices = c["indices"].copy()
    bad_indices[-1] = 30  # == T: out of range
    write_v1(bad("index_out_of_range.npz"), members(pianoroll_0_csc_indices=bad_indices), one_info)
    wrong_cols = members(pianoroll_0_csc_shape=np.array((30, 129), np.int64))
    write_v1(bad("wrong_columns.npz"), wrong_cols, one_info)
    np.savez_compressed(bad("invalid_json.npz"), **members())
    with zipfile.ZipFile(bad("invalid_json.npz"), "a") as zf:
        zf.writestr("info.json", '{"resolution": 24, "0": {', zipfile.ZIP_DEFLATED)
    no_res = dict(one_info)
    del no_res["resolution"]
    write_v1(bad("no_resolution.npz"), members(), no_res)
    # Stored members with one data byte flipped: only the CRC check can notice.
    write_legacy(bad("crc_mismatch.npz"), members(), one_info, compression=zipfile.ZIP_STORED)
    with zipfile.ZipFile(bad("crc_mismatch.npz")) as zf:
        zi = zf.getinfo("pianoroll_0_csc_indices.npy")
    with open(bad("crc_mismatch.npz"), "r+b") as f:
        f.seek(zi.header_offset + 26)
        name_len, extra_len = np.frombuffer(f.read(4), "<u2")
        last = zi.header_offset + 30 + int(name_len) + int(extra_len) + zi.file_size - 1
        f.seek(last)
        byte = f.read(1)
        f.seek(last)
        f.write(bytes([byte[0] ^ 0x01]))


if __name__ == "__main__":
    main()
