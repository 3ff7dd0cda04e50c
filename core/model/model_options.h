#pragma once
// Options of the MuseGAN-style generator and discriminator (../shared/lpd5.md section 4).
// Torch-free apart from <torch/arg.h> (which only includes <utility>), so config code can fill
// these without pulling LibTorch into its build.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/arg.h>

#include "core/base/status.h"

namespace tutti {

// The generator's optional refiner (BinaryMuseGAN, Dong & Yang, ISMIR 2018; core/model/refiner.h): what its
// output neurons are. kNone is the tutorial: real-valued output, thresholded after the fact.
enum class RefinerKind {
  kNone,
  // Hard threshold forward (sigmoid(a) > 0.5), sigmoid-adjusted straight-through gradient backward.
  kDeterministic,
  // Bernoulli(sigmoid(a)) forward while training, the same straight-through gradient; in eval mode the
  // likelier value, so a seed alone decides a sample.
  kStochastic,
};
// "none", "deterministic", "stochastic" (the config's spelling).
const char* RefinerKindName(RefinerKind kind);
// The inverse of RefinerKindName; false for any other text.
bool ParseRefinerKind(const std::string& text, RefinerKind* kind);

// The generator's last activation. kRelu (the tutorial): unbounded above, so the critic compares real 0/1 cells
// with any non-negative value, a cell may hover at the sampling threshold and faint cells come out as one-step
// specks. kSigmoid: bounded like the data (MuseGAN's own generator ends in a bounded tanh). kBinary: deterministic
// binary neurons (hard threshold forward, sigmoid-adjusted straight-through gradient backward) trained end to end,
// so the critic judges exactly the 0/1 piece a user gets (BinaryMuseGAN's point, without its separate refiner).
enum class OutputActivation { kRelu, kSigmoid, kBinary };
// "relu", "sigmoid", "binary" (the config's spelling), and the inverse (false for any other text).
const char* OutputActivationName(OutputActivation activation);
bool ParseOutputActivation(const std::string& text, OutputActivation* activation);

// Shape of one sample: (tracks, measures * steps_per_measure, pitches), values 0/1.
// The layer kernels follow from the shape; with the defaults they are exactly the tutorial's
// table: pitches are built as 6 * (pitches / 6), time steps as 4 * (steps_per_measure / 4).
struct GeneratorOptions {
  // Size of the latent vector z ~ N(0, 1).
  TORCH_ARG(int64_t, latent_dim) = 128;
  // Number of instrument tracks (LPD-5: drums, piano, guitar, bass, strings).
  TORCH_ARG(int64_t, tracks) = 5;
  // Measures per sample (>= 2; the discriminator's temporal convs need two).
  TORCH_ARG(int64_t, measures) = 4;
  // Time steps per measure (multiple of 4; 16 = sixteenth notes in 4/4).
  TORCH_ARG(int64_t, steps_per_measure) = 16;
  // Pitch range (multiple of 6; 72 = C1..B6 in LPD-5 as trimmed by the tutorial).
  TORCH_ARG(int64_t, pitches) = 72;
  // 0: unconditional (the tutorial). > 0: a learned genre embedding (num_genres x latent_dim,
  // initialised to zero so training starts as the unconditional model) is added to z.
  TORCH_ARG(int64_t, num_genres) = 0;
  // true: the per-track branches run as one (grouped) convolution per layer, same math and
  // same parameter count, ~1.2x faster. false: one module per track, like the tutorial.
  TORCH_ARG(bool, grouped_tracks) = true;
  // A refiner after the generator whose output layer is binary neurons (kNone: none, the tutorial).
  TORCH_ARG(RefinerKind, refiner) = RefinerKind::kNone;
  // Residual units per track in the refiner (the paper's two).
  TORCH_ARG(int64_t, refiner_units) = 2;
  // Accompaniment: -1 (the tutorial) generates every track from z alone. A track index makes the generator
  // write the others around that track's part, given with every sample (condition_encoder.h): its output for
  // that track is the given part itself, so the critic judges the given part with what was written for it.
  TORCH_ARG(int64_t, condition_track) = -1;
  // Tracks whose step layer holds notes (core/model/held_steps.h): empty (the tutorial) builds every track's
  // 16th-note steps with the transposed convolution whose kernel equals its stride, which gives each step of a
  // beat its own weights and lets a track flicker on and off from one 16th to the next. A listed track's steps
  // come from per-8th features upsampled and smoothed along time instead, so its notes hold unless the music
  // changes. Meant for pitched tracks; drums keep per-step hits. Requires grouped_tracks. Sorted, distinct.
  TORCH_ARG(std::vector<int64_t>, held_tracks) = {};
  // With held_tracks: false (the default) smooths along 16th steps, so a held track may still start or end a note
  // on any 16th; true smooths the 8ths and then repeats each over its two steps, so every note of a held track is
  // at least an 8th long and starts on an 8th (HeldStepsImpl's on_eighths).
  TORCH_ARG(bool, held_on_eighths) = false;
  // With held_tracks: each held track also adds the tutorial's per-step product (transconv4's own weights, computed
  // anyway) times a learned gain per track that starts at zero (GeneratorImpl::held_detail_gain). Held notes on the
  // 8th grid are all >= an 8th, where 6-19 % of real rock's pitched notes are shorter; the gain lets the critic bring
  // back as many 16th-level notes as it finds in the data, starting from the held model bit for bit.
  TORCH_ARG(bool, held_detail) = false;
  // With held_on_eighths: each held track may end a note a 16th early. On the second 16th of every 8th its output is
  // multiplied by 1 - gain * sigmoid(w . f + b), with f the tutorial's per-step features of that 16th and octave
  // (transconv4's product, computed anyway) and a gain per track in [0, 1] that starts at zero
  // (core/model/held_release.h). A gate that only lowers the output can end notes early or split them, never add
  // a pitch: held_detail's added product brought short notes back but with them the flicker (used pitch classes
  // +22-40 % on real rock). Needs output relu or sigmoid (a binary output's 0/1 would come out fractional).
  TORCH_ARG(bool, held_release) = false;
  // With held_release: the held tracks it gates, sorted and distinct; empty (the default) gates every held track.
  // On real rock the gate (with harmony_gate) cut the bass, whose real notes are nearly all >= an 8th (89-94 %),
  // down to 65-87 %, while the other tracks landed in or near their bands.
  TORCH_ARG(std::vector<int64_t>, held_release_tracks) = {};
  // With held_release: gated tracks whose gate acts only on the last 16th of each beat, not on the second 16th of
  // its first 8th too. Sorted, distinct, each one gated. A held note starting on the beat then ends at worst a 16th
  // before the beat's end (three 16ths), where the full gate cut it to one: on real rock a quarter of the bass's
  // notes were one 16th long, three quarters of those starting on the beat (real bass: 6-11 % shorter than an 8th).
  TORCH_ARG(std::vector<int64_t>, held_release_late_tracks) = {};
  // The output layer's activation after its BatchNorm (OutputActivation).
  TORCH_ARG(OutputActivation, output) = OutputActivation::kRelu;
  // Tracks that lean on one shared chroma per beat (core/model/shared_harmony.h): empty (the tutorial) lets every
  // track choose its pitch classes at each octave on its own, so tracks in different registers rarely agree on a
  // chord. Meant for pitched tracks. Requires grouped_tracks and pitches == 72 (6 octaves of 12). Sorted, distinct.
  TORCH_ARG(std::vector<int64_t>, harmony_tracks) = {};
  // With harmony_tracks: every listed track's gain on the shared chroma when the weights are drawn. An initial
  // value, not part of the architecture: left out of the fingerprint, so checkpoints load whatever it was.
  TORCH_ARG(double, harmony_gain) = 1.0;
  // With harmony_tracks: add the shared chroma after transconv5's BatchNorm instead of before it. Before (the
  // default), the norm divides it by the spread of the track's own product, which may grow as training goes on;
  // after, its weight against the normalised track is the gain's alone. Built to test why the tonal distances on
  // real rock come close to real by step 500 and drift away by step 2,000 while the learned gains stay put: it did
  // not stop the drift (docs/results/2026-12-07-harmony-strength), so the dilution is not the cause.
  TORCH_ARG(bool, harmony_after_norm) = false;
  // With harmony_tracks: the shared chroma also gates each listed track's output after the activation, per pitch
  // class: times 2 * sigmoid(gain * (chroma - its mean over the 12 classes)), 1 where the chroma is flat. Added, the
  // chroma only shifts which pitch classes a track prefers, and on real rock the tracks still drifted apart (tonal
  // distances 0.7-1.1 against 0.49-0.88); as a factor it scales down every class the chord leaves out, however
  // loud the track's own product is there. Needs output relu or sigmoid.
  TORCH_ARG(bool, harmony_gate) = false;
  // With harmony_gate: the factor is at most 1 (min(1, 2 * sigmoid(...))), so the gate only turns down the classes
  // the chord leaves out. Up to 2x, a class a track barely played could cross the 0.5 threshold where the chord
  // leaned on it: used pitch classes rose 11-25 % above real rock on one seed.
  TORCH_ARG(bool, harmony_gate_lower_only) = false;
  // With harmony_gate: listed tracks (sorted, distinct, each a harmony track) take a root gate instead, per pitch
  // class exp(gain * (chroma - its max over the 12 classes)): 1 for the beat's leading class, falling off for the
  // rest, so the track plays what the chord leans on most, in any octave. Meant for the bass: on real rock the
  // centred gate left it 12-23 % over real in used pitch classes and furthest from the other tracks in tonal
  // distance, where a real bass mostly plays one class (the chord's root) per beat. Its gain still learns: near
  // zero the factor is 1 everywhere.
  TORCH_ARG(std::vector<int64_t>, harmony_root_tracks) = {};
  // One learned level per track and bar from the bar's features (core/model/bar_levels.h), so a track can fall
  // silent for a bar as real tracks do. false: the tutorial. Requires grouped_tracks.
  TORCH_ARG(bool, bar_levels) = false;
  // With bar_levels: each level scales its track's bar after the activation, by 2 * sigmoid(level) (1 at the start,
  // 0 to 2), instead of shifting it before the output norm (core/model/bar_levels.h BarLevelsImpl::Gate). A shift
  // silences a bar only when it pushes every one of the bar's 16 x 72 cells under the threshold, its loudest
  // included; a factor under 0.5 / the loudest cell does it at once. On real rock the shift left every track's
  // empty bars under real (drums 0.1 % against 0.9 %, bass 0-1 % against 1.6 %). The gate overshot instead and
  // tied the default after 20 minutes (docs/results/2026-12-07-bar-gate).
  TORCH_ARG(bool, bar_gate) = false;
  // With bar_gate: the factor is 0 or 1 (the bar is silent or as the track wrote it) with a straight-through
  // gradient, BinaryMuseGAN's deterministic binary neuron at the scale of a bar. The soft factor is also a per-bar
  // volume: under 1 it drops the bar's quieter cells, and on real rock the drums played 11-18 % fewer pitch
  // classes per bar than real with it. Hard, the bars flipped on and off between evaluations: worse than either.
  TORCH_ARG(bool, bar_gate_hard) = false;
  // With bar_levels: each level is the linear map's output times this (core/model/bar_levels.h). Adam moves a
  // weight by about its learning rate whatever the gradient's size, so a factor s on the map's output makes the
  // levels learn s times slower than the rest of the generator: the gates above emptied 5-35 % of bars in every
  // track by step 500 on real rock and then swung between evaluations. In the fingerprint when it is not 1.
  TORCH_ARG(double, bar_level_scale) = 1.0;
  // Each sample's tracks rest in the bars of a plan drawn from the training data's own arrangements, picked by the
  // latent's first coordinate (core/model/rest_plans.h): real rock's rests, rare and in runs, which neither the
  // levels nor the gates above learned. The plans are a buffer the trainer fills from the packs. false: the tutorial.
  TORCH_ARG(bool, rest_plans) = false;
};

struct DiscriminatorOptions {
  TORCH_ARG(int64_t, tracks) = 5;
  TORCH_ARG(int64_t, measures) = 4;
  TORCH_ARG(int64_t, steps_per_measure) = 16;
  TORCH_ARG(int64_t, pitches) = 72;
  // 0: unconditional. > 0: projection discriminator: D(x, g) = dense(h) + <embedding[g], h>
  // with h the 256-d feature (embedding initialised to zero).
  TORCH_ARG(int64_t, num_genres) = 0;
  // See GeneratorOptions::grouped_tracks.
  TORCH_ARG(bool, grouped_tracks) = true;
  // Computation only (same parameters, same math, float results equal up to rounding order): on CPU every
  // LayerNorm + LeakyReLU runs as one autograd node with hand-written first and second derivatives
  // (core/model/norm_act.h), ~2x fewer passes over memory in a WGAN-GP step. false: LibTorch's composed ops.
  TORCH_ARG(bool, fused_norm_act) = true;
  // Extra streams (BinaryMuseGAN): the onset/offset roll (the difference along time) and the chroma (pitch
  // classes per beat), each through per-track then shared layers; their features join the main stream's
  // before the last dense layer. Off: the tutorial's critic.
  TORCH_ARG(bool, onset_stream) = false;
  TORCH_ARG(bool, chroma_stream) = false;
  // Minibatch standard deviation (Karras et al., ICLR 2018): one more feature before the dense layer, the mean
  // over the critic's features of their standard deviation across the batch, so a generator that writes the
  // same piece for every latent is told apart from real data. Per process: with data-parallel ranks each
  // rank's batch is its own. Off: the tutorial's critic.
  TORCH_ARG(bool, minibatch_stddev) = false;
  // Bar silence across the batch: one more feature per track before the dense layer, the batch's mean over its
  // samples and bars of 1 - min(1, the bar's loudest cell), the same for every sample of the batch (per spread
  // group, as minibatch_stddev). Why: an empty bar is a rare event (1-6 % of a real rock track's bars), so one
  // sample without one looks real and a critic that scores samples one at a time cannot tell that a generator
  // never leaves a bar empty; its rate is a property of the batch. Its gradient reaches each bar's loudest cell,
  // the one a bar must lower to fall silent. Off: the tutorial's critic. On real rock in 20 minutes it left empty
  // bars as few as before (docs/results/2026-12-07-bar-gate).
  TORCH_ARG(bool, bar_silence) = false;
};

// The tracks held_release gates: held_release_tracks, or every held track where that is empty (none without
// held_release).
std::vector<int64_t> ReleasedTracks(const GeneratorOptions& options);
// "1+3+4": a track list as fingerprints and module names print it.
std::string JoinedTracks(const std::vector<int64_t>& tracks);
// For each of `tracks` tracks, its position in `listed` (sorted, distinct), -1 where it is not listed: the slot of
// a per-listed-track weight or column.
std::vector<int64_t> ListedSlots(const std::vector<int64_t>& listed, int64_t tracks);

// OK, or InvalidArgument naming the field, the constraint and the value.
Status ValidateGeneratorOptions(const GeneratorOptions& options);
Status ValidateDiscriminatorOptions(const DiscriminatorOptions& options);
// The generator's output must be what the discriminator reads.
Status ValidateModelPair(const GeneratorOptions& g, const DiscriminatorOptions& d);

// What differs between two architecture fingerprints (the "tutti::Generator(k=v, ...) tutti::Discriminator(
// ...)" text GanTrainer stores in checkpoints), one entry per option named by its config key where it has one,
// e.g. "model.refiner: deterministic in the checkpoint, none here". Options a fingerprint leaves out have
// their default (the tutorial model's fingerprint names no refiner and no streams). Empty when they agree.
std::string DescribeArchitectureDifference(const std::string& checkpoint, const std::string& current);

}  // namespace tutti
