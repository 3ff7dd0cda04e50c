#include "coordinator/cli/torch_commands.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace tutti::cli {

bool IsTorchCommand(const char* name) {
  return std::strcmp(name, "generate") == 0 || std::strcmp(name, "metrics") == 0 ||
         std::strcmp(name, "accompany") == 0;
}

int ExecTorchCommands(int argc, char** argv) {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) self = argv[0];
  std::string sibling = (self.parent_path() / "tutti-ml").string();
  std::vector<char*> args(argv, argv + argc);
  args.push_back(nullptr);
  ::execv(sibling.c_str(), args.data());
  std::fprintf(stderr,
               "error: `tutti %s` runs %s, which could not be started (%s); it is built with LibTorch "
               "(cmake -DTUTTI_WITH_TORCH=ON, target tutti-ml)\n",
               argv[1], sibling.c_str(), std::strerror(errno));
  return 1;
}

void RegisterTorchCommandStubs(CLI::App& app) {
  app.add_subcommand("generate",
                     "Generate samples from a checkpoint file (--checkpoint) or one the coordinator stores (--checkpoint-id, --trial): MIDI, npz, PNG, WAV")
      ->allow_extras();
  app.add_subcommand("metrics",
                     "MuseGAN objective metrics of a pack, or of a checkpoint's samples beside held-out real ones "
                     "(see `tutti metrics --help`)")
      ->allow_extras();
  app.add_subcommand("accompany",
                     "Your own part (a track of your MIDI or .npz song) in, the whole piece out: an accompaniment "
                     "model writes the other tracks (see `tutti accompany --help`)")
      ->allow_extras();
}

}  // namespace tutti::cli
