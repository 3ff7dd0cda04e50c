#include "worker/run/run_data.h"

#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/data/bar_activity.h"
#include "core/data/pack_reader.h"
#include "core/model/rest_plans.h"
#include "core/music/track_set.h"

namespace tutti {

SampleShape ModelSampleShape(const ModelConfig& model) {
  SampleShape shape;
  shape.tracks = model.tracks;
  shape.steps = model.measures * model.steps_per_measure;
  shape.pitches = model.pitches;
  return shape;
}

namespace {

// A pack's sample layout as its manifest records it: bars x steps per bar, tracks, pitches. Packs written before
// `tutti pack --bars` record bars_per_sample and steps_per_bar too (the tutorial's 4 and 16); a manifest without
// them (hand-made) gives only the shape.
struct PackLayout {
  SampleShape shape;
  int64_t bars = 0, steps_per_bar = 0;  // 0 when the manifest does not say
  std::vector<std::string> track_names;  // the manifest's track set (LPD-5's for older 5-track packs)
  std::string Describe() const {
    const std::string dims = absl::StrCat(shape.tracks, " tracks (", absl::StrJoin(track_names, ", "), "), ",
                                          shape.pitches, " pitches");
    if (bars <= 0 || steps_per_bar <= 0) return absl::StrCat(shape.ToString(), " (", dims, ")");
    return absl::StrCat(bars, " bars of ", steps_per_bar, " steps, ", dims);
  }
  bool operator!=(const PackLayout& o) const {
    return shape != o.shape || bars != o.bars || steps_per_bar != o.steps_per_bar || track_names != o.track_names;
  }
};

PackLayout LayoutOf(const PackReader& reader) {
  PackLayout layout;
  layout.shape = reader.shape();
  layout.track_names = TrackSetFromJson(reader.manifest().packing.value("track_set", nlohmann::json()),
                                        static_cast<int>(layout.shape.tracks))
                           .Names();
  const nlohmann::json segment = reader.manifest().packing.value("segment", nlohmann::json::object());
  if (segment.is_object()) {
    const nlohmann::json bars = segment.value("bars_per_sample", nlohmann::json()),
                         steps = segment.value("steps_per_bar", nlohmann::json());
    if (bars.is_number_integer() && steps.is_number_integer()) {
      layout.bars = bars.get<int64_t>();
      layout.steps_per_bar = steps.get<int64_t>();
    }
  }
  return layout;
}

}  // namespace

StatusOr<std::unique_ptr<BatchLoader>> OpenTrainingLoader(const JobConfig& config, int rank, int world_size) {
  namespace fs = std::filesystem;
  const SampleShape expected = ModelSampleShape(config.model);
  std::vector<std::shared_ptr<const PackReader>> packs;
  std::string first_dir;
  PackLayout first;
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
    // One job trains one sample layout: packs that differ are refused with both named, before the model is
    // compared (whichever of them fits it, the other would be refused next).
    const PackLayout layout = LayoutOf(*reader);
    if (packs.empty()) {
      first_dir = dir;
      first = layout;
    } else if (layout != first) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data.genres: the packs hold samples of different shapes: ", first_dir, " has ", first.Describe(), ", ",
          dir, " has ", layout.Describe(), "; a job trains on one shape (repack one of them with the other's "
          "tutti pack --bars / --beat-resolution)"));
    }
    if (layout.bars > 0 && (layout.bars != config.model.measures || layout.steps_per_bar != config.model.steps_per_measure) &&
        reader->shape().tracks == expected.tracks && reader->shape().pitches == expected.pitches) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir, ": pack samples are ", layout.bars, " bars of ", layout.steps_per_bar, " steps but the model is ",
          config.model.measures, " bars of ", config.model.steps_per_measure,
          " steps: set model.measures: ", layout.bars, " and model.steps_per_measure: ", layout.steps_per_bar,
          " (or repack with tutti pack --bars ", config.model.measures, " --beat-resolution ",
          config.model.steps_per_measure / 4, ")"));
    }
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

StatusOr<at::Tensor> RestPlansFromPacks(const ModelConfig& model,
                                        const std::vector<std::shared_ptr<const PackReader>>& packs) {
  StatusOr<std::vector<uint8_t>> activity =
      SpreadBarActivity(packs, Split::kTrain, model.steps_per_measure, RestPlansImpl::kPlans);
  if (!activity.ok()) {
    return Status(activity.status().code(), absl::StrCat("model.rest_plans: ", activity.status().message()));
  }
  const SampleShape shape = packs.front()->shape();  // SpreadBarActivity checked that every pack has it
  const int64_t measures = shape.steps / model.steps_per_measure;
  return torch::from_blob(activity->data(), {RestPlansImpl::kPlans, shape.tracks, measures}, torch::kUInt8)
      .to(torch::kFloat);  // a copy: the bytes go when `activity` does
}

std::string DescribeRestPlans(const at::Tensor& plans, const std::vector<std::string>& track_names) {
  const at::Tensor resting = (1 - plans).mean(at::IntArrayRef{0, 2}) * 100;
  std::string line =
      absl::StrCat("rest plans: ", plans.size(0), " arrangements from the training samples; bars resting:");
  for (int64_t t = 0; t < resting.size(0); ++t) {
    const std::string name = t < static_cast<int64_t>(track_names.size()) ? track_names[static_cast<size_t>(t)]
                                                                          : absl::StrCat("track ", t);
    absl::StrAppend(&line, t == 0 ? " " : ", ", name, " ", absl::StrFormat("%.1f", resting[t].item<double>()), " %");
  }
  return line;
}

}  // namespace tutti
