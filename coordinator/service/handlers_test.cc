// The handlers as plain classes: the calls a gRPC client would make, without gRPC.
#include <thread>

#include <gtest/gtest.h>

#include "coordinator/service/checkpoint_handler.h"
#include "coordinator/service/experiment_handler.h"
#include "coordinator/service/service_test_util.h"
#include "coordinator/service/worker_handler.h"

namespace tutti::coord {
namespace {

using testing::Fixture;

struct Handlers {
  Fixture f;
  ExperimentHandler experiments{f.store.get(), f.lifecycle.get(), f.registry.get(), f.manager.get()};
  WorkerHandler workers{f.store.get(), f.lifecycle.get(), f.registry.get(), f.manager.get(), &f.clock};
  CheckpointHandler checkpoints{f.store.get(), f.lifecycle.get(), f.registry.get()};
  explicit Handlers(const std::string& name) : f(name, {}, /*with_manager=*/true) {}

  v1::SubmitExperimentResponse Submit(const std::string& yaml = testing::JobYaml()) {
    v1::SubmitExperimentRequest request;
    request.set_config_yaml(yaml);
    request.set_source_name("job.yaml");
    v1::SubmitExperimentResponse response;
    Status s = experiments.Submit(request, &response);
    EXPECT_TRUE(s.ok()) << s;
    return response;
  }
  v1::LeaseTrialResponse Lease() {
    v1::LeaseTrialRequest request;
    request.set_worker("test:1");
    v1::LeaseTrialResponse response;
    Status s = workers.LeaseTrial(request, &response);
    EXPECT_TRUE(s.ok()) << s;
    return response;
  }
};

TEST(ExperimentHandler, ConfigErrorsComeBackWithFileLineAndColumn) {
  Handlers h("submit-errors");
  v1::SubmitExperimentRequest request;
  request.set_config_yaml("name: x\ntrain:\n  batch_sise: 4\n");
  request.set_source_name("job.yaml");
  v1::SubmitExperimentResponse response;
  Status s = h.experiments.Submit(request, &response);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("job.yaml:3:3"), std::string::npos) << s;
  EXPECT_NE(s.message().find("batch_size"), std::string::npos) << s;  // did you mean
  request.set_config_yaml("name: x\n");
  request.add_overrides("train.steps=-3");
  s = h.experiments.Submit(request, &response);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("train.steps"), std::string::npos) << s;
  // Nothing was created.
  v1::ListExperimentsResponse list;
  ASSERT_TRUE(h.experiments.List({}, &list).ok());
  EXPECT_EQ(list.experiments_size(), 0);
}

TEST(ExperimentHandler, SubmitResolvesPacksBesideTheClientAndQueuesOneTrial) {
  Handlers h("submit");
  v1::SubmitExperimentRequest request;
  request.set_config_yaml("name: demo\ndata:\n  packs_dir: packs\ntrain:\n  steps: 40\n");
  request.set_source_name("demo.yaml");
  request.add_overrides("train.batch_size=8");
  request.set_working_directory("/home/me/project");
  v1::SubmitExperimentResponse response;
  ASSERT_TRUE(h.experiments.Submit(request, &response).ok());
  EXPECT_EQ(response.experiment().name(), "demo");
  EXPECT_EQ(response.experiment().state(), v1::EXPERIMENT_ACTIVE);
  ASSERT_EQ(response.trials_size(), 1);
  EXPECT_EQ(response.trials(0).state(), v1::TRIAL_QUEUED);
  EXPECT_EQ(response.trials(0).target_steps(), 40);
  v1::GetTrialRequest get;
  get.set_trial_id(response.trials(0).id());
  v1::GetTrialResponse trial;
  ASSERT_TRUE(h.experiments.GetTrial(get, &trial).ok());
  EXPECT_NE(trial.trial().config_yaml().find("/home/me/project/packs"), std::string::npos);
  EXPECT_NE(trial.trial().config_yaml().find("batch_size: 8"), std::string::npos);
}

TEST(ExperimentHandler, UnknownIdsAreNotFoundNamingTheId) {
  Handlers h("not-found");
  v1::GetExperimentRequest ge;
  ge.set_experiment_id(42);
  v1::GetExperimentResponse ger;
  Status s = h.experiments.Get(ge, &ger);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("experiment 42"), std::string::npos) << s;
  v1::GetTrialRequest gt;
  gt.set_trial_id(7);
  v1::GetTrialResponse gtr;
  s = h.experiments.GetTrial(gt, &gtr);
  EXPECT_NE(s.message().find("trial 7"), std::string::npos) << s;
  v1::DownloadCheckpointRequest dc;
  dc.set_checkpoint_id(9);
  s = h.checkpoints.OpenDownload(dc).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("checkpoint 9"), std::string::npos) << s;
}

TEST(WorkerHandler, LeaseReportCheckpointCompleteAndStreamMetrics) {
  Handlers h("flow");
  v1::SubmitExperimentResponse submitted = h.Submit();
  v1::LeaseTrialResponse lease = h.Lease();
  ASSERT_TRUE(lease.leased());
  EXPECT_FALSE(lease.has_resume_from());
  EXPECT_GT(lease.lease_ttl_ms(), lease.heartbeat_interval_ms());
  EXPECT_NE(lease.trial().config_yaml().find("steps: 100"), std::string::npos);
  EXPECT_FALSE(h.Lease().leased());  // nothing else queued

  v1::ReportMetricsRequest metrics;
  metrics.set_lease_id(lease.lease_id());
  metrics.set_trial_id(lease.trial().id());
  for (int step = 10; step <= 30; step += 10) {
    v1::MetricPoint* p = metrics.add_points();
    p->set_step(step);
    p->set_kind("train");
    (*p->mutable_values())["d_loss"] = -step;
  }
  v1::MetricPoint* eval = metrics.add_points();
  eval->set_step(20);
  eval->set_kind("eval");
  (*eval->mutable_values())["tracks.Piano.used_pitch_classes"] = 4.5;
  v1::ReportMetricsResponse stored;
  ASSERT_TRUE(h.workers.ReportMetrics(metrics, &stored).ok());
  EXPECT_EQ(stored.stored(), 4);
  // A retried report does not duplicate.
  ASSERT_TRUE(h.workers.ReportMetrics(metrics, &stored).ok());

  // A checkpoint: announce, upload, then the trial's latest checkpoint is it.
  const std::string bytes(3000, 'c');
  v1::ReportCheckpointRequest announce;
  announce.set_lease_id(lease.lease_id());
  announce.set_trial_id(lease.trial().id());
  announce.set_step(30);
  announce.set_sha256(Sha256Hex(bytes));
  announce.set_size_bytes(3000);
  v1::ReportCheckpointResponse reported;
  ASSERT_TRUE(h.workers.ReportCheckpoint(announce, &reported).ok());
  EXPECT_TRUE(reported.upload_required());
  auto session = h.workers.StartUpload();
  v1::UploadCheckpointRequest part;
  *part.mutable_header() = announce;
  ASSERT_TRUE(session->OnMessage(part).ok());
  part.set_data(bytes.substr(0, 1000));
  ASSERT_TRUE(session->OnMessage(part).ok());
  part.set_data(bytes.substr(1000));
  ASSERT_TRUE(session->OnMessage(part).ok());
  v1::UploadCheckpointResponse uploaded;
  ASSERT_TRUE(session->Finish(&uploaded).ok());
  EXPECT_EQ(uploaded.checkpoint().step(), 30);
  EXPECT_EQ(uploaded.checkpoint().experiment_id(), submitted.experiment().id());

  v1::CompleteTrialRequest complete;
  complete.set_lease_id(lease.lease_id());
  complete.set_trial_id(lease.trial().id());
  complete.set_step(100);
  complete.set_stop_reason("completed");
  v1::CompleteTrialResponse completed;
  ASSERT_TRUE(h.workers.CompleteTrial(complete, &completed).ok());
  EXPECT_EQ(completed.trial().state(), v1::TRIAL_COMPLETED);
  EXPECT_EQ(completed.trial().latest_checkpoint_id(), uploaded.checkpoint().id());
  EXPECT_EQ(completed.trial().last_metrics().at("d_loss"), -30);
  EXPECT_EQ(completed.trial().last_metrics().at("eval.tracks.Piano.used_pitch_classes"), 4.5);

  v1::StreamTrialMetricsRequest stream;
  stream.set_trial_id(lease.trial().id());
  std::vector<std::pair<int64_t, std::string>> seen;
  ASSERT_TRUE(h.experiments
                  .StreamMetrics(stream,
                                 [&](const v1::StreamTrialMetricsResponse& r) {
                                   for (const auto& p : r.points()) seen.emplace_back(p.step(), p.kind());
                                   return true;
                                 },
                                 {})
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::pair<int64_t, std::string>>{
                      {10, "train"}, {20, "eval"}, {20, "train"}, {30, "train"}}));

  // The stale lease can do nothing more.
  EXPECT_EQ(h.workers.ReportMetrics(metrics, &stored).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(WorkerHandler, FollowingMetricsEndsWhenTheTrialEnds) {
  Handlers h("follow");
  h.Submit();
  v1::LeaseTrialResponse lease = h.Lease();
  std::thread worker([&] {
    for (int step = 1; step <= 3; ++step) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      v1::ReportMetricsRequest m;
      m.set_lease_id(lease.lease_id());
      m.set_trial_id(lease.trial().id());
      v1::MetricPoint* p = m.add_points();
      p->set_step(step);
      p->set_kind("train");
      (*p->mutable_values())["g_loss"] = step;
      v1::ReportMetricsResponse r;
      EXPECT_TRUE(h.workers.ReportMetrics(m, &r).ok());
    }
    v1::CompleteTrialRequest c;
    c.set_lease_id(lease.lease_id());
    c.set_trial_id(lease.trial().id());
    c.set_step(3);
    c.set_stop_reason("completed");
    v1::CompleteTrialResponse r;
    EXPECT_TRUE(h.workers.CompleteTrial(c, &r).ok());
  });
  v1::StreamTrialMetricsRequest stream;
  stream.set_trial_id(lease.trial().id());
  stream.set_follow(true);
  std::vector<int64_t> steps;
  v1::TrialState last_state = v1::TRIAL_STATE_UNSPECIFIED;
  Status s = h.experiments.StreamMetrics(
      stream,
      [&](const v1::StreamTrialMetricsResponse& r) {
        for (const auto& p : r.points()) steps.push_back(p.step());
        last_state = r.trial_state();
        return true;
      },
      [] { return false; });
  worker.join();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(last_state, v1::TRIAL_COMPLETED);
}

TEST(WorkerHandler, UploadStreamsMustStartWithAHeader) {
  Handlers h("upload-order");
  h.Submit();
  v1::LeaseTrialResponse lease = h.Lease();
  auto session = h.workers.StartUpload();
  v1::UploadCheckpointRequest data;
  data.set_data("abc");
  EXPECT_EQ(session->OnMessage(data).code(), absl::StatusCode::kInvalidArgument);
  auto empty = h.workers.StartUpload();
  v1::UploadCheckpointResponse response;
  EXPECT_EQ(empty->Finish(&response).code(), absl::StatusCode::kDataLoss);
  // A header for a lease nobody holds.
  auto stale = h.workers.StartUpload();
  v1::UploadCheckpointRequest header;
  header.mutable_header()->set_lease_id("not-a-lease");
  header.mutable_header()->set_trial_id(lease.trial().id());
  header.mutable_header()->set_step(1);
  header.mutable_header()->set_sha256(Sha256Hex("x"));
  header.mutable_header()->set_size_bytes(1);
  EXPECT_EQ(stale->OnMessage(header).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(WorkerHandler, BadMetricReportsAreRefused) {
  Handlers h("bad-metrics");
  h.Submit();
  v1::LeaseTrialResponse lease = h.Lease();
  v1::ReportMetricsRequest m;
  m.set_lease_id(lease.lease_id());
  m.set_trial_id(lease.trial().id());
  m.add_points()->set_kind("loss");
  v1::ReportMetricsResponse r;
  Status s = h.workers.ReportMetrics(m, &r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("kind"), std::string::npos);
}

}  // namespace
}  // namespace tutti::coord
