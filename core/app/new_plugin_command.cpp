// genius new-plugin --kind loss|sampler|value|backend --name NAME --out DIR [--force]
//
// Writes a complete out-of-tree plugin project (CMakeLists.txt with
// find_package(GeniusSDK), one .cpp with a small working implementation, an
// example TOML and a README) from the templates embedded from
// core/app/scaffold/ (see its README.md for the placeholders).
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <stdexcept>

#include <genius/abi.hpp>
#include <genius/manifest.hpp>

#include "cli.hpp"
#include "plugins/plugin_registry.hpp"
#include "scaffold_files.hpp"

namespace genius::cli {
namespace {

namespace fs = std::filesystem;

// The kinds on the command line, their class-name suffix.
const std::map<std::string, std::string>& class_suffixes() {
  static const std::map<std::string, std::string> s = {
      {"loss", "Loss"}, {"sampler", "Sampler"}, {"value", "Value"}, {"backend", "Backend"}};
  return s;
}

const char* section_of(const std::string& kind) {
  if (kind == "loss") return config_section(PluginKind::Loss);
  if (kind == "sampler") return config_section(PluginKind::Sampler);
  if (kind == "value") return config_section(PluginKind::ValueEstimator);
  return config_section(PluginKind::ModelBackend);
}

// "my-loss" -> "MyLoss" (+ the kind's suffix unless the name already ends with it).
std::string class_name(const std::string& name, const std::string& suffix) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (c == '-') {
      upper = true;
      continue;
    }
    out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  if (out.size() < suffix.size() || out.compare(out.size() - suffix.size(), suffix.size(), suffix) != 0) out += suffix;
  return out;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

std::string template_text(const std::string& path) {
  const auto& files = scaffold_files();
  const auto it = files.find(path);
  if (it == files.end()) throw std::logic_error("genius was built without the scaffold template '" + path + "'");
  return std::string(it->second);
}

// "my-loss" -> "my_loss": file names and the CMake target.
std::string ident_of(const std::string& name) {
  return replace_all(name, "-", "_");
}
// The CMake target; the library is lib<target>.so.
std::string target_of(const std::string& kind, const std::string& name) {
  return "genius_" + kind + "_" + ident_of(name);
}

// The project's files: output name -> rendered content.
std::map<std::string, std::string> render(const std::string& kind, const std::string& name) {
  const std::string ident = ident_of(name);
  const std::map<std::string, std::string> values = {
      {"@NAME@", name},
      {"@IDENT@", ident},
      {"@CLASS@", class_name(name, class_suffixes().at(kind))},
      {"@TARGET@", target_of(kind, name)},
      {"@KIND@", kind},
      {"@SECTION@", section_of(kind)},
      {"@SDK_VERSION@", GENIUS_SDK_VERSION},
  };
  std::map<std::string, std::string> out = {
      {"CMakeLists.txt", template_text("common/CMakeLists.txt")},
      {"README.md",
       replace_all(template_text("common/README.md"), "@KIND_README@", template_text(kind + "/readme.md"))},
      {".gitignore", template_text("common/gitignore")},
      {ident + ".cpp", template_text(kind + "/plugin.cpp")},
  };
  // Every other file of the kind's folder (example.toml, loss/pairs.jsonl) keeps its name.
  for (const auto& [path, content] : scaffold_files()) {
    const std::string prefix = kind + "/";
    if (path.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string file = path.substr(prefix.size());
    if (file != "plugin.cpp" && file != "readme.md") out[file] = std::string(content);
  }
  for (auto& [file, content] : out)
    for (const auto& [placeholder, value] : values) content = replace_all(content, placeholder, value);
  return out;
}

}  // namespace

int new_plugin_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("kind", po::value<std::string>()->value_name("KIND"), "loss | sampler | value | backend")(
      "name", po::value<std::string>()->value_name("NAME"),
      "plugin name: lowercase letters, digits and '-', starting with a letter (e.g. my-loss)")(
      "out", po::value<std::string>()->value_name("DIR"), "project directory to create (must not exist or be empty)")(
      "force", "write into a non-empty DIR, overwriting the scaffold's files there");
  std::string kind, name;
  fs::path out;
  const Parsed vm =
      parse("new-plugin", "--kind loss|sampler|value|backend --name NAME --out DIR [--force]", args, options,
            [&](const po::variables_map& given) {
              for (const char* required : {"kind", "name", "out"})
                if (!given.count(required)) throw po::error(std::string("missing --") + required);
              kind = given["kind"].as<std::string>();
              name = given["name"].as<std::string>();
              out = given["out"].as<std::string>();
              if (!class_suffixes().count(kind))
                throw po::error("--kind '" + kind + "': must be one of loss, sampler, value, backend");
              // A letter first, so the derived C++ class name is an identifier; '-' only between parts.
              if (!std::regex_match(name, std::regex("[a-z][a-z0-9]*(-[a-z0-9]+)*")))
                throw po::error("--name '" + name +
                                "': use lowercase letters, digits and single '-' between them, starting with a letter "
                                "(e.g. my-loss)");
            });
  if (!vm) return vm.exit_code;

  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec))
      return usage_error("new-plugin", "--out '" + out.string() + "' exists and is not a directory");
    if (!fs::is_empty(out, ec) && !vm->count("force"))
      return usage_error("new-plugin", "--out '" + out.string() +
                                           "' is not empty; choose a new directory, or pass --force to write the "
                                           "project's files into it (files of the same name are overwritten)");
  }
  const std::map<std::string, std::string> files = render(kind, name);
  fs::create_directories(out, ec);
  if (ec) {
    std::cerr << "genius new-plugin: cannot create '" << out.string() << "': " << ec.message() << "\n";
    return core::kExitRunFailed;
  }
  for (const auto& [file, content] : files) {
    std::ofstream stream(out / file, std::ios::binary | std::ios::trunc);
    stream << content;
    if (!stream.flush()) {
      std::cerr << "genius new-plugin: cannot write '" << (out / file).string() << "'\n";
      return core::kExitRunFailed;
    }
  }

  // An installed genius has its CMake package beside its plugins: <libdir>/cmake/GeniusSDK.
  const fs::path sdk_dir =
      core::PluginRegistry::builtin_directory().parent_path().parent_path() / "cmake" / "GeniusSDK";
  const bool installed = fs::exists(sdk_dir / "GeniusSDKConfig.cmake", ec);
  std::cout << "wrote a " << kind << " plugin project '" << name << "' in " << out.string() << ":\n";
  for (const auto& entry : files) std::cout << "  " << entry.first << "\n";
  if (!installed)
    std::cout << "this genius runs from a build tree: install it first (cmake --install BUILD --prefix PREFIX)\n";
  std::cout << "build it against the installed Genius SDK and list it:\n"
            << "  cmake -S " << out.string() << " -B " << (out / "build").string()
            << (installed ? " -DGeniusSDK_DIR=" + sdk_dir.string() : std::string(" -DCMAKE_PREFIX_PATH=PREFIX")) << "\n"
            << "  cmake --build " << (out / "build").string() << "\n"
            << "  GENIUS_PLUGIN_PATH=" << (out / "build").string() << " genius plugins\n"
            << "(" << (out / "README.md").string() << " says how to try it; the library is lib" << target_of(kind, name)
            << ".so)\n";
  return core::kExitOk;
}

}  // namespace genius::cli
