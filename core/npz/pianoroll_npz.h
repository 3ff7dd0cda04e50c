#pragma once
// pypianoroll's .npz song files (LPD's legacy layout and pypianoroll >= 1.0's), read into and written from a
// sparse Multitrack. See /work/shared/lpd5.md §2 for the format.
//
// Layout on disk (a zip of .npy members plus info.json):
//   info.json                      {"resolution": 24 | "beat_resolution": 24, "name": str|null,
//                                   "0": {"program": int, "is_drum": bool, "name": str}, "1": ..., ...}
//   pianoroll_<i>_csc_data.npy     |u1 velocities or |b1 (binary)   (N,)
//   pianoroll_<i>_csc_indices.npy  <i4 (or <i8) time step per value (N,)
//   pianoroll_<i>_csc_indptr.npy   <i4 (or <i8) column pointers      (129,)
//   pianoroll_<i>_csc_shape.npy    <i8 (or <i4) (T_i, 128)           (2,)
//   pianoroll_<i>.npy              Tutti's extension: a dense (T, 128) |u1 or |b1 roll instead of the four above
//   tempo.npy                      <f8 (or <f4), (T,) legacy or (T, 1) >= 1.0; optional
//   downbeat.npy                   |b1 (or |u1), (T,) or (T, 1); optional
// Other members (e.g. beat.npy) are ignored. Tracks are "0", "1", ... for as long as the key exists.
//
// Errors are values (never exceptions) and read "<path>: <member>: expected ..., got ...". Codes: NotFound
// (file or a required member missing), InvalidArgument (malformed archive, JSON, dtype, shape or CSC
// structure), OutOfRange (an index that does not fit 32 bits), Internal (I/O).
//
// Thread-safety: the functions share no state; call them from any number of threads (each thread reuses its
// own libdeflate decompressor).

#include <string>

#include "core/base/status.h"
#include "core/music/multitrack.h"

namespace tutti {

struct NpzReadOptions {
  // Read tempo.npy into Multitrack::tempo (else it stays empty and the member is never inflated).
  bool load_tempo = true;
  // Read downbeat.npy into Multitrack::downbeat (else it stays empty and the member is never inflated).
  bool load_downbeat = true;
};

// Reads the song at `path`, never densifying it: memory follows the number of active cells.
// Result: resolution from "resolution" (>= 1.0) or "beat_resolution" (legacy); name = info.json's "name"
// (nullopt when null or absent); tracks with name, program, is_drum and pianoroll. Each pianoroll passes
// SparsePianoroll::Validate(); `binary` is true when the values are stored as |b1; explicit zero values are
// dropped. Tracks stored empty with shape (0, 128), as LPD does, get n_steps = T, the song length: the longest
// track, or, when every track is empty, the length of tempo (else downbeat). Tempo and downbeat come back as
// flat vectors of T values whichever of (T,) and (T, 1) was stored; downbeat values are 0/1.
StatusOr<Multitrack> ReadPianorollNpz(const std::string& path, const NpzReadOptions& options = {});

enum class NpzLayout {
  kLegacy,  // as pypianoroll 0.3 wrote LPD: "beat_resolution", tempo and downbeat of shape (T,)
  kV1,      // as pypianoroll 1.0.x writes: "resolution", tempo and downbeat of shape (T, 1)
};

// The bytes of a deflate-compressed .npz holding `song` in `layout` (what WritePianorollNpz stores). numpy's
// np.load and pypianoroll's load read it. Members, in numpy's savez order: tempo.npy and downbeat.npy (only
// when non-empty; downbeat written as |b1 of value != 0), then per track pianoroll_<i>_csc_{data, indices,
// indptr, shape}.npy (data |b1 when `binary`, else |u1; indices/indptr <i4; shape <i8), then info.json.
// A track with no active cell is written as LPD does: shape (0, 128) and empty |b1 data; it reads back with
// n_steps = T and binary = true. Everything else reads back identical. InvalidArgument when a pianoroll fails
// Validate(), a program is outside 0..127 or the resolution is not positive.
StatusOr<std::string> SerializePianorollNpz(const Multitrack& song, NpzLayout layout = NpzLayout::kV1);

// Writes SerializePianorollNpz(song, layout) to `path` atomically (temporary file beside it, fsync, rename,
// directory fsync): readers see the old file or the complete new one. The parent directory must exist.
Status WritePianorollNpz(const Multitrack& song, const std::string& path, NpzLayout layout = NpzLayout::kV1);

}  // namespace tutti
