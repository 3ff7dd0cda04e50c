#pragma once
// Loaded SoundFonts kept for the life of the process (internal to core/render), so that a render does not pay
// fluid_synth_sfload every time (~25 ms for the 6 MB TimGM6mb, far more for a 140 MB FluidR3_GM).
//
// Why this shape (FluidSynth 2.3.1, checked while writing wav.cc):
//   * A render needs a fresh synth. A synth put back with fluid_synth_system_reset does not render the same
//     bytes as a new one (voice and filter state survive the reset), and WAVs must be deterministic. A new
//     synth costs about 1 ms.
//   * One loaded SoundFont must not be played by two synths at the same time: FluidSynth counts the users of a
//     loaded sample with plain integers, changed as voices start and stop.
//   * A loaded SoundFont does not depend on the synth or the sample rate that plays it: a fresh synth playing
//     a borrowed copy renders exactly the bytes of a fresh synth that loaded the file itself.
// So each path keeps a few loaded copies, owned by a silent "holder" synth that never plays. A render borrows
// one copy for itself (Lease), adds it to its own synth with fluid_synth_add_sfont, removes it before deleting
// that synth (delete_fluid_synth frees every SoundFont still in its list) and gives it back. Copies are loaded
// on demand, up to a limit per path; a borrower waits while all of them are out.
//
// Thread-safe. Copies are never unloaded; a file replaced on disk after its first load is not noticed until
// the process restarts. Paths are compared as strings (a symlink and its target are loaded separately).

#include <fluidsynth.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "core/base/status.h"

namespace tutti::render_internal {

class SoundFontCache {
  struct Entry;

 public:
  // One loaded copy, the holder's alone until the Lease is destroyed (which gives it back). The copy must be
  // out of every synth by then.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    fluid_sfont_t* get() const { return sfont_; }

   private:
    friend class SoundFontCache;
    Lease(SoundFontCache* cache, Entry* entry, fluid_sfont_t* sfont) : cache_(cache), entry_(entry), sfont_(sfont) {}
    SoundFontCache* cache_;
    Entry* entry_;
    fluid_sfont_t* sfont_;
  };

  // The process-wide cache. Never destroyed, on purpose: a render on another thread may still hold a Lease
  // while static destructors run at exit.
  static SoundFontCache& Global();

  // `max_copies_per_path` (>= 1) bounds the copies of one file loaded at once; a large file gets fewer, so that
  // one path's copies stay under `memory_budget_bytes` (at least one copy is always allowed).
  SoundFontCache(int max_copies_per_path, int64_t memory_budget_bytes);
  // Unloads everything. No Lease may outlive the cache.
  ~SoundFontCache();
  SoundFontCache(const SoundFontCache&) = delete;
  SoundFontCache& operator=(const SoundFontCache&) = delete;

  // A loaded copy of the SoundFont at `path` (an existing file): an idle one, else a newly loaded one while the
  // limit allows, else the first one given back. Errors, naming the path: InvalidArgument when the file does
  // not start like a SoundFont 2 file (RIFF 'sfbk'), Internal with FluidSynth's message when loading fails.
  StatusOr<Lease> Borrow(const std::string& path);

  // Files loaded so far, all copies of all paths together (tests use it to see that loads are not repeated).
  int64_t loads() const;

 private:
  StatusOr<Entry*> FindOrCreateEntry(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void GiveBack(Entry* entry, fluid_sfont_t* sfont);

  // Constant after construction.
  const int max_copies_per_path_;
  const int64_t memory_budget_bytes_;

  mutable std::mutex mu_;
  std::condition_variable given_back_;  // signalled when a copy is given back or a load fails
  std::map<std::string, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  int64_t loads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tutti::render_internal
