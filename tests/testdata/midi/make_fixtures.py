#!/usr/bin/python3
"""Regenerates the MIDI fixtures of core/midi's tests. Run with Debian's python3-mido:

    /usr/bin/python3 tests/testdata/midi/make_fixtures.py

Valid files are written by mido (which uses running status when saving); broken files are written byte by
byte. The expected step positions asserted in core/midi/*_test.cc are listed beside each note below
(step = round(tick * 24 / ticks_per_quarter), halves up).
"""
import os
import struct

import mido

HERE = os.path.dirname(os.path.abspath(__file__))
BAD = os.path.join(HERE, "bad")


def track_from(events, name=None):
    """events: (absolute tick, mido message); stable-sorted by tick, converted to delta times."""
    track = mido.MidiTrack()
    if name is not None:
        track.append(mido.MetaMessage("track_name", name=name, time=0))
    now = 0
    for tick, msg in sorted(events, key=lambda e: e[0]):
        track.append(msg.copy(time=tick - now))
        now = tick
    return track


def note(channel, pitch, on, off, velocity):
    """A note as note_on + note_on velocity 0 (the running-status friendly note-off)."""
    return [(on, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)),
            (off, mido.Message("note_on", channel=channel, note=pitch, velocity=0))]


def type0():
    """tpq 96: one step = 4 ticks."""
    ev = [
        (0, mido.MetaMessage("set_tempo", tempo=500000)),
        (0, mido.MetaMessage("time_signature", numerator=4, denominator=4)),
        (0, mido.Message("program_change", channel=0, program=0)),
        (0, mido.Message("program_change", channel=1, program=33)),
        (0, mido.Message("sysex", data=[0x7E, 0x7F, 0x09, 0x01])),  # GM on: skipped
        (0, mido.Message("note_on", channel=0, note=60, velocity=80)),   # piano 60: steps [0, 24)
        (0, mido.Message("note_on", channel=0, note=64, velocity=90)),   # piano 64: [0, 48), running status
        (0, mido.Message("note_on", channel=9, note=36, velocity=100)),  # drums 36: [0, 3)
        (12, mido.Message("note_on", channel=9, note=36, velocity=0)),
        (48, mido.Message("control_change", channel=0, control=64, value=127)),  # skipped
        (48, mido.Message("note_on", channel=0, note=67, velocity=70)),  # piano 67: [12, 18)
        (72, mido.Message("note_on", channel=0, note=67, velocity=0)),
        (96, mido.Message("note_on", channel=0, note=60, velocity=0)),
        (192, mido.Message("note_on", channel=0, note=64, velocity=0)),
        (192, mido.Message("note_on", channel=1, note=40, velocity=60)),  # bass 40: [48, 96)
        (200, mido.Message("pitchwheel", channel=1, pitch=100)),          # skipped
        (384, mido.Message("note_on", channel=1, note=40, velocity=0)),
        # Overlapping repeats of pitch 72: the first off closes the oldest note.
        (384, mido.Message("note_on", channel=0, note=72, velocity=50)),   # [96, 120)
        (432, mido.Message("note_on", channel=0, note=72, velocity=110)),  # [108, 144)
        (480, mido.Message("note_on", channel=0, note=72, velocity=0)),
        (576, mido.Message("note_on", channel=0, note=72, velocity=0)),
        # Rounding: tick 402 -> step 100.5 -> 101; tick 410 -> 102.5 -> 103.
        (402, mido.Message("note_on", channel=0, note=48, velocity=30)),   # [101, 103)
        (410, mido.Message("note_off", channel=0, note=48, velocity=0)),
        (600, mido.MetaMessage("end_of_track")),                           # song length 150 steps
    ]
    track = track_from(ev[:-1], name="Type0 Song")
    track.append(mido.MetaMessage("end_of_track", time=600 - sum(m.time for m in track)))
    mid = mido.MidiFile(type=0, ticks_per_beat=96)
    mid.tracks.append(track)
    path = os.path.join(HERE, "type0_running_status.mid")
    mid.save(path)
    raw = open(path, "rb").read()
    # note_on 60 80, delta 0, then 64 90 without a status byte: running status is really in the file.
    assert b"\x90\x3c\x50\x00\x40\x5a" in raw, "mido did not write running status"
    # The same song with an unknown chunk between MThd and MTrk, which readers must skip.
    with open(os.path.join(HERE, "unknown_chunk.mid"), "wb") as f:
        f.write(raw[:14] + b"XFIH" + struct.pack(">I", 5) + b"hello" + raw[14:])


def type1():
    """tpq 480: one step = 20 ticks."""
    tempo = [
        (0, mido.MetaMessage("set_tempo", tempo=500000)),         # 120 qpm
        (0, mido.MetaMessage("time_signature", numerator=4, denominator=4)),
        (1920, mido.MetaMessage("set_tempo", tempo=666667)),      # step 96: 90 qpm
        (3840, mido.MetaMessage("set_tempo", tempo=400000)),      # step 192: 150 qpm
        (7680, mido.MetaMessage("time_signature", numerator=3, denominator=4)),  # step 384: bars of 72
    ]
    t0 = track_from(tempo, name="Tempo")
    t0.append(mido.MetaMessage("end_of_track", time=9600 - 7680))  # song length 480 steps

    def inst(name, channel, program, notes, extra=()):
        ev = [(0, mido.Message("program_change", channel=channel, program=program))] if program is not None else []
        for n in notes:
            ev += note(channel, *n)
        return track_from(ev + list(extra), name=name)

    tracks = [
        t0,
        inst("Piano", 0, 0, [(60, 0, 480, 100)]),          # Piano 60: [0, 24)
        inst("Guitar", 1, 25, [(52, 480, 960, 90)]),       # Guitar 52: [24, 48)
        inst("Bass", 2, 33, [(36, 0, 1920, 80)]),          # Bass 36: [0, 96)
        inst("Strings", 3, 48, [(67, 1920, 3840, 70)]),    # Strings 67: [96, 192)
        inst("Trumpet", 4, 56, [(72, 960, 1440, 110)]),    # brass -> Strings 72: [48, 72)
        # Channel 10 is drums whatever its program. 36: [0, 3); 38: ticks 480..510 -> [24, 26);
        # 42: ticks 10..15 -> steps 1..1, kept as one step [1, 2).
        inst("Drums", 9, 25, [(36, 0, 60, 100), (38, 480, 510, 90), (42, 10, 15, 80)]),
        inst("Organ", 5, 16, [(55, 2880, 3360, 60)]),      # organ -> Piano 55: [144, 168)
        inst("Seashore", 6, 122, [(50, 0, 480, 60)]),     # sound effects: dropped
        # Program change mid-track: 62 at [0, 12) is Piano, 62 at [96, 120) is Guitar (30).
        inst("Switcher", 7, 0, [(62, 0, 240, 50), (62, 1920, 2400, 50)],
             extra=[(1920, mido.Message("program_change", channel=7, program=30))]),
        # No program change of its own: channel 1's program (25, set in "Guitar") applies -> Guitar 45.
        inst("Shared", 1, None, [(45, 4800, 5280, 40)]),   # [240, 264)
    ]
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.extend(tracks)
    mid.save(os.path.join(HERE, "type1_multi.mid"))


def mthd(fmt, ntracks, division):
    return b"MThd" + struct.pack(">IHHH", 6, fmt, ntracks, division)


def mtrk(body):
    return b"MTrk" + struct.pack(">I", len(body)) + body


EOT = b"\x00\xff\x2f\x00"
ONE_NOTE = b"\x00\x90\x3c\x40\x60\x80\x3c\x00" + EOT


def bad():
    os.makedirs(BAD, exist_ok=True)
    files = {
        # Cut inside the first chunk header: 6 of its 8 bytes at byte 14.
        "truncated.mid": open(os.path.join(HERE, "type0_running_status.mid"), "rb").read()[:20],
        # Chunk length consistent, but the chunk ends after the first data byte of a note-on (byte 25).
        "truncated_event.mid": mthd(0, 1, 96) + mtrk(b"\x00\x90\x3c"),
        "wrong_magic.mid": b"RIFF" + struct.pack("<I", 20) + b"RMIDdata" + mthd(0, 1, 96)[:12],
        # MTrk at byte 14 claims 0x7FFFFFF0 bytes; the file has 12 after the header.
        "chunk_too_long.mid": mthd(0, 1, 96) + b"MTrk" + struct.pack(">I", 0x7FFFFFF0) + ONE_NOTE[:-4] + EOT,
        # Track 2 starts with a data byte: its chunk is at 14 + 19 + 20 = 53, its first event byte at 61 + 1 = 62.
        "running_status_no_status.mid": mthd(1, 3, 96) + mtrk(b"\x00\xff\x51\x03\x07\xa1\x20" + EOT)
        + mtrk(ONE_NOTE) + mtrk(b"\x00\x3c\x40\x60\x80\x3c\x00" + EOT),
        "type2.mid": mthd(2, 1, 96) + mtrk(ONE_NOTE),
        "smpte.mid": mthd(1, 1, 0xE728) + mtrk(ONE_NOTE),  # -25 fps, 40 ticks per frame
    }
    for name, data in files.items():
        with open(os.path.join(BAD, name), "wb") as f:
            f.write(data)
    assert len(mthd(1, 3, 96) + mtrk(b"\x00\xff\x51\x03\x07\xa1\x20" + EOT) + mtrk(ONE_NOTE)) == 53


if __name__ == "__main__":
    type0()
    type1()
    bad()
    for root, _, names in os.walk(HERE):
        for name in sorted(names):
            if name.endswith(".mid"):
                path = os.path.join(root, name)
                print(os.path.relpath(path, HERE), os.path.getsize(path), "bytes")
