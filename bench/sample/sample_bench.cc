// Sample serving over gRPC: a real CoordinatorServer on 127.0.0.1 in this process, serving a real checkpoint
// (a default-architecture GanTrainer trained two steps on random data, uploaded through the worker protocol:
// SubmitExperiment, LeaseTrial, ReportCheckpoint, UploadCheckpoint, exactly as tutti-worker does), measured
// through SampleService.Generate with n = 1 and the seed varying, C client threads each on its own channel.
//
// Prints:
//   - where the time of one sample goes, in process on one thread: the generator's forward pass alone and
//     in a batch of 16, and the encoding of each file format;
//   - p50 / p99 latency at concurrency 1, 4 and 16 for MIDI+PNG and MIDI+PNG+WAV (batching on, the
//     default SampleServingOptions);
//   - throughput (samples/s) at concurrency 16 with batching on and off in the same run, and their ratio, for
//     MIDI+PNG and for MIDI alone (the samples with the cheapest encoding, to show what batching does for
//     the model when the files do not dominate). Batching off = SampleServingOptions::batching false: every
//     request's forward pass runs alone, one after another; files are encoded on the request threads in
//     both cases.
// It VERIFIES while it times: the seeds cycle through 0..31 and every response must be byte-identical to
// the same request made alone before timing (batching off, one at a time); exits 1 on any mismatch or error.
//
// The threshold is set so that about 2% of the cells are active (a barely trained generator's raw outputs
// are all small; at the config's 0.5 every sample would be empty and every file trivially cheap).
//
// Usage: tutti-bench-sample [--seconds 3] [--concurrency 1,4,16]

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <grpcpp/grpcpp.h>
#include <torch/torch.h>

#include "coordinator/sample/torch_sample_backend.h"
#include "coordinator/server/coordinator_server.h"
#include "core/base/file_util.h"
#include "core/base/sha256.h"
#include "core/checkpoint/checkpoint.h"
#include "core/config/job_config_yaml.h"
#include "core/sample/checkpoint_sampler.h"
#include "core/sample/sample_writer.h"
#include "core/train/trainer_from_config.h"
#include "tutti/v1/experiment_service.grpc.pb.h"
#include "tutti/v1/sample_service.grpc.pb.h"
#include "tutti/v1/worker_service.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using tutti::StatusOr;
using tutti::coord::SampleBackend;
using tutti::coord::SampleFile;
using tutti::coord::SampleJob;
using tutti::coord::TorchSampleBackend;

constexpr uint64_t kSeeds = 32;  // seeds cycle through 0..kSeeds-1 so every response can be verified

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::vector<int> ParseList(const std::string& text) {
  std::vector<int> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(std::atoi(text.substr(start, comma - start).c_str()));
    start = comma + 1;
  }
  return out;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  const size_t k = std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())));
  std::nth_element(values.begin(), values.begin() + static_cast<long>(k), values.end());
  return values[k];
}

std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address, int id) {
  grpc::ChannelArguments args;
  args.SetInt("tutti.bench.client", id);  // a distinct argument keeps gRPC from sharing one connection
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// Both backends behind one server; which one serves is switched between rows.
class SwitchableBackend final : public SampleBackend {
 public:
  SwitchableBackend(SampleBackend* a, SampleBackend* b) : a_(a), b_(b), current_(a) {}
  void Use(SampleBackend* backend) { current_ = backend; }
  StatusOr<std::vector<SampleFile>> Generate(const SampleJob& job) override { return current_.load()->Generate(job); }
  void Preload(int64_t id, const std::string& path, const std::string& sha256, int64_t replaced) override {
    a_->Preload(id, path, sha256, replaced);
    b_->Preload(id, path, sha256, replaced);
  }

 private:
  SampleBackend* const a_;
  SampleBackend* const b_;
  std::atomic<SampleBackend*> current_;
};

// A default-architecture checkpoint after two training steps on random 0/1 bars; returns its path.
StatusOr<std::string> MakeCheckpoint(const std::string& dir, tutti::JobConfig* config) {
  config->name = "bench-sample";
  config->train.batch_size = 4;
  config->train.seed = 1;
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<tutti::GanTrainer> trainer, tutti::CreateTrainerFromConfig(*config));
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
  const tutti::ModelConfig& m = config->model;
  for (int step = 0; step < 2; ++step) {
    torch::Tensor real =
        (torch::rand({4, m.tracks, m.measures * m.steps_per_measure, m.pitches}, gen) < 0.02).to(torch::kFloat);
    TUTTI_RETURN_IF_ERROR(trainer->Step(real).status());
  }
  tutti::CheckpointMeta meta;
  meta.step = trainer->step();
  meta.config_yaml = tutti::JobConfigToYaml(*config);
  const std::string path = tutti::CheckpointPath(dir, meta.step);
  TUTTI_RETURN_IF_ERROR(tutti::SaveCheckpoint(path, *trainer, meta).status());
  return path;
}

// Stores `path` in the coordinator as a worker would: an experiment, its trial leased, the checkpoint
// announced and uploaded. Returns the checkpoint id.
StatusOr<int64_t> Upload(const std::string& address, const std::string& path, int64_t step) {
  auto experiments = tutti::v1::ExperimentService::NewStub(OwnChannel(address, -1));
  auto worker = tutti::v1::WorkerService::NewStub(OwnChannel(address, -2));
  auto fail = [](const std::string& what, const grpc::Status& status) {
    return absl::UnavailableError(what + ": " + status.error_message());
  };
  tutti::v1::SubmitExperimentRequest submit;
  submit.set_config_yaml("name: bench-sample\ntrain:\n  steps: 100\n");
  submit.set_source_name("bench-sample.yaml");
  tutti::v1::SubmitExperimentResponse submitted;
  grpc::ClientContext c1;
  if (grpc::Status s = experiments->SubmitExperiment(&c1, submit, &submitted); !s.ok()) return fail("submit", s);
  tutti::v1::LeaseTrialRequest lease;
  lease.set_worker("bench-sample");
  tutti::v1::LeaseTrialResponse leased;
  grpc::ClientContext c2;
  if (grpc::Status s = worker->LeaseTrial(&c2, lease, &leased); !s.ok()) return fail("lease", s);
  if (!leased.leased()) return absl::FailedPreconditionError("no trial to lease");
  TUTTI_ASSIGN_OR_RETURN(std::string bytes, tutti::ReadFileToString(path));
  tutti::v1::ReportCheckpointRequest header;
  header.set_lease_id(leased.lease_id());
  header.set_trial_id(leased.trial().id());
  header.set_step(step);
  header.set_sha256(tutti::Sha256Hex(bytes));
  header.set_size_bytes(static_cast<int64_t>(bytes.size()));
  tutti::v1::ReportCheckpointResponse reported;
  grpc::ClientContext c3;
  if (grpc::Status s = worker->ReportCheckpoint(&c3, header, &reported); !s.ok()) return fail("report", s);
  if (!reported.upload_required()) return reported.checkpoint().id();
  tutti::v1::UploadCheckpointResponse uploaded;
  grpc::ClientContext c4;
  std::unique_ptr<grpc::ClientWriter<tutti::v1::UploadCheckpointRequest>> writer = worker->UploadCheckpoint(&c4, &uploaded);
  tutti::v1::UploadCheckpointRequest message;
  *message.mutable_header() = header;
  bool ok = writer->Write(message);
  for (size_t offset = 0; ok && offset < bytes.size(); offset += 1 << 20) {
    message.set_data(bytes.substr(offset, 1 << 20));
    ok = writer->Write(message);
  }
  if (ok) writer->WritesDone();
  if (grpc::Status s = writer->Finish(); !s.ok()) return fail("upload", s);
  return uploaded.checkpoint().id();
}

struct Request {
  int64_t checkpoint_id = 0;
  double threshold = 0.5;
  std::vector<std::string> formats;
};

// One Generate call: the sha256 of every (name, bytes) it streamed, or the error.
StatusOr<std::string> Generate(tutti::v1::SampleService::Stub& stub, const Request& r, uint64_t seed) {
  tutti::v1::GenerateRequest request;
  request.set_checkpoint_id(r.checkpoint_id);
  request.set_n(1);
  request.set_seed(seed);
  request.set_threshold(r.threshold);
  for (const std::string& f : r.formats) request.add_formats(f);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  std::unique_ptr<grpc::ClientReader<tutti::v1::GenerateResponse>> reader = stub.Generate(&context, request);
  tutti::v1::GenerateResponse message;
  tutti::Sha256 digest;
  int files = 0;
  while (reader->Read(&message)) {
    digest.Update(message.name());
    digest.Update(message.data());
    files += message.last_chunk() ? 1 : 0;
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return absl::UnknownError(status.error_message());
  if (files == 0) return absl::DataLossError("no files");
  return digest.FinishHex();
}

struct Row {
  std::vector<double> latencies_ms;
  int64_t errors = 0, mismatches = 0;
  double seconds = 0;
  std::string first_error;
};

// `concurrency` clients for `seconds` (after one untimed request each), every response checked against
// `reference` (seed -> digest).
Row RunRow(const std::string& address, const Request& request, int concurrency, double seconds,
           const std::map<uint64_t, std::string>& reference) {
  std::vector<Row> per_thread(static_cast<size_t>(concurrency));
  std::atomic<uint64_t> next_seed{0};
  std::atomic<int> warmed{0};
  std::atomic<bool> stop{false};
  Clock::time_point start;
  std::atomic<bool> started{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&, t] {
      auto stub = tutti::v1::SampleService::NewStub(OwnChannel(address, t));
      Row& row = per_thread[static_cast<size_t>(t)];
      (void)Generate(*stub, request, static_cast<uint64_t>(t) % kSeeds);  // connect; not timed
      ++warmed;
      while (!started.load()) std::this_thread::yield();
      while (!stop.load()) {
        const uint64_t seed = next_seed.fetch_add(1) % kSeeds;
        const auto t0 = Clock::now();
        StatusOr<std::string> digest = Generate(*stub, request, seed);
        const double ms = Ms(Clock::now() - t0);
        if (!digest.ok()) {
          if (row.errors++ == 0) row.first_error = std::string(digest.status().message());
          continue;
        }
        row.latencies_ms.push_back(ms);
        if (*digest != reference.at(seed)) ++row.mismatches;
      }
    });
  }
  while (warmed.load() < concurrency) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  start = Clock::now();
  started = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& thread : threads) thread.join();
  Row all;
  all.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (Row& row : per_thread) {
    all.latencies_ms.insert(all.latencies_ms.end(), row.latencies_ms.begin(), row.latencies_ms.end());
    all.errors += row.errors;
    all.mismatches += row.mismatches;
    if (all.first_error.empty()) all.first_error = row.first_error;
  }
  return all;
}

std::string Join(const std::vector<std::string>& formats) {
  std::string out;
  for (const std::string& f : formats) out += (out.empty() ? "" : "+") + f;
  return out;
}

// Mean wall time of `fn` over `reps` calls, in ms.
template <typename Fn>
double TimeMs(int reps, Fn&& fn) {
  const auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) fn();
  return Ms(Clock::now() - t0) / reps;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::vector<int> concurrencies = {1, 4, 16};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (flag == "--concurrency") concurrencies = ParseList(argv[i + 1]);
  }
  const std::string home =
      (std::filesystem::temp_directory_path() / ("tutti-bench-sample-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(home);
  auto die = [&](const std::string& what, const absl::Status& status) {
    std::fprintf(stderr, "error: %s: %s\n", what.c_str(), std::string(status.message()).c_str());
    std::filesystem::remove_all(home);
    return 1;
  };

  tutti::JobConfig config;
  StatusOr<std::string> checkpoint = MakeCheckpoint(home + "/made", &config);
  if (!checkpoint.ok()) return die("making a checkpoint", checkpoint.status());

  // Threshold: the 98th percentile of the raw outputs of a few samples (about 2% of the cells active).
  StatusOr<std::unique_ptr<tutti::GeneratorModel>> model = tutti::GeneratorModel::Load(*checkpoint);
  if (!model.ok()) return die("loading the checkpoint", model.status());
  std::vector<float> raw = (*model)->GenerateRaw(8, 12345).value();
  std::sort(raw.begin(), raw.end());
  const double threshold = raw[static_cast<size_t>(0.98 * static_cast<double>(raw.size()))];

  TorchSampleBackend batched;  // the defaults: what tutti-coordinator serves with
  tutti::coord::SampleServingOptions off;
  off.batching = false;
  TorchSampleBackend unbatched(off);
  SwitchableBackend backend(&batched, &unbatched);
  tutti::coord::CoordinatorServerOptions options;
  options.home = home + "/coordinator";
  options.listen = "127.0.0.1:0";
  options.samples = &backend;
  options.lifecycle.lease_ttl_ms = 600'000;
  auto server = tutti::coord::CoordinatorServer::Start(options);
  if (!server.ok()) return die("starting the coordinator", server.status());
  const std::string address = (*server)->address();
  StatusOr<int64_t> checkpoint_id = Upload(address, *checkpoint, (*model)->step());
  if (!checkpoint_id.ok()) return die("uploading the checkpoint", checkpoint_id.status());

  const tutti::coord::SampleServingOptions& served = batched.options();
  std::printf("coordinator on %s, %u cores, %d intra-op threads; checkpoint %lld (step %lld, generator %.1f MiB, "
              "%lld rows per forward); n = 1 per request, seeds 0..%llu, threshold %.4f (2%% of cells active); "
              "%.0f s per row\n\n",
              address.c_str(), std::thread::hardware_concurrency(), at::get_num_threads(),
              static_cast<long long>(*checkpoint_id), static_cast<long long>((*model)->step()),
              static_cast<double>((*model)->memory_bytes()) / (1 << 20),
              static_cast<long long>((*model)->forward_rows()), static_cast<unsigned long long>(kSeeds - 1),
              threshold, seconds);

  // Where the time of one sample goes (this thread, nothing else running).
  {
    const tutti::GeneratorModel& m = **model;
    std::vector<tutti::BatchItem> sixteen(16);
    for (size_t i = 0; i < sixteen.size(); ++i) sixteen[i].seed = i;
    tutti::BatchItem one;
    (void)m.GenerateBatch({one});
    const double alone_ms = TimeMs(20, [&] { (void)m.GenerateBatch({one}); });
    const double batch_ms = TimeMs(5, [&] { (void)m.GenerateBatch(sixteen); });
    tutti::GeneratedSamples sample = m.Generate(1, 3, "", threshold).value();
    auto encode_ms = [&](bool midi, bool png, bool wav) {
      tutti::SampleFormats f;
      f.midi = midi;
      f.npz = false;
      f.png = png;
      f.wav = wav;
      tutti::SampleFileOptions o;
      o.tempo_qpm = config.sample.tempo_qpm;
      (void)tutti::EncodeSampleFiles(sample.binary.data(), 1, sample.shape, f, o);
      return TimeMs(wav ? 3 : 10, [&] { (void)tutti::EncodeSampleFiles(sample.binary.data(), 1, sample.shape, f, o); });
    };
    std::printf("one sample, in process on one thread (%.1f%% of cells active):\n", 100 * sample.active_fraction);
    std::printf("  forward alone            %7.2f ms  (%lld padded rows)\n", alone_ms,
                static_cast<long long>(m.forward_rows()));
    std::printf("  forward in a batch of 16 %7.2f ms per sample (%.2f ms the batch)\n", batch_ms / 16, batch_ms);
    std::printf("  encode MIDI              %7.2f ms\n", encode_ms(true, false, false));
    std::printf("  encode PNG (+ overview)  %7.2f ms\n", encode_ms(false, true, false));
    std::printf("  encode WAV               %7.2f ms\n\n", encode_ms(false, false, true));
  }

  // References: every seed alone, one request at a time, batching off.
  const std::vector<std::vector<std::string>> variants = {{"midi", "png"}, {"midi", "png", "wav"}, {"midi"}};
  std::map<std::string, std::map<uint64_t, std::string>> references;
  {
    backend.Use(&unbatched);
    auto stub = tutti::v1::SampleService::NewStub(OwnChannel(address, -3));
    for (const auto& formats : variants) {
      Request request{*checkpoint_id, threshold, formats};
      for (uint64_t seed = 0; seed < kSeeds; ++seed) {
        StatusOr<std::string> digest = Generate(*stub, request, seed);
        if (!digest.ok()) return die("reference request (" + Join(formats) + ")", digest.status());
        references[Join(formats)][seed] = *digest;
      }
    }
  }

  bool all_verified = true;
  auto print_row = [&](const std::string& formats, const char* batching, int concurrency, const Row& row,
                       const tutti::coord::BatcherStats& before, const tutti::coord::BatcherStats& after) {
    const double per_batch = after.batches > before.batches
                                 ? static_cast<double>(after.jobs - before.jobs) / static_cast<double>(after.batches - before.batches)
                                 : 1.0;
    const bool verified = row.mismatches == 0 && row.errors == 0 && !row.latencies_ms.empty();
    all_verified = all_verified && verified;
    std::printf("%-16s %-8s %5d %11.1f %9.2f %9.2f %9.2f %10.1f  %s", formats.c_str(), batching, concurrency,
                static_cast<double>(row.latencies_ms.size()) / row.seconds, Percentile(row.latencies_ms, 0.5),
                Percentile(row.latencies_ms, 0.99),
                row.latencies_ms.empty() ? 0 : *std::max_element(row.latencies_ms.begin(), row.latencies_ms.end()),
                per_batch, verified ? "yes" : "NO");
    if (row.mismatches > 0) std::printf(" (%lld differ)", static_cast<long long>(row.mismatches));
    if (row.errors > 0) std::printf(" (%lld errors: %s)", static_cast<long long>(row.errors), row.first_error.c_str());
    std::printf("\n");
    std::fflush(stdout);
    return static_cast<double>(row.latencies_ms.size()) / row.seconds;
  };
  auto run = [&](const std::vector<std::string>& formats, bool batching, int concurrency) {
    TorchSampleBackend& serving = batching ? batched : unbatched;
    backend.Use(&serving);
    const std::string name = Join(formats);
    const tutti::coord::BatcherStats before = serving.stats().batcher;
    const Row row = RunRow(address, Request{*checkpoint_id, threshold, formats}, concurrency, seconds, references[name]);
    return print_row(name, batching ? "on" : "off", concurrency, row, before, serving.stats().batcher);
  };
  const char* header = "%-16s %-8s %5s %11s %9s %9s %9s %10s  %s\n";
  std::printf("latency (batching on: max batch %d samples, max queue delay %.0f ms)\n", served.max_batch_size,
              served.max_queue_delay_ms);
  std::printf(header, "formats", "batching", "conc", "samples/s", "p50 ms", "p99 ms", "max ms", "jobs/batch",
              "verified");
  for (const auto& formats : {variants[0], variants[1]}) {
    for (int concurrency : concurrencies) run(formats, true, concurrency);
  }
  std::printf("\nthroughput at concurrency 16, batching on vs off (the same server, one after the other)\n");
  std::printf(header, "formats", "batching", "conc", "samples/s", "p50 ms", "p99 ms", "max ms", "jobs/batch",
              "verified");
  std::vector<std::pair<std::string, double>> ratios;
  for (const auto& formats : {variants[0], variants[2]}) {
    const double on = run(formats, true, 16);
    const double off_rate = run(formats, false, 16);
    ratios.emplace_back(Join(formats), off_rate > 0 ? on / off_rate : 0);
  }
  std::printf("\n");
  for (const auto& [formats, ratio] : ratios) std::printf("batched / unbatched at 16, %-10s %.2fx\n", formats.c_str(), ratio);

  (*server)->Shutdown(std::chrono::milliseconds(1000));
  batched.Shutdown();
  unbatched.Shutdown();
  std::filesystem::remove_all(home);
  std::printf("\ngoals: p50 < 10 ms and p99 < 50 ms at concurrency 1 without WAV; batched >= 4x unbatched at 16\n");
  std::printf("verified: %s\n", all_verified ? "every response byte-identical to the same request alone" : "NO");
  return all_verified ? 0 : 1;
}
