#include "worker/run/run_log.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/base/file_util.h"

namespace tutti {

double MonotonicSeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

StatusOr<std::unique_ptr<MetricsLog>> MetricsLog::Open(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) TUTTI_RETURN_IF_ERROR(CreateDirectories(parent.string()));
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open the metrics file for appending: ",
                                                    std::string(std::strerror(errno))));
  }
  return std::unique_ptr<MetricsLog>(new MetricsLog(path, file));
}

Status MetricsLog::DropLinesAfterStep(const std::string& path, int64_t step) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return absl::OkStatus();
  TUTTI_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  // Text after the last newline is an append cut short (a run killed in the middle of a write): the next
  // append would glue a whole line to it, so it goes.
  bool dropped = false;
  if (const size_t end = text.rfind('\n') + 1; end < text.size()) {
    text.resize(end);
    dropped = true;
  }
  std::istringstream in(text);
  std::string line, kept;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
        j["step"].get<int64_t>() > step) {
      dropped = true;
      continue;
    }
    kept += line + "\n";
  }
  return dropped ? WriteFileAtomically(path, kept) : absl::OkStatus();
}

MetricsLog::~MetricsLog() { std::fclose(file_); }

Status MetricsLog::Append(const nlohmann::json& line) {
  // NaN would make dump() throw on nothing but write "null"; that is the documented JSON form.
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0) {
    return absl::InternalError(absl::StrCat(path_, ": writing a metrics line failed: ", std::string(std::strerror(errno))));
  }
  return absl::OkStatus();
}

StatusLine::StatusLine(int64_t total_steps, bool enabled)
    : total_(total_steps), enabled_(enabled), is_terminal_(::isatty(STDERR_FILENO) == 1) {}

namespace {

std::string Clock(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buffer[32];
  if (s >= 3600) {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  }
  return buffer;
}

}  // namespace

void StatusLine::Update(int64_t step, double steps_per_s, double d_loss, double g_loss) {
  if (!enabled_) return;
  const double now = MonotonicSeconds();
  const bool last = step >= total_;
  if (!last && now - last_print_ < (is_terminal_ ? 0.2 : 10.0)) return;
  last_print_ = now;
  const double eta = steps_per_s > 0 ? static_cast<double>(total_ - step) / steps_per_s : NAN;
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, "step %lld/%lld %3.0f%% | %.2f steps/s | ETA %s | d_loss %.4f g_loss %.4f",
                static_cast<long long>(step), static_cast<long long>(total_),
                total_ > 0 ? 100.0 * static_cast<double>(step) / static_cast<double>(total_) : 0.0, steps_per_s,
                Clock(eta).c_str(), d_loss, g_loss);
  last_text_ = buffer;
  if (is_terminal_) {
    std::fprintf(stderr, "\r\033[K%s", buffer);
    line_open_ = true;
  } else {
    std::fprintf(stderr, "%s\n", buffer);
  }
  std::fflush(stderr);
}

void StatusLine::Print(const std::string& message) {
  if (!enabled_) return;
  if (line_open_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", message.c_str());
  if (line_open_) std::fprintf(stderr, "%s", last_text_.c_str());
  std::fflush(stderr);
}

void StatusLine::Finish() {
  if (line_open_) std::fprintf(stderr, "\n");
  line_open_ = false;
  std::fflush(stderr);
}

}  // namespace tutti
