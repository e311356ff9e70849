#include "cli.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <typeinfo>

#include "io/logging.hpp"

namespace genius::cli {

po::options_description common_options() {
  po::options_description o("Common options");
  o.add_options()("help,h", "show this help")("log-level", po::value<std::string>()->value_name("LEVEL"),
                                              "console log level: trace, debug, info, warn, error, off");
  return o;
}

namespace {

// Checks every command's numeric options get: no NaN or infinity for a
// float, no negative number for an unsigned option (which Boost would read
// as a huge one: `--train -5` as 18446744073709551611).
void check_numbers(const po::parsed_options& parsed, const po::variables_map& vm) {
  for (const po::option& o : parsed.options) {
    if (o.string_key.empty() || !vm.count(o.string_key)) continue;
    const auto& type = vm[o.string_key].value().type();
    const bool is_unsigned = type == typeid(std::uint64_t) || type == typeid(unsigned) || type == typeid(std::size_t) ||
                             type == typeid(std::vector<std::uint64_t>);
    for (const std::string& text : o.value)
      if (is_unsigned && text.find('-') != std::string::npos)
        throw po::error("--" + o.string_key + " must be a non-negative whole number, got '" + text + "'");
    if (type == typeid(double) && !std::isfinite(vm[o.string_key].as<double>()))
      throw po::error("--" + o.string_key + " must be a finite number, got '" + o.value.front() + "'");
  }
}

}  // namespace

void check_range(const po::variables_map& vm, const std::string& flag, double min, double max) {
  if (!vm.count(flag)) return;
  const boost::any& value = vm[flag].value();
  std::vector<double> numbers;
  if (value.type() == typeid(int)) numbers = {static_cast<double>(vm[flag].as<int>())};
  if (value.type() == typeid(double)) numbers = {vm[flag].as<double>()};
  if (value.type() == typeid(std::int64_t)) numbers = {static_cast<double>(vm[flag].as<std::int64_t>())};
  if (value.type() == typeid(std::uint64_t)) numbers = {static_cast<double>(vm[flag].as<std::uint64_t>())};
  if (value.type() == typeid(std::vector<int>))
    for (int v : vm[flag].as<std::vector<int>>()) numbers.push_back(v);
  for (double v : numbers)
    if (!(v >= min && v <= max)) {
      std::ostringstream range, got;
      got << v;
      if (max == std::numeric_limits<double>::infinity())
        range << ">= " << min;
      else
        range << "in [" << min << ", " << max << "]";
      throw po::error("--" + flag + " must be " + range.str() + ", got " + got.str());
    }
}

bool is_distributed_command(const std::string& name) {
  return name == "run" || name == "explore" || name == "pairs" || name == "train" || name == "eval";
}

std::string read_flag_file(const std::string& flag, const std::string& path) {
  const std::string what = "--" + flag + " '" + path + "'";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw po::error(what + " is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw po::error("cannot read " + what + ": " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw po::error("cannot read " + what);
  return content.str();
}

Parsed parse(const std::string& name, const std::string& usage, const Args& args,
             const po::options_description& options, const po::positional_options_description& positional,
             const UsageCheck& check) {
  po::options_description all;
  all.add(options).add(common_options());
  Parsed out;
  try {
    po::variables_map vm;
    const po::parsed_options parsed = po::command_line_parser(args).options(all).positional(positional).run();
    po::store(parsed, vm);
    check_numbers(parsed, vm);
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
