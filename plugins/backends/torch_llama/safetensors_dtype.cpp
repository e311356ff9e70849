// Dtypes of the format: the table of names and sizes, and the F16 / BF16
// conversions.
#include <cmath>
#include <cstring>

#include "safetensors_internal.hpp"

namespace genius::llama {
namespace safetensors_detail {
namespace {

std::uint32_t float_bits(float f) {
  std::uint32_t u = 0;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float bits_float(std::uint32_t u) {
  float f = 0;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

constexpr DtypeEntry kDtypes[] = {
    {Dtype::BOOL, "BOOL", 1},       {Dtype::U8, "U8", 1},   {Dtype::I8, "I8", 1},   {Dtype::F8_E5M2, "F8_E5M2", 1},
    {Dtype::F8_E4M3, "F8_E4M3", 1}, {Dtype::I16, "I16", 2}, {Dtype::U16, "U16", 2}, {Dtype::F16, "F16", 2},
    {Dtype::BF16, "BF16", 2},       {Dtype::I32, "I32", 4}, {Dtype::U32, "U32", 4}, {Dtype::F32, "F32", 4},
    {Dtype::F64, "F64", 8},         {Dtype::I64, "I64", 8}, {Dtype::U64, "U64", 8},
};

}  // namespace

const DtypeEntry& entry(Dtype dtype) {
  const auto i = static_cast<std::size_t>(dtype);
  if (i >= std::size(kDtypes)) throw SafetensorsError("invalid Dtype value " + std::to_string(i));
  return kDtypes[i];
}

}  // namespace safetensors_detail

using namespace safetensors_detail;

// ---------------------------------------------------------------------------
// Dtypes

const std::vector<Dtype>& all_dtypes() {
  static const std::vector<Dtype> all = [] {
    std::vector<Dtype> v;
    for (const DtypeEntry& e : kDtypes) v.push_back(e.dtype);
    return v;
  }();
  return all;
}

std::size_t dtype_size(Dtype dtype) {
  return entry(dtype).size;
}

std::string_view dtype_name(Dtype dtype) {
  return entry(dtype).name;
}

std::optional<Dtype> dtype_from_name(std::string_view name) {
  for (const DtypeEntry& e : kDtypes)
    if (e.name == name) return e.dtype;
  return std::nullopt;
}

// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
//   normal:    (-1)^s * 2^(e-15) * 1.m
//   subnormal: (-1)^s * 2^-14    * 0.m   = (-1)^s * m * 2^-24
float f16_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exp = (bits >> 10) & 0x1Fu;
  const std::uint32_t mant = bits & 0x3FFu;
  if (exp == 0) {
    const float magnitude = std::ldexp(static_cast<float>(mant), -24);  // exact: mant < 2^10
    return sign ? -magnitude : magnitude;
  }
  if (exp == 0x1F) return bits_float(sign | 0x7F800000u | (mant << 13));  // inf, or NaN with its payload
  return bits_float(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

std::uint16_t float_to_f16(float value) {
  const std::uint32_t u = float_bits(value);
  const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t exp = (u >> 23) & 0xFFu;
  const std::uint32_t mant = u & 0x7FFFFFu;
  if (exp == 0xFF) {  // inf, or NaN: keep the top payload bits and force quiet
    if (mant == 0) return static_cast<std::uint16_t>(sign | 0x7C00u);
    return static_cast<std::uint16_t>(sign | 0x7E00u | (mant >> 13));
  }
  // Work on the magnitude as an integer in units of 2^-24 (the smallest f16
  // subnormal) plus a remainder, rounding to nearest even once.
  const int e = static_cast<int>(exp) - 127;                      // unbiased exponent (normal floats)
  if (e > 15) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 2^16: past the largest finite half
  if (e >= -14) {
    // Normal half: drop 13 mantissa bits with round-to-nearest-even; a carry
    // into the exponent is correct (it may reach inf = 0x7C00).
    std::uint32_t h = (static_cast<std::uint32_t>(e + 15) << 10) | (mant >> 13);
    const std::uint32_t rest = mant & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
  }
  // Subnormal half (or zero): value = 1.mant * 2^e = full * 2^(e-23), with the
  // implicit bit in `full`; in units of 2^-24 that is full >> (-e - 1).
  if (exp == 0 || e < -25) return sign;  // below half the smallest subnormal: rounds to 0
  const std::uint32_t full = mant | 0x800000u;
  const int shift = -e - 1;  // 14..24
  std::uint32_t h = full >> shift;
  const std::uint32_t rest = full & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (h & 1u))) ++h;  // may carry into the smallest normal: correct
  return static_cast<std::uint16_t>(sign | h);
}

float bf16_to_float(std::uint16_t bits) {
  return bits_float(static_cast<std::uint32_t>(bits) << 16);
}

// Round to nearest even on the dropped 16 bits: add 0x7FFF plus the lowest
// kept bit, then truncate. Overflow of the largest finite values rounds to inf.
std::uint16_t float_to_bf16(float value) {
  const std::uint32_t u = float_bits(value);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  const std::uint32_t rounded = u + 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(rounded >> 16);
}

}  // namespace genius::llama
