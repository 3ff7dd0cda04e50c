// inspect SONG.npz|SONG.mid: what a song file holds, as Tutti reads it.

#include <iostream>

#include <nlohmann/json.hpp>

#include "coordinator/cli/commands.h"
#include "coordinator/cli/table.h"
#include "core/midi/midi_to_multitrack.h"
#include "core/npz/pianoroll_npz.h"

namespace tutti::cli {
namespace {

int RunInspect(const std::string& path, bool json) {
  StatusOr<Multitrack> song = IsMidiFileName(path)
                                  ? ReadMidiAsLpd5(path)
                                  : ReadPianorollNpz(path);
  if (!song.ok()) {
    std::cerr << "error: " << song.status().message() << "\n";
    return 1;
  }
  const int64_t length = song->MaxLength();
  const double bars = static_cast<double>(length) / (4.0 * song->resolution);
  if (json) {
    nlohmann::json tracks = nlohmann::json::array();
    for (const Track& t : song->tracks) {
      tracks.push_back({{"name", t.name},
                        {"program", t.program},
                        {"is_drum", t.is_drum},
                        {"nonzero_cells", t.pianoroll.nnz()},
                        {"notes", t.pianoroll.CountNotes()},
                        {"stored_steps", t.pianoroll.n_steps}});
    }
    nlohmann::json j = {{"path", path},
                        {"name", song->name ? nlohmann::json(*song->name) : nlohmann::json(nullptr)},
                        {"resolution", song->resolution},
                        {"length", length},
                        {"bars_4_4", bars},
                        {"tempo_first", song->tempo.empty() ? nlohmann::json(nullptr) : nlohmann::json(song->tempo[0])},
                        {"tracks", tracks}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "song        " << path << "\n"
            << "resolution  " << song->resolution << " steps per beat\n"
            << "length      " << length << " steps (" << bars << " bars of 4/4)\n";
  if (!song->tempo.empty()) std::cout << "tempo       " << song->tempo[0] << " qpm at step 0\n";
  TextTable table({"track", "name", "program", "drum", "cells", "notes"});
  for (size_t i = 0; i < song->tracks.size(); ++i) {
    const Track& t = song->tracks[i];
    table.AddRow({std::to_string(i), t.name.empty() ? "\"\"" : t.name, std::to_string(t.program),
                  t.is_drum ? "yes" : "no", std::to_string(t.pianoroll.nnz()),
                  std::to_string(t.pianoroll.CountNotes())});
  }
  std::cout << table.ToString();
  return 0;
}

}  // namespace

void RegisterInspectCommand(CLI::App& app, int* exit_code) {
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* c = app.add_subcommand(
      "inspect", "Show a song file as Tutti reads it: resolution, length, and per track name, program, drum flag, "
                 "non-zero cells and notes (.npz in pypianoroll's layouts, or .mid)");
  c->add_option("SONG", *path, "A .npz or .mid file")->required();
  c->add_flag("--json", *json, "Machine-readable output");
  c->callback([path, json, exit_code] { *exit_code = RunInspect(*path, *json); });
}

}  // namespace tutti::cli
