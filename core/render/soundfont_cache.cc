#include "core/render/soundfont_cache.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>

#include "absl/strings/escaping.h"
#include "core/render/fluid_log.h"

namespace tutti::render_internal {

// One SoundFont file: its holder synth and its loaded copies.
struct SoundFontCache::Entry {
  // Constant after creation.
  std::string path;
  int max_copies = 1;
  fluid_settings_t* settings = nullptr;  // the holder's; outlives it
  fluid_synth_t* holder = nullptr;       // owns every copy; never plays

  // Serialises loads into `holder`, so that the SoundFont a load prepends is still first when it is picked up.
  std::mutex load_mu;

  // Guarded by SoundFontCache::mu_.
  int copies = 0;                    // loaded or being loaded
  std::vector<fluid_sfont_t*> idle;  // loaded and not lent

  ~Entry() {
    if (holder != nullptr) delete_fluid_synth(holder);  // frees the copies too
    if (settings != nullptr) delete_fluid_settings(settings);
  }
};

namespace {

// A SoundFont 2 file (.sf2, and .sf3) is a RIFF file of form 'sfbk'. Checking this first keeps other files
// away from FluidSynth's fallback loaders, which print to stderr themselves.
Status CheckSoundFontHeader(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char header[12] = {};
  in.read(header, sizeof(header));
  const std::string got(header, static_cast<size_t>(std::max<std::streamsize>(0, in.gcount())));
  if (!in && got.empty()) return absl::NotFoundError(absl::StrCat("cannot read SoundFont ", path));
  if (got.size() < 12 || got.compare(0, 4, "RIFF") != 0 || got.compare(8, 4, "sfbk") != 0) {
    return absl::InvalidArgumentError(absl::StrCat("SoundFont ", path, " is not a SoundFont 2 file: expected ",
                                                   "'RIFF' <size> 'sfbk', got \"", absl::CHexEscape(got), "\""));
  }
  return absl::OkStatus();
}

// The holder only stores copies: no effects units, one voice, no memory locking (mlock of sample data fails
// under the usual RLIMIT_MEMLOCK and would only log a warning).
StatusOr<std::pair<fluid_settings_t*, fluid_synth_t*>> CreateHolder(const std::string& path) {
  fluid_settings_t* settings = new_fluid_settings();
  if (settings == nullptr) return absl::InternalError("FluidSynth: cannot create settings (out of memory?)");
  fluid_settings_setstr(settings, "player.timing-source", "sample");
  fluid_settings_setint(settings, "synth.lock-memory", 0);
  fluid_settings_setint(settings, "synth.reverb.active", 0);
  fluid_settings_setint(settings, "synth.chorus.active", 0);
  fluid_settings_setint(settings, "synth.polyphony", 1);
  fluid_synth_t* holder = new_fluid_synth(settings);
  if (holder == nullptr) {
    delete_fluid_settings(settings);
    return absl::InternalError(absl::StrCat("FluidSynth: cannot create a synth to hold SoundFont ", path));
  }
  return std::make_pair(settings, holder);
}

// How many copies of a file of `file_bytes` fit: up to `max_copies`, within `budget` bytes, at least one.
int CopiesFor(int64_t file_bytes, int max_copies, int64_t budget) {
  if (file_bytes <= 0) return max_copies;
  return static_cast<int>(std::clamp<int64_t>(budget / file_bytes, 1, max_copies));
}

}  // namespace

SoundFontCache::Lease::Lease(Lease&& other) noexcept
    : cache_(std::exchange(other.cache_, nullptr)),
      entry_(std::exchange(other.entry_, nullptr)),
      sfont_(std::exchange(other.sfont_, nullptr)) {}

SoundFontCache::Lease::~Lease() {
  if (cache_ != nullptr) cache_->GiveBack(entry_, sfont_);
}

SoundFontCache& SoundFontCache::Global() {
  // Renders are CPU-bound, so more copies than cores would only cost memory; 1 GiB bounds a large SoundFont.
  static SoundFontCache* const cache = new SoundFontCache(
      static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 2u, 8u)), int64_t{1} << 30);
  return *cache;
}

SoundFontCache::SoundFontCache(int max_copies_per_path, int64_t memory_budget_bytes)
    : max_copies_per_path_(std::max(1, max_copies_per_path)), memory_budget_bytes_(memory_budget_bytes) {}

SoundFontCache::~SoundFontCache() = default;

int64_t SoundFontCache::loads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return loads_;
}

StatusOr<SoundFontCache::Entry*> SoundFontCache::FindOrCreateEntry(const std::string& path) {
  auto it = entries_.find(path);
  if (it != entries_.end()) return it->second.get();
  TUTTI_RETURN_IF_ERROR(CheckSoundFontHeader(path));
  std::error_code size_error;
  const auto file_bytes = std::filesystem::file_size(path, size_error);
  auto entry = std::make_unique<Entry>();
  entry->path = path;
  entry->max_copies = CopiesFor(size_error ? 0 : static_cast<int64_t>(file_bytes), max_copies_per_path_,
                                memory_budget_bytes_);
  TUTTI_ASSIGN_OR_RETURN(auto holder, CreateHolder(path));
  std::tie(entry->settings, entry->holder) = holder;
  Entry* raw = entry.get();
  entries_.emplace(path, std::move(entry));
  return raw;
}

StatusOr<SoundFontCache::Lease> SoundFontCache::Borrow(const std::string& path) {
  EnsureFluidSynthReady();
  Entry* entry = nullptr;
  {
    std::unique_lock<std::mutex> lock(mu_);
    TUTTI_ASSIGN_OR_RETURN(entry, FindOrCreateEntry(path));
    for (;;) {
      if (!entry->idle.empty()) {
        fluid_sfont_t* sfont = entry->idle.back();
        entry->idle.pop_back();
        return Lease(this, entry, sfont);
      }
      if (entry->copies < entry->max_copies) break;
      given_back_.wait(lock);
    }
    ++entry->copies;  // reserve the slot, then load without holding mu_ (loading takes tens of milliseconds)
  }

  fluid_sfont_t* sfont = nullptr;
  std::string errors;
  {
    std::lock_guard<std::mutex> load_lock(entry->load_mu);
    FluidErrorCapture capture;
    const int id = fluid_synth_sfload(entry->holder, path.c_str(), /*reset_presets=*/0);
    if (id != FLUID_FAILED) {
      // sfload puts the new SoundFont first in the holder's list. Looking it up by id instead would read the ids
      // of lent copies, which the synths playing them rewrite (fluid_synth_add_sfont renumbers).
      sfont = fluid_synth_get_sfont(entry->holder, 0);
      if (sfont != nullptr && fluid_sfont_get_id(sfont) != id) sfont = nullptr;
    }
    errors = capture.errors();
  }

  std::lock_guard<std::mutex> lock(mu_);
  if (sfont == nullptr) {
    --entry->copies;
    given_back_.notify_all();  // a waiter may load in this slot instead
    return absl::InternalError(absl::StrCat("FluidSynth could not load SoundFont ", path,
                                            errors.empty() ? "" : ": ", errors));
  }
  ++loads_;
  return Lease(this, entry, sfont);
}

void SoundFontCache::GiveBack(Entry* entry, fluid_sfont_t* sfont) {
  std::lock_guard<std::mutex> lock(mu_);
  entry->idle.push_back(sfont);
  given_back_.notify_all();
}

}  // namespace tutti::render_internal
