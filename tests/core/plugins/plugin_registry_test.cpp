// Plugin discovery and loading through the real Boost.DLL path, including the
// ways a library can be refused.
#include "plugins/plugin_registry.hpp"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <genius/abi.hpp>
#include <genius/loss.hpp>

namespace genius::core {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path fixture(const std::string& target) {
  return fs::path(GENIUS_FIXTURE_DIR) / target / ("lib" + target + ".so");
}

std::string load_error(const fs::path& file) {
  PluginRegistry registry;
  try {
    registry.add_library(file);
  } catch (const PluginLoadError& e) {
    return e.what();
  }
  return "";
}

TEST(PluginRegistry, LoadsEveryBuiltPluginWithItsManifest) {
  PluginRegistry registry;
  registry.add_directory(GENIUS_PLUGIN_DIR, /*required=*/true);
  ASSERT_TRUE(registry.errors().empty()) << registry.errors().front();
  EXPECT_EQ(registry.names(PluginKind::Loss), (std::vector<std::string>{"aco", "dpo", "ipo", "ropo", "sft", "simpo"}));
  const PluginInfo* aco = registry.find(PluginKind::Loss, "aco");
  ASSERT_NE(aco, nullptr);
  EXPECT_EQ(aco->manifest.version, "1.1.0");
  EXPECT_TRUE(fs::exists(aco->file));
  ASSERT_NE(aco->manifest.find_key("alpha"), nullptr);
  EXPECT_EQ(aco->manifest.find_key("alpha")->type(), ValueType::Float);
  EXPECT_EQ(registry.find(PluginKind::Sampler, "aco"), nullptr);  // kinds are separate name spaces
}

TEST(PluginRegistry, CreatedObjectKeepsItsLibraryAlive) {
  std::shared_ptr<Loss> loss;
  {
    PluginRegistry registry;
    registry.add_library(fixture("fixture_good"));
    loss = registry.create_as<Loss>(PluginKind::Loss, "fixture", ConfigView("loss", {{"scale", 2.0}}));
  }  // the registry (and its reference to the library) is gone
  EXPECT_EQ(loss->name(), "fixture");
  EXPECT_FALSE(loss->needs_reference());
  loss.reset();  // runs the destructor from the still-mapped library
}

TEST(PluginRegistry, RefusesAnotherSdkAbiNamingBothVersions) {
  const std::string error = load_error(fixture("fixture_bad_abi"));
  EXPECT_THAT(error, HasSubstr("libfixture_bad_abi.so"));
  EXPECT_THAT(error, HasSubstr("ABI version 99"));
  EXPECT_THAT(error, HasSubstr("ABI version " + std::to_string(GENIUS_SDK_ABI_VERSION)));
}

TEST(PluginRegistry, RefusesAnotherLibtorchNamingBothVersions) {
  const std::string error = load_error(fixture("fixture_bad_torch"));
  EXPECT_THAT(error, HasSubstr("libfixture_bad_torch.so"));
  EXPECT_THAT(error, HasSubstr("libtorch 0.1"));
  EXPECT_THAT(error, HasSubstr(std::string("libtorch ") + GENIUS_TORCH_VERSION));
}

TEST(PluginRegistry, MissingFileIsNamed) {
  const std::string error = load_error("/nonexistent/libnothing.so");
  EXPECT_THAT(error, HasSubstr("/nonexistent/libnothing.so"));
  EXPECT_THAT(error, HasSubstr("no such file"));
}

TEST(PluginRegistry, NonLibraryFileIsRefusedBeforeTheLoaderMapsIt) {
  const fs::path dir = fs::temp_directory_path() / "genius_registry_test";
  fs::create_directories(dir);
  const fs::path fake = dir / "libfake.so";
  std::ofstream(fake) << std::string(256, 'x');  // long enough for the loader to read a header
  const std::string error = load_error(fake);
  EXPECT_THAT(error, HasSubstr("cannot load plugin library"));
  EXPECT_THAT(error, HasSubstr("libfake.so"));
  EXPECT_THAT(error, HasSubstr("not an ELF shared library"));  // checked before dlopen
  fs::remove_all(dir);
}

TEST(PluginRegistry, LibraryWithoutManifestIsNotAPlugin) {
  const std::string error = load_error(fixture("fixture_not_a_plugin"));
  EXPECT_THAT(error, HasSubstr("libfixture_not_a_plugin.so"));
  EXPECT_THAT(error, HasSubstr("is not a Genius plugin"));
}

TEST(PluginRegistry, DuplicateKindAndNameNamesBothFiles) {
  PluginRegistry registry;
  registry.add_directory(GENIUS_PLUGIN_DIR, true);
  registry.add_directory(fixture("fixture_duplicate_aco").parent_path(), true);
  ASSERT_EQ(registry.errors().size(), 1u);
  EXPECT_THAT(registry.errors()[0], HasSubstr("two loss plugins are named 'aco'"));
  EXPECT_THAT(registry.errors()[0], HasSubstr("libgenius_loss_aco.so"));
  EXPECT_THAT(registry.errors()[0], HasSubstr("libfixture_duplicate_aco.so"));
  EXPECT_THROW(registry.throw_if_errors(), PluginLoadError);
}

TEST(PluginRegistry, SameFileTwiceIsLoadedOnce) {
  PluginRegistry registry;
  registry.add_library(fixture("fixture_good"));
  registry.add_path(fixture("fixture_good").parent_path() / "." / fixture("fixture_good").filename(), true);
  EXPECT_TRUE(registry.errors().empty());
  EXPECT_EQ(registry.plugins().size(), 1u);
}

TEST(PluginRegistry, DirectoryScanCollectsErrorsAndKeepsGoodPlugins) {
  const fs::path dir = fs::temp_directory_path() / "genius_registry_scan";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(fixture("fixture_good"), dir / "libgood.so");
  fs::copy_file(fixture("fixture_bad_abi"), dir / "libbad.so");
  std::ofstream(dir / "README.txt") << "not a library, and not named like one: ignored\n";
  PluginRegistry registry;
  registry.add_directory(dir, true);
  EXPECT_EQ(registry.names(PluginKind::Loss), (std::vector<std::string>{"fixture"}));
  ASSERT_EQ(registry.errors().size(), 1u);
  EXPECT_THAT(registry.errors()[0], HasSubstr("libbad.so"));
  fs::remove_all(dir);
}

TEST(PluginRegistry, RequiredDirectoryMustExist) {
  PluginRegistry registry;
  registry.add_directory("/nonexistent/plugins", /*required=*/false);
  EXPECT_TRUE(registry.errors().empty());
  registry.add_directory("/nonexistent/plugins", /*required=*/true);
  ASSERT_EQ(registry.errors().size(), 1u);
  EXPECT_THAT(registry.errors()[0], HasSubstr("/nonexistent/plugins"));
}

TEST(PluginRegistry, CreatingAnUnknownPluginNamesIt) {
  PluginRegistry registry;
  try {
    registry.create(PluginKind::Loss, "nope", ConfigView());
    FAIL();
  } catch (const PluginLoadError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no loss plugin named 'nope'"));
  }
}

}  // namespace
}  // namespace genius::core
