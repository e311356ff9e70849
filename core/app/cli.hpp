// The `genius` command line: one function per subcommand, each parsing its
// own options with Boost.Program_options and returning a process exit code.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "io/exit_codes.hpp"

namespace genius::cli {

namespace po = boost::program_options;
using Args = std::vector<std::string>;

/// Options every subcommand accepts: --help, --log-level.
po::options_description common_options();

/// Parse `args` for subcommand `name`. Returns nullopt after printing the
/// help text when --help was given. Throws po::error on bad usage.
std::optional<po::variables_map> parse(const std::string& name, const std::string& usage, const Args& args,
                                       const po::options_description& options,
                                       const po::positional_options_description& positional = {});

/// Report a usage error for `command` and return kExitUsageError.
int usage_error(const std::string& command, const std::string& message);

int plugins_command(const Args& args);
int config_command(const Args& args);
int run_command(const Args& args);
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

}  // namespace genius::cli
