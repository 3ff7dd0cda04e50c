#!/usr/bin/python3
"""Writes the binary bad inputs of tests/bad_inputs (and their sidecars): .npy, .npz, MIDI, shard headers,
pack directories and checkpoint files. Text inputs (YAML, JSON, id lists, requests) are written by hand.

Run from anywhere with the standard library only: /usr/bin/python3 tests/bad_inputs/make_bad_inputs.py
The output is committed; rerun only to change these inputs (their bytes are deterministic). Each case is
one way to be wrong; the sidecar says which (`why`) and what the error must say (`code`, `contains`).
"""
import hashlib
import json
import os
import shutil
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def write_case(folder, name, content, why, code, contains, extra=()):
    """content: bytes (a file), a dict {relative path: bytes} (a directory), or None (the sidecar only)."""
    d = os.path.join(HERE, folder)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
    if isinstance(content, dict):
        for rel, data in content.items():
            p = os.path.join(path, rel)
            if data is None:  # a directory where a file belongs
                os.makedirs(p, exist_ok=True)
                with open(os.path.join(p, "README"), "w") as f:
                    f.write("a directory standing where a file belongs\n")
                continue
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
    elif content is not None:
        with open(path, "wb") as f:
            f.write(content)
    lines = ["why: " + why, "code: " + code] + ["contains: " + c for c in contains] + list(extra)
    with open(path + ".expect", "w") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------------- .npy

def npy(header, data=b"", version=(1, 0), magic=b"\x93NUMPY", pad=True):
    """A .npy file with `header` (the dict literal, as text) taken verbatim."""
    h = header.encode("latin1")
    if pad:
        prefix = 10 if version[0] == 1 else 12
        total = prefix + len(h) + 1
        h += b" " * ((64 - total % 64) % 64) + b"\n"
    if version[0] == 1:
        length = struct.pack("<H", len(h))
    else:
        length = struct.pack("<I", len(h))
    return magic + bytes(version) + length + h + data


def i4(*values):
    return struct.pack("<%di" % len(values), *values)


def npy_cases():
    ok = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }"
    c = [
        ("empty.npy", b"", "an empty file", ["expected a .npy file (magic \\x93NUMPY), got 0 bytes"]),
        ("wrong_magic.npy", npy(ok, i4(1, 2, 3), magic=b"\x93NUMPZ"), "the magic says NUMPZ",
         ["expected a .npy file (magic \\x93NUMPY)"]),
        ("version_4.npy", npy(ok, i4(1, 2, 3), version=(4, 0)), "format version 4.0, which numpy never wrote",
         ["expected .npy version 1.0, 2.0 or 3.0, got 4.0"]),
        ("header_length_lies.npy", b"\x93NUMPY\x01\x00\xff\xff{'descr': '<i4'}", "the header length field "
         "claims 65535 bytes in a 26-byte file", ["expected a header of 65535 bytes, got only"]),
        ("big_endian.npy", npy("{'descr': '>i4', 'fortran_order': False, 'shape': (3,), }", i4(1, 2, 3)),
         "big-endian dtype", ["expected a little-endian dtype, got >i4"]),
        ("object_dtype.npy", npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8),
         "a pickled object array", ["expected a simple numeric dtype", "|O"]),
        ("structured_dtype.npy", npy("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }",
                                     i4(1)), "a structured dtype (a list, not a string)",
         ["expected a simple dtype string in 'descr', got a structured dtype"]),
        ("unknown_key.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), 'order': 'C', }",
                                i4(1, 2, 3)), "an extra header key", ["expected header keys descr, fortran_order, "
                                                                      "shape, got 'order'"]),
        ("missing_shape.npy", npy("{'descr': '<i4', 'fortran_order': False, }", i4(1)),
         "the header has no shape", ["shape"]),
        ("negative_dimension.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (-3,), }", i4(1, 2, 3)),
         "a negative dimension", ["expected a non-negative dimension at byte"]),
        ("float_dimension.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (3.5,), }", i4(1, 2, 3)),
         "a fractional dimension", ["expected ',' or ')' in the shape at byte"]),
        ("data_short.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (10,), }", i4(1, 2)),
         "shape (10,) of <i4 but only 8 data bytes", ["expected 10 x 4 data bytes for shape (10,), got 8"]),
        ("trailing_bytes.npy", npy(ok, i4(1, 2, 3) + b"junk"), "4 bytes after the data",
         ["expected 3 x 4 data bytes for shape (3,), got 16"]),
        ("shape_overflows.npy", npy("{'descr': '<i4', 'fortran_order': False, "
                                    "'shape': (4611686018427387904, 4), }", i4(1)),
         "a shape whose element count overflows 64 bits", ["expected a shape whose size fits 64 bits"]),
        ("fortran_order_string.npy", npy("{'descr': '<i4', 'fortran_order': 'yes', 'shape': (3,), }",
                                         i4(1, 2, 3)), "fortran_order is a string",
         ["expected True or False at byte"]),
        ("unterminated_string.npy", npy("{'descr': '<i4, 'fortran_order': False, 'shape': (3,)}", i4(1, 2, 3),
                                        pad=False), "a quote is never closed", ["expected", "at byte"]),
        ("header_not_a_dict.npy", npy("[1, 2, 3]", i4(1, 2, 3)), "the header is a list literal",
         ["expected '{' at byte 0 of the .npy header"]),
        ("garbage_after_magic.npy", b"\x93NUMPY\x01\x00\x10\x00" + bytes(range(0x80, 0x90)) + i4(1),
         "binary garbage where the header dict belongs", ["expected '{' at byte 0 of the .npy header"]),
    ]
    for name, data, why, contains in c:
        write_case("npy", name, data, why, "INVALID_ARGUMENT", contains)
    write_case("npy", "int64_too_big_for_int32.npy",
               npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", struct.pack("<2q", 5, 1 << 40)),
               "an index array (read as int32) holding 2^40", "OUT_OF_RANGE",
               ["expected values that fit 32", "index 1"], ["copy_to: int32"])
    write_case("npy", "float_as_index.npy",
               npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", struct.pack("<2f", 1.5, 2)),
               "float values where integer indices belong", "INVALID_ARGUMENT",
               ["expected an integer or bool dtype, got <f4"], ["copy_to: int32"])


# ---------------------------------------------------------------------------------------------------- .npz

def npz(members, compression=zipfile.ZIP_DEFLATED):
    """members: list of (name, bytes)."""
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = compression
            zf.writestr(info, data)
    return buf.getvalue()


def csc_track(i, times=(0, 12, 24), pitch=36, values=None, steps=30, indptr=None):
    """One track's four CSC members: `times` at `pitch`."""
    n = len(times)
    values = values if values is not None else [100] * n
    if indptr is None:
        indptr = [0] * (pitch + 1) + [n] * (128 - pitch)
    p = "pianoroll_%d_csc_" % i
    return [
        (p + "data.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (%d,), }" % n, bytes(values))),
        (p + "indices.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (%d,), }" % n, i4(*times))),
        (p + "indptr.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (129,), }", i4(*indptr))),
        (p + "shape.npy", npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
                              struct.pack("<2q", steps, 128))),
    ]


def info(**overrides):
    d = {"resolution": 24, "name": "bad", "0": {"program": 0, "is_drum": True, "name": "Drums"}}
    d.update(overrides)
    return json.dumps(d).encode()


def patch_flags(data, bit):
    """Sets general-purpose flag `bit` in every local and central header (e.g. bit 0: encrypted)."""
    b = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = b.find(sig)
        while i >= 0:
            flags = struct.unpack_from("<H", b, i + off)[0] | (1 << bit)
            struct.pack_into("<H", b, i + off, flags)
            i = b.find(sig, i + 4)
    return bytes(b)


def patch_central_size(data, member, size):
    """Makes the central directory claim `size` uncompressed bytes for `member` (a lying length field)."""
    b = bytearray(data)
    i = b.find(b"PK\x01\x02")
    while i >= 0:
        name_len = struct.unpack_from("<H", b, i + 28)[0]
        if bytes(b[i + 46:i + 46 + name_len]) == member.encode():
            struct.pack_into("<I", b, i + 24, size)
        i = b.find(b"PK\x01\x02", i + 4)
    return bytes(b)


def npz_cases():
    good = csc_track(0) + [("info.json", info())]
    inv = "INVALID_ARGUMENT"
    # The fixtures of core/npz's own tests, asserted here too (by reference).
    for name, code, contains in [
        ("truncated.npz", inv, ["expected a complete zip archive"]),
        ("not_a_zip.npz", inv, ["expected a complete zip archive"]),
        ("missing_member.npz", "NOT_FOUND", ["pianoroll_0_csc_indices.npy: expected this member"]),
        ("wrong_dtype.npz", inv, ["pianoroll_0_csc_indptr.npy: expected dtype <i4 or <i8, got <f4"]),
        ("indptr_length.npz", inv, ["pianoroll_0_csc_indptr.npy: expected shape (129,)"]),
        ("data_length.npz", inv, ["pianoroll_0_csc_data.npy: expected shape (3,) (one value per index), got (2,)"]),
        ("index_out_of_range.npz", inv, ["expected a valid CSC pianoroll, got time index 30"]),
        ("wrong_columns.npz", inv, ["pianoroll_0_csc_shape.npy: expected 128 columns"]),
        ("invalid_json.npz", inv, ["info.json: expected valid JSON"]),
        ("no_resolution.npz", inv, ["info.json: expected key \"resolution\""]),
        ("crc_mismatch.npz", inv, ["pianoroll_0_csc_indices.npy: expected CRC-32"]),
    ]:
        write_case("npz", "testdata_" + name[:-4], None, "core/npz fixture bad/" + name, code, contains,
                   ["input: tests/testdata/npz/bad/" + name])
    cases = [
        ("empty.npz", b"", inv, "an empty file", ["expected a complete zip archive (.npz), got an empty file"]),
        ("info_not_object.npz", npz(csc_track(0) + [("info.json", b"[24]")]), inv, "info.json is a JSON array",
         ["info.json: expected a JSON object, got array"]),
        ("zero_resolution.npz", npz(csc_track(0) + [("info.json", info(resolution=0))]), inv,
         "resolution 0", ["info.json: expected \"resolution\" to be a positive integer, got 0"]),
        ("program_out_of_range.npz",
         npz(csc_track(0) + [("info.json", info(**{"0": {"program": 200, "is_drum": False, "name": "x"}}))]), inv,
         "GM program 200", ["\"program\" to be an integer 0..127, got 200"]),
        ("is_drum_string.npz",
         npz(csc_track(0) + [("info.json", info(**{"0": {"program": 0, "is_drum": "yes", "name": "x"}}))]), inv,
         "is_drum is a string", ["\"is_drum\" to be true or false"]),
        ("velocity_above_127.npz", npz(csc_track(0, values=[100, 200, 100]) + [("info.json", info())]), inv,
         "a velocity of 200", ["pianoroll_0_csc_data.npy: expected velocities 0..127, got 200"]),
        ("negative_time_index.npz", npz(csc_track(0, times=(0, -5, 24)) + [("info.json", info())]), inv,
         "a negative time index", ["pianoroll_0_csc_*.npy: expected a valid CSC pianoroll"]),
        ("indptr_decreasing.npz",
         npz(csc_track(0, indptr=[0] * 37 + [3] * 50 + [1] * 42) + [("info.json", info())]), inv,
         "column pointers that go down", ["pianoroll_0_csc_*.npy: expected a valid CSC pianoroll"]),
        ("member_not_npy.npz", npz([(n, b"not an array" if n.endswith("indices.npy") else d)
                                    for n, d in csc_track(0)] + [("info.json", info())]), inv,
         "a member that is not a .npy", ["pianoroll_0_csc_indices.npy: expected a .npy file"]),
        ("encrypted.npz", patch_flags(npz(good), 0), "UNIMPLEMENTED", "members flagged as encrypted",
         ["info.json: expected an unencrypted member"]),
        ("bzip2_members.npz", npz(good, zipfile.ZIP_BZIP2), "UNIMPLEMENTED", "bzip2-compressed members",
         ["expected method store or deflate, got 12"]),
        ("claims_4gb_member.npz", patch_central_size(npz(good), "pianoroll_0_csc_data.npy", 0xFFFFFFF0), inv,
         "the central directory claims a 4 GiB member (a lying length field)",
         ["pianoroll_0_csc_data.npy: expected at most 2147483648 bytes, got 4294967280"]),
    ]
    for name, data, code, why, contains in cases:
        write_case("npz", name, data, why, code, contains)
    write_case("npz", "directory.npz", {".keep": b"a directory named like a song\n"}, "a directory, not a file",
               "INVALID_ARGUMENT", ["expected a regular .npz file, got a directory"])


# ---------------------------------------------------------------------------------------------------- MIDI

def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def smf(tracks, fmt=1, division=96, ntracks=None, header_len=6):
    head = b"MThd" + struct.pack(">IHHH", header_len, fmt, len(tracks) if ntracks is None else ntracks, division)
    head += b"\0" * (header_len - 6)
    return head + b"".join(b"MTrk" + struct.pack(">I", len(t)) + t for t in tracks)


EOT = b"\x00\xff\x2f\x00"


def midi_cases():
    dl = "DATA_LOSS"
    for name, code, contains in [
        ("truncated.mid", dl, ["track 0 at byte 14: truncated chunk header: expected 8 bytes, 6 left"]),
        ("truncated_event.mid", dl, ["track 0 at byte", "ends inside"]),
        ("wrong_magic.mid", dl, ["at byte 0: expected \"MThd\""]),
        ("chunk_too_long.mid", dl, ["track 0 at byte"]),
        ("running_status_no_status.mid", dl, ["running status with no previous status byte"]),
        ("type2.mid", "UNIMPLEMENTED", ["SMF format 2"]),
        ("smpte.mid", "UNIMPLEMENTED", ["SMPTE time division"]),
    ]:
        write_case("midi", "testdata_" + name[:-4], None, "core/midi fixture bad/" + name, code, contains,
                   ["input: tests/testdata/midi/bad/" + name])
    note = b"\x00\x90\x3c\x64" + b"\x60\x80\x3c\x00"
    cases = [
        ("empty.mid", b"", dl, "an empty file", ["at byte 0: file is 0 bytes, too short for the 14-byte MThd header"]),
        ("header_length_5.mid", smf([note + EOT], header_len=6)[:4] + struct.pack(">I", 5) +
         smf([note + EOT])[8:], dl, "MThd announces 5 bytes, the minimum is 6", ["at byte 4: MThd length is 5"]),
        ("unknown_format_7.mid", smf([note + EOT], fmt=7), dl, "SMF format 7", ["at byte 8: unknown SMF format 7"]),
        ("division_zero.mid", smf([note + EOT], division=0), dl, "0 ticks per quarter note",
         ["at byte 12: division is 0 ticks per quarter note, expected 1..32767"]),
        ("format0_two_tracks.mid", smf([note + EOT, note + EOT], fmt=0), dl, "format 0 with two tracks",
         ["at byte 10: format 0 file announces 2 tracks, expected 1"]),
        ("missing_tracks.mid", smf([note + EOT], ntracks=3), dl, "announces 3 tracks, holds 1",
         ["file ends after 1 of 3"]),
        ("vlq_five_bytes.mid", smf([b"\x81\x80\x80\x80\x00\x90\x3c\x64" + EOT]), dl,
         "a delta time of five bytes", ["variable-length quantity (delta time) is longer than 4 bytes"]),
        ("meta_length_past_chunk.mid", smf([b"\x00\xff\x03\x7f" + b"abc" + EOT]), dl,
         "a track-name meta event claims 127 bytes in a short chunk", ["meta event 0x03 has length 127"]),
        ("sysex_length_past_chunk.mid", smf([b"\x00\xf0\x50\x7e\x7f" + EOT]), dl,
         "a sysex claims 80 bytes in a short chunk", ["sysex event has length 80"]),
        ("tempo_length_2.mid", smf([b"\x00\xff\x51\x02\x07\xa1" + note + EOT]), dl, "a tempo event of 2 bytes",
         ["tempo meta event (0x51) has length 2, expected 3"]),
        ("data_byte_as_status.mid", smf([b"\x00\x90\x3c\x64\x00\x3c\x90" + EOT]), dl,
         "a status byte where the velocity belongs", ["expected a data byte (< 0x80) of channel event 0x90"]),
        ("system_common_in_track.mid", smf([b"\x00\xf2\x00\x00" + EOT]), dl, "a song-position status (0xF2) in a "
         "file", ["track 0 at byte 23: unexpected status byte 0xF2, expected a channel"]),
        ("ticks_past_limit.mid", smf([b"\x00\x90\x3c\x64" + (b"\xff\xff\xff\x7f\xa0\x3c\x10") * 4100 + EOT]), dl,
         "delta times adding up past 2^40 ticks", ["exceeds the limit of 1099511627776"]),
        ("note_held_for_years.mid", smf([b"\x00\x90\x3c\x64" + b"\xff\xff\xff\x7f\xa0\x3c\x10" * 64 +
                                         b"\x00\xff\x2f\x00"]), "RESOURCE_EXHAUSTED",
         "one note held for 2^34 ticks (millions of steps)",
         ["note_held_for_years: song is 4294967280 steps long", "more than max_steps 4000000"]),
    ]
    for name, data, code, why, contains in cases:
        write_case("midi", name, data, why, code, contains)
    # Many short notes: fine for the default limits, over a tight cell budget given in the sidecar.
    many = b"".join(b"\x00\x90" + bytes([36 + k % 60]) + b"\x40" + b"\x60\x80" + bytes([36 + k % 60]) + b"\x00"
                    for k in range(200))
    write_case("midi", "cells_over_budget.mid", smf([many + EOT]), "200 notes of 24 steps against a budget of "
               "1000 active cells", "RESOURCE_EXHAUSTED",
               ["notes cover 4800 (step, pitch) cells, more than max_active_cells 1000"], ["max_active_cells: 1000"])


# ---------------------------------------------------------------------------------------------------- shards

def shard_header(version=1, header_size=64, shape=(1, 4, 8), flags=0, count=1, sample_bytes=None, split=0,
                 reserved1=b"\0\0\0", index=0, reserved2=b"\0\0\0\0", magic=b"TUTTISHD", checksum=None):
    cells = shape[0] * shape[1] * shape[2]
    sample_bytes = (cells + 7) // 8 if sample_bytes is None else sample_bytes
    h = magic + struct.pack("<II3iIQQB", version, header_size, *shape, flags, count, sample_bytes, split)
    h += reserved1 + struct.pack("<I", index) + reserved2
    assert len(h) == 60
    h += hashlib.sha256(h).digest()[:4] if checksum is None else checksum
    return h


def shard_cases():
    dl = "DATA_LOSS"
    good = shard_header()
    cases = [
        ("empty.bin", b"", dl, "an empty file", ["file is 0 bytes, shorter than the 64-byte shard header"]),
        ("short.bin", good[:40], dl, "40 of the 64 header bytes",
         ["file is 40 bytes, shorter than the 64-byte shard header"]),
        ("wrong_magic.bin", shard_header(magic=b"TUTTICKP"), dl, "a checkpoint's magic",
         ["not a shard: magic is", "expected '5455545449534844' (\"TUTTISHD\")"]),
        ("bad_checksum.bin", shard_header(checksum=b"\0\0\0\0"), dl, "a header checksum of zeros",
         ["shard header checksum mismatch: stored 00000000, computed"]),
        ("version_2.bin", shard_header(version=2), "FAILED_PRECONDITION", "format version 2 (newer)",
         ["shard format version 2 is not supported (this build reads version 1)"]),
        ("header_size_128.bin", shard_header(header_size=128), dl, "a header size of 128",
         ["shard header size is 128, expected 64"]),
        ("flags_set.bin", shard_header(flags=1), dl, "an unknown flag bit", ["shard header flags are 1, expected 0"]),
        ("zero_tracks.bin", shard_header(shape=(0, 4, 8)), dl, "a shape with 0 tracks",
         ["sample shape (0, 4, 8): every dimension must be in [1, 65536]"]),
        ("sample_bytes_lie.bin", shard_header(sample_bytes=5), dl, "5 bytes per sample for 32 cells (4)",
         ["shard header says 5 bytes per sample, shape (1, 4, 8) needs 4"]),
        ("split_7.bin", shard_header(split=7), dl, "split 7 (0 train, 1 heldout)",
         ["shard header split byte is 7, expected 0 or 1"]),
        ("reserved_set.bin", shard_header(reserved1=b"\0\x01\0"), dl, "a non-zero reserved byte",
         ["shard header reserved bytes are not zero"]),
    ]
    for name, data, code, why, contains in cases:
        write_case("shard_header", name, data, why, code, contains)


# ---------------------------------------------------------------------------------------------------- packs

SHAPE = (1, 4, 8)  # 32 cells, 4 bytes per sample


def shard_file(split=0, index=0, samples=(b"\x01\x02\x03\x04", b"\x0f\x00\xf0\x00"), **header):
    return shard_header(shape=header.pop("shape", SHAPE), count=header.pop("count", len(samples)), split=split,
                        index=index, **header) + b"".join(samples)


def manifest(shards, heldout=(), songs=None, **overrides):
    """shards / heldout: lists of (file, bytes) as stored on disk."""
    def info(entries):
        return [{"file": f, "samples": (len(b) - 64) // 4, "bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                for f, b in entries]
    train_n = sum((len(b) - 64) // 4 for _, b in shards)
    held_n = sum((len(b) - 64) // 4 for _, b in heldout)
    if songs is None:
        songs = [{"md5": "0123456789abcdef0123456789abcdef", "msd_ids": [], "samples": train_n, "split": "train"}]
        if held_n:
            songs.append({"md5": "fedcba9876543210fedcba9876543210", "msd_ids": [], "samples": held_n,
                          "split": "heldout"})
    m = {"format_version": 1, "genre": "rock", "shape": list(SHAPE), "train_shards": info(shards),
         "heldout_shards": info(heldout), "songs": songs, "packing": {}, "summary": {},
         "created_by": "tests/bad_inputs/make_bad_inputs.py"}
    m.update(overrides)
    return json.dumps(m, indent=1).encode()


def pack_cases():
    dl = "DATA_LOSS"
    s0 = shard_file()
    good = {"train-00000.shard": s0}
    cases = [
        ("no_manifest", dict(good), "NOT_FOUND", "shards without a manifest.json",
         ["no_manifest/manifest.json: cannot open: No such file or directory"]),
        ("shard_missing", {"manifest.json": manifest([("train-00000.shard", s0)])}, "NOT_FOUND",
         "the manifest lists a shard that is not there",
         ["train-00000.shard: cannot open shard listed in the manifest"]),
        ("shard_truncated", {"manifest.json": manifest([("train-00000.shard", s0)]), "train-00000.shard": s0[:-3]},
         dl, "the shard lost its last 3 bytes",
         ["train-00000.shard: file is 69 bytes, manifest says 72"]),
        ("shard_count_disagrees",
         {"manifest.json": manifest([("train-00000.shard", s0)]),
          "train-00000.shard": shard_file(count=1, samples=(b"\x01\x02\x03\x04",)) + b"\x0f\x00\xf0\x00"}, dl,
         "the shard header counts 1 sample, the manifest 2 (sizes agree)",
         ["train-00000.shard: header says 1 samples, manifest says 2"]),
        ("shard_bytes_corrupted", {"manifest.json": manifest([("train-00000.shard", s0)]),
                                   "train-00000.shard": s0[:-1] + b"\xff"}, dl,
         "one sample byte flipped after the manifest was written",
         ["train-00000.shard: sha256 mismatch: manifest says"]),
        ("extra_shard", {"manifest.json": manifest([("train-00000.shard", s0)]), "train-00000.shard": s0,
                         "train-00001.shard": shard_file(index=1)}, dl,
         "a shard the manifest does not list", ["train-00001.shard: shard file not listed in"]),
        ("shard_index_wrong", {"manifest.json": manifest([("train-00000.shard", shard_file(index=3))]),
                               "train-00000.shard": shard_file(index=3)}, dl,
         "the first train shard's header says index 3",
         ["header says this is train-00003.shard, the manifest lists it as train shard 0"]),
        ("shard_split_wrong", {"manifest.json": manifest([("train-00000.shard", shard_file(split=1))]),
                               "train-00000.shard": shard_file(split=1)}, dl,
         "a train shard whose header says heldout",
         ["header says this is heldout-00000.shard, the manifest lists it as train shard 0"]),
        ("shard_shape_differs", {"manifest.json": manifest([("train-00000.shard", shard_file(shape=(1, 8, 4)))]),
                                 "train-00000.shard": shard_file(shape=(1, 8, 4))}, dl,
         "the shard's shape (1, 8, 4) has the manifest's size but not its shape (1, 4, 8)",
         ["header shape (1, 8, 4) differs from the manifest's (1, 4, 8)"]),
        ("shard_is_directory", {"manifest.json": manifest([("train-00000.shard", s0)]), "train-00000.shard": None},
         dl, "a directory where the shard belongs", ["train-00000.shard: expected a shard file, got a directory"]),
        ("manifest_is_directory", {"manifest.json": None, "train-00000.shard": s0}, "INVALID_ARGUMENT",
         "a directory where manifest.json belongs", ["manifest.json: read failed: expected a file, got a directory"]),
    ]
    for name, content, code, why, contains in cases:
        write_case("pack_dir", name, content, why, code, contains)


# ---------------------------------------------------------------------------------------------------- checkpoints

def checkpoint(meta=None, payload=b"payload: a LibTorch archive in a real file", version=1, meta_len=None,
               magic=b"TUTTICKP", raw_meta=None):
    if meta is None:
        meta = {"step": 10, "loader_epoch": 0, "loader_batch_in_epoch": 3, "config_yaml": "name: x\n", "extra": {},
                "payload_sha256": hashlib.sha256(payload).hexdigest(), "payload_bytes": len(payload),
                "created_at": "2024-01-01T00:00:00Z"}
    text = raw_meta if raw_meta is not None else json.dumps(meta).encode()
    return magic + struct.pack("<IQ", version, len(text) if meta_len is None else meta_len) + text + payload


def checkpoint_cases():
    dl = "DATA_LOSS"
    payload = b"payload: a LibTorch archive in a real file"
    base = {"step": 10, "loader_epoch": 0, "loader_batch_in_epoch": 3, "config_yaml": "name: x\n", "extra": {},
            "payload_sha256": hashlib.sha256(payload).hexdigest(), "payload_bytes": len(payload),
            "created_at": "2024-01-01T00:00:00Z"}

    def without(key):
        return {k: v for k, v in base.items() if k != key}

    good = checkpoint()
    cases = [
        ("empty.tutti", b"", "INVALID_ARGUMENT", "an empty file", ["expected the magic \"TUTTICKP\""]),
        ("wrong_magic.tutti", checkpoint(magic=b"PK\x03\x04TORC"), "INVALID_ARGUMENT",
         "a bare LibTorch zip archive", ["not a Tutti checkpoint"]),
        ("version_2.tutti", checkpoint(version=2), "FAILED_PRECONDITION", "format version 2",
         ["checkpoint format version 2, this build reads version 1"]),
        ("meta_length_huge.tutti", checkpoint(meta_len=1 << 60), dl, "a metadata length of 2^60",
         ["metadata of 1152921504606846976 bytes announced"]),
        ("meta_length_past_end.tutti", checkpoint(meta_len=10000), dl, "a metadata length past the end of the file",
         ["metadata of 10000 bytes announced"]),
        ("meta_not_json.tutti", checkpoint(raw_meta=b"step=10, epoch=0"), dl, "metadata that is not JSON",
         ["checkpoint metadata is not valid JSON"]),
        ("meta_is_array.tutti", checkpoint(raw_meta=b"[10, 0, 3]"), dl, "metadata that is a JSON array",
         ["checkpoint metadata is not valid JSON"]),
        ("meta_without_step.tutti", checkpoint(without("step")), dl, "metadata without a step",
         ["checkpoint metadata: key 'step'", "key 'step' not found"]),
        ("step_is_string.tutti", checkpoint(dict(base, step="ten")), dl, "step is a string",
         ["checkpoint metadata: key 'step'", "type must be number, but is string"]),
        ("payload_bytes_negative.tutti", checkpoint(dict(base, payload_bytes=-1)), dl, "payload_bytes is -1",
         ["payload is 42 bytes, metadata says 18446744073709551615"]),
        ("payload_truncated.tutti", good[:-5], dl, "the last 5 payload bytes are gone",
         ["truncated or padded checkpoint: payload is 37 bytes, metadata says 42"]),
        ("payload_padded.tutti", good + b"\0" * 8, dl, "8 bytes appended after the payload",
         ["payload is 50 bytes, metadata says 42"]),
        ("payload_corrupted.tutti", good[:-1] + b"!", dl, "one payload byte changed",
         ["corrupted checkpoint: payload sha256 is"]),
    ]
    for name, data, code, why, contains in cases:
        write_case("checkpoint", name, data, why, code, contains)
    write_case("checkpoint", "directory.tutti", {".keep": b"a directory named like a checkpoint\n"},
               "a directory, not a file", "INVALID_ARGUMENT", ["read failed: expected a file, got a directory"])


# ---------------------------------------------------------------------------------------------------- manifests

def manifest_cases():
    inv = "INVALID_ARGUMENT"
    s0 = shard_file()
    base = json.loads(manifest([("train-00000.shard", s0)]))

    def edit(fn):
        m = json.loads(json.dumps(base))
        fn(m)
        return json.dumps(m, indent=1).encode()

    def shard(**kw):
        return lambda m: m["train_shards"][0].update(kw)

    text = manifest([("train-00000.shard", s0)])
    cases = [
        ("cut_off.json", text[:57], inv, "the file stops in the middle of an object",
         ["not valid JSON", "parse error at line 5, column 4"]),
        ("empty.json", b"", inv, "an empty file", ["not valid JSON"]),
        ("array.json", b"[1, 4, 8]", inv, "a JSON array at the top level",
         ["key '(top level)': expected a JSON object, got [1,4,8]"]),
        ("format_version_2.json", edit(lambda m: m.update(format_version=2)), "FAILED_PRECONDITION",
         "format version 2 (a newer tutti)", ["key 'format_version': this build reads version 1"]),
        ("version_string.json", edit(lambda m: m.update(format_version="1")), inv, "format_version is a string",
         ["key 'format_version': expected an integer, got \"1\""]),
        ("shape_two_dims.json", edit(lambda m: m.update(shape=[4, 8])), inv, "a shape of 2 dimensions",
         ["key 'shape': expected an array of 3"]),
        ("shape_zero.json", edit(lambda m: m.update(shape=[0, 4, 8])), inv, "a shape with a 0 dimension",
         ["key 'shape'", "[0,4,8]"]),
        ("path_traversal.json", edit(shard(file="../../outside.shard")), inv, "a shard file name that climbs out",
         ["key 'train_shards[0].file': expected a plain file name ending in .shard"]),
        ("hidden_shard.json", edit(shard(file=".train-00000.shard")), inv, "a hidden shard file name",
         ["key 'train_shards[0].file': expected a plain file name ending in .shard"]),
        ("sha_not_hex.json", edit(shard(sha256="z" * 64)), inv, "a sha256 of non-hex letters",
         ["key 'train_shards[0].sha256': expected 64 lower-case hex digits"]),
        ("sha_upper_case.json", edit(shard(sha256=base["train_shards"][0]["sha256"].upper())), inv,
         "a sha256 in upper case", ["key 'train_shards[0].sha256': expected 64 lower-case hex digits"]),
        ("bytes_disagree.json", edit(shard(bytes=100)), inv, "bytes != 64 + samples x 4",
         ["train_shards[0]", "100"]),
        ("negative_samples.json", edit(shard(samples=-2)), inv, "a shard of -2 samples",
         ["key 'train_shards[0].samples': expected"]),
        ("duplicate_files.json", edit(lambda m: m["train_shards"].append(dict(m["train_shards"][0]))), inv,
         "the same shard listed twice", ["train-00000.shard"]),
        ("songs_do_not_add_up.json", edit(lambda m: m["songs"][0].update(samples=5)), inv,
         "the songs hold 5 train samples, the shards 2", ["songs", "5", "2"]),
        ("song_split_unknown.json", edit(lambda m: m["songs"][0].update(split="validation")), inv,
         "a song in a split that does not exist", ["key 'songs[0].split': expected \"train\" or \"heldout\""]),
        ("md5_number.json", edit(lambda m: m["songs"][0].update(md5=12345)), inv, "an md5 that is a number",
         ["key 'songs[0].md5': expected a string, got 12345"]),
        ("no_genre.json", edit(lambda m: m.pop("genre")), inv, "the genre key is missing",
         ["key 'genre': expected a string"]),
        ("derived_count_lies.json", edit(lambda m: m.update(samples={"train": 99, "heldout": 0})), inv,
         "the derived samples.train says 99, the shards hold 2", ["samples.train", "99"]),
    ]
    for name, data, code, why, contains in cases:
        write_case("pack_manifest", name, data, why, code, contains)
    write_case("pack_manifest", "fuzz_size_overflow", None, "fuzz crash input: shape 2^16 x 2^16 x 2^16 and a "
               "shard whose byte count only matches after 64-bit wrap-around", "INVALID_ARGUMENT",
               ["train_shards[0]"], ["input: fuzz/crashes/pack_manifest/size-overflow-accepted.json"])


# ---------------------------------------------------------------------------------------------------- controls

def control_files():
    """The good twins the control test reads with the same runners (each must load: proves a runner can
    return OK, so the bad inputs fail for what is wrong with them)."""
    d = os.path.join(HERE, "controls")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "pack"))
    s0 = shard_file()
    files = {"pack/manifest.json": manifest([("train-00000.shard", s0)]), "pack/train-00000.shard": s0,
             "shard_header.bin": shard_header(), "checkpoint.tutti": checkpoint(),
             "manifest.json": manifest([("train-00000.shard", s0)]),
             "id_list_good.txt": b"TRAAAAA128F0000001\n", "cleansed_ids.txt":
             b"0123456789abcdef0123456789abcdef    TRAAAAA128F0000001\n"}
    for rel, data in files.items():
        with open(os.path.join(d, rel), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    npy_cases()
    npz_cases()
    midi_cases()
    shard_cases()
    pack_cases()
    checkpoint_cases()
    manifest_cases()
    control_files()
