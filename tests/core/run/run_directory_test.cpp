// A continued run trusts only the finished stages whose files are as they
// were left: a torn or edited file sends its stage (and every later one) back
// to be done again; a damaged state.json is an error, not an empty run.
#include "run/run_directory.hpp"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <genius/helpers/atomic_file.hpp>

#include "config/config.hpp"
#include "run/stage_fingerprint.hpp"
#include "test_support.hpp"

namespace genius::core {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

ResolvedConfig config() {
  return validate(RawConfig::parse("[run]\nseed = 3\n", "/c/run.toml"), test::builtin_registry());
}

// A run with explore-1, pairs-1 and eval-1 finished.
fs::path finished_run(const std::string& name) {
  const fs::path dir = test::scratch_dir("RunDirectoryResume", name) / "run";
  RunDirectory run = RunDirectory::open(dir, config(), RunDirectory::Mode::New);
  run.create(config());
  fs::create_directories(run.iteration(1));
  write_file_atomic(run.records(1), "{\"a\": 1}\n{\"a\": 2}\n");
  run.mark_done(Stage::Explore, 1, {{"queries", 2}});
  write_file_atomic(run.pairs(1), "{\"p\": 1}\n");
  run.mark_done(Stage::Pairs, 1, {});
  write_file_atomic(run.eval(1), "{\"e\": 1}\n");
  write_file_atomic(run.eval(1, "gsm8k"), "{\"e\": 2}\n");
  run.mark_done(Stage::Eval, 1, {});
  return dir;
}

TEST(RunDirectoryResume, UntouchedStagesStayDone) {
  const fs::path dir = finished_run("untouched");
  const RunDirectory run = RunDirectory::open(dir, config(), RunDirectory::Mode::Resume);
  EXPECT_TRUE(run.done(Stage::Explore, 1));
  EXPECT_TRUE(run.done(Stage::Pairs, 1));
  EXPECT_TRUE(run.done(Stage::Eval, 1));
}

TEST(RunDirectoryResume, ATornFileRedoesItsStageAndEveryLaterOne) {
  const fs::path dir = finished_run("torn");
  fs::resize_file(dir / "iter-1/pairs.jsonl", 4);  // a copy cut short
  const RunDirectory run = RunDirectory::open(dir, config(), RunDirectory::Mode::Resume);
  EXPECT_TRUE(run.done(Stage::Explore, 1)) << "before the damage: kept";
  EXPECT_FALSE(run.done(Stage::Pairs, 1));
  EXPECT_FALSE(run.done(Stage::Eval, 1)) << "made after the damaged stage";
  EXPECT_TRUE(fs::exists(dir / "iter-1/pairs.jsonl.damaged"));
  EXPECT_FALSE(fs::exists(dir / "iter-1/pairs.jsonl"));
  EXPECT_TRUE(fs::exists(dir / "iter-1/eval-gsm8k.jsonl.damaged"));
  EXPECT_TRUE(fs::exists(dir / "iter-1/records.jsonl"));
  // The decision is saved: opened again, the same stages are to do.
  const RunDirectory again = RunDirectory::open(dir, config(), RunDirectory::Mode::Continue);
  EXPECT_TRUE(again.done(Stage::Explore, 1));
  EXPECT_FALSE(again.done(Stage::Pairs, 1));
}

TEST(RunDirectoryResume, AnEditOfTheSameSizeIsCaughtByItsChecksum) {
  const fs::path dir = finished_run("edited");
  write_file_atomic(dir / "iter-1/records.jsonl", "{\"a\": 1}\n{\"a\": 3}\n");
  const RunDirectory run = RunDirectory::open(dir, config(), RunDirectory::Mode::Resume);
  EXPECT_FALSE(run.done(Stage::Explore, 1));
  EXPECT_FALSE(run.done(Stage::Pairs, 1));
}

TEST(RunDirectoryResume, ADamagedStateFileIsAnErrorNamingIt) {
  const fs::path dir = finished_run("state");
  std::ofstream(dir / "state.json") << "{\"stages\": {\"explore-1\": ";
  try {
    (void)RunDirectory::open(dir, config(), RunDirectory::Mode::Resume);
    FAIL() << "a damaged state.json was accepted";
  } catch (const RunDirectoryError& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir / "state.json").string() + "' is damaged: not valid JSON"));
    EXPECT_THAT(e.what(), ::testing::Not(HasSubstr("[json.exception")));
  }
}

TEST(StageFingerprint, RecordsSizesAndChecksumsOfTextFiles) {
  const fs::path dir = test::scratch_dir("StageFingerprint", "files");
  fs::create_directories(dir / "ckpt");  // and dir
  std::ofstream(dir / "a.jsonl") << "{}\n";
  std::ofstream(dir / "ckpt/model.safetensors") << "12345678";
  const nlohmann::json f = fingerprint({dir / "a.jsonl", dir / "ckpt", dir / "absent.jsonl"}, dir);
  EXPECT_EQ(f["a.jsonl"]["bytes"], 3);
  EXPECT_TRUE(f["a.jsonl"].contains("crc32"));
  EXPECT_EQ(f["ckpt/model.safetensors"]["bytes"], 8);
  EXPECT_FALSE(f["ckpt/model.safetensors"].contains("crc32"));
  EXPECT_FALSE(f.contains("absent.jsonl"));
  EXPECT_FALSE(fingerprint_mismatch(f, dir).has_value());
  std::ofstream(dir / "ckpt/model.safetensors") << "1234";
  EXPECT_EQ(fingerprint_mismatch(f, dir).value(), "ckpt/model.safetensors: 4 bytes now, 8 when the stage finished");
  fs::remove(dir / "a.jsonl");
  EXPECT_EQ(fingerprint_mismatch(f, dir).value(), "a.jsonl: missing");
}

}  // namespace
}  // namespace genius::core
