#pragma once
// Samples made by the coordinator, written into a directory: what `tutti generate --checkpoint-id` and
// `tutti sample` share.

#include <string>
#include <vector>

#include "coordinator/cli/remote.h"
#include "tutti/v1/sample_service.pb.h"

namespace tutti::cli {

// "midi,wav" -> {"midi", "wav"} (empty pieces dropped).
std::vector<std::string> SplitFormats(const std::string& formats);

// Calls SampleService.Generate, joins the streamed chunks, writes each file into `out` (created; each file
// atomically; names from the coordinator never leave `out`), and prints what was written (a table, or JSON
// with --json). Returns the exit code.
int FetchSamples(const RemoteFlags& remote, const v1::GenerateRequest& request, const std::string& out);

}  // namespace tutti::cli
