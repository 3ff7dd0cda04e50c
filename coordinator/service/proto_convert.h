#pragma once
// Store rows <-> tutti.v1 messages. The handlers' only translation layer: rows know nothing of the wire.

#include <cstdint>
#include <map>
#include <string>

#include "coordinator/store/experiment_store.h"
#include "tutti/v1/common.pb.h"

namespace tutti::coord {

// `trial_counts` by state name ("QUEUED", ...). The config is included only when `with_config`.
void ToProto(const ExperimentRow& row, const std::map<std::string, int64_t>& trial_counts, bool with_config,
             v1::Experiment* out);
// `latest_checkpoint_id` / `best_checkpoint_id`: 0 = none.
void ToProto(const TrialRow& row, int64_t latest_checkpoint_id, bool with_config, v1::Trial* out,
             int64_t best_checkpoint_id = 0);
void ToProto(const CheckpointRow& row, int64_t experiment_id, v1::Checkpoint* out);

v1::TrialState ToProto(TrialState state);
v1::ExperimentState ToProto(ExperimentState state);

// map<string,double> of a proto (metric values) as a std::map, and back.
std::map<std::string, double> ToMap(const google::protobuf::Map<std::string, double>& values);
void FromMap(const std::map<std::string, double>& values, google::protobuf::Map<std::string, double>* out);

}  // namespace tutti::coord
