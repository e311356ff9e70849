#include "plugins/library_file.hpp"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <vector>

namespace genius::core {

namespace fs = std::filesystem;

namespace {

// The headers of one ELF class (Elf64_* or Elf32_*), checked against the file size.
template <class Ehdr, class Phdr>
std::string check_headers(std::ifstream& in, std::uint64_t size) {
  Ehdr h{};
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(&h), sizeof h)) return "truncated: shorter than an ELF header";
  if (h.e_type != ET_DYN) return "not a shared library (ELF type " + std::to_string(h.e_type) + ")";
  auto beyond = [&](std::uint64_t offset, std::uint64_t count, std::uint64_t entry) {
    return offset > size || count * entry > size - offset;
  };
  auto truncated = [&](const std::string& what, std::uint64_t end) {
    return "truncated: the file is " + std::to_string(size) + " bytes, its " + what + " end at byte " +
           std::to_string(end);
  };
  if (h.e_phentsize != sizeof(Phdr) || h.e_phnum == 0) return "damaged: no valid program headers";
  if (beyond(h.e_phoff, h.e_phnum, h.e_phentsize))
    return truncated("program headers", h.e_phoff + std::uint64_t{h.e_phnum} * h.e_phentsize);
  if (h.e_shoff != 0 && beyond(h.e_shoff, h.e_shnum, h.e_shentsize))
    return truncated("section headers", h.e_shoff + std::uint64_t{h.e_shnum} * h.e_shentsize);
  std::vector<Phdr> segments(h.e_phnum);
  in.seekg(static_cast<std::streamoff>(h.e_phoff));
  if (!in.read(reinterpret_cast<char*>(segments.data()), static_cast<std::streamsize>(segments.size() * sizeof(Phdr))))
    return "cannot read its program headers";
  for (const Phdr& p : segments)
    if (p.p_type == PT_LOAD && beyond(p.p_offset, 1, p.p_filesz))
      return truncated("loadable segments", p.p_offset + p.p_filesz);
  return "";
}

}  // namespace

std::string library_file_problem(const fs::path& file) {
  std::error_code ec;
  const std::uint64_t size = fs::file_size(file, ec);
  if (ec) return "cannot read it (" + ec.message() + ")";
  std::ifstream in(file, std::ios::binary);
  unsigned char ident[EI_NIDENT] = {};
  if (!in || !in.read(reinterpret_cast<char*>(ident), EI_NIDENT)) return "truncated: shorter than an ELF header";
  if (std::memcmp(ident, ELFMAG, SELFMAG) != 0) return "not an ELF shared library";
  if (ident[EI_CLASS] == ELFCLASS64) return check_headers<Elf64_Ehdr, Elf64_Phdr>(in, size);
  if (ident[EI_CLASS] == ELFCLASS32) return check_headers<Elf32_Ehdr, Elf32_Phdr>(in, size);
  return "damaged: unknown ELF class";
}

std::string loader_reason(const std::string& message) {
  const std::string marker = "dlerror system message: ";
  const auto begin = message.find(marker);
  if (begin == std::string::npos) return message;
  const auto start = begin + marker.size();
  const auto end = message.rfind("):");
  return message.substr(start, end != std::string::npos && end > start ? end - start : std::string::npos);
}

}  // namespace genius::core
