#include "core/config/job_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/config/job_config_yaml.h"
#include "core/config/load_error_test_util.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;
using config_test::LoadError;
namespace fs = std::filesystem;

TEST(JobConfigTest, ExampleConfigsParseAndValidate) {
  const fs::path dir = fs::path(TUTTI_SOURCE_DIR) / "configs";
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string name = entry.path().filename().string();
    // Job configs only: sweep and coordinator files in configs/ have their own schema and tests.
    if (name != "quickstart.yaml" && name != "real-rock.yaml" && name != "demo.yaml" &&
        name.rfind("job-", 0) != 0) {
      continue;
    }
    StatusOr<JobConfig> config = LoadJobConfig(entry.path().string());
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_TRUE(ValidateJobConfig(*config).ok()) << name;
    ++seen;
  }
  EXPECT_GE(seen, 3);
}

TEST(JobConfigTest, QuickstartValues) {
  StatusOr<JobConfig> config = LoadJobConfig(std::string(TUTTI_SOURCE_DIR) + "/configs/quickstart.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->data.genres, std::vector<std::string>{"rock"});
  EXPECT_EQ(config->train.batch_size, 16);
  EXPECT_EQ(config->train.steps, 600);
}

TEST(JobConfigTest, EmptyMappingGivesDefaults) {
  StatusOr<JobConfig> config = ParseJobConfig("train:\nname: job\n", "mem.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(*config, JobConfig());
  EXPECT_TRUE(ValidateJobConfig(JobConfig()).ok());
}

TEST(JobConfigTest, ParsesEveryKind) {
  StatusOr<JobConfig> config = ParseJobConfig(
      "name: x\n"
      "data: {genres: [rock, pop], packs_dir: /p}\n"
      "model: {genre_conditional: yes}\n"
      "train: {g_lr: 2e-4, beta1: 0, seed: 18446744073709551615, device: auto, steps: +7}\n"
      "distributed: {backend: nccl, sync_batchnorm: OFF, bucket_mb: 0.5}\n",
      "mem.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->data.genres, (std::vector<std::string>{"rock", "pop"}));
  EXPECT_TRUE(config->model.genre_conditional);
  EXPECT_DOUBLE_EQ(config->train.g_lr, 2e-4);
  EXPECT_EQ(config->train.seed, UINT64_MAX);
  EXPECT_EQ(config->train.steps, 7);
  EXPECT_FALSE(config->distributed.sync_batchnorm);
  EXPECT_EQ(config->distributed.bucket_mb, 0.5);
}

TEST(JobConfigTest, UnknownKeySuggestsAndLocates) {
  std::string path;
  const std::string message = LoadError("name: x\ntrain:\n  steps: 5\n  batch_sze: 4\n", {}, &path);
  EXPECT_EQ(message, path + ":4:3: train.batch_sze: unknown key; did you mean train.batch_size?");
}

TEST(JobConfigTest, UnknownSectionAndMisplacedKeySuggest) {
  EXPECT_THAT(LoadError("trian:\n  steps: 5\n"), HasSubstr(":1:1: trian: unknown key; did you mean train?"));
  EXPECT_THAT(LoadError("batch_size: 4\n"),
              HasSubstr(":1:1: batch_size: unknown key; did you mean train.batch_size?"));
  EXPECT_THAT(LoadError("data:\n  zzzz: 1\n"),
              HasSubstr("data.zzzz: unknown key; valid keys in data: packs_dir, genres, pack_pins, prefetch_batches"));
}

TEST(JobConfigTest, WrongTypeNamesPathExpectedAndGot) {
  std::string path;
  const std::string message = LoadError(
      "name: x\ndata:\n  genres: [rock]\nmodel:\n  tracks: 5\ntrain:\n  batch_size: sixteen\n", {}, &path);
  EXPECT_EQ(message, path + ":7:15: train.batch_size: expected a positive integer, got 'sixteen'");
}

TEST(JobConfigTest, WrongTypesAndRanges) {
  EXPECT_THAT(LoadError("train:\n  steps: 1.5\n"),
              HasSubstr(":2:10: train.steps: expected a positive integer, got '1.5'"));
  EXPECT_THAT(LoadError("train:\n  steps: 0\n"),
              HasSubstr("train.steps: expected a positive integer, got '0'"));
  EXPECT_THAT(LoadError("train:\n  beta2: 1\n"),
              HasSubstr("train.beta2: expected a number in [0, 1), got '1'"));
  EXPECT_THAT(LoadError("train:\n  g_lr: .nan\n"), HasSubstr("train.g_lr: expected a positive number"));
  EXPECT_THAT(LoadError("train:\n  device: gpu\n"),
              HasSubstr("train.device: expected one of cpu, cuda, auto, got 'gpu'"));
  EXPECT_THAT(LoadError("distributed:\n  backend: gloo\n"),
              HasSubstr("expected one of auto, mpi, nccl, got 'gloo'"));
  EXPECT_THAT(LoadError("data:\n  genres: []\n"),
              HasSubstr("data.genres: expected a non-empty list of genre names, got []"));
  EXPECT_THAT(LoadError("model:\n  genre_conditional: maybe\n"),
              HasSubstr("expected true or false, got 'maybe'"));
  EXPECT_THAT(LoadError("train:\n  seed: -1\n"),
              HasSubstr("train.seed: expected a non-negative integer, got '-1'"));
  EXPECT_THAT(LoadError("train:\n  steps: 010x\n"), HasSubstr("got '010x'"));
  EXPECT_THAT(LoadError("train:\n  steps:\n"),
              HasSubstr(":2:3: train.steps: expected a positive integer, got an empty value"));
  EXPECT_THAT(LoadError("train: 5\n"), HasSubstr(":1:8: train: expected a mapping of train keys, got '5'"));
  EXPECT_THAT(LoadError("name: [a]\n"), HasSubstr("name: expected a non-empty string, got ['a']"));
  EXPECT_THAT(LoadError("train:\n  steps: 5\n  steps: 6\n"),
              HasSubstr(":3:3: train.steps: duplicate key (first set at "));
}

TEST(JobConfigTest, SyntaxErrorHasPosition) {
  std::string path;
  const std::string message = LoadError("name: x\ntrain:\n  steps: [1, 2\n", {}, &path);
  EXPECT_THAT(message, HasSubstr(path + ":"));
  EXPECT_THAT(message, HasSubstr("YAML syntax error"));
  EXPECT_THAT(message, ::testing::MatchesRegex(".*yaml:[0-9]+:[0-9]+: YAML syntax error.*"));
}

TEST(JobConfigTest, TabIndentationIsExplained) {
  EXPECT_THAT(LoadError("train:\n\tsteps: 1\n"), HasSubstr("tabs are not allowed for indentation"));
}

TEST(JobConfigTest, EmptyOrNonMappingDocumentIsAnError) {
  EXPECT_THAT(LoadError("# only a comment\n"), HasSubstr("the file is empty"));
  EXPECT_THAT(LoadError("- a\n- b\n"), HasSubstr(":1:1: expected a mapping"));
  EXPECT_THAT(LoadError("name: a\n---\nname: b\n"), HasSubstr("expected one YAML document, found 2"));
}

TEST(JobConfigTest, MissingFileIsNotFound) {
  StatusOr<JobConfig> config = LoadJobConfig("/nonexistent/tutti/job.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
}

TEST(JobConfigTest, OverridesApplyAfterFileInOrder) {
  StatusOr<JobConfig> config =
      ParseJobConfig("train:\n  batch_size: 8\n  steps: 100\ndata:\n  genres: [jazz]\n", "mem.yaml",
                     {"train.batch_size=64", "data.genres=[rock, pop]", "train.steps=5", "train.steps=6",
                      "name='my job'", "distributed.sync_batchnorm=false", "train.d_lr=1e-4"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->train.batch_size, 64);
  EXPECT_EQ(config->train.steps, 6);
  EXPECT_EQ(config->data.genres, (std::vector<std::string>{"rock", "pop"}));
  EXPECT_EQ(config->name, "my job");
  EXPECT_FALSE(config->distributed.sync_batchnorm);
  EXPECT_DOUBLE_EQ(config->train.d_lr, 1e-4);
  // A single genre without brackets is a one-element list.
  config = ParseJobConfig("name: x\n", "mem.yaml", {"data.genres=pop"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->data.genres, std::vector<std::string>{"pop"});
}

TEST(JobConfigTest, BadOverrides) {
  EXPECT_EQ(LoadError("name: x\n", {"train.batch_size=abc"}),
            "--set train.batch_size=abc: expected a positive integer, got 'abc'");
  EXPECT_EQ(LoadError("name: x\n", {"train.batch_sze=4"}),
            "--set train.batch_sze=4: unknown key train.batch_sze; did you mean train.batch_size?");
  EXPECT_THAT(LoadError("name: x\n", {"batch_size=4"}), HasSubstr("did you mean train.batch_size?"));
  EXPECT_THAT(LoadError("name: x\n", {"seed=4"}),
              HasSubstr("did you mean train.seed, eval.seed or eval.realism_seed?"));
  EXPECT_THAT(LoadError("name: x\n", {"train.steps"}),
              HasSubstr("--set train.steps: expected key.path=value"));
  EXPECT_THAT(LoadError("name: x\n", {"train=5"}),
              HasSubstr("--set train=5: train is a section; set one of its keys: train.steps"));
  EXPECT_THAT(LoadError("name: x\n", {"data.genres=[rock"}),
              HasSubstr("--set data.genres=[rock: YAML syntax error"));
  EXPECT_THAT(LoadError("name: x\n", {"train.steps="}), HasSubstr("got an empty value"));
}

TEST(JobConfigTest, FailedOverrideLeavesConfigUnchanged) {
  JobConfig config;
  EXPECT_FALSE(ApplyJobConfigOverride("train.batch_size=-4", &config).ok());
  EXPECT_EQ(config, JobConfig());
  EXPECT_TRUE(ApplyJobConfigOverride("train.batch_size=4", &config).ok());
  EXPECT_EQ(config.train.batch_size, 4);
}

TEST(JobConfigTest, CrossFieldRuleAfterOverrides) {
  EXPECT_THAT(LoadError("distributed:\n  timeout_s: 30\n", {"distributed.stall_warning_s=60"}),
              HasSubstr("with --set overrides: distributed.stall_warning_s: expected at most "
                        "distributed.timeout_s (30), got 60"));
}

TEST(JobConfigTest, AverageWarmUpNeedsAnAverage) {
  EXPECT_THAT(LoadError("train:\n  generator_ema_warmup: true\n"),
              HasSubstr("train.generator_ema_warmup: needs train.generator_ema > 0"));
  StatusOr<JobConfig> config =
      ParseJobConfig("train:\n  generator_ema: 0.999\n  generator_ema_warmup: true\n", "mem.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->train.generator_ema_warmup);
}

TEST(JobConfigTest, ValidateCatchesConfigsBuiltInCode) {
  JobConfig config;
  config.train.batch_size = -3;
  EXPECT_EQ(ValidateJobConfig(config).message(), "train.batch_size: expected a positive integer, got -3");
  config = JobConfig();
  config.train.beta1 = 1.0;
  EXPECT_THAT(std::string(ValidateJobConfig(config).message()), HasSubstr("train.beta1"));
  config = JobConfig();
  config.data.genres.clear();
  EXPECT_THAT(std::string(ValidateJobConfig(config).message()), HasSubstr("data.genres"));
  config = JobConfig();
  config.distributed.backend = "gloo";
  EXPECT_THAT(std::string(ValidateJobConfig(config).message()), HasSubstr("distributed.backend"));
}

TEST(JobConfigTest, RoundTripThroughYaml) {
  JobConfig config;
  config.name = "yes";  // would read back as a bool if it were not quoted
  config.output_dir = "runs/a b: c #d";
  config.data.genres = {"rock", "~", "123"};
  config.train.g_lr = 0.1;
  config.train.d_lr = 3.0000000000000004e-05;
  config.train.seed = UINT64_MAX;
  config.train.steps = int64_t{1} << 40;
  config.model.genre_conditional = true;
  config.distributed.bucket_mb = 1.0 / 3.0;
  config.sample.threshold = 0;
  const std::string yaml = JobConfigToYaml(config);
  StatusOr<JobConfig> back = ParseJobConfig(yaml, "resolved.yaml");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_EQ(*back, config) << yaml;
  EXPECT_EQ(JobConfigToYaml(*back), yaml);
  EXPECT_THAT(yaml, HasSubstr("g_lr: 0.1\n"));
  // Defaults round-trip too, and every key path appears.
  const std::string defaults = JobConfigToYaml(JobConfig());
  back = ParseJobConfig(defaults, "defaults.yaml");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, JobConfig());
  for (const std::string& key : JobConfigKeyPaths()) {
    EXPECT_THAT(defaults, HasSubstr(key.substr(key.find('.') + 1) + ":")) << key;
  }
}

TEST(JobConfigTest, EqualityCoversEveryField) {
  // Setting each key to a different valid value must make the configs differ: proves the registry's
  // `same` sees every field (and that every key path can be overridden).
  const std::vector<std::string> changes = {"name=other",
                                            "output_dir=o",
                                            "data.packs_dir=p",
                                            "data.genres=[pop]",
                                            "data.pack_pins=[pop=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb]",
                                            "data.prefetch_batches=9",
                                            "model.latent_dim=9",
                                            "model.tracks=9",
                                            "model.measures=9",
                                            "model.steps_per_measure=9",
                                            "model.pitches=9",
                                            "model.genre_conditional=true",
                                            "model.refiner=deterministic",
                                            "model.refiner_units=9",
                                            "model.refiner_pretrain_steps=9",
                                            "model.refiner_generator=frozen",
                                            "model.onset_stream=true",
                                            "model.chroma_stream=true",
                                            "model.condition_track=guitar",
                                            "model.held_tracks=[bass]",
                                            "model.harmony_tracks=[guitar]",
                                            "model.bar_levels=true",
                                            "model.bar_gate=true",
                                            "model.bar_gate_hard=true",
                                            "model.critic_bar_silence=true",
                                            "model.bar_level_scale=0.5",
                                            "model.rest_plans=true",
                                            "model.held_on_eighths=true",
                                            "model.held_detail=true",
                                            "model.harmony_gain=2",
                                            "model.harmony_after_norm=true",
                                            "model.held_release=true",
                                            "model.harmony_gate=true",
                                            "model.held_release_tracks=[bass]",
                                            "model.held_release_late_tracks=[bass]",
                                            "model.harmony_root_tracks=[bass]",
                                            "model.harmony_gate_lower_only=true",
                                            "model.output=binary",
                                            "model.critic_minibatch_stddev=true",
                                            "train.steps=9",
                                            "train.batch_size=9",
                                            "train.g_lr=0.2",
                                            "train.d_lr=0.2",
                                            "train.beta1=0.2",
                                            "train.beta2=0.2",
                                            "train.adam_eps=0.5",
                                            "train.critic_steps=9",
                                            "train.gp_weight=9",
                                            "train.generator_ema=0.5",
                                            "train.generator_ema_warmup=true",
                                            "train.seed=9",
                                            "train.intra_op_threads=9",
                                            "train.log_every=9",
                                            "train.metrics_file=m",
                                            "train.device=cuda",
                                            "checkpoint.dir=c",
                                            "checkpoint.every=9",
                                            "checkpoint.keep=9",
                                            "checkpoint.keep_best=9",
                                            "checkpoint.best_metric=g_loss",
                                            "checkpoint.best_mode=max",
                                            "eval.every=9",
                                            "eval.samples=9",
                                            "eval.seed=9",
                                            "eval.realism=false",
                                            "eval.realism_draws=9",
                                            "eval.realism_seed=9",
                                            "distributed.backend=mpi",
                                            "distributed.bucket_mb=9",
                                            "distributed.sync_batchnorm=false",
                                            "distributed.timeout_s=9",
                                            "distributed.stall_warning_s=9",
                                            "sample.tempo_qpm=9",
                                            "sample.threshold=0.9"};
  EXPECT_EQ(changes.size(), JobConfigKeyPaths().size());
  for (const std::string& change : changes) {
    JobConfig config;
    ASSERT_TRUE(ApplyJobConfigOverride(change, &config).ok()) << change;
    EXPECT_NE(config, JobConfig()) << change;
  }
}

// Each key path is wired to the right struct member: set every member directly in C++ to a distinct value
// and read the printed YAML back with plain yaml-cpp at that path.
TEST(JobConfigTest, KeyPathsMapToTheirMembers) {
  JobConfig c;
  c.name = "n1";
  c.output_dir = "o2";
  c.data = {"p3", {"g4"}, {"g4=" + std::string(64, 'e')}, 5};
  c.model = {6, 7, 8, 9, 10, true, "stochastic", 101, 102, "frozen", true, true, "bass", {"piano", "3"}, true, true, "sigmoid", true, {"guitar"}, true, 2.5, true, true, true,
             {"strings"}, true, {"piano"}, {"4"}, true, true, true, 0.35, true};
  c.train.steps = 11;
  c.train.batch_size = 12;
  c.train.g_lr = 0.13;
  c.train.d_lr = 0.14;
  c.train.beta1 = 0.15;
  c.train.beta2 = 0.16;
  c.train.adam_eps = 0.165;
  c.train.critic_steps = 17;
  c.train.gp_weight = 18;
  c.train.generator_ema = 0.185;
  c.train.generator_ema_warmup = true;
  c.train.seed = 19;
  c.train.intra_op_threads = 20;
  c.train.log_every = 21;
  c.train.metrics_file = "m22";
  c.train.device = "cuda";
  c.checkpoint = {"d23", 24, 25, 251, "metric252", "max"};
  c.eval = {26, 27, 28, false, 281, 282};
  c.distributed = {"mpi", 29, false, 31, 30};
  c.sample = {32, 0.33};
  const std::vector<std::pair<std::string, std::string>> expected = {{"name", "n1"},
                                                                     {"output_dir", "o2"},
                                                                     {"data.packs_dir", "p3"},
                                                                     {"data.prefetch_batches", "5"},
                                                                     {"model.latent_dim", "6"},
                                                                     {"model.tracks", "7"},
                                                                     {"model.measures", "8"},
                                                                     {"model.steps_per_measure", "9"},
                                                                     {"model.pitches", "10"},
                                                                     {"model.genre_conditional", "true"},
                                                                     {"model.refiner", "stochastic"},
                                                                     {"model.refiner_units", "101"},
                                                                     {"model.refiner_pretrain_steps", "102"},
                                                                     {"model.refiner_generator", "frozen"},
                                                                     {"model.onset_stream", "true"},
                                                                     {"model.chroma_stream", "true"},
                                                                     {"model.condition_track", "bass"},
                                                                     {"model.output", "sigmoid"},
                                                                     {"model.critic_minibatch_stddev", "true"},
                                                                     {"model.bar_levels", "true"},
                                                                     {"model.held_on_eighths", "true"},
                                                                     {"model.held_detail", "true"},
                                                                     {"model.harmony_gain", "2.5"},
                                                                     {"model.harmony_after_norm", "true"},
                                                                     {"model.held_release", "true"},
                                                                     {"model.harmony_gate", "true"},
                                                                     {"model.harmony_gate_lower_only", "true"},
                                                                     {"model.bar_gate", "true"},
                                                                     {"model.bar_gate_hard", "true"},
                                                                     {"model.critic_bar_silence", "true"},
                                                                     {"model.bar_level_scale", "0.35"},
                                                                     {"model.rest_plans", "true"},
                                                                     {"train.steps", "11"},
                                                                     {"train.batch_size", "12"},
                                                                     {"train.g_lr", "0.13"},
                                                                     {"train.d_lr", "0.14"},
                                                                     {"train.beta1", "0.15"},
                                                                     {"train.beta2", "0.16"},
                                                                     {"train.adam_eps", "0.165"},
                                                                     {"train.critic_steps", "17"},
                                                                     {"train.gp_weight", "18"},
                                                                     {"train.generator_ema", "0.185"},
                                                                     {"train.generator_ema_warmup", "true"},
                                                                     {"train.seed", "19"},
                                                                     {"train.intra_op_threads", "20"},
                                                                     {"train.log_every", "21"},
                                                                     {"train.metrics_file", "m22"},
                                                                     {"train.device", "cuda"},
                                                                     {"checkpoint.dir", "d23"},
                                                                     {"checkpoint.every", "24"},
                                                                     {"checkpoint.keep", "25"},
                                                                     {"checkpoint.keep_best", "251"},
                                                                     {"checkpoint.best_metric", "metric252"},
                                                                     {"checkpoint.best_mode", "max"},
                                                                     {"eval.every", "26"},
                                                                     {"eval.samples", "27"},
                                                                     {"eval.seed", "28"},
                                                                     {"eval.realism", "false"},
                                                                     {"eval.realism_draws", "281"},
                                                                     {"eval.realism_seed", "282"},
                                                                     {"distributed.backend", "mpi"},
                                                                     {"distributed.bucket_mb", "29"},
                                                                     {"distributed.sync_batchnorm", "false"},
                                                                     {"distributed.timeout_s", "31"},
                                                                     {"distributed.stall_warning_s", "30"},
                                                                     {"sample.tempo_qpm", "32"},
                                                                     {"sample.threshold", "0.33"}};
  // + data.genres, data.pack_pins and the five model track lists, below
  EXPECT_EQ(expected.size() + 7, JobConfigKeyPaths().size());
  const YAML::Node root = YAML::Load(JobConfigToYaml(c));
  for (const auto& [path, text] : expected) {
    const size_t dot = path.find('.');
    const YAML::Node node =
        dot == std::string::npos ? root[path] : root[path.substr(0, dot)][path.substr(dot + 1)];
    ASSERT_TRUE(node.IsScalar()) << path;
    EXPECT_EQ(node.Scalar(), text) << path;
  }
  EXPECT_EQ(root["data"]["genres"][0].Scalar(), "g4");
  EXPECT_EQ(root["data"]["pack_pins"][0].Scalar(), "g4=" + std::string(64, 'e'));
  EXPECT_EQ(root["model"]["held_tracks"][1].Scalar(), "3");
  EXPECT_EQ(root["model"]["harmony_tracks"][0].Scalar(), "guitar");
  EXPECT_EQ(root["model"]["held_release_tracks"][0].Scalar(), "strings");
  EXPECT_EQ(root["model"]["held_release_late_tracks"][0].Scalar(), "piano");
  EXPECT_EQ(root["model"]["harmony_root_tracks"][0].Scalar(), "4");
}

TEST(JobConfigTest, PacksArePinnedPerGenre) {
  const std::string sha(64, 'a'), other(64, 'b');
  StatusOr<JobConfig> config = ParseJobConfig(
      "name: x\ndata: {genres: [rock, pop], pack_pins: [rock=" + sha + ", pop=" + other + ", jazz=" + sha + "]}\n",
      "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(PinnedPackSha(config->data, "rock"), sha);
  EXPECT_EQ(PinnedPackSha(config->data, "pop"), other);
  EXPECT_EQ(PinnedPackSha(config->data, "po"), "");
  EXPECT_THAT(LoadError("name: x\ndata: {genres: [rock, pop], pack_pins: [rock=" + sha + "]}\n"),
              HasSubstr("data.pack_pins: no pin for genre \"pop\" of data.genres"));
  EXPECT_THAT(LoadError("name: x\ndata: {pack_pins: [rock=ABC]}\n"), HasSubstr("data.pack_pins"));
  EXPECT_THAT(LoadError("name: x\ndata: {pack_pins: [" + sha + "]}\n"), HasSubstr("data.pack_pins"));
}

TEST(JobConfigTest, ResolveUnderOutputDir) {
  JobConfig config;
  config.output_dir = "runs/x";
  EXPECT_EQ(ResolveUnderOutputDir(config, config.checkpoint.dir), "runs/x/checkpoints");
  EXPECT_EQ(ResolveUnderOutputDir(config, "/abs/m.jsonl"), "/abs/m.jsonl");
  config.output_dir = "runs/x/";
  EXPECT_EQ(ResolveUnderOutputDir(config, "m.jsonl"), "runs/x/m.jsonl");
}

}  // namespace
}  // namespace tutti
