#pragma once
// Samples from a training checkpoint: the one implementation behind `tutti generate`, `tutti metrics
// --checkpoint`, the coordinator's sample service and (its chunked thresholding, binarize.h) the worker's
// evaluation. This header includes no LibTorch; the implementation does.
//
// Loading (GeneratorModel::Load / LoadFromBytes) reads ONLY the generator: ReadCheckpointMeta-style
// verification of the whole file (a truncated or corrupted one is DataLoss naming it) -> ParseJobConfig of
// the config YAML inside -> a bare Generator built from GeneratorOptionsFromConfig -> the "generator"
// sub-archive of the payload (GanTrainer::SaveState's layout) loaded into it. No discriminator, no
// optimisers, no GanTrainer, and LibTorch's process-wide thread count is left alone. (LibTorch parses an
// archive whole, so the other entries are read and dropped while loading; only the generator is kept.)
// A generator that does not fit the model its config describes is FailedPrecondition naming the file.
//
// Latents: one CPU generator seeded with `seed` draws all n latents at once, (n, latent_dim) standard
// normal, so the same checkpoint, seed and n give the same samples.
// Forward passes always have the same number of rows, forward_rows() (4 on the CPU, 64 on CUDA), padded
// with zero latents; BatchNorm is in eval mode, so a row's output depends only on its own latent and genre.
// Why a fixed row count: LibTorch's kernels pick their algorithm, blocking and threading from the shapes
// they are given, and a different choice rounds differently. Measured here (Debian LibTorch 1.13, OpenBLAS
// 0.3.21 with OpenMP, oneDNN 2.6, 2 intra-op threads): the convolutions give the same bits for a sample at
// any batch size, but the last layer's matrix product (rows x 16 by 16 x 12 per track) runs single-threaded
// below M*N*K = 262144 (3 samples) and multi-threaded above, and the two differ in the last bit (2.98e-8);
// a sample alone and the same sample in a batch of 16 were therefore NOT bit-identical. With every forward
// at one fixed shape, every call makes the same choices, so a sample's bits do not depend on what it is
// batched with, where it sits in the batch, or how many samples the request asked for (checked by
// checkpoint_sampler_test over many seeds, positions and batch sizes). They do still depend on the machine,
// the library build and LibTorch's intra-op thread count: same seed, same bytes holds within one process
// (and across processes with the same thread count on the same machine), not across machines. Padding costs
// little: on the CPU a sample costs about the same at 4 rows as at 32, and on a GPU 64 rows cost what one does.
// Threshold: the generator's last block ends in ReLU (shared/lpd5.md §4), so its output is >= 0 and not a
// probability; as in the MuseGAN tutorial a cell is active when its raw value is > threshold
// (config sample.threshold, 0.5 by default).
// Genre: conditional models (model.genre_conditional) generate data.genres[index]; unconditional models
// ignore it, and asking one for a genre it was not trained on (alone) is an error.
// Accompaniment models (model.condition_track) write the other tracks around a given part: every request
// carries that part per sample (BatchItem::given); Generate, which has none, is refused naming `tutti
// accompany`. The padding rows of a fixed-size forward get a silent part.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/config/job_config.h"
#include "core/data/sample_shape.h"
#include "core/music/track_set.h"

namespace tutti {

// One request of a GenerateBatch call: what Generate's arguments are.
struct BatchItem {
  int64_t n = 1;                    // samples, >= 1
  uint64_t seed = 0;                // seed of the latents
  std::string genre;                // as ResolveGenre takes it
  std::optional<double> threshold;  // nullopt = the config's sample.threshold
  std::string default_genre;
  bool keep_raw = false;            // also return the raw outputs (GeneratedSamples::raw)
  // Accompaniment models (model.condition_track) only, and required there: the given part of each sample,
  // n * steps * pitches bytes (0/1, row-major (sample, step, pitch)); it comes back unchanged in that track.
  std::vector<uint8_t> given;
  // One latent (the seed's first draw) for all n samples instead of n draws: the phrases of one piece keep
  // one arrangement (tutti accompany).
  bool shared_latent = false;
  // With shared_latent, how much each sample departs from the shared latent: sample i's latent is
  // sqrt(1 - v^2) * z_shared + v * z_i (z_i the seed's draws after z_shared), still standard normal. 0: the same
  // latent for all; 1: independent ones. `tutti generate --phrases` strings such samples into one piece.
  double latent_variation = 0;
};

struct GeneratedSamples {
  JobConfig config;        // the resolved config stored in the checkpoint
  int64_t step = 0;        // training step of the checkpoint
  SampleShape shape;       // (tracks, measures * steps_per_measure, pitches)
  std::string genre;       // genre generated (data.genres[genre_index]); for unconditional models the
                           // single trained genre, or "" when it was trained on a mix
  int64_t genre_index = -1;  // -1 for unconditional models
  double threshold = 0.5;
  int64_t n = 0;
  std::vector<uint8_t> binary;  // n * shape.cells() bytes, 0/1, row-major (sample, track, step, pitch)
  double max_value = 0;         // largest raw generator output (to explain an all-empty result)
  double active_fraction = 0;   // share of cells above the threshold
  std::vector<float> raw;       // the raw outputs behind `binary`, same layout; only when BatchItem::keep_raw
  TrackSet track_set;           // the checkpoint's tracks: names, programs, drums (GeneratorModel::track_set)
};

// A checkpoint's generator, loaded once and sampled many times (the coordinator's sample service keeps
// these in a cache).
//
// Thread-safety: Generate, GenerateBatch and GenerateRaw are const and may be called from several threads
// at once: the generator is in eval mode (BatchNorm reads its running statistics and writes nothing),
// autograd is off through a thread-local guard, and every call draws its latents from its own seeded
// generator; the parameters are never written after Load. Concurrent calls share LibTorch's intra-op thread pool (and so the cores).
class GeneratorModel {
 public:
  // Loads the generator of the checkpoint file `checkpoint_path` onto `device` ("cpu", "cuda", "cuda:1",
  // "auto" = CUDA when visible; the checkpoint's train.device is ignored, so a checkpoint written on a GPU
  // machine samples on a laptop; only "cpu" is bit-reproducible across machines). Errors: the file's read
  // error (NotFound...) naming it; InvalidArgument for a file that is not a checkpoint or a bad device
  // string; DataLoss for a truncated or corrupted one; FailedPrecondition for a generator that does not fit
  // its config's model, or "cuda" without a visible GPU; the config parser's error for the config inside.
  static StatusOr<std::unique_ptr<GeneratorModel>> Load(const std::string& checkpoint_path,
                                                        const std::string& device = "cpu");
  // The same from a whole checkpoint file held in `bytes` (a blob store's copy); `name` stands in for the
  // path in error messages.
  static StatusOr<std::unique_ptr<GeneratorModel>> LoadFromBytes(const std::string& bytes, const std::string& name,
                                                                 const std::string& device = "cpu");

  GeneratorModel(const GeneratorModel&) = delete;
  GeneratorModel& operator=(const GeneratorModel&) = delete;
  ~GeneratorModel();

  // `n` samples from the latents of `seed` (see the file comment), thresholded at `threshold` (nullopt =
  // the config's sample.threshold). `genre` as ResolveGenre takes it ("" = `default_genre` when the model
  // knows it, else the first). Errors: InvalidArgument for n < 1 or a genre the model cannot generate;
  // Internal for a LibTorch failure (naming the checkpoint).
  StatusOr<GeneratedSamples> Generate(int64_t n, uint64_t seed, const std::string& genre = "",
                                      std::optional<double> threshold = std::nullopt,
                                      const std::string& default_genre = "") const;

  // Several requests in one go (the coordinator's dynamic batcher): every item's latents are drawn exactly
  // as Generate draws them, all rows go through the same fixed-size forward passes, and the outputs are
  // split back, each item thresholded at its own threshold. Result i is byte-for-byte what
  // Generate(items[i]...) gives alone (see the file comment). Errors: InvalidArgument naming the item's
  // index for an invalid item (nothing is generated; callers batching independent requests check each with
  // CheckItem first), or an empty list; Internal for a LibTorch failure (naming the checkpoint).
  StatusOr<std::vector<GeneratedSamples>> GenerateBatch(const std::vector<BatchItem>& items) const;
  // Whether `item` can be generated: n >= 1 and a genre the model knows (Generate's InvalidArgument errors).
  Status CheckItem(const BatchItem& item) const;

  // The generator's raw outputs for the same latents and genre as Generate (n * shape().cells() floats,
  // row-major (sample, track, step, pitch)), before any threshold: for callers that render intensities,
  // and for tests that compare with GanTrainer::Generate. Same errors as Generate.
  StatusOr<std::vector<float>> GenerateRaw(int64_t n, uint64_t seed, const std::string& genre = "",
                                           const std::string& default_genre = "") const;

  // The resolved config stored in the checkpoint.
  const JobConfig& config() const;
  // Training step of the checkpoint.
  int64_t step() const;
  // Shape of one sample: (tracks, measures * steps_per_measure, pitches).
  SampleShape shape() const;
  // The checkpoint's path (or the name given to LoadFromBytes).
  const std::string& name() const;
  // The LibTorch device the generator runs on ("cpu", "cuda:0"...).
  std::string device() const;
  // Bytes of the generator's parameters and buffers (BatchNorm statistics) on its device: what keeping it
  // loaded costs (activations of a forward pass come on top, bounded by forward_rows()).
  int64_t memory_bytes() const;
  // Rows of every forward pass (see the file comment).
  int64_t forward_rows() const;
  // The track an accompaniment model is given (model.condition_track), -1 for other models; and its name
  // ("bass"), "" for other models.
  int condition_track() const;
  const std::string& condition_track_name() const;
  // The tracks the model writes: the pack's track set the worker recorded in the checkpoint (extra "track_set"),
  // LPD-5 for checkpoints from before track sets (TrackSetFromJson).
  const TrackSet& track_set() const;

 private:
  struct Impl;  // LibTorch lives here
  struct Inputs;
  explicit GeneratorModel(std::unique_ptr<Impl> impl);
  // Latents (and genre ids) of one item, and the generator as a GenerateFn of fixed-size forwards.
  StatusOr<Inputs> MakeInputs(const BatchItem& item) const;
  const std::unique_ptr<Impl> impl_;  // constant after Load
};

struct SampleRequest {
  // Checkpoint file (ckpt-<step>.tutti).
  std::string checkpoint;
  // Samples to generate, >= 1.
  int64_t n = 8;
  // Seed of the latents.
  uint64_t seed = 0;
  // Genre name from the config's data.genres; "" = the first one (the only one of unconditional models).
  std::string genre;
  // Used instead of the first genre when `genre` is "" and the model is conditional and knows it (e.g. the
  // genre of the pack the samples are compared with); ignored otherwise.
  std::string default_genre;
  // Active-cell threshold on the generator's raw output; nullopt = the config's sample.threshold.
  std::optional<double> threshold;
  // LibTorch device to run on ("cpu", "cuda", "auto"), replacing the config's train.device.
  std::string device = "cpu";
};

// GeneratorModel::Load + Generate in one call, for one-shot tools (`tutti generate`). Errors: those two's;
// n < 1 is refused before the checkpoint is read.
StatusOr<GeneratedSamples> GenerateFromCheckpoint(const SampleRequest& request);

// The genre index `genre` selects under `config` (see the header comment): -1 for unconditional models.
// InvalidArgument for an unknown genre (the message lists the known ones) or a genre an unconditional
// model was not trained on alone.
StatusOr<int64_t> ResolveGenre(const JobConfig& config, const std::string& genre,
                               const std::string& default_genre = "");

}  // namespace tutti
