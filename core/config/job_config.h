#pragma once
// JobConfig: everything one training job needs, as plain typed structs with documented defaults.
//
// These structs are the only form in which the rest of Tutti sees a job's configuration: YAML is parsed into
// them by core/config/job_config_yaml.h and nothing else reads YAML. The defaults are the MuseGAN tutorial's
// (../shared/lpd5.md §4): Adam lr 1e-3, betas (0.5, 0.9), batch 16, one critic step per generator step,
// gradient penalty weight 10, 20,000 steps, 4 bars x 16 steps x 72 pitches x 5 tracks, latent 128.
//
// Paths. Relative paths are never resolved against the YAML file's directory:
//   - data.packs_dir and output_dir resolve against the process's current working directory;
//   - checkpoint.dir and train.metrics_file resolve against output_dir (ResolveUnderOutputDir below).
// Absolute paths are used as they are.
//
// Thread-safety: plain values; copy freely.

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace tutti {

// Where training samples come from.
struct DataConfig {
  // Directory holding one pack per genre (packs_dir/<genre>/manifest.json + shards), as written by
  // `tutti pack`. Relative to the current working directory.
  std::string packs_dir = "packs";
  // Genres to train on; each names a pack under packs_dir. Must be non-empty. With more than one genre the
  // batches mix them (and the genre label is fed to G and D when model.genre_conditional is on).
  std::vector<std::string> genres = {"rock"};
  // Packs pinned by content: "<genre>=<sha256 of its manifest.json>" entries (`tutti submit` sets them when
  // it uploads the packs to the coordinator, one per genre the experiment can train, so trials of a sweep
  // over genres each find theirs). When set, every genre of `genres` needs a pin, and a worker uses
  // packs_dir/<genre> only if its manifest has the pinned sha256; otherwise it fetches the pack from the
  // coordinator into its node's pack cache (core/data/pack_cache.h). [] = use packs_dir as it is.
  std::vector<std::string> pack_pins;
  // Batches the prefetching loader keeps ready ahead of the training step (per rank). More hides I/O
  // hiccups at the cost of memory (a batch of 16 samples is ~1.4 MiB as float).
  int prefetch_batches = 4;
};

// Shape of the generator/discriminator (MuseGAN tutorial architecture). The tutorial layer table assumes
// the defaults; the model component rejects shapes its layers cannot produce.
struct ModelConfig {
  // Size of the generator's input noise vector.
  int latent_dim = 128;
  // Instrument tracks (LPD-5: drums, piano, guitar, bass, strings).
  int tracks = 5;
  // Bars per sample.
  int measures = 4;
  // Time steps per bar (beat resolution 4 -> 16 steps in 4/4).
  int steps_per_measure = 16;
  // Pitch rows per track, starting at MIDI note 24.
  int pitches = 72;
  // Condition G and D on the genre (one-hot) so one model generates every genre in data.genres.
  bool genre_conditional = false;
  // BinaryMuseGAN options (Dong & Yang, ISMIR 2018; docs/architecture.md "Binary output and note critics").
  // Every default is the tutorial model, so older configs and checkpoints mean what they meant.
  // A refiner after the generator whose output is binary neurons: none (the tutorial: real-valued output
  // thresholded at sample.threshold), deterministic (hard threshold, straight-through gradient) or stochastic
  // (Bernoulli while training).
  std::string refiner = "none";
  // Residual units per track in the refiner.
  int refiner_units = 2;
  // Two-stage training: generator steps before the refiner is switched on (stage one trains G and D alone).
  int64_t refiner_pretrain_steps = 5000;
  // Stage two: fine_tune (G keeps learning with the refiner) or frozen (only the refiner learns). fine_tune by
  // default: on a time budget a frozen generator stops improving at refiner_pretrain_steps.
  std::string refiner_generator = "fine_tune";
  // Extra critic streams over the onset/offset roll and the chroma (pitch classes per beat).
  bool onset_stream = false;
  bool chroma_stream = false;
  // Accompaniment (docs/architecture.md "Accompaniment"): none (the tutorial), or the track whose part is given
  // with every sample (drums, piano, guitar, bass, strings); the generator writes the other tracks around it.
  // `tutti accompany` plays such a model against a musician's own part.
  std::string condition_track = "none";
  // Tracks whose notes hold (core/model/held_steps.h): their 16th-note steps come from per-8th features
  // upsampled and smoothed along time instead of a separate weight per step, the remedy for the on-off flicker
  // of the tutorial's step layer. Track names (drums, piano, guitar, bass, strings) or 0-based indices; [] (the
  // tutorial) for none. configs/real-rock.yaml lists the pitched tracks and leaves the drums' one-step hits.
  std::vector<std::string> held_tracks;
  // With held_tracks: true smooths on the 8th grid and repeats each 8th over its two steps, so every note of a
  // held track lasts at least an 8th and starts on one; false (the default) smooths along 16th steps.
  bool held_on_eighths = false;
  // With held_tracks: true also adds the tutorial's per-step layer to each held track, times a learned gain that
  // starts at zero, so the model can write notes shorter than its held ones where the data has them.
  bool held_detail = false;
  // The generator's last activation (core/model/model_options.h OutputActivation): relu (the tutorial), sigmoid
  // (bounded like the 0/1 data) or binary (binary neurons trained end to end: the critic hears the 0/1 piece).
  std::string output = "relu";
  // The critic's minibatch standard deviation feature (Karras et al. 2018) against mode collapse.
  bool critic_minibatch_stddev = false;
  // Tracks that lean on one chroma per beat made once for all of them (core/model/shared_harmony.h), so tracks in
  // different registers can agree on a chord. Names or indices as held_tracks; [] (the tutorial) for none.
  std::vector<std::string> harmony_tracks;
  // One learned level per track and bar (core/model/bar_levels.h): a track can fall silent for a bar, as real
  // tracks do now and then. false: the tutorial.
  bool bar_levels = false;
  // With harmony_tracks: each listed track's gain on the shared chroma at the start of training. In 20 minutes on
  // real rock the learned gains stay within ~30 % of where they start, so this sets how strongly tracks agree.
  double harmony_gain = 1.0;
  // With harmony_tracks: add the shared chroma after the output layer's BatchNorm, where the track's own product
  // growing during training cannot dilute it (core/model/model_options.h: on real rock it did not help).
  bool harmony_after_norm = false;
  // With held_on_eighths: a learned gate per held track may end a note a 16th early (split it or shorten it), never
  // add one: held notes on the 8th grid are all >= an 8th, where 6-19 % of real rock's are shorter.
  bool held_release = false;
  // With harmony_tracks: the shared chroma also scales each listed track's pitch classes after the activation
  // (down where the chord leaves a class out, up to 2x where it leans on one), so tracks agree on the chord.
  bool harmony_gate = false;
  // With held_release: the held tracks it may cut, names or indices as held_tracks; [] (the default) for every held
  // track. On real rock the bass, whose real notes are nearly all >= an 8th, was the track it cut too often.
  std::vector<std::string> held_release_tracks;
  // With harmony_gate: the gate only turns classes down (its factor at most 1), never doubles a class the chord
  // leans on: up to 2x, used pitch classes overshot real rock by 11-25 % on one seed.
  bool harmony_gate_lower_only = false;
  // With held_release: gated tracks whose gate acts only on each beat's last 16th, so a note starting on the beat
  // ends at worst a 16th early and never shrinks to one 16th. Names or indices as held_tracks; [] (the default)
  // for none. Meant for the bass: on real rock the full gate made a quarter of its notes one 16th long.
  std::vector<std::string> held_release_late_tracks;
  // With harmony_gate: tracks whose gate keeps the beat's leading pitch class and turns the others down by how far
  // they trail it (a root), instead of the centred gate. Names or indices as harmony_tracks; [] for none. Meant
  // for the bass, which in real rock mostly plays one pitch class per beat.
  std::vector<std::string> harmony_root_tracks;
  // With bar_levels: each level scales its track's bar after the activation (2 * sigmoid(level): 1 to start, 0 to
  // silence the bar) instead of shifting it before the output norm, which on real rock left every track with fewer
  // empty bars than real.
  bool bar_gate = false;
  // With bar_gate: the factor is 0 or 1 (straight-through gradient), so a bar is silent or untouched; the soft
  // factor also thins a bar's quieter cells.
  bool bar_gate_hard = false;
  // The critic also reads, per track, the share of the batch's bars that are silent (core/model/model_options.h
  // DiscriminatorOptions::bar_silence): a rare event's rate is a property of the batch, not of one sample.
  bool critic_bar_silence = false;
  // With bar_levels: the levels are the linear map's output times this. Under Adam a factor s on a layer's output
  // is that layer's learning rate times s, so below 1 the levels (and the gates they drive) move s times slower;
  // on real rock the gates emptied 5-35 % of bars by step 500 and then swung between evaluations. 1: as before.
  double bar_level_scale = 1.0;
  // Each sample's tracks rest in the bars of an arrangement drawn from the training data's own samples (which track
  // plays in which bar), picked by the latent (core/model/rest_plans.h); the worker reads the arrangements from the
  // packs and checkpoints carry them. Real rests are rare and come in runs, and learned bar levels did not find them.
  bool rest_plans = false;
};

// model.condition_track's names in track order (LPD-5's tracks).
inline constexpr const char* kConditionTrackNames[] = {"drums", "piano", "guitar", "bass", "strings"};
// The index of an LPD-5 track name of kConditionTrackNames, -1 for any other text.
int Lpd5TrackIndex(const std::string& name);
// The track index model.condition_track names, -1 for "none" (and for a name the schema would refuse).
int ConditionTrackIndex(const ModelConfig& model);
// A list of track names or 0-based indices (model.held_tracks, model.harmony_tracks, ...) as sorted track indices;
// InvalidArgument starting with `key` and naming the entry when one is neither a name of kConditionTrackNames nor
// an index in [0, tracks), or is listed twice.
StatusOr<std::vector<int64_t>> TrackIndices(const std::vector<std::string>& entries, int64_t tracks,
                                            const std::string& key);
StatusOr<std::vector<int64_t>> HeldTrackIndices(const ModelConfig& model);
StatusOr<std::vector<int64_t>> HarmonyTrackIndices(const ModelConfig& model);
StatusOr<std::vector<int64_t>> HeldReleaseTrackIndices(const ModelConfig& model);
StatusOr<std::vector<int64_t>> HeldReleaseLateTrackIndices(const ModelConfig& model);
StatusOr<std::vector<int64_t>> HarmonyRootTrackIndices(const ModelConfig& model);

// The optimisation loop (WGAN-GP with Adam).
struct TrainConfig {
  // Generator steps to run (each preceded by critic_steps discriminator steps). A bench or coordinator may
  // stop earlier on a time budget; the last checkpoint then holds the step reached.
  int64_t steps = 20000;
  // Samples per step per rank; the global batch is batch_size x ranks.
  int64_t batch_size = 16;
  // Adam learning rate of the generator.
  double g_lr = 1e-3;
  // Adam learning rate of the discriminator (critic).
  double d_lr = 1e-3;
  // Adam beta1 (first-moment decay), in [0, 1).
  double beta1 = 0.5;
  // Adam beta2 (second-moment decay), in [0, 1).
  double beta2 = 0.9;
  // Adam epsilon (added to the second-moment root). PyTorch's default 1e-8; larger values damp the
  // sign-like first updates of near-zero gradients (and make runs less sensitive to summation order).
  double adam_eps = 1e-8;
  // Discriminator updates per generator update.
  int critic_steps = 1;
  // Weight of the gradient penalty (lambda in WGAN-GP).
  double gp_weight = 10.0;
  // Decay of the moving average of the generator's weights that evaluations, checkpoints and samples use
  // (core/train/generator_average.h), in [0, 1). 0 (the tutorial): the live generator. 0.999 averages over the
  // last ~1,000 steps: a GAN's generator circles rather than settles, and the average sits in the middle.
  double generator_ema = 0;
  // With generator_ema: the decay at step t is min(generator_ema, (1 + t) / (10 + t)) (a warm-up: the average
  // leaves the initial weights behind early, and long decays become usable in short runs).
  bool generator_ema_warmup = false;
  // Seed for weights, latents and data order; the same seed and rank count reproduce a run on CPU.
  uint64_t seed = 0;
  // LibTorch intra-op threads per rank; 0 = the machine's cores divided by the ranks on this node.
  int intra_op_threads = 0;
  // Log and append a metrics line every this many generator steps.
  int log_every = 50;
  // JSON-lines metrics file (one object per logged step). Relative to output_dir.
  std::string metrics_file = "metrics.jsonl";
  // Where tensors live: "cpu", "cuda", or "auto" (cuda when a device is visible, else cpu).
  std::string device = "cpu";
};

// Periodic checkpoints (both networks, both optimisers, RNG, data position, this config).
struct CheckpointConfig {
  // Checkpoint directory. Relative to output_dir.
  std::string dir = "checkpoints";
  // Write a checkpoint every this many generator steps (and always at the end).
  int64_t every = 1000;
  // Newest checkpoints kept on disk; older ones are removed after a new one is published. The coordinator
  // applies the same count to a trial's stored checkpoints.
  int keep = 3;
  // Coordinator retention: besides the newest `keep`, the best `keep_best` stored checkpoints of a trial by
  // `best_metric` are kept (0 = only the newest).
  int keep_best = 1;
  // Metric that ranks checkpoints for keep_best and for "the best checkpoint": any metric a checkpoint
  // carries (the last training line, "wasserstein", "g_loss", ..., and the last evaluation flattened,
  // "eval.tracks.Piano.used_pitch_classes", ...). "" = none: the newest checkpoint is the best.
  std::string best_metric = "";
  // "min" when smaller values of best_metric are better, "max" otherwise.
  std::string best_mode = "min";
};

// Periodic objective evaluation (MuseGAN metrics on generated samples).
struct EvalConfig {
  // Evaluate every this many generator steps.
  int64_t every = 1000;
  // Samples generated per evaluation. More gives steadier metrics and costs more time.
  int samples = 256;
  // Seed of the fixed evaluation latents, so evaluations of one run compare like with like.
  uint64_t seed = 1234;
  // Compute the realism measure at each evaluation (core/metrics/realism.h): each metric of the `samples`
  // generated samples against the band that as many real training samples span, beside the held-out bar.
  // Costs one pass over (up to 16384) training samples at start-up, on rank 0 only.
  bool realism = true;
  // Random draws of `samples` real training samples per band (>= 1). The requirement, and the
  // default, is >= 200: fewer make the 2.5 / 97.5 % quantiles rough. Cost grows linearly, but is small
  // beside the per-sample pass.
  int realism_draws = 200;
  // Seed of the realism draws and of the held-out subset (`tutti metrics --realism-seed`).
  uint64_t realism_seed = 0;
};

// Data-parallel training across ranks (mpirun / srun).
struct DistributedConfig {
  // Collective backend: "auto" (nccl for CUDA tensors, mpi for CPU), "mpi" or "nccl".
  std::string backend = "auto";
  // Gradient bucket size in MiB; bigger buckets mean fewer, larger allreduces.
  double bucket_mb = 25;
  // Synchronise batch-norm statistics across ranks (the generator's BatchNorm3d).
  bool sync_batchnorm = true;
  // Seconds a collective may wait for its peers before the job fails with a message naming them.
  double timeout_s = 300;
  // Seconds after which a waiting collective logs which ranks have not arrived. At most timeout_s.
  double stall_warning_s = 60;
};

// Turning generator output into music for listening (tutti sample, eval samples).
struct SampleConfig {
  // Tempo written into MIDI files, in quarter notes per minute.
  double tempo_qpm = 100;
  // A generated cell is a note-on when its value is above this threshold.
  double threshold = 0.5;
};

// One training job.
struct JobConfig {
  // Job name: shown in logs and by the coordinator.
  std::string name = "job";
  // Directory for everything the job writes (checkpoints, metrics, samples). Relative to the current
  // working directory.
  std::string output_dir = "runs/job";
  DataConfig data;
  ModelConfig model;
  TrainConfig train;
  CheckpointConfig checkpoint;
  EvalConfig eval;
  DistributedConfig distributed;
  SampleConfig sample;
};

// `path` when it is absolute (or empty); otherwise output_dir/path. Use for checkpoint.dir and
// train.metrics_file.
std::string ResolveUnderOutputDir(const JobConfig& config, const std::string& path);

}  // namespace tutti
