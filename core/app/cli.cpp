#include "cli.hpp"

#include <iostream>

#include "io/logging.hpp"

namespace genius::cli {

po::options_description common_options() {
  po::options_description o("Common options");
  o.add_options()("help,h", "show this help")("log-level", po::value<std::string>()->value_name("LEVEL"),
                                              "console log level: trace, debug, info, warn, error, off");
  return o;
}

Parsed parse(const std::string& name, const std::string& usage, const Args& args,
             const po::options_description& options, const po::positional_options_description& positional,
             const UsageCheck& check) {
  po::options_description all;
  all.add(options).add(common_options());
  Parsed out;
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "Usage: genius " << name << " " << usage << "\n\n" << all << "\n";
      return out;
    }
    po::notify(vm);
    if (vm.count("log-level")) {
      const auto level = core::parse_log_level(vm["log-level"].as<std::string>());
      if (!level) throw po::error("--log-level: unknown level '" + vm["log-level"].as<std::string>() + "'");
      spdlog::default_logger()->sinks().front()->set_level(*level);
    }
    if (check) check(vm);
    out.options = std::move(vm);
  } catch (const po::error& e) {
    out.exit_code = usage_error(name, e.what());
  }
  return out;
}

Parsed parse(const std::string& name, const std::string& usage, const Args& args,
             const po::options_description& options, const UsageCheck& check) {
  return parse(name, usage, args, options, po::positional_options_description{}, check);
}

int usage_error(const std::string& command, const std::string& message) {
  std::cerr << "genius " << command << ": " << message << "\n(see `genius " << command << " --help`)\n";
  return core::kExitUsageError;
}

}  // namespace genius::cli
