#pragma once
// Accompaniment: a musician's own part in, the whole piece out (`tutti accompany`). The part (given_part.h) is
// cut into phrases of the model's length (4 bars), the model (an accompaniment checkpoint, model.condition_track)
// writes the other tracks of every phrase around it, and the phrases are stitched back into one piece in which
// the musician's part is exactly what was read: on the model's grid, all 128 pitches, notes the model cannot
// hear (outside its 72-pitch range) included.
//
// Phrases: phrase k covers bars [k * measures, (k + 1) * measures) of the piece; a last, shorter phrase is
// given with silence after the piece's end and cut there. Latents: one for the whole piece by default (one
// arrangement throughout, the phrases differ by what the part plays), or one per phrase (vary_latent). The
// seed decides them (checkpoint_sampler.h), so the same request gives the same piece.
//
// Torch-free header; the implementation runs the model through GeneratorModel.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/accompany/given_part.h"
#include "core/base/status.h"
#include "core/data/sample_shape.h"
#include "core/sample/checkpoint_sampler.h"
#include "core/sample/sample_writer.h"

namespace tutti {

struct AccompanyRequest {
  std::string input;        // .mid/.midi/.smf or a pypianoroll .npz
  std::string input_track;  // given_part.h; "" = the model's condition track by program / name
  int64_t start_bar = 0;    // first bar of the song to accompany
  int64_t bars = 0;         // bars from there (>= the model's measures), 0 = to the end
  uint64_t seed = 0;
  std::string genre;        // genre-conditional models: as ResolveGenre takes it
  std::optional<double> threshold;
  bool vary_latent = false;
};

struct Accompaniment {
  GivenPart given;
  int condition_track = -1;
  std::string condition_track_name;
  std::string genre;                 // as GeneratedSamples::genre
  int64_t phrases = 0;
  int64_t bars_per_phrase = 0;
  int lowest_pitch = 24;             // the model's first pitch row (LPD-5: MIDI 24)
  int64_t model_pitches = 0;
  SampleShape shape;                 // (tracks, given.steps(), 128)
  std::vector<uint8_t> piece;        // shape.cells() bytes 0/1, (track, step, MIDI pitch)
  int64_t given_notes_outside = 0;   // notes of the part the model could not hear (kept in the piece)
};

// Errors: InvalidArgument for a model that is not an accompaniment model (naming model.condition_track), bars
// shorter than a phrase, and ReadGivenPart's and GeneratorModel's errors.
StatusOr<Accompaniment> Accompany(const GeneratorModel& model, const AccompanyRequest& request);

// File options for the piece: every MIDI pitch (lowest_pitch 0), the model's grid, LPD-5's names and programs,
// `tempo_qpm`; the rest as `base`.
SampleFileOptions PieceFileOptions(const Accompaniment& piece, double tempo_qpm, SampleFileOptions base = {});

}  // namespace tutti
