// Process exit codes of the `genius` executable (documented in README.md and docs/cli.md).
#pragma once

namespace genius::core {

enum ExitCode : int {
  kExitOk = 0,          ///< success
  kExitRunFailed = 1,   ///< the run (or check) ran and failed
  kExitUsageError = 2,  ///< bad command line, config or plugin set-up; nothing was run
};

}  // namespace genius::core
