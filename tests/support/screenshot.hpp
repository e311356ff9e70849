// Headless Chromium screenshots of a page, decoded from PNG, and colour
// counts in them: how the report tests see what a browser draws. Needs zlib
// and GENIUS_CHROMIUM (tests/core/report_chromium_test.sh sets it).
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <genius/helpers/atomic_file.hpp>

namespace genius::test {

namespace fs = std::filesystem;

// An 8-bit RGB or RGBA, non-interlaced PNG decoded to RGB.
struct Image {
  int width = 0, height = 0;
  std::vector<std::array<std::uint8_t, 3>> pixels;  // row-major
};

inline std::uint32_t be32(const std::string& s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s[at])) << 24) | (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

inline Image decode_png(const std::string& file) {
  if (file.size() < 8 || file.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) throw std::runtime_error("not a PNG file");
  Image image;
  int channels = 0;
  std::string compressed;
  for (std::size_t at = 8; at + 8 <= file.size();) {
    const std::uint32_t length = be32(file, at);
    const std::string type = file.substr(at + 4, 4);
    if (at + 12 + length > file.size()) throw std::runtime_error("truncated PNG chunk " + type);
    const std::string data = file.substr(at + 8, length);
    if (type == "IHDR") {
      image.width = static_cast<int>(be32(data, 0));
      image.height = static_cast<int>(be32(data, 4));
      const int depth = data[8], colour_type = data[9], interlace = data[12];
      if (depth != 8 || (colour_type != 2 && colour_type != 6) || interlace != 0)
        throw std::runtime_error("unsupported PNG: only 8-bit RGB/RGBA, not interlaced");
      channels = colour_type == 2 ? 3 : 4;
    } else if (type == "IDAT") {
      compressed += data;
    } else if (type == "IEND") {
      break;
    }
    at += 12 + length;
  }
  const std::size_t stride = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(channels);
  std::vector<std::uint8_t> raw((stride + 1) * static_cast<std::size_t>(image.height));
  uLongf raw_size = static_cast<uLongf>(raw.size());
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(compressed.data()),
                 static_cast<uLong>(compressed.size())) != Z_OK ||
      raw_size != raw.size())
    throw std::runtime_error("PNG image data does not inflate to the expected size");

  // Undo the per-row filters (PNG spec §9) in place; `bpp` = bytes per pixel.
  const std::size_t bpp = static_cast<std::size_t>(channels);
  std::vector<std::uint8_t> previous(stride, 0), row(stride);
  image.pixels.reserve(static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height));
  for (int y = 0; y < image.height; ++y) {
    const std::uint8_t* in = raw.data() + static_cast<std::size_t>(y) * (stride + 1);
    const int filter = in[0];
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= bpp ? row[i - bpp] : 0, b = previous[i], c = i >= bpp ? previous[i - bpp] : 0;
      int predicted = 0;
      switch (filter) {
        case 0:
          predicted = 0;
          break;
        case 1:
          predicted = a;
          break;
        case 2:
          predicted = b;
          break;
        case 3:
          predicted = (a + b) / 2;
          break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw std::runtime_error("bad PNG filter type " + std::to_string(filter));
      }
      row[i] = static_cast<std::uint8_t>(in[1 + i] + predicted);
    }
    for (std::size_t x = 0; x < stride; x += bpp) image.pixels.push_back({row[x], row[x + 1], row[x + 2]});
    previous.swap(row);
  }
  return image;
}

struct ColourStats {
  std::size_t pixels = 0;
  double mean_y = 0;
};

// Pixels within a small distance of `hex` ("#1f77b4"), and their mean row.
inline ColourStats find_colour(const Image& image, const std::string& hex) {
  const int r = std::stoi(hex.substr(1, 2), nullptr, 16), g = std::stoi(hex.substr(3, 2), nullptr, 16),
            b = std::stoi(hex.substr(5, 2), nullptr, 16);
  ColourStats stats;
  double y_sum = 0;
  for (std::size_t i = 0; i < image.pixels.size(); ++i) {
    const auto& p = image.pixels[i];
    if (std::abs(p[0] - r) <= 6 && std::abs(p[1] - g) <= 6 && std::abs(p[2] - b) <= 6) {
      ++stats.pixels;
      y_sum += static_cast<double>(i / static_cast<std::size_t>(image.width));
    }
  }
  if (stats.pixels) stats.mean_y = y_sum / static_cast<double>(stats.pixels);
  return stats;
}

/// `html` as headless Chromium draws it in a 1200 x 2000 window; the files
/// stay in <tmp>/genius_screenshot_<pid>/<name> for a look afterwards.
inline Image screenshot(const std::string& html, const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("genius_screenshot_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir / "profile");
  genius::write_file_atomic(dir / "report.html", html);
  const std::string command =
      std::string("'") + std::getenv("GENIUS_CHROMIUM") +
      "' --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
      " --disable-component-update --disable-sync --hide-scrollbars --force-device-scale-factor=1"
      " --user-data-dir='" +
      (dir / "profile").string() + "' --screenshot='" + (dir / "shot.png").string() +
      "' --window-size=1200,2000 'file://" + (dir / "report.html").string() + "' >'" + (dir / "chromium.log").string() +
      "' 2>&1";
  if (std::system(command.c_str()) != 0 || !fs::exists(dir / "shot.png"))
    throw std::runtime_error("chromium failed; see " + (dir / "chromium.log").string() + "\n" + command);
  std::cout << "screenshot: " << (dir / "shot.png").string() << "\n";
  return decode_png(genius::read_file(dir / "shot.png"));
}

}  // namespace genius::test
