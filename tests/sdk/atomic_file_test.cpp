#include <genius/helpers/atomic_file.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace genius {
namespace {

namespace fs = std::filesystem;

TEST(AtomicFile, WritesReplacesAndLeavesNoTemporaries) {
  const fs::path dir = fs::temp_directory_path() / ("genius_atomic_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_file_atomic(dir / "a.txt", "first");
  EXPECT_EQ(read_file(dir / "a.txt"), "first");
  write_file_atomic(dir / "a.txt", std::string(100000, 'x'));
  EXPECT_EQ(read_file(dir / "a.txt").size(), 100000u);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  // Renaming onto a directory fails: the error names the target, nothing is left behind.
  fs::create_directories(dir / "sub");
  fs::create_directories(dir / "sub" / "b.txt" / "inner");
  try {
    write_file_atomic(dir / "sub" / "b.txt", "x");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("b.txt"));
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "sub"), fs::directory_iterator()), 1);
  EXPECT_THROW(write_file_atomic(dir / "missing" / "c.txt", "x"), std::runtime_error);
  EXPECT_THROW(read_file(dir / "nope"), std::runtime_error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace genius
