#include "worker/coord/trial_reporter.h"

#include <cmath>
#include <vector>

#include "core/base/file_util.h"

namespace tutti::worker {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

v1::MetricPoint Point(int64_t step, const char* kind, const std::map<std::string, double>& values) {
  v1::MetricPoint p;
  p.set_step(step);
  p.set_kind(kind);
  p.set_time_ms(NowMs());
  for (const auto& [name, value] : values) (*p.mutable_values())[name] = value;
  return p;
}

}  // namespace

bool IsRetryableFailure(const Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kDeadlineExceeded:  // a collective timed out: a rank died or stalled
    case absl::StatusCode::kUnavailable:       // a lost connection, a node going away
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return true;
    default:
      // InvalidArgument / NotFound / FailedPrecondition (config, packs, checkpoints) and Internal (a
      // non-finite loss: the same seed from the same checkpoint diverges the same way) would fail again.
      return false;
  }
}

TrialReporter::TrialReporter(CoordinatorClient* client, Assignment assignment, ReporterOptions options,
                             std::function<void(const std::string&)> log)
    : client_(client), assignment_(std::move(assignment)), options_(options), log_(std::move(log)) {}

TrialReporter::~TrialReporter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  if (sender_.joinable()) sender_.join();
}

void TrialReporter::Start() {
  heartbeat_ = std::thread([this] { HeartbeatLoop(); });
  sender_ = std::thread([this] { SenderLoop(); });
}

bool TrialReporter::HandleFailure(const Status& status, const std::string& what) {
  if (status.code() == absl::StatusCode::kFailedPrecondition || status.code() == absl::StatusCode::kNotFound) {
    if (!lease_lost_.exchange(true)) {
      Log(absl::StrCat("lease lost (", what, "): ", std::string(status.message()), "; stopping"));
    }
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = ControlDecision{ControlDecision::Action::kStop, StopReason::kByCoordinator,
                            absl::StrCat("lease lost: ", std::string(status.message()))};
    queue_.clear();
    wake_.notify_all();
    return true;
  }
  return false;
}

void TrialReporter::HeartbeatLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_ && !lease_lost_) {
    wake_.wait_for(lock, assignment_.heartbeat_interval, [&] { return stopping_; });
    if (stopping_ || lease_lost_) break;
    lock.unlock();
    StatusOr<v1::HeartbeatResponse> reply = client_->Heartbeat(assignment_.lease_id, assignment_.trial_id, step_.load());
    lock.lock();
    if (!reply.ok()) {
      lock.unlock();
      const bool lost = HandleFailure(reply.status(), "heartbeat");
      lock.lock();
      if (!lost && !unreachable_) {
        unreachable_ = true;
        Log(absl::StrCat("heartbeat failed (", std::string(reply.status().message()),
                         "); training goes on and the worker keeps trying"));
      }
      continue;
    }
    if (unreachable_) {
      unreachable_ = false;
      Log("the coordinator answers again");
    }
    switch (reply->control()) {
      case v1::CONTROL_STOP:
      case v1::CONTROL_PRUNE:
        if (!stop_) {
          stop_ = ControlDecision{ControlDecision::Action::kStop,
                                  reply->control() == v1::CONTROL_PRUNE ? StopReason::kPruned : StopReason::kByCoordinator,
                                  reply->reason()};
          Log(absl::StrCat("the coordinator asks to stop: ", reply->reason()));
        }
        break;
      case v1::CONTROL_CHECKPOINT_NOW:
        checkpoint_now_ = true;
        break;
      default:
        break;
    }
  }
}

void TrialReporter::SenderLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    // Metric points wait up to metrics_interval to travel in batches; checkpoints go at once.
    wake_.wait_for(lock, options_.metrics_interval, [&] {
      return stopping_ || (!queue_.empty() && (queue_.front().checkpoint || queue_.size() >= options_.max_points_per_report));
    });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    if (lease_lost_) {
      queue_.clear();
      continue;
    }
    // Take a batch: consecutive metric points, or one checkpoint.
    std::vector<Item> batch;
    if (queue_.front().checkpoint) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    } else {
      while (!queue_.empty() && queue_.front().point && batch.size() < options_.max_points_per_report) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    sending_ = true;
    lock.unlock();
    Status status;
    std::string what;
    if (batch.front().checkpoint) {
      const v1::ReportCheckpointRequest& header = *batch.front().checkpoint;
      what = absl::StrCat("sending the checkpoint at step ", header.step());
      StatusOr<v1::Checkpoint> stored = client_->SendCheckpoint(header, batch.front().bytes);
      status = stored.status();
      if (stored.ok()) ++checkpoints_sent_;
    } else {
      what = absl::StrCat("reporting ", batch.size(), " metric point(s)");
      std::vector<v1::MetricPoint> points;
      for (Item& item : batch) points.push_back(std::move(*item.point));
      status = client_->ReportMetrics(assignment_.lease_id, assignment_.trial_id, points);
      if (!status.ok()) {
        for (size_t i = 0; i < points.size(); ++i) batch[i].point = std::move(points[i]);
      }
    }
    const bool lost = !status.ok() && HandleFailure(status, what);
    lock.lock();
    sending_ = false;
    if (!status.ok() && !lost) {
      if (rpc::IsTransient(status)) {
        // Still unreachable after the retry budget: put the batch back in front and try again later.
        for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(std::move(*it));
        if (last_send_error_.empty()) Log(absl::StrCat(what, " failed for now (", std::string(status.message()), ")"));
        last_send_error_ = std::string(status.message());
        wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
        if (stopping_) return;
      } else {
        // The coordinator refused this batch for good (bad input): say so and go on with the rest.
        Log(absl::StrCat(what, " was refused: ", std::string(status.message())));
      }
    } else if (status.ok()) {
      last_send_error_.clear();
    }
    wake_.notify_all();  // Finish may be waiting for an empty queue
  }
}

void TrialReporter::OnStep(const StepReport& report) {
  step_ = report.step;
  if (!report.logged || lease_lost_) return;
  std::map<std::string, double> values = FlattenMetrics(report.ToJson());
  values.erase("step");
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(Item{Point(report.step, "train", values), std::nullopt, {}});
  if (queue_.size() >= options_.max_points_per_report) wake_.notify_all();
}

void TrialReporter::OnEvaluation(const EvaluationReport& report) {
  if (lease_lost_) return;
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(Item{Point(report.step, "eval", FlattenMetrics(report.metrics)), std::nullopt, {}});
}

void TrialReporter::OnCheckpoint(const CheckpointReport& report) {
  if (lease_lost_) return;
  StatusOr<std::string> bytes = ReadFileToString(report.path);
  if (!bytes.ok()) {
    Log(absl::StrCat("cannot read the checkpoint to send it: ", std::string(bytes.status().message())));
    return;
  }
  v1::ReportCheckpointRequest header;
  header.set_lease_id(assignment_.lease_id);
  header.set_trial_id(assignment_.trial_id);
  header.set_step(report.step);
  header.set_sha256(report.sha256);
  header.set_size_bytes(static_cast<int64_t>(bytes->size()));
  for (const auto& [name, value] : report.metrics) {
    if (std::isfinite(value)) (*header.mutable_metrics())[name] = value;
  }
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(Item{std::nullopt, std::move(header), *std::move(bytes)});
  wake_.notify_all();
}

ControlDecision TrialReporter::Poll(int64_t step) {
  step_ = step;
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) return *stop_;
  if (checkpoint_now_) {
    checkpoint_now_ = false;
    return ControlDecision{ControlDecision::Action::kCheckpointNow, StopReason::kNotStopped,
                           "the coordinator asked for a checkpoint"};
  }
  return ControlDecision{};
}

Status TrialReporter::Finish(const StopReport& stop, bool retryable) {
  step_ = stop.step;
  {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.notify_all();
    const bool drained = wake_.wait_for(lock, options_.finish_timeout,
                                        [&] { return lease_lost_ || (queue_.empty() && !sending_); });
    if (!drained) {
      return absl::DeadlineExceededError(absl::StrCat(
          "could not send ", queue_.size(), " queued report(s) to the coordinator at ", client_->address(), " within ",
          options_.finish_timeout.count() / 1000, " s (last error: ", last_send_error_,
          "); the lease will expire and the trial resumes from its last stored checkpoint"));
    }
  }
  if (lease_lost_) return absl::OkStatus();
  const std::string& lease = assignment_.lease_id;
  const int64_t trial = assignment_.trial_id;
  Status status;
  switch (stop.reason) {
    case StopReason::kCompleted:
      status = client_->Complete(lease, trial, stop.step, "completed", stop.message);
      break;
    case StopReason::kByCoordinator:
      status = client_->Complete(lease, trial, stop.step, "stopped by the coordinator", stop.message);
      break;
    case StopReason::kPruned:
      status = client_->Complete(lease, trial, stop.step, "pruned", stop.message);
      break;
    case StopReason::kInterrupted:
    case StopReason::kTimeLimit:
      status = client_->Release(lease, trial, stop.step, StopReasonName(stop.reason));
      break;
    case StopReason::kFailed:
    case StopReason::kNotStopped:
      // A diverged model is worth its own reason code: early stopping and `tutti trials` show it.
      status = client_->Fail(lease, trial, stop.step, stop.message.empty() ? "the run failed" : stop.message, retryable,
                             stop.message.find("non-finite") != std::string::npos ? "non-finite loss" : "");
      break;
  }
  if (!status.ok() && HandleFailure(status, "ending the trial")) return absl::OkStatus();
  return status;
}

}  // namespace tutti::worker
