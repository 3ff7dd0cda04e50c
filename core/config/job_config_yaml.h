#pragma once
// JobConfig <-> YAML, command-line overrides and validation.
//
// File format: a mapping of the JobConfig fields, nested by section, with the same names as the structs:
//
//   name: quickstart
//   data:
//     packs_dir: packs
//     genres: [rock]
//   train:
//     batch_size: 16
//
// Every key is optional (missing keys keep the struct defaults); unknown keys, duplicate keys and values of
// the wrong type or out of range are errors. Error messages are InvalidArgument and read
//   "<file>:<line>:<col>: <key.path>: expected <what>, got <value>"
// with 1-based line and column of the offending key or value; unknown keys add "did you mean <key>?" when
// a known key is close (edit distance), and YAML syntax errors give yaml-cpp's position and message.
// A list of strings (data.genres) also accepts a single string as a one-element list.
//
// Overrides ("--set key.path=value") are applied after the file, in order (later ones win). The value is
// parsed as YAML, so scalars and flow sequences work: "train.batch_size=64", "data.genres=[rock, pop]",
// "name='my job'". Their errors read "--set <assignment>: <message>".
//
// Thread-safety: all functions are reentrant.

#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/config/job_config.h"

namespace tutti {

// Reads the YAML file at `path`, applies `overrides` ("key.path=value") and validates the result.
// NotFound / PermissionDenied when the file cannot be read; InvalidArgument for any config error.
StatusOr<JobConfig> LoadJobConfig(const std::string& path, const std::vector<std::string>& overrides = {});

// As LoadJobConfig, from text; `source_name` (usually the file name) prefixes error locations.
StatusOr<JobConfig> ParseJobConfig(const std::string& yaml_text, const std::string& source_name,
                                   const std::vector<std::string>& overrides = {});

// Applies one "key.path=value" assignment to `config` (the value parsed as YAML). Checks the field's type
// and range but not cross-field rules: call ValidateJobConfig after the last one. Used by --set and by
// sweeps that set a trial's parameters. On error `config` is unchanged.
Status ApplyJobConfigOverride(const std::string& assignment, JobConfig* config);

// Every settable key path ("name", "train.batch_size", ...), in file order.
std::vector<std::string> JobConfigKeyPaths();

// The resolved config as YAML with every key, in the order of JobConfigKeyPaths(). Parsing the result gives
// back an equal config (doubles print in their shortest round-tripping form).
std::string JobConfigToYaml(const JobConfig& config);

// OK when every field is in range (positive sizes and learning rates, betas in [0, 1), backend and device
// in their allowed sets, genres non-empty, ...) and the cross-field rules hold (stall_warning_s <=
// timeout_s). InvalidArgument naming the first offending key otherwise ("train.beta1: expected a number in
// [0, 1), got 1").
Status ValidateJobConfig(const JobConfig& config);

// The manifest sha256 data.pack_pins gives `genre` ("" when it has no pin).
std::string PinnedPackSha(const DataConfig& data, const std::string& genre);

// Field-wise equality (used by round-trip tests and by resume to compare a checkpoint's config).
bool operator==(const JobConfig& a, const JobConfig& b);
inline bool operator!=(const JobConfig& a, const JobConfig& b) { return !(a == b); }

}  // namespace tutti
