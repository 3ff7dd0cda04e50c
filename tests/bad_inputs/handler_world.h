#pragma once
// HandlerWorld: the coordinator's request handlers wired as tutti-coordinator wires them
// (coordinator/server/coordinator_server.cc), over a real SQLite store and blob store in a scratch
// directory, with a known state for bad requests to run into:
//
//   experiment 1 "bad-inputs-rock" (genre rock, single searcher): trial 1, RUNNING, leased by worker "w:1"
//     (lease id: ${LEASE}); checkpoint 1 of trial 1 at step 10 with eval.realism.score 3 (bytes ${CKPT_SHA})
//   experiment 2 "bad-inputs-killed" (genre jazz): killed, so trial 2 is KILLED
//   blobs (stored, no pack registered): ${SHA_NOT_JSON} (text), ${SHA_BAD_MANIFEST} (JSON, not a manifest),
//     ${SHA_MANIFEST} (a valid manifest whose one shard, ${SHA_SHARD}, was never uploaded)
//
// Requests are protobuf text format; Substitute() replaces the ${...} names above (the lease id and the
// sha256s are not known in advance). Call makes one call by "<Service>.<Rpc>" name; a streamed request
// (UploadCheckpoint, UploadBlob) is a sequence of messages separated by lines holding only "---".
//
// The sample service gets a backend that refuses every job with Internal ("reached the backend"): this is
// torch-free, and a bad request must be refused before any model is touched, so reaching it is a failure.
//
// Thread-compatible; one world per bad input (each runs in its own process).

#include <memory>
#include <string>

#include "core/base/status.h"

namespace tutti::bad_inputs {

class HandlerWorld {
 public:
  // Builds the handlers in `dir` (an empty directory) and the state above.
  static StatusOr<std::unique_ptr<HandlerWorld>> Create(const std::string& dir);
  ~HandlerWorld();

  std::string Substitute(const std::string& text) const;

  // Parses `request_text` (after Substitute) as the request of `method` and calls its handler. InvalidArgument
  // "bad test input" when the method is unknown or the text does not parse as its request.
  Status Call(const std::string& method, const std::string& request_text);

 private:
  struct Parts;
  explicit HandlerWorld(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace tutti::bad_inputs
