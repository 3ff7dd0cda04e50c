#include "tests/bad_inputs/bad_input_suite.h"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "core/base/file_util.h"
#include "core/base/sha256.h"

#ifndef TUTTI_SOURCE_DIR
#error "TUTTI_SOURCE_DIR must be defined (tutti_test does)"
#endif

namespace tutti::bad_inputs {
namespace {

namespace fs = std::filesystem;

constexpr char kSidecarSuffix[] = ".expect";

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// absl 20220623 has StatusCodeToString but no parser: try every canonical code.
StatusOr<absl::StatusCode> ParseCode(const std::string& name) {
  for (int c = 0; c <= 16; ++c) {
    auto code = static_cast<absl::StatusCode>(c);
    if (absl::StatusCodeToString(code) == name) return code;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("expected a canonical code such as INVALID_ARGUMENT, got '", name, "'"));
}

// sha256 of a file's bytes, or of a directory as its sorted relative paths with each file's bytes (so two
// pack directories that differ in one shard differ here).
StatusOr<std::string> ContentHash(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    TUTTI_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
    return Sha256Hex(bytes);
  }
  std::vector<fs::path> entries;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    entries.push_back(it->path());
  }
  if (ec) return absl::InternalError(absl::StrCat(path, ": cannot list: ", ec.message()));
  std::sort(entries.begin(), entries.end());
  std::string all;
  for (const fs::path& p : entries) {
    const std::string rel = fs::relative(p, path).string();
    if (fs::is_directory(p, ec)) {
      absl::StrAppend(&all, "D ", rel, std::string(1, '\0'));
      continue;
    }
    TUTTI_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(p.string()));
    absl::StrAppend(&all, "F ", rel, std::string(1, '\0'), bytes.size(), std::string(1, '\0'), bytes);
  }
  return Sha256Hex(all);
}

StatusOr<BadInput> ReadSidecar(const std::string& folder, const std::string& sidecar) {
  TUTTI_ASSIGN_OR_RETURN(std::string text, ReadFileToString(sidecar));
  BadInput input;
  input.sidecar = sidecar;
  const std::string file = fs::path(sidecar).filename().string();
  input.name = file.substr(0, file.size() - (sizeof(kSidecarSuffix) - 1));
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  bool have_code = false;
  while (std::getline(lines, line)) {
    ++number;
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(sidecar, ":", number, ": expected 'key: value', got '", line, "'"));
    }
    const std::string key = Trim(line.substr(0, colon));
    const std::string value = Trim(line.substr(colon + 1));
    if (key == "why") {
      input.why = value;
    } else if (key == "code") {
      StatusOr<absl::StatusCode> code = ParseCode(value);
      if (!code.ok()) return Annotate(code.status(), absl::StrCat(sidecar, ":", number));
      input.code = *code;
      have_code = true;
    } else if (key == "contains") {
      if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(sidecar, ":", number, ": empty 'contains'"));
      input.contains.push_back(value);
    } else if (key == "input") {
      input.path = (fs::path(TUTTI_SOURCE_DIR) / value).lexically_normal().string();
    } else {
      input.params[key].push_back(value);
    }
  }
  if (input.why.empty()) return absl::InvalidArgumentError(absl::StrCat(sidecar, ": expected a 'why:' line"));
  if (!have_code) return absl::InvalidArgumentError(absl::StrCat(sidecar, ": expected a 'code:' line"));
  if (input.contains.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(sidecar, ": expected at least one 'contains:' line (the key, "
                                                   "offset or line, and what was expected)"));
  }
  if (input.path.empty()) input.path = (fs::path(folder) / input.name).string();
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(input.path, ec))) {
    return absl::NotFoundError(absl::StrCat(sidecar, ": its input ", input.path, " does not exist"));
  }
  return input;
}

// Rows of the table, in the order the suites ran.
struct Row {
  std::string parser;
  int inputs = 0;
  int clear = 0;
};
std::vector<Row>& Rows() {
  static std::vector<Row> rows;
  return rows;
}

class TableEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    if (Rows().empty()) return;
    std::ostringstream table;
    table << "| parser / handler | distinct bad inputs | all gave a clear error |\n| --- | --- | --- |\n";
    std::string rows;
    int total = 0, clear = 0;
    for (const Row& r : Rows()) {
      const std::string verdict =
          r.clear == r.inputs ? "yes" : absl::StrCat("NO (", r.inputs - r.clear, " of ", r.inputs, " did not)");
      absl::StrAppend(&rows, "| ", r.parser, " | ", r.inputs, " | ", verdict, " |\n");
      total += r.inputs;
      clear += r.clear;
    }
    table << rows << "| **total** | **" << total << "** | " << (clear == total ? "yes" : "NO") << " |\n";
    std::cout << "\nBad-input table:\n" << table.str() << std::flush;
    if (const char* out = std::getenv("TUTTI_BAD_INPUTS_ROWS"); out != nullptr && *out != '\0') {
      std::ofstream(out, std::ios::app) << rows;
    }
  }
};
[[maybe_unused]] const auto* const kTableEnvironment = ::testing::AddGlobalTestEnvironment(new TableEnvironment);

// What the child reports through its pipe: "S<code>\n<message>" for a Status, "X<what>" for an exception.
void ChildMain(const Runner& runner, const BadInput& input, int fd, int64_t extra_bytes) {
  // Bound the address space: an allocation sized by a lying length field fails here (bad_alloc, reported
  // as an exception) instead of swapping the machine.
  long pages = 0;
  if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%ld", &pages) != 1) pages = 0;
    std::fclose(statm);
  }
  if (pages > 0) {
    const rlim_t limit = static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) +
                         static_cast<rlim_t>(extra_bytes);
    struct rlimit rl {limit, limit};
    ::setrlimit(RLIMIT_AS, &rl);
  }
  struct rlimit no_core {0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);  // a crash is reported, not dumped into the build directory
  std::string report;
  try {
    Status status = runner(input);
    report = absl::StrCat("S", static_cast<int>(status.code()), "\n", std::string(status.message()));
  } catch (const std::exception& e) {
    report = absl::StrCat("X", e.what());
  } catch (...) {
    report = "Xan exception that is not a std::exception";
  }
  size_t done = 0;
  while (done < report.size()) {
    ssize_t n = ::write(fd, report.data() + done, report.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  ::_exit(0);  // no gtest or static destructors in the child
}

struct Outcome {
  enum Kind { kStatus, kException, kCrash, kHang } kind = kCrash;
  absl::StatusCode code = absl::StatusCode::kUnknown;
  std::string message;  // the status message, the exception's what(), or how the child died
};

Outcome RunInChild(const Runner& runner, const BadInput& input, const SuiteOptions& options) {
  int fds[2];
  if (::pipe(fds) != 0) return {Outcome::kCrash, absl::StatusCode::kUnknown, "pipe() failed"};
  std::cout.flush();
  std::cerr.flush();
  pid_t pid = ::fork();
  if (pid < 0) return {Outcome::kCrash, absl::StatusCode::kUnknown, "fork() failed"};
  if (pid == 0) {
    ::close(fds[0]);
    ChildMain(runner, input, fds[1], options.extra_address_space_bytes);
  }
  ::close(fds[1]);
  std::string report;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool hung = false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      hung = true;
      break;
    }
    struct pollfd p {fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // timeout: the loop's check ends it
    char buf[4096];
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child wrote its report and exited (or died)
    report.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (hung) ::kill(pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (hung) {
    return {Outcome::kHang, absl::StatusCode::kUnknown,
            absl::StrCat("still running after ", options.timeout.count(), " ms (killed)")};
  }
  if (WIFSIGNALED(wstatus)) {
    return {Outcome::kCrash, absl::StatusCode::kUnknown,
            absl::StrCat("crashed with signal ", WTERMSIG(wstatus), " (", strsignal(WTERMSIG(wstatus)), ")")};
  }
  if (report.empty()) {
    return {Outcome::kCrash, absl::StatusCode::kUnknown,
            absl::StrCat("exited with status ", WEXITSTATUS(wstatus), " without a report")};
  }
  if (report[0] == 'X') return {Outcome::kException, absl::StatusCode::kUnknown, report.substr(1)};
  size_t nl = report.find('\n');
  Outcome out;
  out.kind = Outcome::kStatus;
  out.code = static_cast<absl::StatusCode>(std::atoi(report.substr(1, nl).c_str()));
  out.message = nl == std::string::npos ? "" : report.substr(nl + 1);
  return out;
}

}  // namespace

std::string BadInput::param(const std::string& key, const std::string& fallback) const {
  auto it = params.find(key);
  return it == params.end() || it->second.empty() ? fallback : it->second.front();
}

std::string BadInput::file_name() const { return fs::path(path).filename().string(); }

std::string BadInputsDir(const std::string& relative) {
  fs::path dir = fs::path(TUTTI_SOURCE_DIR) / "tests" / "bad_inputs";
  return relative.empty() ? dir.string() : (dir / relative).string();
}

StatusOr<std::vector<BadInput>> ListBadInputs(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return absl::NotFoundError(absl::StrCat(folder, ": no such folder"));
  std::set<std::string> sidecars, others;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (EndsWith(name, kSidecarSuffix) && entry.is_regular_file()) {
      sidecars.insert(name);
    } else {
      others.insert(name);
    }
  }
  if (ec) return absl::InternalError(absl::StrCat(folder, ": cannot list: ", ec.message()));
  std::vector<BadInput> inputs;
  std::set<std::string> claimed;
  for (const std::string& name : sidecars) {
    TUTTI_ASSIGN_OR_RETURN(BadInput input, ReadSidecar(folder, (fs::path(folder) / name).string()));
    if (fs::path(input.path).parent_path() == fs::path(folder)) {
      claimed.insert(fs::path(input.path).filename().string());
    }
    inputs.push_back(std::move(input));
  }
  for (const std::string& name : others) {
    if (claimed.count(name) == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(folder, "/", name, ": expected a sidecar ", name, kSidecarSuffix, " (see README.md)"));
    }
  }
  for (BadInput& input : inputs) {
    TUTTI_ASSIGN_OR_RETURN(input.sha256, ContentHash(input.path));
  }
  return inputs;
}

void RunBadInputSuite(const std::string& parser, const std::string& folder_arg, const Runner& runner,
                      const SuiteOptions& options) {
  const std::string folder = fs::path(folder_arg).is_absolute() ? folder_arg : BadInputsDir(folder_arg);
  StatusOr<std::vector<BadInput>> listed = ListBadInputs(folder);
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<BadInput> inputs = *std::move(listed);
  EXPECT_FALSE(inputs.empty()) << folder << ": no bad inputs";

  // Distinct by content: the count in the table is a count of different files, not of copies.
  std::map<std::string, std::string> by_hash;
  for (const BadInput& input : inputs) {
    auto [it, inserted] = by_hash.emplace(input.sha256, input.name);
    EXPECT_TRUE(inserted) << folder << ": " << input.name << " has the same content (sha256 " << input.sha256
                          << ") as " << it->second;
  }

  Row row{parser, static_cast<int>(inputs.size()), 0};
  for (BadInput& input : inputs) {
    StatusOr<std::string> scratch = MakeTempDirectoryIn(::testing::TempDir(), "bad-input");
    ASSERT_TRUE(scratch.ok()) << scratch.status();
    input.scratch_dir = *scratch;
    const auto start = std::chrono::steady_clock::now();
    Outcome out = RunInChild(runner, input, options);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    RemoveAllQuietly(input.scratch_dir);

    const std::string where = absl::StrCat(parser, ": ", input.name, " (", input.why, "; sidecar ", input.sidecar, ")");
    std::vector<std::string> problems;
    switch (out.kind) {
      case Outcome::kHang: problems.push_back("hang: " + out.message); break;
      case Outcome::kCrash: problems.push_back(out.message); break;
      case Outcome::kException: problems.push_back("threw instead of returning a Status: " + out.message); break;
      case Outcome::kStatus:
        if (out.code == absl::StatusCode::kOk) {
          problems.push_back("the parser returned OK for a bad input");
          break;
        }
        if (out.code != input.code) {
          problems.push_back(absl::StrCat("expected code ", absl::StatusCodeToString(input.code), ", got ",
                                          absl::StatusCodeToString(out.code)));
        }
        for (const std::string& part : input.contains) {
          if (out.message.find(part) == std::string::npos) problems.push_back("message lacks '" + part + "'");
        }
        if (options.message_names_input && out.message.find(input.file_name()) == std::string::npos) {
          problems.push_back("message does not name the file " + input.file_name());
        }
        break;
    }
    if (problems.empty()) {
      ++row.clear;
    } else {
      std::string all;
      for (const std::string& p : problems) absl::StrAppend(&all, "\n  - ", p);
      ADD_FAILURE() << where << ":" << all << "\n  message: " << out.message;
    }
    if (std::getenv("TUTTI_BAD_INPUTS_VERBOSE") != nullptr) {
      std::cout << "[" << parser << "] " << input.name << " (" << ms << " ms): "
                << absl::StatusCodeToString(out.code) << ": " << out.message << "\n";
    }
  }
  if (options.record_row) Rows().push_back(row);
}

}  // namespace tutti::bad_inputs
