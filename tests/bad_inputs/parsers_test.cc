// Every file parser over its folder of bad inputs (see bad_input_suite.h and README.md). Each runner calls
// the parser the way Tutti itself does on a file from outside: by path where the parser takes a path (so
// its own file reading is part of the test), on the bytes where it takes bytes.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/base/file_util.h"
#include "core/config/coordinator_settings.h"
#include "core/config/experiment_config_yaml.h"
#include "core/config/job_config_yaml.h"
#include "core/data/pack_manifest.h"
#include "core/data/pack_reader.h"
#include "core/data/shard_format.h"
#include "core/lpd/lpd_index.h"
#include "core/midi/midi_to_multitrack.h"
#include "core/npz/npy.h"
#include "core/npz/pianoroll_npz.h"
#include "tests/bad_inputs/bad_input_suite.h"

namespace tutti::bad_inputs {
namespace {

namespace fs = std::filesystem;

int64_t IntParam(const BadInput& input, const std::string& key, int64_t fallback) {
  const std::string value = input.param(key);
  return value.empty() ? fallback : std::stoll(value);
}

// The runners: each calls its parser the way Tutti does on a file from outside.

Status ReadNpy(const BadInput& input) {
  TUTTI_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(input.path));
  TUTTI_ASSIGN_OR_RETURN(NpyArray array, ParseNpy(bytes, input.file_name()));
  // `copy_to: int32`: values the reader converts (CSC indices are int32), for values that do not fit.
  if (input.param("copy_to") == "int32") {
    std::vector<int32_t> values;
    return CopyToCOrder(array, &values);
  }
  std::vector<double> values;
  return CopyToCOrder(array, &values);
}

Status ReadNpz(const BadInput& input) { return ReadPianorollNpz(input.path).status(); }

Status ReadMidi(const BadInput& input) {
  MidiImportOptions options;
  options.resolution = static_cast<int>(IntParam(input, "resolution", options.resolution));
  options.max_steps = IntParam(input, "max_steps", options.max_steps);
  options.max_active_cells = IntParam(input, "max_active_cells", options.max_active_cells);
  return ReadMidiAsLpd5(input.path, options).status();
}

Status ReadJob(const BadInput& input) { return LoadJobConfig(input.path).status(); }

Status ReadExperiment(const BadInput& input) {
  // `ranks: N`: also checked against a worker with N ranks, as `tutti validate --ranks N` does.
  TUTTI_ASSIGN_OR_RETURN(ExperimentConfig config, LoadExperimentConfig(input.path));
  const std::string ranks = input.param("ranks");
  if (!ranks.empty()) return CheckFitsRanks(config, std::stoi(ranks), input.path);
  return absl::OkStatus();
}

Status ReadSettings(const BadInput& input) {
  // As tutti-coordinator --config does (coordinator/main.cc): load, then the cross-field rules, whose errors
  // it prefixes with the file because they carry no position.
  TUTTI_ASSIGN_OR_RETURN(CoordinatorSettings settings, LoadCoordinatorSettings(input.path));
  return Annotate(ValidateCoordinatorSettings(settings), absl::StrCat("settings (", input.path, ")"));
}

Status ReadManifestFile(const BadInput& input) { return ReadManifest(input.path).status(); }

Status ReadShardHeader(const BadInput& input) {
  TUTTI_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(input.path));
  return DecodeShardHeader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()).status();
}

Status OpenPack(const BadInput& input) {
  // Open is what every rank runs; VerifyPack (re-hashing every byte) what `tutti pack --verify` and the pack
  // cache run. A bad pack must fail at least one; the first error is the one checked.
  StatusOr<std::unique_ptr<PackReader>> reader = PackReader::Open(input.path);
  if (!reader.ok()) return reader.status();
  return VerifyPack(input.path);
}

Status ReadLpdList(const BadInput& input) {
  // A tree around the input: the input's folder is the labels folder (Open only lists names), so an
  // id_list_<genre>.txt input is read by Select(<genre>) against good ids; any other input is read as
  // cleansed_ids.txt.
  const std::string root = input.scratch_dir;
  TUTTI_RETURN_IF_ERROR(CreateDirectories(root + "/lpd_5/lpd_5_cleansed"));
  TUTTI_RETURN_IF_ERROR(WriteFileAtomically(root + "/cleansed_ids.txt",
                                            "0123456789abcdef0123456789abcdef    TRAAAAA128F0000001\n"));
  LpdIndexOptions options;
  options.root = root;
  options.labels_dir = fs::path(input.path).parent_path().string();
  const std::string name = input.file_name();
  const std::string prefix = "id_list_", suffix = ".txt";
  if (name.rfind(prefix, 0) == 0 && name.size() > prefix.size() + suffix.size()) {
    TUTTI_ASSIGN_OR_RETURN(LpdIndex index, LpdIndex::Open(options));
    return index.Select(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size())).status();
  }
  options.ids_file = input.path;
  return LpdIndex::Open(options).status();
}

TEST(BadInputs, Npy) { RunBadInputSuite(".npy (ParseNpy, CopyToCOrder)", "npy", ReadNpy); }
TEST(BadInputs, Npz) { RunBadInputSuite(".npz songs (ReadPianorollNpz)", "npz", ReadNpz); }
TEST(BadInputs, Midi) { RunBadInputSuite("Standard MIDI File (ParseSmf, SmfToLpd5)", "midi", ReadMidi); }
TEST(BadInputs, JobYaml) { RunBadInputSuite("job YAML (LoadJobConfig)", "job_yaml", ReadJob); }
TEST(BadInputs, ExperimentYaml) {
  RunBadInputSuite("experiment / sweep YAML (LoadExperimentConfig)", "experiment_yaml", ReadExperiment);
}
TEST(BadInputs, CoordinatorSettings) {
  RunBadInputSuite("coordinator settings YAML (LoadCoordinatorSettings + Validate)", "coordinator_settings",
                   ReadSettings);
}
TEST(BadInputs, PackManifest) {
  RunBadInputSuite("pack manifest.json (ReadManifest, PackManifest::FromJson)", "pack_manifest", ReadManifestFile);
}
TEST(BadInputs, ShardHeader) {
  SuiteOptions options;
  options.message_names_input = false;  // bytes in, no path: callers prepend it; the sidecar names the field
  RunBadInputSuite("shard header (DecodeShardHeader)", "shard_header", ReadShardHeader, options);
}
TEST(BadInputs, PackDirectory) {
  RunBadInputSuite("pack directory (PackReader::Open, VerifyPack)", "pack_dir", OpenPack);
}
TEST(BadInputs, LpdLists) {
  RunBadInputSuite("LPD id lists (LpdIndex: cleansed_ids.txt, id_list_<genre>.txt)", "lpd_lists", ReadLpdList);
}

// The control: every runner accepts a good input (the project's own fixtures and configs, and the good twins
// make_bad_inputs.py writes to controls/), so a bad input fails for what is wrong with it, not because the
// runner cannot succeed.
TEST(BadInputsControls, GoodInputsAreAccepted) {
  const std::string src = TUTTI_SOURCE_DIR, controls = BadInputsDir("controls");
  const std::pair<std::string, Runner> good[] = {
      {src + "/tests/testdata/npz/v2_u4.npy", ReadNpy},
      {src + "/tests/testdata/npz/v1.npz", ReadNpz},
      {src + "/tests/testdata/midi/type1_multi.mid", ReadMidi},
      {src + "/configs/quickstart.yaml", ReadJob},
      {src + "/configs/sweep-asha.yaml", ReadExperiment},
      {src + "/configs/coordinator.yaml", ReadSettings},
      {controls + "/manifest.json", ReadManifestFile},
      {controls + "/shard_header.bin", ReadShardHeader},
      {controls + "/pack", OpenPack},
      {controls + "/id_list_good.txt", ReadLpdList},
      {controls + "/cleansed_ids.txt", ReadLpdList},
  };
  for (const auto& [path, runner] : good) {
    BadInput input;
    input.name = fs::path(path).filename().string();
    input.path = path;
    StatusOr<std::string> scratch = MakeTempDirectoryIn(::testing::TempDir(), "control");
    ASSERT_TRUE(scratch.ok()) << scratch.status();
    input.scratch_dir = *scratch;
    Status s = runner(input);
    EXPECT_TRUE(s.ok()) << path << ": " << s;
    RemoveAllQuietly(input.scratch_dir);
  }
}

}  // namespace
}  // namespace tutti::bad_inputs
