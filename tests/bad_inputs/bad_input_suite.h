#pragma once
// A table-driven suite of bad inputs: one folder per parser or handler under tests/bad_inputs/, every input
// beside a sidecar `<input>.expect` that says how the input is wrong and what the error must look like.
//
// Sidecar format (one `key: value` per line, '#' starts a comment line):
//   why: wrong magic bytes               required: how this input is wrong (one way per input)
//   code: INVALID_ARGUMENT                required: the canonical code (absl/gRPC spelling)
//   contains: expected .npy version       one or more: substrings the message must contain
//   input: fuzz/crashes/npz/x.npz         optional: the input lives elsewhere in the repository (a path from
//                                         the source root) and this sidecar stands alone, named <name>.expect
//   anything else (method, role, ...)     parameters the folder's runner reads (BadInput::param)
//
// RunBadInputSuite checks, for every input: the runner returned an error (OK fails the test), with the
// expected code, a message holding every `contains` substring and (unless the folder's inputs have no name
// to echo, e.g. a request proto) the input's file name; that it neither crashed, threw, nor ran past the
// timeout: each input runs in a forked child under an address-space limit, so a crash, an exception, an
// allocation sized by a lying length field or a hang is reported against that input instead of taking the
// suite down. Inputs must differ by content (sha256; a directory hashes its relative paths and bytes), every
// file in the folder needs a sidecar and every sidecar an input.
//
// Each run adds a row (parser | distinct bad inputs | all gave a clear error) to the table printed at the
// end of the test program (and appended to $TUTTI_BAD_INPUTS_ROWS when set: bench/bad_inputs_table.sh).
//
// Thread-safety: call from the gtest main thread only.

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace tutti::bad_inputs {

struct BadInput {
  std::string name;       // the sidecar's stem: the input's file name, or <name> of a stand-alone <name>.expect
  std::string path;       // absolute path of the input (a file or a directory)
  std::string sidecar;    // absolute path of the .expect file
  std::string why;
  absl::StatusCode code = absl::StatusCode::kUnknown;
  std::vector<std::string> contains;
  std::map<std::string, std::vector<std::string>> params;  // every other key, values in file order
  std::string sha256;     // of the content
  std::string scratch_dir;  // an empty directory for this input's run (removed afterwards)

  // The single value of `key`, or `fallback` when absent.
  std::string param(const std::string& key, const std::string& fallback = "") const;
  // The file name the message must name: the base name of `path`.
  std::string file_name() const;
};

// Reads the sidecars of `folder` (see above). Errors name the folder, file and line.
StatusOr<std::vector<BadInput>> ListBadInputs(const std::string& folder);

struct SuiteOptions {
  // The message must contain BadInput::file_name() (false for inputs that are not files to the parser,
  // such as request protos or header bytes, where the sidecar names the field instead).
  bool message_names_input = true;
  // Wall-clock limit per input; the child is killed past it and the input reported as a hang.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  // Address space the child may add to what it already maps (an allocation sized from the input beyond
  // this fails and is reported as a crash/exception).
  int64_t extra_address_space_bytes = int64_t{2} << 30;
  // Add this run to the table (off for the harness's own tests).
  bool record_row = true;
};

using Runner = std::function<Status(const BadInput&)>;

// Runs `runner` on every input of `folder` (relative to tests/bad_inputs/ or absolute), adds gtest failures
// for each problem (naming the input and its sidecar) and records the table row for `parser`.
void RunBadInputSuite(const std::string& parser, const std::string& folder, const Runner& runner,
                      const SuiteOptions& options = {});

// tests/bad_inputs/<relative> in the source tree.
std::string BadInputsDir(const std::string& relative = "");

}  // namespace tutti::bad_inputs
