#include "core/metrics/metrics.h"

#include <cmath>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tutti {
namespace {

using ::testing::HasSubstr;

constexpr int kDrums = 0, kPiano = 1, kGuitar = 2, kBass = 3, kStrings = 4;

// A batch of LPD-5-shaped samples (5, 64, 72), pitches from MIDI 24, built cell by cell.
struct Rolls {
  explicit Rolls(int n = 1) : n(n), cells(static_cast<size_t>(n) * 5 * 64 * 72, 0) {}
  void Note(int track, int midi_pitch, int first_step, int length, int sample = 0) {
    for (int s = first_step; s < first_step + length; ++s) {
      cells[((static_cast<size_t>(sample) * 5 + track) * 64 + s) * 72 + (midi_pitch - 24)] = 1;
    }
  }
  // Returned by value: callers copy the track they check (a reference into the temporary report dangled;
  // AddressSanitizer found it).
  MetricsReport Compute(const MetricsOptions& options = {}) const {
    StatusOr<MetricsReport> report = ComputeMetrics(cells.data(), n, PianorollDims{}, options);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : MetricsReport{};
  }
  int n;
  std::vector<uint8_t> cells;
};

TEST(MetricsTest, EmptyTrackHasAllBarsEmptyAndNoPitchMetrics) {
  Rolls rolls;
  rolls.Note(kPiano, 60, 0, 4);
  const MetricsReport r = rolls.Compute();
  ASSERT_EQ(r.tracks.size(), 5u);
  EXPECT_EQ(r.samples, 1);
  EXPECT_EQ(r.track_names[kStrings], "Strings");
  EXPECT_EQ(r.tracks[kStrings].bars, 4);
  EXPECT_DOUBLE_EQ(r.tracks[kStrings].empty_bars, 1.0);
  EXPECT_TRUE(std::isnan(r.tracks[kStrings].used_pitch_classes));
  EXPECT_TRUE(std::isnan(r.tracks[kStrings].qualified_notes_8th));
  EXPECT_DOUBLE_EQ(r.tracks[kPiano].empty_bars, 0.75);
}

TEST(MetricsTest, CMajorTriadHeldOneBarUsesThreePitchClasses) {
  Rolls rolls;
  for (int pitch : {60, 64, 67}) rolls.Note(kPiano, pitch, 0, 16);
  const TrackMetrics piano = rolls.Compute().tracks[kPiano];
  EXPECT_DOUBLE_EQ(piano.used_pitch_classes, 3.0);
  EXPECT_EQ(piano.nonempty_bars, 1);
  EXPECT_EQ(piano.notes, 3);
  EXPECT_DOUBLE_EQ(piano.qualified_notes, 1.0);
  EXPECT_DOUBLE_EQ(piano.qualified_notes_8th, 1.0);
  EXPECT_FALSE(piano.is_drum);
  EXPECT_TRUE(std::isnan(piano.drum_pattern));
}

TEST(MetricsTest, OctavesShareATruePitchClass) {
  // C2, C4 and C6 are one pitch class; the paper's semitone-band "chroma" would count them apart.
  Rolls rolls;
  for (int pitch : {36, 60, 84}) rolls.Note(kGuitar, pitch, 16, 4);
  rolls.Note(kGuitar, 61, 32, 1);  // C#4 in the next bar
  const TrackMetrics guitar = rolls.Compute().tracks[kGuitar];
  EXPECT_DOUBLE_EQ(guitar.used_pitch_classes, 1.0);  // one class in bar 1, one in bar 2
  EXPECT_DOUBLE_EQ(guitar.empty_bars, 0.5);
}

TEST(MetricsTest, OneStepNoteFailsTheEighthStandInButPassesThePaperQn) {
  Rolls rolls;
  rolls.Note(kBass, 40, 0, 1);  // a 16th: qualifies as >= 32nd, not as >= 8th
  rolls.Note(kBass, 43, 4, 2);  // an 8th
  const TrackMetrics bass = rolls.Compute().tracks[kBass];
  EXPECT_EQ(bass.notes, 2);
  EXPECT_DOUBLE_EQ(bass.qualified_notes, 1.0);
  EXPECT_DOUBLE_EQ(bass.qualified_notes_8th, 0.5);
}

TEST(MetricsTest, NoteAcrossABarLineIsOneNoteAndRepeatedNotesAreSeparate) {
  Rolls rolls;
  rolls.Note(kStrings, 50, 14, 4);  // steps 14..17, crosses into bar 1
  rolls.Note(kStrings, 50, 20, 1);
  rolls.Note(kStrings, 50, 22, 1);
  const TrackMetrics strings = rolls.Compute().tracks[kStrings];
  EXPECT_EQ(strings.notes, 3);
  EXPECT_NEAR(strings.qualified_notes_8th, 1.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(strings.empty_bars, 0.5);
}

TEST(MetricsTest, DrumOnsetsOnEighthPositions) {
  Rolls rolls;
  for (int step : {0, 4}) rolls.Note(kDrums, 36, step, 1);  // kick
  for (int step : {3, 6}) rolls.Note(kDrums, 38, step, 1);  // snare; step 3 is a 16th off the 8th grid
  rolls.Note(kDrums, 42, 8, 3);                              // held hi-hat: one onset at step 8
  const TrackMetrics drums = rolls.Compute().tracks[kDrums];
  EXPECT_TRUE(drums.is_drum);
  EXPECT_EQ(drums.drum_onsets, 5);
  EXPECT_DOUBLE_EQ(drums.drum_pattern, 1.0);
  EXPECT_DOUBLE_EQ(drums.drum_pattern_8th, 4.0 / 5.0);  // steps 0, 4, 6, 8 on 8ths; step 3 is not
}

TEST(MetricsTest, TonalCentroidOfASinglePitchClass) {
  std::array<double, 12> c{};
  c[0] = 5;  // any weight: the chroma is normalised
  const std::array<double, 6> z = metrics_internal::TonalCentroid(c);
  const std::array<double, 6> want = {0, 1, 0, 1, 0, 0.5};
  for (int d = 0; d < 6; ++d) EXPECT_NEAR(z[d], want[d], 1e-12) << d;
  const std::array<double, 12> zero{};
  for (double v : metrics_internal::TonalCentroid(zero)) EXPECT_EQ(v, 0.0);
}

TEST(MetricsTest, TonalDistanceOfCAndGByHand) {
  // G = pitch class 7: fifths angle 49pi/6 = pi/6 (mod 2pi), minor thirds 21pi/2 = pi/2, major thirds
  // 14pi/3 = 2pi/3. Squared chord lengths to C (angle 0): (2 - 2cos(pi/6)) + (2 - 2cos(pi/2)) +
  // 0.25 (2 - 2cos(2pi/3)) = (2 - sqrt 3) + 2 + 0.75.
  std::array<double, 12> c{}, g{};
  c[0] = 1;
  g[7] = 1;
  EXPECT_NEAR(metrics_internal::TonalDistance(c, g), std::sqrt(4.75 - std::sqrt(3.0)), 1e-12);
  EXPECT_NEAR(metrics_internal::TonalDistance(c, c), 0.0, 1e-12);
}

TEST(MetricsTest, TonalDistanceBetweenTracksAveragesBarsWhereBothSound) {
  Rolls rolls;
  // Bar 0: guitar C major triad, piano the same triad an octave up: identical chroma, distance 0.
  for (int pitch : {48, 52, 55}) rolls.Note(kGuitar, pitch, 0, 16);
  for (int pitch : {60, 64, 67}) rolls.Note(kPiano, pitch, 0, 16);
  // Bar 1: bass C, guitar G: the hand-computed distance above.
  rolls.Note(kBass, 36, 16, 16);
  rolls.Note(kGuitar, 55, 16, 16);
  // Bar 2: bass only; bar 3: piano only. Neither counts for B-P.
  rolls.Note(kBass, 40, 32, 4);
  rolls.Note(kPiano, 60, 48, 4);
  const MetricsReport r = rolls.Compute();
  EXPECT_NEAR(r.tonal_distance.at("G-P"), 0.0, 1e-12);
  EXPECT_EQ(r.tonal_distance_bars.at("G-P"), 1);
  EXPECT_NEAR(r.tonal_distance.at("B-G"), std::sqrt(4.75 - std::sqrt(3.0)), 1e-12);
  EXPECT_EQ(r.tonal_distance_bars.at("B-G"), 1);
  EXPECT_EQ(r.tonal_distance_bars.at("B-P"), 0);
  EXPECT_TRUE(std::isnan(r.tonal_distance.at("B-P")));
  EXPECT_EQ(r.tonal_distance.size(), 6u);
}

TEST(MetricsTest, RatiosPoolBarsAcrossSamples) {
  Rolls rolls(2);
  rolls.Note(kPiano, 60, 0, 64, /*sample=*/0);  // sample 0: all four bars
  const TrackMetrics piano = rolls.Compute().tracks[kPiano];
  EXPECT_EQ(piano.bars, 8);
  EXPECT_DOUBLE_EQ(piano.empty_bars, 0.5);
  EXPECT_DOUBLE_EQ(piano.used_pitch_classes, 1.0);
}

TEST(MetricsTest, RejectsInconsistentArguments) {
  std::vector<uint8_t> cells(5 * 60 * 72, 0);
  StatusOr<MetricsReport> r = ComputeMetrics(cells.data(), 1, PianorollDims{5, 60, 72});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("steps (60)"));

  MetricsOptions bad_pair;
  bad_pair.tonal_pairs[0] = {3, 7};
  EXPECT_FALSE(ComputeMetrics(cells.data(), 0, PianorollDims{}, bad_pair).ok());
  MetricsOptions bad_names;
  bad_names.track_names = {"a", "b"};
  EXPECT_FALSE(ComputeMetrics(cells.data(), 0, PianorollDims{}, bad_names).ok());
  EXPECT_FALSE(ComputeMetrics(nullptr, 1, PianorollDims{}).ok());
  EXPECT_TRUE(ComputeMetrics(nullptr, 0, PianorollDims{}).ok());
}

TEST(MetricsTest, OtherGridsAndNoDrumTrack) {
  // 2 tracks, 2 bars of 24 steps at 6 steps per beat; no drum track, one pair.
  MetricsOptions o;
  o.steps_per_bar = 24;
  o.steps_per_beat = 6;
  o.drum_track = -1;
  o.track_names = {};
  o.tonal_pairs = {{0, 1}};
  o.tonal_pair_labels = {"A-B"};
  PianorollDims dims{2, 48, 12};
  std::vector<uint8_t> cells(2 * 48 * 12, 0);
  cells[(0 * 48 + 0) * 12 + 0] = 1;  // 1 step: under an 8th (3 steps) and a 32nd (1 step) passes
  for (int s = 6; s < 9; ++s) cells[(0 * 48 + s) * 12 + 4] = 1;  // 3 steps = an 8th
  StatusOr<MetricsReport> r = ComputeMetrics(cells.data(), 1, dims, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->track_names[1], "track1");
  EXPECT_DOUBLE_EQ(r->tracks[0].qualified_notes, 1.0);
  EXPECT_DOUBLE_EQ(r->tracks[0].qualified_notes_8th, 0.5);
  EXPECT_DOUBLE_EQ(r->tracks[0].used_pitch_classes, 2.0);  // MIDI 24 and 28: C and E
  EXPECT_FALSE(r->tracks[0].is_drum);
}

TEST(MetricsTest, JsonNamesMetricsPreciselyAndWritesNanAsNull) {
  Rolls rolls;
  rolls.Note(kDrums, 36, 0, 1);
  rolls.Note(kPiano, 60, 0, 2);
  const nlohmann::json j = rolls.Compute().ToJson();
  EXPECT_EQ(j["samples"], 1);
  ASSERT_EQ(j["tracks"].size(), 5u);
  EXPECT_EQ(j["tracks"][0]["name"], "Drums");
  EXPECT_EQ(j["tracks"][0]["is_drum"], true);
  EXPECT_EQ(j["tracks"][0]["drum_onsets_on_8th_standin"], 1.0);
  EXPECT_FALSE(j["tracks"][1].contains("drum_onsets_on_8th_standin"));
  EXPECT_EQ(j["tracks"][1]["used_pitch_classes_true_pc"], 1.0);
  EXPECT_TRUE(j["tracks"][2]["used_pitch_classes_true_pc"].is_null());
  EXPECT_EQ(j["tracks"][1]["qualified_notes_ge_8th_standin"], 1.0);
  EXPECT_TRUE(j["tonal_distance_true_pc"]["B-P"]["mean"].is_null());
  EXPECT_TRUE(j["definitions"].contains("tonal_distance_true_pc"));
  EXPECT_THAT(j["caveat"].get<std::string>(), HasSubstr("256"));
}

TEST(MetricsTest, TablesShowBothReportsAndRelativeDifference) {
  Rolls real_rolls, gen_rolls;
  for (int pitch : {60, 64}) real_rolls.Note(kPiano, pitch, 0, 16);
  for (int pitch : {60, 64, 67}) gen_rolls.Note(kPiano, pitch, 0, 16);
  real_rolls.Note(kDrums, 36, 0, 1);
  const MetricsReport real = real_rolls.Compute(), gen = gen_rolls.Compute();

  const std::string table = real.ToTable();
  EXPECT_THAT(table, HasSubstr("UPC(true pc)"));
  EXPECT_THAT(table, HasSubstr("QN>=8th(stand-in)"));
  EXPECT_THAT(table, HasSubstr("1.0000*"));  // the drum track's UPC is marked
  EXPECT_THAT(table, HasSubstr("not comparable to the paper"));

  const std::string compare = CompareTable(gen, real);
  EXPECT_THAT(compare, HasSubstr("generated (1 samples) vs real (1 samples)"));
  EXPECT_THAT(compare, HasSubstr("used_pitch_classes_true_pc"));
  EXPECT_THAT(compare, HasSubstr("+50.0%"));  // UPC 3 vs 2
  EXPECT_THAT(compare, HasSubstr("Drums (drums)"));
  EXPECT_THAT(compare, HasSubstr("fewer than 256 samples"));
}

}  // namespace
}  // namespace tutti

namespace tutti {
namespace {

TEST(SampleDiversityTest, IdenticalSamplesAreZeroDisjointOnesOneAndPairsAverage) {
  // Three samples of 8 cells: A = {0,1}, B = {0,1}, C = {2,3}; pairs: A-B 0, A-C 1, B-C 1 -> 2/3.
  const std::vector<uint8_t> s = {1, 1, 0, 0, 0, 0, 0, 0,  1, 1, 0, 0, 0, 0, 0, 0,  0, 0, 1, 1, 0, 0, 0, 0};
  EXPECT_DOUBLE_EQ(SampleDiversity(s.data(), 2, 8), 0.0);
  EXPECT_DOUBLE_EQ(SampleDiversity(s.data(), 3, 8), 2.0 / 3.0);
  // A half-overlap: {0,1} vs {1,2}: 1 - 1/3.
  const std::vector<uint8_t> h = {1, 1, 0, 0,  0, 1, 1, 0};
  EXPECT_DOUBLE_EQ(SampleDiversity(h.data(), 2, 4), 2.0 / 3.0);
  // Two empty samples: distance 0; fewer than two: NaN; only the first max_samples count.
  const std::vector<uint8_t> empty(16, 0);
  EXPECT_DOUBLE_EQ(SampleDiversity(empty.data(), 2, 8), 0.0);
  EXPECT_TRUE(std::isnan(SampleDiversity(s.data(), 1, 8)));
  EXPECT_DOUBLE_EQ(SampleDiversity(s.data(), 3, 8, /*max_samples=*/2), 0.0);
}

}  // namespace
}  // namespace tutti
