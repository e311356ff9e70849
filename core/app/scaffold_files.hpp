// The project templates of `genius new-plugin`, embedded at build time from
// core/app/scaffold/ by cmake/EmbedScaffold.cmake (see core/app/scaffold/README.md).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace genius::cli {

/// Path under core/app/scaffold/ ("loss/plugin.cpp") -> the file's content.
const std::map<std::string, std::string_view>& scaffold_files();

}  // namespace genius::cli
