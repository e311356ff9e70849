// Tests of the safetensors reader/writer (plugins/backends/torch_llama/safetensors.hpp):
// byte layout against hand-written bytes, round trips, atomic writes and the
// F16/BF16 conversions. Malformed files are tested in
// safetensors_malformed_test.cpp, sharded checkpoints in
// safetensors_sharded_test.cpp.
#include "safetensors.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "safetensors_test_util.hpp"

namespace genius::llama::safetensors_test {
namespace {

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

}  // namespace
}  // namespace genius::llama::safetensors_test
