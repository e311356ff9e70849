#!/usr/bin/env bash
# Renew sdk/contract.lock after a change to the SDK contract headers
# (docs/plugins.md#the-contract-and-its-lock).
#   scripts/update-contract-lock.sh              after bumping GENIUS_SDK_ABI_VERSION
#   scripts/update-contract-lock.sh --same-abi   for a change that alters no layout,
#                                                vtable or meaning (comments, wording)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
same=OFF
[[ "${1:-}" == "--same-abi" ]] && same=ON
exec cmake -DSDK="$PWD/sdk" -DUPDATE=ON -DSAME_ABI=$same -P cmake/ContractLock.cmake
