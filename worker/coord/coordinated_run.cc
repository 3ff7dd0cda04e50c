#include "worker/coord/coordinated_run.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/base/file_util.h"
#include "core/base/interrupt.h"
#include "core/checkpoint/checkpoint.h"
#include "core/base/sha256.h"
#include "core/config/job_config_yaml.h"
#include "core/data/pack_cache.h"
#include "worker/comm/agreement.h"
#include "worker/comm/comm_factory.h"
#include "worker/coord/coordinator_client.h"
#include "worker/coord/trial_reporter.h"
#include "worker/run/distributed.h"
#include "worker/run/training_run.h"

namespace tutti::worker {
namespace {

std::string Hostname() {
  char name[256] = {0};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

// Forwards every event to several observers (the console and the coordinator's reporter), and keeps the
// stop report for the end of the lease.
class FanOut final : public RunObserver {
 public:
  void Add(RunObserver* o) {
    if (o != nullptr) observers_.push_back(o);
  }
  void OnResume(const ResumeReport& r) override {
    for (RunObserver* o : observers_) o->OnResume(r);
  }
  void OnStep(const StepReport& r) override {
    for (RunObserver* o : observers_) o->OnStep(r);
  }
  void OnEvaluation(const EvaluationReport& r) override {
    for (RunObserver* o : observers_) o->OnEvaluation(r);
  }
  void OnCheckpoint(const CheckpointReport& r) override {
    for (RunObserver* o : observers_) o->OnCheckpoint(r);
  }
  void OnNote(const std::string& n) override {
    for (RunObserver* o : observers_) o->OnNote(n);
  }
  void OnStop(const StopReport& r) override {
    stop = r;
    for (RunObserver* o : observers_) o->OnStop(r);
  }
  StopReport stop;

 private:
  std::vector<RunObserver*> observers_;
};

nlohmann::json ToJson(const Assignment& a) {
  nlohmann::json j = {{"lease_id", a.lease_id},
                      {"trial_id", a.trial_id},
                      {"experiment_id", a.experiment_id},
                      {"config_yaml", a.config_yaml}};
  if (a.resume_from) j["resume_step"] = a.resume_from->step;
  return j;
}

// Rank 0: lease (or adopt) with waiting; the JSON every rank receives.
nlohmann::json LeaseOnRankZero(CoordinatorClient& client, const CoordinatedOptions& o, int ranks,
                               std::optional<Assignment>* assignment) {
  const std::string worker = absl::StrCat(Hostname(), ":", ::getpid());
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.wait_seconds);
  while (true) {
    StatusOr<std::optional<Assignment>> leased = client.Lease(worker, ranks, o.lease_id);
    if (!leased.ok()) return {{"error", std::string(leased.status().message())}};
    if (leased->has_value()) {
      *assignment = *std::move(*leased);
      return ToJson(**assignment);
    }
    if (std::chrono::steady_clock::now() >= give_up || InterruptRequested()) return {{"none", true}};
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// Whether packs_dir/<genre>/manifest.json here is exactly the pinned one for every genre (a shared
// filesystem, or packs copied by hand): then the packs are read in place, as without pins.
bool PinnedPacksAreLocal(const JobConfig& config) {
  for (const std::string& genre : config.data.genres) {
    StatusOr<std::string> manifest =
        ReadFileToString((std::filesystem::path(config.data.packs_dir) / genre / "manifest.json").string());
    if (!manifest.ok() || Sha256Hex(*manifest) != PinnedPackSha(config.data, genre)) return false;
  }
  return true;
}

// Step 3's pack part, on every rank: points config->data.packs_dir at this node's cache when the pinned
// packs are not here. Ranks other than 0 open their own connection to the coordinator for it. Rank 0 always
// says what it found; another rank only when it was the one that fetched (whichever rank of a node takes
// the cache's lock first fetches; the others find the packs verified).
Status UsePinnedPacks(JobConfig* config, const CoordinatedOptions& o, CoordinatorClient* client, int rank,
                      const std::function<void(const std::string&)>& log) {
  if (config->data.pack_pins.empty() || PinnedPacksAreLocal(*config)) return absl::OkStatus();
  std::unique_ptr<CoordinatorClient> own;
  if (client == nullptr) {
    TUTTI_ASSIGN_OR_RETURN(auto connection, rpc::Connection::Create(o.connection));
    own = std::make_unique<CoordinatorClient>(connection);
    client = own.get();
  }
  PackCacheOptions cache_options;
  cache_options.root = o.pack_cache_dir;
  cache_options.max_bytes = o.pack_cache_bytes;
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<PackCache> cache, PackCache::Open(cache_options));
  std::vector<PackPin> pins;
  for (const std::string& genre : config->data.genres) pins.push_back({genre, PinnedPackSha(config->data, genre)});
  PackCacheReport report;
  StatusOr<std::string> view =
      cache->Ensure(pins, [client](const std::string& sha) { return client->DownloadBlob(sha); }, &report);
  if (!view.ok()) return Annotate(view.status(), "fetching the trial's packs from the coordinator");
  if (rank != 0 && report.files_fetched == 0) {
    config->data.packs_dir = *view;
    return absl::OkStatus();
  }
  log(absl::StrCat(rank == 0 ? "" : absl::StrCat("rank ", rank, ": "), "packs: ", report.packs_hit, " verified in the cache, ", report.packs_fetched, " fetched (",
                   report.files_fetched, " file(s), ", report.bytes_fetched, " bytes",
                   report.files_damaged > 0 ? absl::StrCat(", ", report.files_damaged, " damaged file(s) replaced") : "",
                   ") into ", o.pack_cache_dir));
  config->data.packs_dir = *view;
  return absl::OkStatus();
}

}  // namespace

int RunCoordinatedTrial(const CoordinatedOptions& o) {
  auto log = [&o](const std::string& line) {
    if (o.log) o.log(line);
  };
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "error: %s\n", message.c_str());
    return 1;
  };

  // 1. Bootstrap channel between the ranks.
  comm::CommOptions bootstrap_options;
  bootstrap_options.mpi.timeout_s = o.wait_seconds + 600;  // rank 0 may wait for a trial, then lease
  bootstrap_options.mpi.stall_warning_s = bootstrap_options.mpi.timeout_s;
  auto bootstrap = comm::CreateCommunicator(bootstrap_options);
  if (!bootstrap.ok()) return fail(absl::StrCat("creating the communicator: ", std::string(bootstrap.status().message())));
  comm::Communicator& boot = **bootstrap;
  const bool chief = boot.rank() == 0;

  // 2. Rank 0 leases; everyone learns the outcome.
  std::unique_ptr<CoordinatorClient> client;
  std::optional<Assignment> assignment;
  std::string message;
  if (chief) {
    auto connection = rpc::Connection::Create(o.connection);
    if (!connection.ok()) {
      message = nlohmann::json{{"error", std::string(connection.status().message())}}.dump();
    } else {
      client = std::make_unique<CoordinatorClient>(*connection);
      message = LeaseOnRankZero(*client, o, boot.size(), &assignment).dump();
    }
  }
  StatusOr<std::string> shared = comm::BroadcastString(boot, message, 0);
  if (!shared.ok()) {
    boot.Abort(AtRankStep(Annotate(shared.status(), "sharing the trial"), boot.rank(), -1));
  }
  const nlohmann::json got = nlohmann::json::parse(*shared, nullptr, false);
  if (got.is_discarded() || got.contains("error")) {
    return fail(got.is_discarded() ? "rank 0 sent no assignment" : got["error"].get<std::string>());
  }
  if (got.contains("none")) {
    if (chief) std::fprintf(stderr, "no trial is queued at %s\n", o.connection.address.c_str());
    return kExitNoTrial;
  }
  const int64_t trial_id = got["trial_id"].get<int64_t>();
  if (chief) {
    log(absl::StrCat("trial ", trial_id, " of experiment ", got["experiment_id"].get<int64_t>(), " leased from ",
                     o.connection.address,
                     got.contains("resume_step") ? absl::StrCat(", resuming at step ", got["resume_step"].get<int64_t>())
                                                 : std::string(", from scratch")));
  }

  // 3. The trial's config, local overrides, local paths.
  StatusOr<JobConfig> parsed =
      ParseJobConfig(got["config_yaml"].get<std::string>(), absl::StrCat("trial ", trial_id, " config"), o.overrides);
  Status problem = parsed.status();
  JobConfig config;
  std::string resume_path;
  if (parsed.ok()) {
    config = *std::move(parsed);
    config.output_dir = absl::StrCat(o.work_dir, "/trial-", trial_id);
    if (config.train.intra_op_threads == 0 && o.threads_per_rank > 0) config.train.intra_op_threads = o.threads_per_rank;
    problem = UsePinnedPacks(&config, o, client.get(), boot.rank(), log);
    if (problem.ok() && chief) {
      RemoveAllQuietly(config.output_dir);
      problem = CreateDirectories(config.output_dir);
      if (problem.ok() && assignment->resume_from) {
        resume_path = CheckpointPath(ResolveUnderOutputDir(config, config.checkpoint.dir), assignment->resume_from->step);
        problem = CreateDirectories(std::filesystem::path(resume_path).parent_path().string());
        if (problem.ok()) problem = client->DownloadCheckpoint(assignment->resume_from->id, resume_path);
        if (problem.ok()) log(absl::StrCat("downloaded checkpoint ", assignment->resume_from->id, " (step ",
                                           assignment->resume_from->step, ", sha256 verified)"));
      }
    }
  }
  // Everyone learns whether the set-up worked on every rank, so nobody trains alone.
  StatusOr<int64_t> setup_failed = comm::AllreduceMax(boot, problem.ok() ? 0 : 1);
  if (!setup_failed.ok()) boot.Abort(AtRankStep(setup_failed.status(), boot.rank(), -1));
  if (*setup_failed != 0) {
    if (chief && assignment) {
      // The trial cannot start here: a config or download problem is not this worker's to retry forever.
      (void)client->Fail(assignment->lease_id, trial_id, 0,
                         problem.ok() ? "another rank could not set up the trial" : std::string(problem.message()),
                         /*retryable=*/!problem.ok() && rpc::IsTransient(problem));
    }
    return fail(problem.ok() ? "another rank could not set up the trial" : std::string(problem.message()));
  }

  // 4. Train.
  auto training = comm::CreateCommunicator(CommOptionsFromConfig(config));
  if (!training.ok()) {
    if (chief) (void)client->Fail(assignment->lease_id, trial_id, 0, std::string(training.status().message()), false);
    return fail(absl::StrCat("creating the communicator: ", std::string(training.status().message())));
  }
  comm::Communicator& c = **training;
  std::unique_ptr<TrialReporter> reporter;
  FanOut observers;
  observers.Add(o.console);
  RunOptions options;
  options.resume = resume_path;
  options.max_seconds = o.max_seconds;
  options.rank = c.rank();
  options.world_size = c.size();
  options.local_ranks = c.local_size();
  options.communicator = &c;
  options.before_step = o.before_step;
  if (chief) {
    reporter = std::make_unique<TrialReporter>(client.get(), *assignment, ReporterOptions{}, o.log);
    reporter->Start();
    observers.Add(reporter.get());
    options.observer = &observers;
    options.control = reporter.get();
  }
  auto run = TrainingRun::Create(config, options);
  Status status = run.status();
  if (run.ok()) status = (*run)->Run();
  if (!run.ok()) {
    observers.stop = StopReport{StopReason::kFailed, 0, std::string(status.message()), ""};
  }
  int code = status.ok() ? 0 : 1;
  if (chief) {
    // 5. End the lease.
    Status ended = reporter->Finish(observers.stop, IsRetryableFailure(status));
    if (!ended.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(ended.message()).c_str());
      code = 1;
    } else if (reporter->lease_lost()) {
      log(absl::StrCat("trial ", trial_id, ": the lease was lost; the trial continues elsewhere"));
    } else {
      log(absl::StrCat("trial ", trial_id, ": ", StopReasonName(observers.stop.reason), " at step ",
                       observers.stop.step, "; ", reporter->checkpoints_sent(), " checkpoint(s) stored at the coordinator"));
    }
  }
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
    if (c.size() > 1) c.Abort(run.ok() ? status : AtRankStep(status, c.rank(), -1));
  }
  return code;
}

}  // namespace tutti::worker
