// Directories that appear whole or not at all: a model or checkpoint is
// written into a staging directory, flushed to disk, then renamed into place.
#pragma once

#include <filesystem>

namespace genius::core {

/// fsync one file or directory.
void fsync_path(const std::filesystem::path& path, bool directory);

/// Flush every file and directory under `root` (and `root`) to disk, so that
/// the rename that publishes it never exposes unwritten data.
void fsync_tree(const std::filesystem::path& root);

/// Remove a directory by first renaming it to the hidden ".<name>.old" beside
/// it: a directory under its real name is then always complete, even if a
/// crash stops the removal halfway.
void retire_directory(const std::filesystem::path& dir);

/// Publish the complete directory `staging` as `target` (same file system):
/// flush it, move an existing `target` aside to ".<name>.old", rename
/// `staging` into place, flush the parent, then remove the old one. A crash
/// at any point leaves `target` either the old or the new directory, whole,
/// or (between the two renames) absent with both kept beside it.
void replace_directory(const std::filesystem::path& staging, const std::filesystem::path& target);

}  // namespace genius::core
