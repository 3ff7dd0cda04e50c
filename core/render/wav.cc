#include "core/render/wav.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/escaping.h"
#include "core/base/file_util.h"

extern char** environ;

namespace tutti {
namespace {

constexpr char kInstallHint[] =
    "install with: apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm";
constexpr size_t kKeptOutput = 2000;  // bytes of fluidsynth's output quoted in errors

std::atomic<int> temp_counter{0};

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsExecutableFile(const std::string& path) { return IsRegularFile(path) && ::access(path.c_str(), X_OK) == 0; }

// Runs argv[0] (an absolute path) with stdin from /dev/null and stdout+stderr captured into *output (the last
// kKeptOutput bytes). Returns the exit status as waitpid reports it.
StatusOr<int> RunAndCapture(const std::vector<std::string>& args, std::string* output) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe failed: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawn_error = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawn_error != 0) {
    ::close(pipe_fds[0]);
    return absl::InternalError(absl::StrCat("cannot start ", args[0], ": ", std::strerror(spawn_error)));
  }
  char buf[4096];
  for (;;) {
    const ssize_t got = ::read(pipe_fds[0], buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    output->append(buf, static_cast<size_t>(got));
    if (output->size() > 2 * kKeptOutput) output->erase(0, output->size() - kKeptOutput);
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid failed: ", std::strerror(errno)));
  }
  if (output->size() > kKeptOutput) output->erase(0, output->size() - kKeptOutput);
  return status;
}

// A WAV file starts "RIFF" <size> "WAVE"; fluidsynth writes a 44-byte header before the samples.
Status CheckWavFile(const std::string& path) {
  TUTTI_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path));
  if (data.size() < 44 || data.compare(0, 4, "RIFF") != 0 || data.compare(8, 4, "WAVE") != 0) {
    return absl::InternalError(absl::StrCat("fluidsynth wrote no RIFF/WAVE data (", data.size(), " bytes)"));
  }
  return absl::OkStatus();
}

Status SyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat(path, ": cannot open to sync: ", std::strerror(errno)));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat(path, ": fsync failed: ", std::strerror(err)));
  return absl::OkStatus();
}

}  // namespace

const std::vector<std::string>& DefaultSoundFontPaths() {
  static const std::vector<std::string> kPaths = {
      "/usr/share/sounds/sf2/FluidR3_GM.sf2",  // Debian/Ubuntu fluid-soundfont-gm
      "/usr/share/sounds/sf2/default-GM.sf2",  // Debian alternatives link
      "/usr/share/soundfonts/default.sf2",     // Fedora, Arch
      "/usr/share/soundfonts/FluidR3_GM.sf2",
      "/usr/share/sounds/sf2/TimGM6mb.sf2",
  };
  return kPaths;
}

StatusOr<std::string> FindExecutableOnPath(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    if (IsExecutableFile(program)) return program;
    return absl::UnavailableError(absl::StrCat(program, " is not an executable file"));
  }
  const char* env = std::getenv("PATH");
  const std::string path_list = env != nullptr ? env : "";
  size_t begin = 0;
  while (begin <= path_list.size()) {
    size_t end = path_list.find(':', begin);
    if (end == std::string::npos) end = path_list.size();
    std::string dir = path_list.substr(begin, end - begin);
    if (dir.empty()) dir = ".";  // POSIX: an empty entry means the current directory
    const std::string candidate = absl::StrCat(dir, "/", program);
    if (IsExecutableFile(candidate)) return candidate;
    begin = end + 1;
  }
  return absl::UnavailableError(absl::StrCat(program, " not found on PATH (", path_list, ")"));
}

StatusOr<std::string> FindSoundFont(const std::string& requested) {
  if (!requested.empty()) {
    if (IsRegularFile(requested)) return requested;
    return absl::NotFoundError(absl::StrCat("SoundFont ", requested, " does not exist"));
  }
  for (const std::string& path : DefaultSoundFontPaths()) {
    if (IsRegularFile(path)) return path;
  }
  return absl::UnavailableError(absl::StrCat("no General MIDI SoundFont found (looked in ",
                                             DefaultSoundFontPaths().front(), " and ",
                                             DefaultSoundFontPaths().size() - 1, " other places); ", kInstallHint));
}

Status RenderWavWithFluidSynth(const std::string& midi_path, const std::string& wav_path,
                               const std::string& soundfont, int sample_rate) {
  auto context = [&](const Status& s) { return Annotate(s, absl::StrCat("rendering ", midi_path, " to WAV")); };
  if (sample_rate < 8000 || sample_rate > 192000) {
    return context(absl::InvalidArgumentError(
        absl::StrCat("sample_rate must be in [8000, 192000] Hz, got ", sample_rate)));
  }
  StatusOr<std::string> fluidsynth = FindExecutableOnPath("fluidsynth");
  if (!fluidsynth.ok()) {
    return context(absl::UnavailableError(absl::StrCat(fluidsynth.status().message(), "; ", kInstallHint)));
  }
  StatusOr<std::string> sf2 = FindSoundFont(soundfont);
  if (!sf2.ok()) return context(sf2.status());
  if (!IsRegularFile(midi_path)) {
    return context(absl::NotFoundError(absl::StrCat("MIDI file ", midi_path, " does not exist")));
  }
  // fluidsynth's verdict on a non-MIDI file varies by version (exit 255 in 2.3); check the header ourselves.
  TUTTI_ASSIGN_OR_RETURN(std::string midi, ReadFileToString(midi_path));
  if (midi.size() < 14 || midi.compare(0, 4, "MThd") != 0) {
    return context(absl::InvalidArgumentError(
        absl::StrCat("not a Standard MIDI File: expected 'MThd' header, got ", midi.size(), " bytes starting ",
                     absl::CHexEscape(midi.substr(0, 4)))));
  }

  // The temporary keeps the .wav extension and sits beside the target so that rename() is atomic.
  const std::string temp = absl::StrCat(wav_path, ".tmp-", ::getpid(), "-", temp_counter.fetch_add(1), ".wav");
  std::string output;
  StatusOr<int> status = RunAndCapture({*fluidsynth, "-ni", "-q", "-T", "wav", "-F", temp, "-r",
                                        std::to_string(sample_rate), *sf2, midi_path},
                                       &output);
  Status result = status.status();
  if (result.ok() && !(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)) {
    const std::string how = WIFEXITED(*status) ? absl::StrCat("exited with ", WEXITSTATUS(*status))
                                               : absl::StrCat("died of signal ", WTERMSIG(*status));
    result = absl::InternalError(absl::StrCat("fluidsynth ", how));
  }
  if (result.ok()) result = CheckWavFile(temp);
  if (result.ok()) result = SyncFile(temp);
  if (result.ok() && ::rename(temp.c_str(), wav_path.c_str()) != 0) {
    result = absl::InternalError(absl::StrCat("rename to ", wav_path, " failed: ", std::strerror(errno)));
  }
  if (!result.ok()) {
    ::unlink(temp.c_str());
    if (!output.empty()) result = Status(result.code(), absl::StrCat(result.message(), "; output: ", output));
    return context(result);
  }
  std::string parent = std::filesystem::path(wav_path).parent_path().string();
  return context(SyncDirectory(parent.empty() ? "." : parent));
}

}  // namespace tutti
