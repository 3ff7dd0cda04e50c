// The networks' fingerprints: pretty_print, which checkpoints store and compare (DescribeArchitectureDifference in
// core/model/model_options.h names the config key of a mismatch). An option appears only when it differs from the
// tutorial's, so checkpoints written before the option existed keep their fingerprint and still load.

#include <ostream>
#include <vector>

#include "core/model/networks.h"

namespace tutti {

void GeneratorImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::Generator(latent_dim=" << options.latent_dim() << ", tracks=" << options.tracks()
         << ", measures=" << options.measures() << ", steps_per_measure="
         << options.steps_per_measure() << ", pitches=" << options.pitches()
         << ", num_genres=" << options.num_genres()
         << ", grouped_tracks=" << (options.grouped_tracks() ? "true" : "false");
  // Only when on, so the tutorial model's fingerprint (and its old checkpoints) stay as they were.
  if (options.refiner() != RefinerKind::kNone) {
    stream << ", refiner=" << RefinerKindName(options.refiner()) << ", refiner_units=" << options.refiner_units();
  }
  if (options.condition_track() >= 0) stream << ", condition_track=" << options.condition_track();
  if (!options.held_tracks().empty()) {
    stream << ", held_tracks=" << JoinedTracks(options.held_tracks());
    if (options.held_on_eighths()) stream << ", held_on_eighths=true";
    if (options.held_detail()) stream << ", held_detail=true";
    if (options.held_release()) stream << ", held_release=true";
    // Only when it gates fewer than every held track, so the fingerprints of checkpoints from before the key stay.
    const std::vector<int64_t> released = ReleasedTracks(options);
    if (options.held_release() && released != options.held_tracks()) {
      stream << ", held_release_tracks=" << JoinedTracks(released);
    }
    if (!options.held_release_late_tracks().empty()) {
      stream << ", held_release_late_tracks=" << JoinedTracks(options.held_release_late_tracks());
    }
  }
  if (options.output() != OutputActivation::kRelu) stream << ", output=" << OutputActivationName(options.output());
  if (options.bar_levels()) stream << ", bar_levels=true";
  // Only when it is not 1, so the fingerprints of checkpoints from before the key stay.
  if (options.bar_level_scale() != 1.0) stream << ", bar_level_scale=" << options.bar_level_scale();
  if (options.bar_gate()) stream << ", bar_gate=true";
  if (options.bar_gate_hard()) stream << ", bar_gate_hard=true";
  if (options.rest_plans()) stream << ", rest_plans=true";
  if (!options.harmony_tracks().empty()) {
    stream << ", harmony_tracks=" << JoinedTracks(options.harmony_tracks());
    if (options.harmony_after_norm()) stream << ", harmony_after_norm=true";
    if (options.harmony_gate()) stream << ", harmony_gate=true";
    if (options.harmony_gate_lower_only()) stream << ", harmony_gate_lower_only=true";
    if (!options.harmony_root_tracks().empty()) {
      stream << ", harmony_root_tracks=" << JoinedTracks(options.harmony_root_tracks());
    }
  }
  stream << ")";
}

void DiscriminatorImpl::pretty_print(std::ostream& stream) const {
  stream << "tutti::Discriminator(tracks=" << options.tracks() << ", measures=" << options.measures()
         << ", steps_per_measure=" << options.steps_per_measure() << ", pitches="
         << options.pitches() << ", num_genres=" << options.num_genres()
         << ", grouped_tracks=" << (options.grouped_tracks() ? "true" : "false");
  if (options.onset_stream()) stream << ", onset_stream=true";
  if (options.chroma_stream()) stream << ", chroma_stream=true";
  if (options.minibatch_stddev()) stream << ", minibatch_stddev=true";
  if (options.bar_silence()) stream << ", bar_silence=true";
  stream << ")";
}

}  // namespace tutti
