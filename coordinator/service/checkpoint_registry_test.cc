#include "coordinator/service/checkpoint_registry.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "coordinator/service/service_test_util.h"

namespace tutti::coord {
namespace {

using testing::Fixture;

std::string Bytes(int i, size_t n = 5000) {
  std::string s(n, '\0');
  for (size_t k = 0; k < n; ++k) s[k] = static_cast<char>((k * 31 + static_cast<size_t>(i) * 7) & 0xff);
  return s;
}

TEST(CheckpointRegistry, UploadThenListAndReadBack) {
  Fixture f("upload");
  f.Submit();
  LeaseGrant g = f.Lease();
  auto row = f.Upload(g, 10, Bytes(1), {{"wasserstein", 2.5}});
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->step, 10);
  EXPECT_EQ(row->sha256, Sha256Hex(Bytes(1)));
  auto listed = f.registry->ListForTrial(g.trial.id);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  auto reader = f.registry->OpenBytes(listed->front());
  ASSERT_TRUE(reader.ok());
  std::string all, chunk;
  do {
    ASSERT_TRUE((*reader)->Read(1000, &chunk).ok());
    all += chunk;
  } while (!chunk.empty());
  EXPECT_EQ(all, Bytes(1));
  EXPECT_EQ(MetricsFromJson(listed->front().metrics_json).at("wasserstein"), 2.5);
  // Reporting the same step again returns the record; no second upload.
  auto again = f.registry->Report({g.lease_id, g.trial.id, 10, Sha256Hex(Bytes(9)), 5000, {}});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->upload_required);
  EXPECT_EQ(again->checkpoint->id, row->id);
}

TEST(CheckpointRegistry, KnownBytesAreRecordedWithoutUpload) {
  Fixture f("dedupe");
  f.Submit(2);
  LeaseGrant a = f.Lease("a:1");
  LeaseGrant b = f.Lease("b:2");
  ASSERT_TRUE(f.Upload(a, 10, Bytes(1)).ok());
  auto report = f.registry->Report({b.lease_id, b.trial.id, 10, Sha256Hex(Bytes(1)), 5000, {}});
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->upload_required);
  ASSERT_TRUE(report->checkpoint.has_value());
  EXPECT_EQ(report->checkpoint->trial_id, b.trial.id);
}

TEST(CheckpointRegistry, BadUploadsLeaveNothingListed) {
  Fixture f("bad-upload");
  f.Submit();
  LeaseGrant g = f.Lease();
  const std::string bytes = Bytes(2);
  // Wrong sha256: DataLoss naming both.
  CheckpointAnnouncement wrong{g.lease_id, g.trial.id, 5, Sha256Hex("something else"), 5000, {}};
  auto upload = f.registry->BeginUpload(wrong);
  ASSERT_TRUE(upload.ok());
  ASSERT_TRUE((*upload)->Append(bytes.data(), bytes.size()).ok());
  auto finished = (*upload)->Finish();
  EXPECT_EQ(finished.status().code(), absl::StatusCode::kDataLoss) << finished.status();
  // Truncated: fewer bytes than announced.
  CheckpointAnnouncement right{g.lease_id, g.trial.id, 5, Sha256Hex(bytes), 5000, {}};
  upload = f.registry->BeginUpload(right);
  ASSERT_TRUE((*upload)->Append(bytes.data(), 100).ok());
  finished = (*upload)->Finish();
  EXPECT_EQ(finished.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(finished.status().message().find("100 of 5000"), std::string::npos) << finished.status();
  // Too many bytes.
  upload = f.registry->BeginUpload(right);
  EXPECT_EQ((*upload)->Append((bytes + "x").data(), 5001).code(), absl::StatusCode::kDataLoss);
  // Bad announcements.
  EXPECT_EQ(f.registry->Report({g.lease_id, g.trial.id, 5, "xyz", 5000, {}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.registry->Report({g.lease_id, g.trial.id, 5, Sha256Hex(bytes), 0, {}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(f.registry->ListForTrial(g.trial.id)->empty());
  EXPECT_TRUE(f.blobs->List()->empty());
}

TEST(CheckpointRegistry, AWorkerThatLostItsLeaseCannotRecord) {
  Fixture f("stale");
  f.Submit();
  LeaseGrant old = f.Lease("old:1");
  ASSERT_TRUE(f.Upload(old, 10, Bytes(1)).ok());
  const std::string late = Bytes(2);
  CheckpointAnnouncement a{old.lease_id, old.trial.id, 20, Sha256Hex(late), 5000, {}};
  auto upload = f.registry->BeginUpload(a);
  ASSERT_TRUE(upload.ok());
  ASSERT_TRUE((*upload)->Append(late.data(), late.size()).ok());
  // The lease expires during the upload; a new worker takes the trial.
  f.clock.Advance(f.options.lease_ttl_ms + 1);
  f.lifecycle->ExpireLeases();
  LeaseGrant fresh = f.Lease("new:2");
  auto finished = (*upload)->Finish();
  EXPECT_EQ(finished.status().code(), absl::StatusCode::kFailedPrecondition) << finished.status();
  auto listed = f.registry->ListForTrial(old.trial.id);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().step, 10);
  // The stale bytes were published but no record names them: the next start removes them.
  EXPECT_TRUE(f.blobs->Contains(Sha256Hex(late)));
  f.Restart();
  EXPECT_EQ(f.registry->recovered().orphan_blobs_removed, 1);
  EXPECT_FALSE(f.blobs->Contains(Sha256Hex(late)));
  EXPECT_TRUE(f.blobs->Contains(Sha256Hex(Bytes(1))));
  (void)fresh;
}

TEST(CheckpointRegistry, RetentionKeepsTheNewestAndTheBest) {
  Fixture f("retention");
  f.Submit(1, "checkpoint:\n  keep: 2\n  keep_best: 1\n  best_metric: wasserstein\n  best_mode: min\n");
  LeaseGrant g = f.Lease();
  const double w[] = {5.0, 1.0, 3.0, 4.0, 6.0};  // step 20 is the best
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(f.Upload(g, 10 * (i + 1), Bytes(i), {{"wasserstein", w[i]}}).ok());
  auto listed = f.registry->ListForTrial(g.trial.id);
  std::vector<int64_t> steps;
  for (const CheckpointRow& r : *listed) steps.push_back(r.step);
  EXPECT_EQ(steps, (std::vector<int64_t>{20, 40, 50}));
  EXPECT_FALSE(f.blobs->Contains(Sha256Hex(Bytes(0))));
  EXPECT_FALSE(f.blobs->Contains(Sha256Hex(Bytes(2))));
  EXPECT_TRUE(f.blobs->Contains(Sha256Hex(Bytes(1))));
  auto best = f.registry->Best(g.trial.id);
  ASSERT_TRUE(best.ok() && best->has_value());
  EXPECT_EQ((*best)->step, 20);
  EXPECT_EQ((*f.registry->Latest(g.trial.id))->step, 50);
}

TEST(CheckpointRegistry, ASharedBlobGoesOnlyWithItsLastRecord) {
  Fixture f("shared");
  f.Submit(2);
  LeaseGrant a = f.Lease("a:1");
  LeaseGrant b = f.Lease("b:2");
  auto ra = f.Upload(a, 10, Bytes(1));
  auto rb = f.Upload(b, 10, Bytes(1));
  ASSERT_TRUE(ra.ok() && rb.ok());
  ASSERT_TRUE(f.Upload(a, 20, Bytes(2)).ok());  // so 10 is no longer a's newest
  ASSERT_TRUE(f.Upload(b, 20, Bytes(3)).ok());
  ASSERT_TRUE(f.registry->Delete(ra->id).ok());
  EXPECT_TRUE(f.blobs->Contains(Sha256Hex(Bytes(1))));
  EXPECT_TRUE(f.registry->Delete(ra->id).ok());  // idempotent
  ASSERT_TRUE(f.registry->Delete(rb->id).ok());
  EXPECT_FALSE(f.blobs->Contains(Sha256Hex(Bytes(1))));
  EXPECT_EQ(f.registry->Get(rb->id).status().code(), absl::StatusCode::kNotFound);
}

TEST(CheckpointRegistry, TheNewestCheckpointOfAnUnfinishedTrialCannotBeDeleted) {
  Fixture f("keep-newest");
  f.Submit();
  LeaseGrant g = f.Lease();
  auto row = f.Upload(g, 10, Bytes(1));
  Status s = f.registry->Delete(row->id);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("resumes from it"), std::string::npos) << s;
  ASSERT_TRUE(f.lifecycle->Complete(g.lease_id, g.trial.id, 100, kReasonCompleted, "").ok());
  EXPECT_TRUE(f.registry->Delete(row->id).ok());
}

TEST(CheckpointRegistry, ADeletionCutShortIsFinishedAtTheNextStart) {
  Fixture f("recover");
  f.Submit();
  LeaseGrant g = f.Lease();
  auto first = f.Upload(g, 10, Bytes(1));
  ASSERT_TRUE(f.Upload(g, 20, Bytes(2)).ok());
  // As if the coordinator died after marking the record: it is hidden at once and finished at start.
  ASSERT_TRUE(f.store->SetCheckpointState(first->id, CheckpointState::kDeleting).ok());
  EXPECT_EQ(f.registry->Get(first->id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(f.registry->ListForTrial(g.trial.id)->size(), 1u);
  f.Restart();
  EXPECT_EQ(f.registry->recovered().finished_deletions, 1);
  EXPECT_EQ(f.store->GetCheckpoint(first->id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(f.blobs->Contains(Sha256Hex(Bytes(1))));
  EXPECT_TRUE(f.blobs->Contains(Sha256Hex(Bytes(2))));
}

}  // namespace
}  // namespace tutti::coord
