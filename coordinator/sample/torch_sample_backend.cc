#include "coordinator/sample/torch_sample_backend.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>

#include "core/base/file_util.h"
#include "core/sample/sample_writer.h"

namespace tutti::coord {
namespace {

bool Wants(const SampleJob& job, const std::string& format) {
  return std::find(job.formats.begin(), job.formats.end(), format) != job.formats.end();
}

}  // namespace

StatusOr<TorchSampleBackend::Entry> TorchSampleBackend::Model(const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->path == path) {
        cache_.splice(cache_.begin(), cache_, it);
        return cache_.front();
      }
    }
  }
  // Loading takes a while; other requests go on meanwhile (two loads of one path are harmless).
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<GeneratorModel> model, GeneratorModel::Load(path, "cpu"));
  Entry entry{path, std::shared_ptr<GeneratorModel>(std::move(model)), std::make_shared<std::mutex>()};
  std::lock_guard<std::mutex> lock(mu_);
  cache_.push_front(entry);
  while (cache_.size() > capacity_) cache_.pop_back();
  return entry;
}

StatusOr<std::vector<SampleFile>> TorchSampleBackend::Generate(const SampleJob& job) {
  TUTTI_ASSIGN_OR_RETURN(Entry entry, Model(job.checkpoint_path));
  GeneratedSamples samples;
  {
    std::lock_guard<std::mutex> lock(*entry.in_use);
    TUTTI_ASSIGN_OR_RETURN(samples, entry.model->Generate(job.n, job.seed, job.genre, job.threshold));
  }
  const JobConfig& config = samples.config;
  SampleFileOptions files;
  files.steps_per_bar = config.model.steps_per_measure;
  files.steps_per_beat = std::max(1, config.model.steps_per_measure / 4);  // 4/4
  files.tempo_qpm = config.sample.tempo_qpm;
  files.write_wav = Wants(job, "wav");

  static std::atomic<int> counter{0};
  const std::string dir = (std::filesystem::temp_directory_path() /
                           absl::StrCat("tutti-samples-", ::getpid(), "-", counter++))
                              .string();
  StatusOr<SampleFilesReport> report = WriteSampleFiles(samples.binary.data(), samples.n, samples.shape, dir, files);
  std::vector<SampleFile> out;
  Status status = report.status();
  if (status.ok()) {
    for (const WrittenSample& s : report->samples) {
      for (const auto& [format, path] : {std::pair<std::string, std::string>{"midi", s.midi},
                                        {"npz", s.npz}, {"png", s.png}, {"wav", s.wav}}) {
        if (path.empty() || !Wants(job, format)) continue;
        StatusOr<std::string> bytes = ReadFileToString(path);
        if (!bytes.ok()) {
          status = bytes.status();
          break;
        }
        out.push_back({std::filesystem::path(path).filename().string(), *std::move(bytes)});
      }
    }
    if (status.ok() && Wants(job, "png") && !report->overview_png.empty()) {
      StatusOr<std::string> bytes = ReadFileToString(report->overview_png);
      if (bytes.ok()) out.push_back({"overview.png", *std::move(bytes)});
      else status = bytes.status();
    }
    if (status.ok() && Wants(job, "wav") && !report->wav_skipped.empty()) {
      status = absl::FailedPreconditionError(absl::StrCat("WAV was asked for but cannot be rendered here: ",
                                                          report->wav_skipped));
    }
  }
  RemoveAllQuietly(dir);
  if (!status.ok()) return status;
  return out;
}

}  // namespace tutti::coord
