// Checks of a plugin library file made before the system loader maps it: a
// truncated or damaged ELF file would otherwise crash the process (SIGBUS when
// the loader touches a page beyond the end of the file) instead of being
// reported.
#pragma once

#include <filesystem>
#include <string>

namespace genius::core {

/// "" when `file` is an ELF shared object whose headers and loadable segments
/// lie within the file; otherwise why it cannot be loaded ("truncated: ...",
/// "not an ELF file", ...).
std::string library_file_problem(const std::filesystem::path& file);

/// The system loader's reason in a Boost.DLL load error ("boost::dll::...
/// failed (dlerror system message: REASON): ..." -> REASON).
std::string loader_reason(const std::string& boost_message);

}  // namespace genius::core
