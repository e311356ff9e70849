// What users read when something fails: library internals removed, sizes
// bounded; plugin library files checked before the loader maps them.
#include "io/errors.hpp"

#include <filesystem>
#include <fstream>

#include <c10/util/Exception.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <genius/helpers/json_text.hpp>

#include "plugins/library_file.hpp"
#include "test_support.hpp"

namespace genius::core {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(Describe, FilesystemErrorsNameTheOperationThePathAndTheReason) {
  const fs::path dir = test::scratch_dir("Describe", "fs");
  fs::create_directories(dir);
  const fs::path file = dir / "plain-file";
  std::ofstream(file) << "x";
  try {
    fs::create_directories(file / "sub");
    FAIL() << "created a directory inside a file";
  } catch (const fs::filesystem_error& e) {
    const std::string text = describe(e);
    EXPECT_THAT(text, Not(HasSubstr("filesystem error")));
    EXPECT_THAT(text, HasSubstr("cannot create directories '" + (file / "sub").string() + "'"));
    EXPECT_THAT(text, HasSubstr(": Not a directory"));
  }
}

TEST(Describe, JsonAndTorchErrorsLoseTheirInternals) {
  try {
    const nlohmann::json parsed = nlohmann::json::parse("{\"a\": nul}");
    FAIL() << parsed.dump();
  } catch (const nlohmann::json::exception& e) {
    EXPECT_THAT(describe(e), Not(HasSubstr("[json.exception")));
    EXPECT_THAT(describe(e), HasSubstr("invalid JSON data: parse error at line 1"));
  }
  try {
    TORCH_CHECK(false, "shapes do not match");
    FAIL();
  } catch (const c10::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("Exception raised from"));  // what describe() removes
    EXPECT_EQ(describe(e), "shapes do not match");
  }
  const std::runtime_error huge(std::string(1 << 20, 'x'));
  EXPECT_LT(describe(huge).size(), 4200u);
  EXPECT_THAT(describe(huge), HasSubstr("(1048576 bytes)"));
}

TEST(JsonErrorText, BoundsTheQuotedToken) {
  const std::string line = "{\"q\": \"" + std::string(50 << 20, 'a');  // a 50 MB string never closed
  try {
    const nlohmann::json parsed = nlohmann::json::parse(line);
    FAIL() << parsed.type_name();
  } catch (const nlohmann::json::exception& e) {
    EXPECT_GT(std::string(e.what()).size(), 50u << 20);
    EXPECT_LE(json_error_text(e).size(), 240u);
  }
  EXPECT_EQ(excerpt("h\xc3\xa9llo", 2), "h... (6 bytes)");  // never cuts a UTF-8 character
}

TEST(LibraryFile, TruncatedOrForeignFilesAreRefusedBeforeLoading) {
  const fs::path plugin = fs::path(GENIUS_PLUGIN_DIR) / "libgenius_loss_dpo.so";
  ASSERT_TRUE(fs::exists(plugin)) << plugin;
  EXPECT_EQ(library_file_problem(plugin), "");
  const fs::path dir = test::scratch_dir("LibraryFile", "truncated");
  fs::create_directories(dir);
  std::ifstream in(plugin, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  for (std::size_t keep : {std::size_t{10}, std::size_t{64}, std::size_t{4096}, bytes.size() / 2, bytes.size() - 1}) {
    const fs::path cut = dir / ("cut-" + std::to_string(keep) + ".so");
    std::ofstream(cut, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(keep));
    EXPECT_THAT(library_file_problem(cut), HasSubstr("truncated")) << keep << " of " << bytes.size() << " bytes";
  }
  const fs::path text = dir / "text.so";
  std::ofstream(text) << "not a library, but long enough to hold an ELF header if it were one\n";
  EXPECT_EQ(library_file_problem(text), "not an ELF shared library");
  EXPECT_THAT(library_file_problem(dir / "missing.so"), HasSubstr("cannot read it"));
  EXPECT_EQ(loader_reason("boost::dll::shared_library::load() failed (dlerror system message: /x.so: invalid ELF "
                          "header): Bad file descriptor"),
            "/x.so: invalid ELF header");
}

}  // namespace
}  // namespace genius::core
