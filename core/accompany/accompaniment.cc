#include "core/accompany/accompaniment.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/music/multitrack.h"

namespace tutti {

StatusOr<Accompaniment> Accompany(const GeneratorModel& model, const AccompanyRequest& request) {
  const ModelConfig& m = model.config().model;
  if (model.condition_track() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        model.name(), " is not an accompaniment model (model.condition_track: none): it writes every track from "
                      "noise alone. Train one with model.condition_track set (e.g. bass), or use `tutti generate`"));
  }
  const SampleShape shape = model.shape();
  const int64_t measures = m.measures, steps_per_bar = m.steps_per_measure, phrase_steps = shape.steps;
  if (request.bars != 0 && request.bars < measures) {
    return absl::InvalidArgumentError(absl::StrCat("--bars ", request.bars, ": at least one phrase of ", measures,
                                                   " bars (or 0 for the whole song)"));
  }
  Accompaniment out;
  out.condition_track = model.condition_track();
  out.condition_track_name = model.condition_track_name();
  out.bars_per_phrase = measures;
  out.model_pitches = shape.pitches;
  GivenPartOptions part_options;
  part_options.condition_track = out.condition_track;
  part_options.condition_track_name = out.condition_track_name;
  part_options.input_track = request.input_track;
  part_options.steps_per_beat = static_cast<int>(std::max<int64_t>(1, steps_per_bar / 4));
  part_options.steps_per_bar = static_cast<int>(steps_per_bar);
  part_options.start_bar = request.start_bar;
  part_options.bars = request.bars;
  TUTTI_ASSIGN_OR_RETURN(out.given, ReadGivenPart(request.input, part_options));
  const GivenPart& given = out.given;
  const int64_t steps = given.steps(), pitches = shape.pitches, tracks = shape.tracks, low = out.lowest_pitch;
  out.phrases = (given.bars + measures - 1) / measures;
  out.given_notes_outside = given.NotesOutside(out.lowest_pitch, static_cast<int>(pitches));

  // The model's view of each phrase: its pitch rows, silence after the piece's end.
  BatchItem item;
  item.n = out.phrases;
  item.seed = request.seed;
  item.genre = request.genre;
  item.threshold = request.threshold;
  item.shared_latent = !request.vary_latent;
  item.given.assign(static_cast<size_t>(out.phrases * phrase_steps * pitches), 0);
  for (int64_t step = 0; step < steps; ++step) {
    for (int64_t r = 0; r < pitches; ++r) {
      item.given[static_cast<size_t>(step * pitches + r)] = given.roll[static_cast<size_t>(step * kMidiPitches + low + r)];
    }
  }
  TUTTI_ASSIGN_OR_RETURN(std::vector<GeneratedSamples> generated, model.GenerateBatch({item}));
  const GeneratedSamples& phrases = generated[0];
  out.genre = phrases.genre;

  out.shape = SampleShape{tracks, steps, kMidiPitches};
  out.piece.assign(static_cast<size_t>(out.shape.cells()), 0);
  for (int64_t t = 0; t < tracks; ++t) {
    uint8_t* track = out.piece.data() + t * steps * kMidiPitches;
    if (t == out.condition_track) {
      std::copy(given.roll.begin(), given.roll.end(), track);
      continue;
    }
    for (int64_t step = 0; step < steps; ++step) {
      const int64_t k = step / phrase_steps, s = step % phrase_steps;
      const uint8_t* row = phrases.binary.data() + ((k * tracks + t) * phrase_steps + s) * pitches;
      std::copy(row, row + pitches, track + step * kMidiPitches + low);
    }
  }
  // The model returns the given part in its own track; anything else means the stitching above (or the model)
  // broke the contract this command promises, so say so rather than write a piece that differs.
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t k = step / phrase_steps, s = step % phrase_steps;
    const uint8_t* row = phrases.binary.data() + ((k * tracks + out.condition_track) * phrase_steps + s) * pitches;
    if (!std::equal(row, row + pitches, item.given.data() + step * pitches)) {
      return absl::InternalError(absl::StrCat(model.name(), ": the model changed the given ", out.condition_track_name,
                                              " part at step ", step));
    }
  }
  return out;
}

SampleFileOptions PieceFileOptions(const Accompaniment& piece, double tempo_qpm, SampleFileOptions base) {
  base.lowest_pitch = 0;
  base.steps_per_bar = piece.given.steps_per_bar;
  base.steps_per_beat = std::max(1, piece.given.steps_per_bar / 4);
  base.tempo_qpm = tempo_qpm;
  base.overview_samples = 1;
  return base;
}

}  // namespace tutti
