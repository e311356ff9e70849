// Tests of the safetensors reader (plugins/backends/torch_llama/safetensors.hpp)
// on malformed files: every class of defect (one test each, asserting the
// message), and corrupted files that must never crash the reader.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "safetensors.hpp"
#include "safetensors_test_util.hpp"

namespace genius::llama::safetensors_test {
namespace {

// ---------------------------------------------------------------------------
// Malformed files: one test per defect, each asserting the message

// One well-formed tensor entry, for the malformed-header tests.
const std::string kEntry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
const std::string kEightBytes(8, '\x01');

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
  EXPECT_THAT(open_error(raw_file("{not json}")), HasSubstr("header is not valid JSON: parse error at line 1"));
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

}  // namespace
}  // namespace genius::llama::safetensors_test
