// sample, genres, leaderboard, ratings: music from the coordinator's best checkpoints and what listeners
// thought of it (SampleService and ListenService).

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "coordinator/cli/cli_status.h"
#include "coordinator/cli/commands.h"
#include "coordinator/cli/remote.h"
#include "coordinator/cli/sample_fetch.h"
#include "coordinator/cli/table.h"
#include "tutti/v1/listen_service.grpc.pb.h"
#include "tutti/v1/sample_service.grpc.pb.h"

namespace tutti::cli {
namespace {

struct SampleArgs {
  RemoteFlags remote;
  std::string genre;
  int64_t trial = 0, checkpoint = 0, experiment = 0;
  int n = 4;
  uint64_t seed = 0;
  double threshold = -1;
  std::string formats = "midi,wav,png,npz";
  std::string out = "samples";
};

int RunSample(const SampleArgs& a) {
  v1::GenerateRequest request;
  if (a.checkpoint != 0) request.set_checkpoint_id(a.checkpoint);
  else if (a.trial != 0) request.set_trial_id(a.trial);
  else if (a.experiment != 0) request.set_experiment_id(a.experiment);
  request.set_genre(a.genre);
  request.set_n(a.n);
  request.set_seed(a.seed);
  if (a.threshold >= 0) request.set_threshold(a.threshold);
  for (const std::string& f : SplitFormats(a.formats)) request.add_formats(f);
  return FetchSamples(a.remote, request, a.out);
}

struct GenreArgs {
  RemoteFlags remote;
  std::string genre;
  int64_t trial = 0;
};

int RunGenres(const GenreArgs& a) {
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::SampleService::NewStub((*connection)->channel());
  v1::ListGenresResponse response;
  Status s = Unary(**connection, a.remote, "listing genres",
                   [&](grpc::ClientContext* c) { return stub->ListGenres(c, {}, &response); });
  if (!s.ok()) return ReportFailure(s);
  if (a.remote.json) {
    std::cout << ToJson(response) << "\n";
    return 0;
  }
  TextTable table({"genre", "checkpoint", "trial", "experiment", "step", "metric", "value"});
  for (const v1::GenreSource& g : response.genres()) {
    if (g.checkpoint_id() == 0) {
      table.AddRow({g.genre(), "-", "-", "-", "-", g.metric(), "(no checkpoint carries it yet)"});
      continue;
    }
    table.AddRow({g.genre(), std::to_string(g.checkpoint_id()), std::to_string(g.trial_id()),
                  absl::StrCat(g.experiment_id(), " ", g.experiment_name()), std::to_string(g.step()), g.metric(),
                  FormatValue(g.value())});
  }
  std::cout << table.ToString();
  return 0;
}

int RunLeaderboard(const GenreArgs& a) {
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::ListenService::NewStub((*connection)->channel());
  v1::LeaderboardRequest request;
  request.set_genre(a.genre);
  v1::LeaderboardResponse response;
  Status s = Unary(**connection, a.remote, absl::StrCat("the leaderboard of ", a.genre),
                   [&](grpc::ClientContext* c) { return stub->Leaderboard(c, request, &response); });
  if (!s.ok()) return ReportFailure(s);
  if (a.remote.json) {
    std::cout << ToJson(response) << "\n";
    return 0;
  }
  TextTable table({"rank", "trial", "experiment", "state", "objective", "checkpoint", "step", "listeners"});
  int rank = 0;
  for (const v1::LeaderboardEntry& e : response.entries()) {
    ++rank;
    const std::string objective =
        e.has_objective() ? absl::StrCat(e.metric(), " ", FormatValue(e.objective())) : std::string("-");
    const std::string listeners =
        e.ratings() == 0 ? std::string("-")
                         : absl::StrCat(FormatValue(e.win_rate()), " (", e.wins(), "-", e.ties(), "-", e.losses(), ")");
    table.AddRow({std::to_string(rank), std::to_string(e.trial().id()),
                  absl::StrCat(e.trial().experiment_id(), " ", e.experiment_name()),
                  v1::TrialState_Name(e.trial().state()).substr(6), objective,
                  e.checkpoint_id() ? std::to_string(e.checkpoint_id()) : "-",
                  e.checkpoint_id() ? std::to_string(e.step()) : "-", listeners});
  }
  std::cout << "genre " << response.genre() << " (listeners: win rate (wins-ties-losses) in blind pairs)\n"
            << table.ToString();
  return 0;
}

int RunRatings(const GenreArgs& a) {
  auto connection = Connect(a.remote);
  if (!connection.ok()) return ReportFailure(connection.status());
  auto stub = v1::ListenService::NewStub((*connection)->channel());
  v1::ListRatingsRequest request;
  request.set_genre(a.genre);
  request.set_trial_id(a.trial);
  v1::ListRatingsResponse response;
  Status s = Unary(**connection, a.remote, "listing ratings",
                   [&](grpc::ClientContext* c) { return stub->ListRatings(c, request, &response); });
  if (!s.ok()) return ReportFailure(s);
  if (a.remote.json) {
    std::cout << ToJson(response) << "\n";
    return 0;
  }
  TextTable table({"id", "genre", "A (trial/ckpt)", "B (trial/ckpt)", "seed", "choice", "listener", "rated"});
  for (const v1::Rating& r : response.ratings()) {
    const std::string choice = r.choice() == v1::RATING_A ? "A" : r.choice() == v1::RATING_B ? "B" : "same";
    table.AddRow({std::to_string(r.id()), r.genre(), absl::StrCat(r.trial_a(), "/", r.checkpoint_a()),
                  absl::StrCat(r.trial_b(), "/", r.checkpoint_b()), std::to_string(r.seed()), choice,
                  r.listener().empty() ? "-" : r.listener(), FormatTime(r.rated_ms())});
  }
  std::cout << table.ToString() << response.ratings_size() << " rating(s)\n";
  return 0;
}

}  // namespace

void RegisterListenCommands(CLI::App& app, int* exit_code) {
  auto s = std::make_shared<SampleArgs>();
  CLI::App* sample = app.add_subcommand(
      "sample",
      "Music from the coordinator: samples of a genre from its best checkpoint across experiments (or from a "
      "given trial, checkpoint or experiment), as MIDI, WAV, pianoroll PNG and npz");
  sample->add_option("--genre,-g", s->genre, "Genre (required unless --checkpoint-id or --trial says)");
  sample->add_option("--trial", s->trial, "A trial's best checkpoint instead");
  sample->add_option("--checkpoint-id", s->checkpoint, "A stored checkpoint instead");
  sample->add_option("--experiment", s->experiment, "An experiment's best checkpoint (of --genre) instead");
  sample->add_option("-n,--samples", s->n, "Samples to generate")->default_val(4)->check(CLI::PositiveNumber);
  sample->add_option("--seed", s->seed, "Seed of the latents (same seed, same bytes)")->default_val(0);
  sample->add_option("--threshold", s->threshold, "Active-cell threshold (default: the checkpoint config's)");
  sample->add_option("--format", s->formats, "Comma-separated: midi, wav, png, npz")->default_val("midi,wav,png,npz");
  sample->add_option("--out,-o", s->out, "Directory to write the files into")->default_val("samples");
  AddRemoteFlags(sample, &s->remote);
  sample->callback([s, exit_code] { *exit_code = RunSample(*s); });

  auto g = std::make_shared<GenreArgs>();
  CLI::App* genres = app.add_subcommand("genres", "The genres the coordinator's trials train and the checkpoint "
                                                  "each is served from");
  AddRemoteFlags(genres, &g->remote);
  genres->callback([g, exit_code] { *exit_code = RunGenres(*g); });

  auto l = std::make_shared<GenreArgs>();
  CLI::App* leaderboard = app.add_subcommand(
      "leaderboard", "A genre's trials across experiments, best first, with their listening-test win rates");
  leaderboard->add_option("--genre,-g", l->genre, "Genre")->required();
  AddRemoteFlags(leaderboard, &l->remote);
  leaderboard->callback([l, exit_code] { *exit_code = RunLeaderboard(*l); });

  auto r = std::make_shared<GenreArgs>();
  CLI::App* ratings = app.add_subcommand(
      "ratings", "Blind listening-test ratings (from the web page's Listen view), oldest first; --json to export");
  ratings->add_option("--genre,-g", r->genre, "Only this genre");
  ratings->add_option("--trial", r->trial, "Only pairs with this trial on either side");
  AddRemoteFlags(ratings, &r->remote);
  ratings->callback([r, exit_code] { *exit_code = RunRatings(*r); });
}

}  // namespace tutti::cli
