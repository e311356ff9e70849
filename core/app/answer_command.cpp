// genius answer --checker NAME --response TEXT --reference TEXT [--regex R] [--json]
//
// What a checker reads from a response and whether it equals the reference,
// for users checking a checker on their own outputs (docs/data.md).
#include <cstdio>
#include <iostream>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "eval/checkers.hpp"

namespace genius::cli {

int answer_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("checker", po::value<std::string>()->default_value("boxed"),
                        "boxed | regex | gsm8k | math | choice | yesno")(
      "response", po::value<std::string>()->value_name("TEXT"), "the model's response")(
      "response-file", po::value<std::string>()->value_name("FILE"), "... read from a file")(
      "reference", po::value<std::string>()->value_name("TEXT"), "the reference answer (as the dataset gives it)")(
      "reference-file", po::value<std::string>()->value_name("FILE"), "... read from a file")(
      "regex", po::value<std::string>()->default_value(""), "the regex of --checker regex")("json", "print JSON");
  const Parsed vm = parse("answer", "--checker NAME --response TEXT --reference TEXT [--json]", args, options,
                          [](const po::variables_map& given) {
                            if (given.count("response") + given.count("response-file") != 1)
                              throw po::error("give exactly one of --response, --response-file");
                            if (given.count("reference") + given.count("reference-file") != 1)
                              throw po::error("give exactly one of --reference, --reference-file");
                          });
  if (!vm) return vm.exit_code;
  std::string response, raw_reference;
  std::unique_ptr<core::AnswerChecker> checker;
  try {
    response = vm->count("response") ? (*vm)["response"].as<std::string>()
                                     : read_flag_file("response-file", (*vm)["response-file"].as<std::string>());
    raw_reference = vm->count("reference")
                        ? (*vm)["reference"].as<std::string>()
                        : read_flag_file("reference-file", (*vm)["reference-file"].as<std::string>());
    checker = core::make_checker((*vm)["checker"].as<std::string>(), (*vm)["regex"].as<std::string>());
  } catch (const std::exception& e) {
    // make_checker speaks of the config keys; here they are these flags.
    std::string message = e.what();
    for (const auto& [key, flag] : {std::pair<std::string, std::string>{"[eval] answer_regex", "--regex"},
                                    {"eval.answer_regex", "--regex"},
                                    {"eval.checker = ", "--checker "},
                                    {"eval.checker", "--checker"}})
      for (std::size_t at; (at = message.find(key)) != std::string::npos;) message.replace(at, key.size(), flag);
    return usage_error("answer", message);
  }
  const std::optional<std::string> answer = checker->extract(response);
  const std::string reference = checker->reference(raw_reference);
  const bool right = answer && checker->equal(*answer, reference);
  if (vm->count("json")) {
    std::cout << nlohmann::json({{"checker", checker->name()},
                                 {"answer", answer ? nlohmann::json(*answer) : nlohmann::json(nullptr)},
                                 {"answer_canonical",
                                  answer ? nlohmann::json(checker->canonical(*answer)) : nlohmann::json(nullptr)},
                                 {"reference", reference},
                                 {"reference_canonical", checker->canonical(reference)},
                                 {"correct", right}})
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    std::printf(
        "checker    %s\nanswer     %s\n           (compared as %s)\nreference  %s\n           (compared as %s)\n%s\n",
        checker->name().c_str(), answer ? answer->c_str() : "(none)",
        answer ? checker->canonical(*answer).c_str() : "-", reference.c_str(), checker->canonical(reference).c_str(),
        right ? "correct" : "wrong");
  }
  return core::kExitOk;
}

}  // namespace genius::cli
