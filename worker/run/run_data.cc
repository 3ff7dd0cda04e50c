#include "worker/run/run_data.h"

#include <filesystem>
#include <vector>

#include <torch/torch.h>

#include "core/data/pack_reader.h"

namespace tutti {

SampleShape ModelSampleShape(const ModelConfig& model) {
  SampleShape shape;
  shape.tracks = model.tracks;
  shape.steps = model.measures * model.steps_per_measure;
  shape.pitches = model.pitches;
  return shape;
}

StatusOr<std::unique_ptr<BatchLoader>> OpenTrainingLoader(const JobConfig& config, int rank, int world_size) {
  namespace fs = std::filesystem;
  const SampleShape expected = ModelSampleShape(config.model);
  std::vector<std::shared_ptr<const PackReader>> packs;
  for (const std::string& genre : config.data.genres) {
    const std::string dir = (fs::path(config.data.packs_dir) / genre).string();
    std::error_code ec;
    if (!fs::exists(fs::path(dir) / "manifest.json", ec)) {
      return absl::NotFoundError(absl::StrCat(
          dir, ": no pack for genre \"", genre, "\" (", dir, "/manifest.json does not exist; data.packs_dir is \"",
          config.data.packs_dir, "\", relative to the current directory). Create it with `tutti pack --lpd <LPD-5 root> --genres ",
          genre, " --out ", config.data.packs_dir, "` (or `tutti synth-lpd` first for a synthetic corpus)"));
    }
    TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<PackReader> reader, PackReader::Open(dir));
    if (reader->shape() != expected) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir, ": pack samples have shape ", reader->shape().ToString(),
          " (tracks, steps, pitches) but the model expects ", expected.ToString(),
          " (model.tracks, model.measures x model.steps_per_measure, model.pitches); repack the data or change "
          "the model section"));
    }
    packs.push_back(std::move(reader));
  }
  LoaderOptions options;
  options.batch_size = config.train.batch_size;
  options.seed = config.train.seed;
  options.rank = rank;
  options.world_size = world_size;
  options.prefetch_batches = config.data.prefetch_batches;
  options.split = Split::kTrain;
  auto loader = BatchLoader::Create(std::move(packs), options);
  if (!loader.ok()) return Annotate(loader.status(), config.data.packs_dir);
  return std::move(loader).value();
}

BatchTensors ToTensors(const Batch& batch, const SampleShape& shape, bool conditional) {
  BatchTensors out;
  // from_blob does not own the bytes: convert (which copies) before the batch can be recycled.
  out.real = torch::from_blob(const_cast<uint8_t*>(batch.cells.data()),
                              {batch.size, shape.tracks, shape.steps, shape.pitches}, torch::kUInt8)
                 .to(torch::kFloat32);
  if (conditional) {
    std::vector<int64_t> ids(batch.pack_index.begin(), batch.pack_index.end());
    out.genre_ids = torch::tensor(ids, torch::kInt64);
  }
  return out;
}

}  // namespace tutti
