#include "core/music/multitrack.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tutti {

int64_t SparsePianoroll::CountNotes() const {
  int64_t notes = 0;
  for (int p = 0; p < kMidiPitches; ++p) {
    for (int32_t i = indptr[p]; i < indptr[p + 1]; ++i) {
      if (i == indptr[p] || steps[i] != steps[i - 1] + 1) ++notes;
    }
  }
  return notes;
}

int64_t SparsePianoroll::ActiveLength() const {
  int64_t last = -1;
  for (int p = 0; p < kMidiPitches; ++p) {
    if (indptr[p + 1] > indptr[p]) last = std::max<int64_t>(last, steps[indptr[p + 1] - 1]);
  }
  return last + 1;
}

std::string SparsePianoroll::Validate() const {
  if (indptr.size() != kMidiPitches + 1) {
    return absl::StrCat("indptr has ", indptr.size(), " entries, expected ", kMidiPitches + 1);
  }
  if (indptr[0] != 0) return absl::StrCat("indptr[0] is ", indptr[0], ", expected 0");
  for (int p = 0; p < kMidiPitches; ++p) {
    if (indptr[p + 1] < indptr[p]) return absl::StrCat("indptr decreases at pitch ", p);
  }
  if (static_cast<size_t>(indptr[kMidiPitches]) != steps.size()) {
    return absl::StrCat("indptr[128] is ", indptr[kMidiPitches], " but there are ", steps.size(),
                        " indices");
  }
  if (velocities.size() != steps.size()) {
    return absl::StrCat(velocities.size(), " values for ", steps.size(), " indices");
  }
  for (int p = 0; p < kMidiPitches; ++p) {
    for (int32_t i = indptr[p]; i < indptr[p + 1]; ++i) {
      if (steps[i] < 0 || steps[i] >= n_steps) {
        return absl::StrCat("time index ", steps[i], " at pitch ", p, " is outside [0, ", n_steps, ")");
      }
      if (i > indptr[p] && steps[i] <= steps[i - 1]) {
        return absl::StrCat("time indices of pitch ", p, " are not strictly ascending");
      }
    }
  }
  return "";
}

void SparsePianorollBuilder::Set(int64_t step, int pitch, uint8_t velocity) {
  if (pitch < 0 || pitch >= kMidiPitches || step < 0 || velocity == 0) return;
  cells_.push_back({pitch, static_cast<int32_t>(step), velocity});
}

void SparsePianorollBuilder::AddNote(int pitch, int64_t start, int64_t end, uint8_t velocity) {
  for (int64_t t = start; t < end; ++t) Set(t, pitch, velocity);
}

SparsePianoroll SparsePianorollBuilder::Build(int64_t n_steps, bool binary) {
  std::sort(cells_.begin(), cells_.end(), [](const Cell& a, const Cell& b) {
    return a.pitch != b.pitch ? a.pitch < b.pitch : a.step < b.step;
  });
  SparsePianoroll roll;
  roll.binary = binary;
  int64_t last = -1;
  for (size_t i = 0; i < cells_.size(); ++i) {
    const Cell& c = cells_[i];
    if (!roll.steps.empty() && i > 0 && cells_[i - 1].pitch == c.pitch && cells_[i - 1].step == c.step) {
      uint8_t& v = roll.velocities.back();
      v = std::max(v, binary ? uint8_t{1} : c.velocity);
      continue;
    }
    roll.steps.push_back(c.step);
    roll.velocities.push_back(binary ? 1 : c.velocity);
    roll.indptr[c.pitch + 1]++;
    last = std::max<int64_t>(last, c.step);
  }
  for (int p = 0; p < kMidiPitches; ++p) roll.indptr[p + 1] += roll.indptr[p];
  roll.n_steps = std::max(n_steps, last + 1);
  cells_.clear();
  return roll;
}

int64_t Multitrack::MaxLength() const {
  int64_t length = 0;
  for (const Track& t : tracks) length = std::max(length, t.pianoroll.n_steps);
  return length;
}

}  // namespace tutti
