// The `genius` command line: one function per subcommand, each parsing its
// own options with Boost.Program_options and returning a process exit code.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "io/exit_codes.hpp"

namespace genius {
class ModelBackend;
}
namespace genius::core {
class PluginRegistry;
}

namespace genius::cli {

namespace po = boost::program_options;
using Args = std::vector<std::string>;

/// Options every subcommand accepts: --help, --log-level.
po::options_description common_options();

/// Extra checks of a command's parsed options: throw po::error on bad usage.
using UsageCheck = std::function<void(const po::variables_map&)>;

/// For a UsageCheck: throws po::error unless option `flag` (when present;
/// an int, int64, uint64, double or list of ints) lies in [min, max].
/// parse() itself refuses NaN, infinity and negative unsigned numbers.
void check_range(const po::variables_map& vm, const std::string& flag, double min,
                 double max = std::numeric_limits<double>::infinity());

/// The whole content of the file that option `flag` names, as it is;
/// throws po::error naming the flag and the file when it cannot be read (a
/// directory, missing, unreadable). For --file style options.
std::string read_flag_file(const std::string& flag, const std::string& path);

/// A command's parsed options, or, when there are none to act on, the exit
/// code to return at once: 0 after --help, kExitUsageError after a usage error
/// (already printed with `genius NAME: ...` and the pointer to --help).
struct Parsed {
  std::optional<po::variables_map> options;
  int exit_code = 0;

  explicit operator bool() const { return options.has_value(); }
  const po::variables_map& operator*() const { return *options; }
  const po::variables_map* operator->() const { return &*options; }
};

/// Parse `args` for subcommand `name` (with the common options), run
/// `check`, and turn --help and every usage error into Parsed::exit_code:
/// the one parse/usage/error path of every subcommand.
Parsed parse(const std::string& name, const std::string& usage, const Args& args,
             const po::options_description& options, const po::positional_options_description& positional,
             const UsageCheck& check = {});
Parsed parse(const std::string& name, const std::string& usage, const Args& args,
             const po::options_description& options, const UsageCheck& check = {});

/// The backend `backend` ("" = core::choose_backend's default) on the model
/// directory `dir`, configured like a run's [model] section plus `extra`
/// --set options (model.KEY=VALUE). The model commands and init-model use it.
std::shared_ptr<ModelBackend> load_backend(const core::PluginRegistry& registry, const std::string& backend,
                                           const std::filesystem::path& dir, std::vector<std::string> extra = {});

/// The commands that share their work over ranks (torchrun, SLURM, `genius
/// launch`): run, explore, pairs, train, eval.
bool is_distributed_command(const std::string& name);

/// Report a usage error for `command` and return kExitUsageError.
int usage_error(const std::string& command, const std::string& message);

int plugins_command(const Args& args);
int config_command(const Args& args);
int run_command(const Args& args);
int launch_command(const Args& args);
int merge_adapter_command(const Args& args);
int answer_command(const Args& args);
int explore_command(const Args& args);
int pairs_command(const Args& args);
int train_command(const Args& args);
int eval_command(const Args& args);
int audit_command(const Args& args);
int loss_command(const Args& args);
int tokenize_command(const Args& args);
int generate_command(const Args& args);
int logprobs_command(const Args& args);
int init_model_command(const Args& args);
int bench_command(const Args& args);
int data_command(const Args& args);
int pretrain_command(const Args& args);
int new_plugin_command(const Args& args);
int sweep_command(const Args& args);
int slips_command(const Args& args);
int critic_eval_command(const Args& args);
int decode_command(const Args& args);

}  // namespace genius::cli
