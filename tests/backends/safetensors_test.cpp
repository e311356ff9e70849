// Tests of the safetensors reader/writer (plugins/backends/torch_llama/safetensors.hpp):
// byte layout against hand-written bytes, round trips, atomic writes, every
// class of malformed file (one test each, asserting the message), sharded
// checkpoints, and the F16/BF16 conversions.
#include "safetensors.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace genius::llama {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

// ---------------------------------------------------------------------------
// Helpers

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

// A safetensors file assembled by hand: length prefix, header as given (no
// padding added), data.
std::string raw_file(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string as_string(ByteView bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data), bytes.size);
}

template <typename T>
std::string bytes_of(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

template <typename T>
TensorToWrite tensor(std::string name, Dtype dtype, std::vector<std::int64_t> shape, const std::vector<T>& values) {
  return {std::move(name), dtype, std::move(shape), values.data(), values.size() * sizeof(T)};
}

std::vector<std::string> directory_listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A fresh directory per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "safetensors_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir_, ec);
  }

  // The message SafetensorsFile::open gives for a file with these bytes;
  // every message names the file.
  std::string open_error(const std::string& bytes) {
    const fs::path path = dir_ / "bad.safetensors";
    write_bytes(path, bytes);
    return open_error_at(path);
  }
  static std::string open_error_at(const fs::path& path) {
    try {
      (void)SafetensorsFile::open(path);
    } catch (const SafetensorsError& e) {
      std::string message = e.what();
      EXPECT_THAT(message, HasSubstr(path.string()));
      return message;
    }
    ADD_FAILURE() << "no error opening " << path;
    return "";
  }
  std::string weights_error() {
    try {
      (void)ModelWeights::open(dir_);
    } catch (const SafetensorsError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error opening " << dir_;
    return "";
  }

  fs::path dir_;
};

// One well-formed tensor entry, for the malformed-header tests.
const std::string kEntry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
const std::string kEightBytes(8, '\x01');

// ---------------------------------------------------------------------------
// Byte layout, checked against bytes written out by hand

TEST_F(SafetensorsTest, HandBuiltFileIsReadExactly) {
  // Header deliberately unpadded (odd length), keys out of data order,
  // metadata last: all legal.
  const std::string header = R"({"y":{"dtype":"BF16","shape":[],"data_offsets":[8,10]},)"
                             R"("x":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}})";
  const std::string data("\x01\x00\x00\x00\xFE\xFF\xFF\xFF\x80\x3F", 10);  // int32 1, -2; bf16 1.0
  const std::string bytes = std::string("\x85\x00\x00\x00\x00\x00\x00\x00", 8) + header + data;
  ASSERT_EQ(header.size(), 0x85u);
  const fs::path path = dir_ / "hand.safetensors";
  write_bytes(path, bytes);

  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.header_size(), 0x85u);
  EXPECT_EQ(file.file_size(), 8u + 0x85u + 10u);
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"k", "v"}}));
  ASSERT_EQ(file.tensors().size(), 2u);
  EXPECT_EQ(file.tensors()[0].name, "x");  // data-buffer order
  EXPECT_EQ(file.tensors()[1].name, "y");

  const TensorInfo& x = file.at("x");
  EXPECT_EQ(x.dtype, Dtype::I32);
  EXPECT_EQ(x.shape, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(x.numel, 2u);
  EXPECT_EQ(x.data_begin, 0u);
  EXPECT_EQ(x.data_end, 8u);
  const ByteView xb = file.data(x);
  ASSERT_EQ(xb.size, 8u);
  std::int32_t values[2];
  std::memcpy(values, xb.data, sizeof values);
  EXPECT_EQ(values[0], 1);
  EXPECT_EQ(values[1], -2);

  const TensorInfo& y = file.at("y");
  EXPECT_EQ(y.dtype, Dtype::BF16);
  EXPECT_TRUE(y.shape.empty());
  EXPECT_EQ(y.numel, 1u);
  const ByteView yb = file.data(y);
  ASSERT_EQ(yb.size, 2u);
  std::uint16_t bits = 0;
  std::memcpy(&bits, yb.data, 2);
  EXPECT_EQ(bits, 0x3F80);
  EXPECT_EQ(bf16_to_float(bits), 1.0f);
  // The views point into the file at the documented offsets.
  EXPECT_EQ(yb.data - xb.data, 8);
}

TEST_F(SafetensorsTest, WriterBytesEqualHandWrittenBytes) {
  const std::vector<float> values = {0, 1, 2, 3, 4, 5};
  const fs::path path = dir_ / "one.safetensors";
  write_safetensors(path, {tensor("attn.0", Dtype::F32, {1, 2, 3}, values)});
  // 64-byte header: a multiple of 8, so no padding.
  const std::string expected =
      std::string("\x40\x00\x00\x00\x00\x00\x00\x00", 8) +
      R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})" +
      std::string("\x00\x00\x00\x00\x00\x00\x80\x3F\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40\x00\x00\xA0\x40",
                  24);
  EXPECT_EQ(read_bytes(path), expected);
}

TEST_F(SafetensorsTest, WriterOrdersByAlignmentThenNameAndPadsWithSpaces) {
  const std::vector<std::uint8_t> b = {1, 2, 3};
  const std::vector<std::uint16_t> a = {0x3C00, 0xC000};  // f16 1.0, -2.0
  const fs::path path = dir_ / "two.safetensors";
  write_safetensors(path, {tensor("b", Dtype::U8, {3}, b), tensor("a", Dtype::F16, {2}, a)}, {{"format", "pt"}});
  // 137 bytes of JSON + 7 spaces = 144 = 0x90.
  const std::string expected =
      std::string("\x90\x00\x00\x00\x00\x00\x00\x00", 8) +
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"U8","shape":[3],"data_offsets":[4,7]}})" +
      "       " + std::string("\x00\x3C\x00\xC0\x01\x02\x03", 7);
  EXPECT_EQ(read_bytes(path), expected);
  EXPECT_EQ(safetensors_header({tensor("b", Dtype::U8, {3}, b), tensor("a", Dtype::F16, {2}, a)}, {{"format", "pt"}}),
            expected.substr(0, 8 + 144));
}

TEST_F(SafetensorsTest, EmptyCheckpointIsEightByteHeader) {
  const fs::path path = dir_ / "empty.safetensors";
  write_safetensors(path, {});
  EXPECT_EQ(read_bytes(path), std::string("\x08\x00\x00\x00\x00\x00\x00\x00{}      ", 16));
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_TRUE(file.metadata().empty());

  write_safetensors(path, {}, {{"framework", "pt"}});  // 35 bytes of JSON + 5 spaces
  EXPECT_EQ(read_bytes(path),
            std::string("\x28\x00\x00\x00\x00\x00\x00\x00", 8) + R"({"__metadata__":{"framework":"pt"}})" + "     ");
}

TEST_F(SafetensorsTest, WriterEscapesNamesLikeSerdeJson) {
  const std::vector<std::uint8_t> v = {7};
  const std::string header = safetensors_header({tensor(std::string("q\"\\\n\x01\xC3\xBC", 7), Dtype::U8, {1}, v)});
  EXPECT_THAT(header, HasSubstr(std::string(R"({"q\"\\\n\u0001)") + "\xC3\xBC" + R"(":{"dtype":"U8")"));
}

// ---------------------------------------------------------------------------
// Round trips

TEST_F(SafetensorsTest, RoundTripsEveryDtypeAndShape) {
  struct Case {
    std::string name;
    Dtype dtype;
    std::vector<std::int64_t> shape;
  };
  const std::vector<Case> cases = {
      {"scalar.f32", Dtype::F32, {}},     {"empty.f16", Dtype::F16, {0}},    {"empty.2d", Dtype::I64, {2, 0, 3}},
      {"bool", Dtype::BOOL, {5}},         {"u8", Dtype::U8, {3, 1}},         {"i8", Dtype::I8, {7}},
      {"f8e5m2", Dtype::F8_E5M2, {2, 2}}, {"f8e4m3", Dtype::F8_E4M3, {3}},   {"i16", Dtype::I16, {2, 3}},
      {"u16", Dtype::U16, {1}},           {"f16", Dtype::F16, {4, 1, 2}},    {"bf16", Dtype::BF16, {3, 3}},
      {"i32", Dtype::I32, {2, 2, 2}},     {"u32", Dtype::U32, {5}},          {"f32", Dtype::F32, {3, 4}},
      {"f64", Dtype::F64, {2}},           {"i64", Dtype::I64, {1, 1, 1, 1}}, {"u64", Dtype::U64, {3}},
      {"scalar.u8", Dtype::U8, {}},
  };
  std::vector<std::string> payloads;
  std::vector<TensorToWrite> tensors;
  payloads.reserve(cases.size());
  for (std::size_t c = 0; c < cases.size(); ++c) {
    std::size_t n = dtype_size(cases[c].dtype);
    for (const std::int64_t d : cases[c].shape) n *= static_cast<std::size_t>(d);
    std::string bytes(n, '\0');
    for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>((i * 31 + c * 7 + 1) & 0xFF);
    payloads.push_back(bytes);
    tensors.push_back({cases[c].name, cases[c].dtype, cases[c].shape, payloads.back().data(), n});
  }
  const fs::path path = dir_ / "all.safetensors";
  write_safetensors(path, tensors);

  const SafetensorsFile file = SafetensorsFile::open(path);
  ASSERT_EQ(file.tensors().size(), cases.size());
  for (std::size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE(cases[c].name);
    const TensorInfo* info = file.find(cases[c].name);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->dtype, cases[c].dtype);
    EXPECT_EQ(info->shape, cases[c].shape);
    const ByteView bytes = file.data(*info);
    EXPECT_EQ(as_string(bytes), payloads[c]);
    EXPECT_EQ(info->numel * dtype_size(info->dtype), bytes.size);
    // The writer's order and padding align every tensor to its element size.
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(bytes.data) % dtype_size(info->dtype), 0u);
  }
  // Data order: decreasing element size.
  for (std::size_t i = 1; i < file.tensors().size(); ++i)
    EXPECT_GE(file.tensors()[i - 1].dtype, file.tensors()[i].dtype);
}

TEST_F(SafetensorsTest, RoundTripsMetadata) {
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"quote\"and\\", "new\nline\ttab"}, {"unicode \xC3\xBC", "\xE2\x82\xAC"}, {"", ""}};
  const std::vector<float> v = {1.5f};
  const fs::path path = dir_ / "meta.safetensors";
  write_safetensors(path, {tensor("w", Dtype::F32, {1}, v)}, metadata);
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata(), metadata);
  float f = 0;
  std::memcpy(&f, file.data(file.at("w")).data, 4);
  EXPECT_EQ(f, 1.5f);
}

TEST_F(SafetensorsTest, ReaderAcceptsZeroSizeTensorsAtBoundariesAndUnknownFields) {
  const std::string header = R"({"e0":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                             R"("w":{"dtype":"U8","shape":[4],"data_offsets":[0,4],"extra":{"x":[1]}},)"
                             R"("e1":{"dtype":"F64","shape":[3,0],"data_offsets":[4,4]}})";
  const fs::path path = dir_ / "zero.safetensors";
  write_bytes(path, raw_file(header, "abcd"));
  const SafetensorsFile file = SafetensorsFile::open(path);
  ASSERT_EQ(file.tensors().size(), 3u);
  EXPECT_EQ(file.data(file.at("e0")).size, 0u);
  EXPECT_EQ(file.at("e1").numel, 0u);
  EXPECT_EQ(as_string(file.data(file.at("w"))), "abcd");
}

TEST_F(SafetensorsTest, FileIsMovableNotCopyable) {
  static_assert(!std::is_copy_constructible_v<SafetensorsFile>);
  static_assert(!std::is_copy_assignable_v<SafetensorsFile>);
  static_assert(std::is_nothrow_move_constructible_v<SafetensorsFile>);
  static_assert(std::is_nothrow_move_assignable_v<SafetensorsFile>);
  static_assert(std::is_nothrow_move_constructible_v<ModelWeights>);

  const std::vector<std::int32_t> v = {42, 43};
  write_safetensors(dir_ / "a.safetensors", {tensor("a", Dtype::I32, {2}, v)});
  write_safetensors(dir_ / "b.safetensors", {tensor("b", Dtype::I32, {2}, v)});
  SafetensorsFile a = SafetensorsFile::open(dir_ / "a.safetensors");
  const ByteView before = a.data(a.at("a"));
  SafetensorsFile moved(std::move(a));
  EXPECT_EQ(moved.data(moved.at("a")).data, before.data);  // same mapping
  EXPECT_EQ(as_string(moved.data(moved.at("a"))), bytes_of(v));
  EXPECT_THROW(a.data(moved.at("a")), SafetensorsError);  // NOLINT(bugprone-use-after-move): moved-from is safe

  SafetensorsFile b = SafetensorsFile::open(dir_ / "b.safetensors");
  b = std::move(moved);  // unmaps b's old mapping
  EXPECT_EQ(b.find("b"), nullptr);
  EXPECT_EQ(as_string(b.data(b.at("a"))), bytes_of(v));
}

TEST_F(SafetensorsTest, LookupOfAbsentTensor) {
  const std::vector<std::int32_t> v = {1};
  const fs::path path = dir_ / "a.safetensors";
  write_safetensors(path, {tensor("a", Dtype::I32, {1}, v)});
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.find("b"), nullptr);
  try {
    file.at("b");
    FAIL() << "no error";
  } catch (const SafetensorsError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(path.string()), HasSubstr("no tensor named 'b'")));
  }
}

TEST_F(SafetensorsTest, DataRejectsTensorInfoOutsideTheFile) {
  const std::vector<std::int32_t> v = {1};
  const fs::path path = dir_ / "a.safetensors";
  write_safetensors(path, {tensor("a", Dtype::I32, {1}, v)});
  const SafetensorsFile file = SafetensorsFile::open(path);
  TensorInfo forged = file.at("a");
  forged.data_end = 4096;
  EXPECT_THROW(file.data(forged), SafetensorsError);
  forged.data_begin = 8;
  forged.data_end = 4;
  EXPECT_THROW(file.data(forged), SafetensorsError);
}

// ---------------------------------------------------------------------------
// Writer: validation and atomicity

class WriterRejects : public SafetensorsTest {
 protected:
  // Writes `tensors` over an existing file and returns the error; the old
  // file must survive unchanged and no temporary may be left.
  std::string error(const std::vector<TensorToWrite>& tensors,
                    const std::map<std::string, std::string>& metadata = {}) {
    const fs::path path = dir_ / "model.safetensors";
    write_bytes(path, "old content");
    std::string message;
    try {
      write_safetensors(path, tensors, metadata);
      ADD_FAILURE() << "no error";
    } catch (const SafetensorsError& e) {
      message = e.what();
      EXPECT_THAT(message, HasSubstr(path.string()));
    }
    EXPECT_EQ(read_bytes(path), "old content");
    EXPECT_EQ(directory_listing(dir_), std::vector<std::string>{"model.safetensors"});
    return message;
  }
};

TEST_F(WriterRejects, SizeMismatch) {
  const std::vector<float> v = {1, 2, 3};
  EXPECT_THAT(error({{"w", Dtype::F32, {2, 2}, v.data(), 12}}),
              HasSubstr("tensor 'w': 12 bytes given, but shape [2, 2] of F32 needs 16 bytes"));
}

TEST_F(WriterRejects, NegativeDimension) {
  EXPECT_THAT(error({{"w", Dtype::F32, {2, -1}, nullptr, 0}}), HasSubstr("tensor 'w': shape[1] = -1 is negative"));
}

TEST_F(WriterRejects, ShapeOverflow) {
  const std::int64_t big = std::int64_t{1} << 40;
  EXPECT_THAT(error({{"w", Dtype::U8, {big, big}, nullptr, 0}}), HasSubstr("more elements than fit in 64 bits"));
}

TEST_F(WriterRejects, DuplicateName) {
  const std::vector<float> v = {1};
  EXPECT_THAT(error({tensor("w", Dtype::F32, {1}, v), tensor("w", Dtype::F32, {1}, v)}),
              HasSubstr("tensor 'w': name given twice"));
}

TEST_F(WriterRejects, ReservedName) {
  const std::vector<float> v = {1};
  EXPECT_THAT(error({tensor("__metadata__", Dtype::F32, {1}, v)}), HasSubstr("reserved"));
}

TEST_F(WriterRejects, NullData) {
  EXPECT_THAT(error({{"w", Dtype::F32, {1}, nullptr, 4}}), HasSubstr("tensor 'w': data is null"));
}

TEST_F(WriterRejects, InvalidUtf8) {
  const std::vector<float> v = {1};
  EXPECT_THAT(error({tensor("bad\xFF", Dtype::F32, {1}, v)}), HasSubstr("is not valid UTF-8"));
  EXPECT_THAT(error({tensor("w", Dtype::F32, {1}, v)}, {{"k", "\xC0\x80"}}), HasSubstr("is not valid UTF-8"));
}

TEST_F(SafetensorsTest, WriteReplacesExistingFileAndLeavesNoTemporary) {
  const fs::path path = dir_ / "model.safetensors";
  write_bytes(path, "old content");
  const std::vector<std::int16_t> v = {-1, 2};
  write_safetensors(path, {tensor("w", Dtype::I16, {2}, v)});
  EXPECT_EQ(directory_listing(dir_), std::vector<std::string>{"model.safetensors"});
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(as_string(file.data(file.at("w"))), bytes_of(v));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(SafetensorsTest, WriteIntoReadOnlyDirectoryFailsCleanly) {
  if (::geteuid() == 0)
    GTEST_SKIP() << "root ignores directory permissions; see WriteFailingMidwayLeavesTargetUntouched";
  const fs::path path = dir_ / "model.safetensors";
  write_bytes(path, "old content");
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  const std::vector<float> v = {1};
  try {
    write_safetensors(path, {tensor("w", Dtype::F32, {1}, v)});
    FAIL() << "no error";
  } catch (const SafetensorsError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(path.string()), HasSubstr("creating a temporary file")));
  }
  fs::permissions(dir_, fs::perms::owner_all);
  EXPECT_EQ(read_bytes(path), "old content");
  EXPECT_EQ(directory_listing(dir_), std::vector<std::string>{"model.safetensors"});
}

TEST_F(SafetensorsTest, WriteOverADirectoryFailsAndRemovesTheTemporary) {
  const fs::path path = dir_ / "model.safetensors";
  fs::create_directory(path);
  write_bytes(path / "inside", "keep");
  const std::vector<float> v = {1};
  try {
    write_safetensors(path, {tensor("w", Dtype::F32, {1}, v)});
    FAIL() << "no error";
  } catch (const SafetensorsError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(path.string()), HasSubstr("renaming")));
  }
  EXPECT_EQ(directory_listing(dir_), std::vector<std::string>{"model.safetensors"});
  EXPECT_EQ(read_bytes(path / "inside"), "keep");
}

TEST_F(SafetensorsTest, WriteIntoMissingDirectoryFails) {
  const std::vector<float> v = {1};
  EXPECT_THROW(write_safetensors(dir_ / "no" / "such" / "model.safetensors", {tensor("w", Dtype::F32, {1}, v)}),
               SafetensorsError);
  EXPECT_TRUE(directory_listing(dir_).empty());
}

// A write that fails after part of the data went out (here: the file size
// limit, which applies to root too) must leave the old file and no temporary.
TEST_F(SafetensorsTest, WriteFailingMidwayLeavesTargetUntouched) {
  const fs::path path = dir_ / "model.safetensors";
  write_bytes(path, "old content");
  const std::vector<std::uint8_t> big(1 << 20, 0xAB);

  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit limited = saved;
  limited.rlim_cur = rlim_t{64} * 1024;
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of the signal
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::string message;
  try {
    write_safetensors(path, {tensor("w", Dtype::U8, {1 << 20}, big)});
  } catch (const SafetensorsError& e) {
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_THAT(message, AllOf(HasSubstr(path.string()), HasSubstr("writing the temporary file")));
  EXPECT_EQ(read_bytes(path), "old content");
  EXPECT_EQ(directory_listing(dir_), std::vector<std::string>{"model.safetensors"});
}

// ---------------------------------------------------------------------------
// Malformed files: one test per defect, each asserting the message

TEST_F(SafetensorsTest, RejectsEmptyFile) {
  EXPECT_THAT(open_error(""), HasSubstr("file is empty"));
}

TEST_F(SafetensorsTest, RejectsFileShorterThanEightBytes) {
  EXPECT_THAT(open_error(std::string("\x02\x00\x00", 3)),
              HasSubstr("file is 3 bytes, shorter than the 8-byte header length"));
}

TEST_F(SafetensorsTest, RejectsHeaderLengthPastEndOfFile) {
  EXPECT_THAT(open_error(le64(100) + "{}"), HasSubstr("header length 100 runs past the end of the file: 8 + 100 > 10"));
  EXPECT_THAT(open_error(le64(3) + "{}"), HasSubstr("header length 3 runs past the end of the file: 8 + 3 > 10"));
}

TEST_F(SafetensorsTest, RejectsHugeHeaderLength) {
  EXPECT_THAT(
      open_error(le64(std::uint64_t{1} << 63) + "{}      "),
      HasSubstr("header length 9223372036854775808 exceeds the limit of 100000000 bytes (the file is 16 bytes)"));
  EXPECT_THAT(open_error(le64(~std::uint64_t{0}) + "{}      "),
              HasSubstr("header length 18446744073709551615 exceeds the limit"));
  EXPECT_THAT(open_error(le64(100'000'001) + "{}      "), HasSubstr("header length 100000001 exceeds the limit"));
}

TEST_F(SafetensorsTest, RejectsEmptyHeader) {
  EXPECT_THAT(open_error(le64(0)), HasSubstr("header is empty; it must be a JSON object starting with '{'"));
}

TEST_F(SafetensorsTest, RejectsHeaderThatIsNotJson) {
  EXPECT_THAT(open_error(raw_file("{not json}")), HasSubstr("header is not valid JSON: [json.exception.parse_error"));
  EXPECT_THAT(open_error(raw_file("{}x")), HasSubstr("header is not valid JSON"));
  EXPECT_THAT(open_error(raw_file("{\"a\":1")), HasSubstr("header is not valid JSON"));
  EXPECT_THAT(open_error(raw_file("{} // comment")), HasSubstr("header is not valid JSON"));
}

TEST_F(SafetensorsTest, RejectsHeaderThatIsNotAnObject) {
  EXPECT_THAT(open_error(raw_file("[1, 2]")),
              HasSubstr("header must be a JSON object starting with '{', it starts with byte 91"));
  EXPECT_THAT(open_error(raw_file("  {}")), HasSubstr("it starts with byte 32"));
  EXPECT_THAT(open_error(raw_file("\"{}\"")), HasSubstr("header must be a JSON object starting with '{'"));
}

TEST_F(SafetensorsTest, RejectsHeaderThatIsNotUtf8) {
  EXPECT_THAT(open_error(raw_file("{\"a\xFF\":1}")),
              HasSubstr("header is not valid UTF-8 (byte 255 at header offset 3)"));
  // Overlong encoding of '/', and an encoded surrogate.
  EXPECT_THAT(open_error(raw_file("{\"\xC0\xAF\":1}")), HasSubstr("not valid UTF-8 (byte 192 at header offset 2)"));
  EXPECT_THAT(open_error(raw_file("{\"\xED\xA0\x80\":1}")), HasSubstr("not valid UTF-8 (byte 237 at header offset 2)"));
}

TEST_F(SafetensorsTest, RejectsTensorEntryThatIsNotAnObject) {
  EXPECT_THAT(open_error(raw_file(R"({"w":5})")),
              HasSubstr("tensor 'w': entry is a number, expected an object with dtype, shape and data_offsets"));
}

TEST_F(SafetensorsTest, RejectsEntryMissingDtype) {
  EXPECT_THAT(open_error(raw_file(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", kEightBytes)),
              HasSubstr("tensor 'w': missing 'dtype'"));
}

TEST_F(SafetensorsTest, RejectsEntryMissingShape) {
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", kEightBytes)),
              HasSubstr("tensor 'w': missing 'shape'"));
}

TEST_F(SafetensorsTest, RejectsEntryMissingDataOffsets) {
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[2]}})", kEightBytes)),
              HasSubstr("tensor 'w': missing 'data_offsets'"));
}

TEST_F(SafetensorsTest, RejectsUnknownDtype) {
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F4","shape":[2],"data_offsets":[0,8]}})", kEightBytes)),
              HasSubstr("tensor 'w': unknown dtype \"F4\""));
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})", kEightBytes)),
              HasSubstr("unknown dtype \"f32\""));
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", kEightBytes)),
              HasSubstr("tensor 'w': dtype is a number (4), expected a string"));
}

TEST_F(SafetensorsTest, RejectsNegativeShape) {
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}})", kEightBytes)),
              HasSubstr("tensor 'w': shape[1] = -1 is negative"));
}

TEST_F(SafetensorsTest, RejectsFractionalShape) {
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}})", kEightBytes)),
              HasSubstr("tensor 'w': shape[0] = 1.5 is not an integer"));
  // 2.0 is not an integer in this format either (serde's usize refuses it).
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", kEightBytes)),
              HasSubstr("shape[0] = 2.0 is not an integer"));
  // Beyond uint64: nlohmann reads it as a double.
  EXPECT_THAT(
      open_error(raw_file(R"({"w":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]}})", kEightBytes)),
      HasSubstr("is not an integer (or does not fit in 64 bits)"));
}

TEST_F(SafetensorsTest, RejectsShapeThatIsNotAnArrayOfIntegers) {
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", kEightBytes)),
              HasSubstr("tensor 'w': shape is a number (2), expected an array"));
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", kEightBytes)),
              HasSubstr("tensor 'w': shape[0] is a string (\"2\"), expected a non-negative integer"));
}

TEST_F(SafetensorsTest, RejectsDimensionAboveInt64) {
  // Zero elements, so no byte count is wrong; torch still cannot represent it.
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[0,9223372036854775808],"data_offsets":[0,0]}})")),
              HasSubstr("tensor 'w': shape[1] = 9223372036854775808 is larger than the largest supported dimension "
                        "9223372036854775807"));
}

TEST_F(SafetensorsTest, RejectsShapeProductOverflow) {
  // 2^32 * 2^32 = 2^64 elements wraps to 0, which would match data_offsets [0, 0].
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})")),
              HasSubstr("tensor 'w': shape [4294967296, 4294967296] has more elements than fit in 64 bits"));
  // Elements fit, bytes do not: 2^62 * 4 wraps to 0.
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})")),
              HasSubstr("tensor 'w': shape [4611686018427387904] of F32 has 4611686018427387904 elements, whose byte "
                        "size overflows 64 bits"));
  // A zero dimension after the overflow does not rescue it (as in the reference).
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})")),
              HasSubstr("more elements than fit in 64 bits"));
}

TEST_F(SafetensorsTest, RejectsDataOffsetsPastTheBuffer) {
  EXPECT_THAT(open_error(raw_file(R"({"w":)" + kEntry + "}", "1234")),
              HasSubstr("tensor 'w': data_offsets [0, 8]: end is past the end of the data buffer (4 bytes)"));
  EXPECT_THAT(
      open_error(raw_file(
          R"({"w":{"dtype":"U8","shape":[4],"data_offsets":[18446744073709551612,18446744073709551615]}})", "1234")),
      HasSubstr("data_offsets [18446744073709551612, 18446744073709551615]: end is past the end of the data "
                "buffer (4 bytes)"));
}

TEST_F(SafetensorsTest, RejectsBeginAfterEnd) {
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", kEightBytes)),
              HasSubstr("tensor 'w': data_offsets [8, 0]: begin is after end"));
}

TEST_F(SafetensorsTest, RejectsMalformedDataOffsets) {
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", kEightBytes)),
              HasSubstr("tensor 'w': data_offsets must be [begin, end], got [8]"));
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})", kEightBytes)),
              HasSubstr("data_offsets must be [begin, end], got [0,4,8]"));
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", kEightBytes)),
              HasSubstr("tensor 'w': data_offsets[0] = -8 is negative"));
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]}})", kEightBytes)),
              HasSubstr("tensor 'w': data_offsets[1] = 8.5 is not an integer"));
}

TEST_F(SafetensorsTest, RejectsByteSizeNotMatchingShape) {
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "1234")),
              HasSubstr("tensor 'w': data_offsets [0, 4] span 4 bytes, but shape [2] of F32 needs 8 bytes"));
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[],"data_offsets":[0,8]}})", kEightBytes)),
              HasSubstr("span 8 bytes, but shape [] of F32 needs 4 bytes"));
}

TEST_F(SafetensorsTest, RejectsOverlappingTensors) {
  EXPECT_THAT(open_error(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                  "123456789012")),
              HasSubstr("tensor 'b' at bytes [4, 12) overlaps tensor 'a' at bytes [0, 8)"));
  // Two names for the same bytes.
  EXPECT_THAT(open_error(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                                  kEightBytes)),
              HasSubstr("tensor 'b' at bytes [0, 8) overlaps tensor 'a' at bytes [0, 8)"));
}

TEST_F(SafetensorsTest, RejectsHoleBetweenTensors) {
  EXPECT_THAT(open_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                  R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                  "123456789012")),
              HasSubstr("bytes [4, 8) of the data buffer belong to no tensor (a hole between 'a' and 'b')"));
  EXPECT_THAT(open_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", kEightBytes)),
              HasSubstr("bytes [0, 4) of the data buffer belong to no tensor (a hole before 'a')"));
}

TEST_F(SafetensorsTest, RejectsBytesAfterTheLastTensor) {
  EXPECT_THAT(open_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", kEightBytes)),
              HasSubstr("bytes [4, 8) at the end of the data buffer belong to no tensor"));
  EXPECT_THAT(open_error(raw_file("{}", "x")), HasSubstr("bytes [0, 1) at the end of the data buffer"));
}

TEST_F(SafetensorsTest, RejectsDuplicateTensorNames) {
  // nlohmann (like many parsers) would silently keep the second entry.
  EXPECT_THAT(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                  R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                  kEightBytes)),
              HasSubstr("header: duplicate key 'w'"));
}

TEST_F(SafetensorsTest, RejectsDuplicateKeysInsideEntriesAndMetadata) {
  EXPECT_THAT(
      open_error(raw_file(R"({"w":{"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]}})", kEightBytes)),
      HasSubstr("duplicate key 'dtype' inside 'w'"));
  EXPECT_THAT(open_error(raw_file(R"({"__metadata__":{"a":"1","a":"2"}})")),
              HasSubstr("duplicate key 'a' inside '__metadata__'"));
  EXPECT_THAT(open_error(raw_file(R"({"__metadata__":{},"__metadata__":{}})")),
              HasSubstr("duplicate key '__metadata__'"));
}

TEST_F(SafetensorsTest, RejectsMetadataValueThatIsNotAString) {
  EXPECT_THAT(open_error(raw_file(R"({"__metadata__":{"format":"pt","step":1}})")),
              HasSubstr("__metadata__: value of 'step' is a number (1), expected a string"));
  EXPECT_THAT(open_error(raw_file(R"({"__metadata__":{"x":{"y":"z"}}})")),
              HasSubstr("__metadata__: value of 'x' is a object"));
}

TEST_F(SafetensorsTest, RejectsMetadataThatIsNotAnObject) {
  EXPECT_THAT(open_error(raw_file(R"({"__metadata__":"pt"})")),
              HasSubstr("__metadata__ is a string, expected an object of strings"));
  EXPECT_THAT(open_error(raw_file(R"({"__metadata__":null})")), HasSubstr("__metadata__ is a null"));
}

TEST_F(SafetensorsTest, RejectsDeeplyNestedHeader) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_THAT(open_error(raw_file(R"({"w":{"x":)" + deep + "}}")), HasSubstr("header nests deeper than 64 levels"));
}

TEST_F(SafetensorsTest, MessagesQuoteHostileTextShortened) {
  // An unterminated megabyte string: the parser's message would quote it all.
  const std::string message = open_error(raw_file("{\"" + std::string(1 << 20, 'a')));
  EXPECT_THAT(message, HasSubstr("header is not valid JSON"));
  EXPECT_LT(message.size(), 1000u);
  const std::string long_name(5000, 'n');
  EXPECT_LT(open_error(raw_file("{\"" + long_name + "\":5}")).size(), 1000u);
}

TEST_F(SafetensorsTest, RejectsWhatIsNotARegularFile) {
  EXPECT_THAT(open_error_at(dir_), HasSubstr("not a regular file"));
  EXPECT_THAT(open_error_at(dir_ / "missing.safetensors"), HasSubstr("cannot open: No such file or directory"));
}

// Every truncation and many single-byte corruptions of a valid file either
// open or throw SafetensorsError: never a crash or an out-of-bounds read
// (run under AddressSanitizer).
TEST_F(SafetensorsTest, CorruptedFilesNeverCrash) {
  const std::vector<float> f = {1, 2, 3};
  const std::vector<std::uint16_t> h = {1, 2};
  const fs::path good = dir_ / "good.safetensors";
  write_safetensors(good, {tensor("a", Dtype::F32, {3}, f), tensor("b", Dtype::BF16, {2, 1}, h)}, {{"k", "v"}});
  const std::string bytes = read_bytes(good);
  // Thousands of small rewrites: on tmpfs when there is one (rewriting a file
  // on a disk file system can take milliseconds each).
  const fs::path scratch = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : dir_;
  const fs::path path = scratch / ("safetensors_corrupt_" + std::to_string(::getpid()) + ".safetensors");
  int opened = 0, rejected = 0;
  const auto attempt = [&](const std::string& content) {
    write_bytes(path, content);
    try {
      const SafetensorsFile file = SafetensorsFile::open(path);
      for (const TensorInfo& t : file.tensors()) (void)as_string(file.data(t));
      ++opened;
    } catch (const SafetensorsError&) {
      ++rejected;
    }
  };
  for (std::size_t n = 0; n < bytes.size(); ++n) attempt(bytes.substr(0, n));
  for (std::size_t i = 0; i < bytes.size(); ++i)
    for (const unsigned char c : {0x00, 0x20, 0x22, 0x2C, 0x30, 0x39, 0x5B, 0x7B, 0x7D, 0xFF}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(c);
      attempt(corrupt);
    }
  fs::remove(path);
  EXPECT_GT(rejected, 0);
  EXPECT_GT(opened, 0);  // e.g. corruptions inside the data buffer
}

// ---------------------------------------------------------------------------
// Dtype helpers

TEST(Dtype, SizesAndNames) {
  const std::vector<std::pair<std::string, std::size_t>> expected = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}};
  ASSERT_EQ(all_dtypes().size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const Dtype d = all_dtypes()[i];
    EXPECT_EQ(dtype_name(d), expected[i].first);
    EXPECT_EQ(dtype_size(d), expected[i].second);
    EXPECT_EQ(dtype_from_name(expected[i].first), d);
  }
  EXPECT_EQ(dtype_from_name("f32"), std::nullopt);
  EXPECT_EQ(dtype_from_name("F4"), std::nullopt);
  EXPECT_EQ(dtype_from_name(""), std::nullopt);
}

TEST(Dtype, F16ToFloat) {
  EXPECT_EQ(f16_to_float(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(f16_to_float(0x8000)));
  EXPECT_EQ(f16_to_float(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_float(0xC000), -2.0f);
  EXPECT_EQ(f16_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_float(0x7BFF), 65504.0f);                  // largest finite
  EXPECT_EQ(f16_to_float(0x0400), std::ldexp(1.0f, -14));     // smallest normal
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(f16_to_float(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(f16_to_float(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_float(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16_to_float(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16_to_float(0x7E00)));
  EXPECT_TRUE(std::isnan(f16_to_float(0x7C01)));  // signalling NaN stays NaN
  EXPECT_TRUE(std::isnan(f16_to_float(0xFE00)));
}

TEST(Dtype, F16RoundTripsEveryValue) {
  for (std::uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    const auto h = static_cast<std::uint16_t>(bits);
    const float f = f16_to_float(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(f)))) << std::hex << bits;
      EXPECT_EQ(float_to_f16(f) & 0x8000u, h & 0x8000u) << std::hex << bits;
    } else {
      EXPECT_EQ(float_to_f16(f), h) << std::hex << bits;
    }
  }
}

TEST(Dtype, FloatToF16RoundsToNearestEven) {
  const float ulp1 = std::ldexp(1.0f, -10);              // spacing of halves in [1, 2)
  EXPECT_EQ(float_to_f16(1.0f + ulp1 / 2), 0x3C00);      // tie -> even (down)
  EXPECT_EQ(float_to_f16(1.0f + 3 * ulp1 / 2), 0x3C02);  // tie -> even (up)
  EXPECT_EQ(float_to_f16(std::nextafter(1.0f + ulp1 / 2, 2.0f)), 0x3C01);
  EXPECT_EQ(float_to_f16(65519.0f), 0x7BFF);
  EXPECT_EQ(float_to_f16(65520.0f), 0x7C00);  // tie between 65504 and 2^16 -> even -> inf
  EXPECT_EQ(float_to_f16(1e10f), 0x7C00);
  EXPECT_EQ(float_to_f16(-1e10f), 0xFC00);
  // Subnormals, in units of 2^-24.
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // half a unit: tie -> 0
  EXPECT_EQ(float_to_f16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(float_to_f16(std::ldexp(3.0f, -25)), 0x0002);     // 1.5 units: tie -> 2
  EXPECT_EQ(float_to_f16(std::ldexp(2047.0f, -25)), 0x0400);  // 1023.5 units: rounds into the normals
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(float_to_f16(-std::ldexp(1.0f, -30)), 0x8000);
  EXPECT_EQ(float_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(float_to_f16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(float_to_f16(std::numeric_limits<float>::quiet_NaN()) & 0x7E00, 0x7E00);
}

TEST(Dtype, Bf16Conversions) {
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_float(0xC040), -3.0f);
  EXPECT_EQ(bf16_to_float(0x0001), std::ldexp(1.0f, -133));  // subnormal
  EXPECT_EQ(bf16_to_float(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(bf16_to_float(0x7FC0)));

  const auto from_bits = [](std::uint32_t u) {
    float f = 0;
    std::memcpy(&f, &u, 4);
    return f;
  };
  EXPECT_EQ(float_to_bf16(from_bits(0x3F808000)), 0x3F80);  // tie -> even (down)
  EXPECT_EQ(float_to_bf16(from_bits(0x3F818000)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(float_to_bf16(from_bits(0x3F808001)), 0x3F81);
  EXPECT_EQ(float_to_bf16(from_bits(0x3F807FFF)), 0x3F80);
  EXPECT_EQ(float_to_bf16(from_bits(0x7F7FFFFF)), 0x7F80);  // largest float rounds to inf
  EXPECT_EQ(float_to_bf16(from_bits(0xFF800000)), 0xFF80);
  // A NaN whose payload is only in the dropped bits must stay NaN.
  const std::uint16_t nan = float_to_bf16(from_bits(0x7F800001));
  EXPECT_TRUE(std::isnan(bf16_to_float(nan)));
  EXPECT_EQ(float_to_bf16(from_bits(0xFFC00000)) & 0x8000, 0x8000);

  for (std::uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    const float f = bf16_to_float(static_cast<std::uint16_t>(bits));
    if (!std::isnan(f)) {
      EXPECT_EQ(float_to_bf16(f), bits) << std::hex << bits;
    }
  }
}

// ---------------------------------------------------------------------------
// Sharded checkpoints

TEST_F(SafetensorsTest, ShardedWriteOfASmallModelIsOneFile) {
  const std::vector<float> a = {1, 2};
  const std::vector<std::int64_t> b = {7};
  write_sharded(dir_, {tensor("a", Dtype::F32, {2}, a), tensor("b", Dtype::I64, {1}, b)}, 1000);
  EXPECT_EQ(directory_listing(dir_), std::vector<std::string>{"model.safetensors"});
  const ModelWeights weights = ModelWeights::open(dir_);
  EXPECT_EQ(weights.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(weights.files().size(), 1u);
  EXPECT_EQ(weights.files().front().metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  EXPECT_EQ(as_string(weights.at("a").data()), bytes_of(a));
  EXPECT_EQ(as_string(weights.at("b").data()), bytes_of(b));
  EXPECT_TRUE(weights.index_metadata().is_null());
  EXPECT_FALSE(weights.find("c").has_value());
  try {
    weights.at("c");
    FAIL() << "no error";
  } catch (const SafetensorsError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(dir_.string()), HasSubstr("no tensor named 'c'")));
  }
}

TEST_F(SafetensorsTest, ShardedWriteSplitsLikeTransformers) {
  // Sizes 40, 40, 40, 200, 12 with a 100-byte limit: [t0 t1] fill the first
  // shard, t2 starts the next, t3 is too big and gets a shard of its own at
  // once, t4 joins t2: shards [t0 t1] [t3] [t2 t4].
  const std::vector<float> small(10, 1.0f), big(50, 2.0f), tail(3, 3.0f);
  const std::vector<TensorToWrite> tensors = {tensor("t0", Dtype::F32, {10}, small),
                                              tensor("t1", Dtype::F32, {10}, small),
                                              tensor("t2", Dtype::F32, {2, 5}, small),
                                              tensor("t3", Dtype::F32, {50}, big), tensor("t4", Dtype::F32, {3}, tail)};
  write_sharded(dir_, tensors, 100);
  EXPECT_EQ(directory_listing(dir_),
            (std::vector<std::string>{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                      "model-00003-of-00003.safetensors", "model.safetensors.index.json"}));
  EXPECT_EQ(read_bytes(dir_ / "model.safetensors.index.json"),
            "{\n"
            "  \"metadata\": {\n"
            "    \"total_size\": 332\n"
            "  },\n"
            "  \"weight_map\": {\n"
            "    \"t0\": \"model-00001-of-00003.safetensors\",\n"
            "    \"t1\": \"model-00001-of-00003.safetensors\",\n"
            "    \"t2\": \"model-00003-of-00003.safetensors\",\n"
            "    \"t3\": \"model-00002-of-00003.safetensors\",\n"
            "    \"t4\": \"model-00003-of-00003.safetensors\"\n"
            "  }\n"
            "}\n");

  const ModelWeights weights = ModelWeights::open(dir_);
  EXPECT_EQ(weights.size(), 5u);
  EXPECT_EQ(weights.files().size(), 3u);
  EXPECT_EQ(weights.index_metadata(), (nlohmann::json{{"total_size", 332}}));
  EXPECT_EQ(weights.at("t3").file->path().filename(), "model-00002-of-00003.safetensors");
  EXPECT_EQ(weights.at("t4").file->path().filename(), "model-00003-of-00003.safetensors");
  EXPECT_EQ(weights.at("t2").info->shape, (std::vector<std::int64_t>{2, 5}));
  for (const TensorToWrite& t : tensors)
    EXPECT_EQ(as_string(weights.at(t.name).data()), std::string(static_cast<const char*>(t.data), t.byte_size));

  // Moving keeps every Ref valid.
  ModelWeights moved = ModelWeights::open(dir_);
  const ByteView before = moved.at("t0").data();
  ModelWeights target = std::move(moved);
  EXPECT_EQ(target.at("t0").data().data, before.data);
}

TEST_F(SafetensorsTest, ShardedWriteRemovesStaleWeightFiles) {
  const std::vector<float> v(10, 1.0f);
  const std::vector<TensorToWrite> tensors = {tensor("a", Dtype::F32, {10}, v), tensor("b", Dtype::F32, {10}, v),
                                              tensor("c", Dtype::F32, {10}, v)};
  write_bytes(dir_ / "config.json", "{}");
  write_sharded(dir_, tensors, 1000);
  write_sharded(dir_, tensors, 40);  // 3 shards: model.safetensors must go, or it would win
  EXPECT_EQ(
      directory_listing(dir_),
      (std::vector<std::string>{"config.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                "model-00003-of-00003.safetensors", "model.safetensors.index.json"}));
  write_sharded(dir_, tensors, 80);  // 2 shards
  EXPECT_EQ(directory_listing(dir_),
            (std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                      "model-00002-of-00002.safetensors", "model.safetensors.index.json"}));
  EXPECT_EQ(ModelWeights::open(dir_).size(), 3u);
  write_sharded(dir_, tensors, 1000);
  EXPECT_EQ(directory_listing(dir_), (std::vector<std::string>{"config.json", "model.safetensors"}));
}

TEST_F(SafetensorsTest, ShardedWriteRefusesDuplicatesBeforeWriting) {
  const std::vector<float> v = {1};
  EXPECT_THROW(write_sharded(dir_ / "out", {tensor("a", Dtype::F32, {1}, v), tensor("a", Dtype::F32, {1}, v)}, 1),
               SafetensorsError);
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(SafetensorsTest, SingleFileWinsOverIndex) {
  const std::vector<float> v = {1};
  write_safetensors(dir_ / "model.safetensors", {tensor("single", Dtype::F32, {1}, v)});
  write_bytes(dir_ / "model.safetensors.index.json", "not even json");
  EXPECT_EQ(ModelWeights::open(dir_).names(), std::vector<std::string>{"single"});
}

// Shards for the index tests: s1 holds a and b, s2 holds c.
class ShardedIndex : public SafetensorsTest {
 protected:
  void SetUp() override {
    SafetensorsTest::SetUp();
    write_safetensors(dir_ / "s1.safetensors", {tensor("a", Dtype::F32, {2}, v_), tensor("b", Dtype::F32, {2}, v_)});
    write_safetensors(dir_ / "s2.safetensors", {tensor("c", Dtype::F32, {2}, v_)});
  }
  void write_index(const std::string& text) { write_bytes(dir_ / "model.safetensors.index.json", text); }
  std::string index_path() const { return (dir_ / "model.safetensors.index.json").string(); }

  const std::vector<float> v_ = {1, 2};
};

TEST_F(ShardedIndex, OpensEachShardOnce) {
  write_index(R"({"metadata":{"total_size":24},)"
              R"("weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors"}})");
  const ModelWeights weights = ModelWeights::open(dir_);
  EXPECT_EQ(weights.files().size(), 2u);
  EXPECT_EQ(weights.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(weights.at("a").file, weights.at("b").file);
  EXPECT_EQ(weights.at("c").file->path(), dir_ / "s2.safetensors");
  EXPECT_EQ(as_string(weights.at("c").data()), bytes_of(v_));
}

TEST_F(ShardedIndex, RejectsMissingShard) {
  write_index(R"({"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s3.safetensors"}})");
  EXPECT_THAT(weights_error(), AllOf(HasSubstr(index_path()), HasSubstr("shard 's3.safetensors' (holding tensor 'c') "
                                                                        "does not exist")));
}

TEST_F(ShardedIndex, RejectsPathTraversal) {
  // The escaping file exists, so only the name check can stop it.
  const fs::path outside = dir_.parent_path() / (dir_.filename().string() + "-outside.safetensors");
  write_safetensors(outside, {tensor("c", Dtype::F32, {2}, v_)});
  const std::string escape = "../" + outside.filename().string();
  for (const std::string& shard : {escape, std::string("/etc/passwd"), std::string("sub/s2.safetensors"),
                                   std::string(".."), std::string("sub\\\\s2.safetensors"), std::string("")}) {
    SCOPED_TRACE(shard);
    write_index(R"({"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":")" + shard + R"("}})");
    EXPECT_THAT(weights_error(), AllOf(HasSubstr(index_path()), HasSubstr("of tensor 'c' is not a plain file name "
                                                                          "inside the checkpoint directory")));
  }
  fs::remove(outside);
}

TEST_F(ShardedIndex, RejectsTensorMissingFromItsShard) {
  write_index(R"({"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors",)"
              R"("d":"s2.safetensors"}})");
  EXPECT_THAT(weights_error(),
              AllOf(HasSubstr(index_path()), HasSubstr("weight_map puts tensor 'd' in shard "
                                                       "'s2.safetensors', which does not contain it")));
}

TEST_F(ShardedIndex, RejectsTensorInTheWrongShard) {
  write_index(R"({"weight_map":{"a":"s2.safetensors","b":"s1.safetensors","c":"s2.safetensors"}})");
  EXPECT_THAT(weights_error(), HasSubstr("weight_map puts tensor 'a' in shard 's2.safetensors', but it is in "
                                         "'s1.safetensors'"));
}

TEST_F(ShardedIndex, RejectsTensorInTwoShards) {
  write_safetensors(dir_ / "s2.safetensors", {tensor("c", Dtype::F32, {2}, v_), tensor("a", Dtype::F32, {2}, v_)});
  write_index(R"({"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors"}})");
  EXPECT_THAT(weights_error(), HasSubstr("tensor 'a' is in two shards: 's1.safetensors' and 's2.safetensors'"));
}

TEST_F(ShardedIndex, RejectsDuplicateWeightMapKeys) {
  write_index(R"({"weight_map":{"a":"s1.safetensors","a":"s2.safetensors"}})");
  EXPECT_THAT(weights_error(), AllOf(HasSubstr(index_path()), HasSubstr("duplicate key 'a' inside 'weight_map'")));
}

TEST_F(ShardedIndex, RejectsMalformedIndex) {
  write_index("{");
  EXPECT_THAT(weights_error(), HasSubstr("index is not valid JSON"));
  write_index("[]");
  EXPECT_THAT(weights_error(), HasSubstr("index is a JSON array, expected an object"));
  write_index(R"({"metadata":{}})");
  EXPECT_THAT(weights_error(), HasSubstr("missing \"weight_map\""));
  write_index(R"({"weight_map":[]})");
  EXPECT_THAT(weights_error(), HasSubstr("\"weight_map\" is a array, expected an object"));
  write_index(R"({"weight_map":{"a":1}})");
  EXPECT_THAT(weights_error(), HasSubstr("weight_map: shard of tensor 'a' is a number (1), expected a file name"));
  write_index(R"({"metadata":"x","weight_map":{}})");
  EXPECT_THAT(weights_error(), HasSubstr("\"metadata\" is a string, expected an object"));
}

TEST_F(ShardedIndex, ReportsAnInvalidShardByItsPath) {
  write_bytes(dir_ / "s2.safetensors", le64(100));
  write_index(R"({"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors"}})");
  EXPECT_THAT(weights_error(), AllOf(HasSubstr((dir_ / "s2.safetensors").string()),
                                     HasSubstr("header length 100 runs past the end of the file")));
}

TEST_F(SafetensorsTest, RejectsDirectoryWithoutWeights) {
  EXPECT_THAT(weights_error(), HasSubstr("no model.safetensors and no model.safetensors.index.json in the directory"));
  try {
    (void)ModelWeights::open(dir_ / "missing");
    FAIL() << "no error";
  } catch (const SafetensorsError& e) {
    EXPECT_THAT(e.what(), HasSubstr("not a directory"));
  }
}

}  // namespace
}  // namespace genius::llama
