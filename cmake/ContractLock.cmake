# The SDK contract lock (sdk/contract.lock): the headers that form the binary
# contract between host and plugins, each with its SHA-256, and the
# GENIUS_SDK_ABI_VERSION they were locked under.
#
#   cmake -DSDK=<repo>/sdk -P cmake/ContractLock.cmake              check (a ctest test)
#   cmake -DSDK=<repo>/sdk -DUPDATE=ON -P cmake/ContractLock.cmake   renew the lock
#   cmake -DSDK=<repo>/sdk -DUPDATE=ON -DSAME_ABI=ON -P ...          renew it for a change
#                                                                    that alters no layout,
#                                                                    vtable or meaning (comments)
#
# The check fails when a contract header differs from the lock, when the ABI
# version differs from the lock, or when sdk/include/genius holds a header
# that is neither in the contract nor a listed forwarding header. Renewing
# refuses a changed contract under an unchanged ABI version unless SAME_ABI.
cmake_minimum_required(VERSION 3.16)
set(lock_file "${SDK}/contract.lock")
set(include_dir "${SDK}/include/genius")

file(READ "${include_dir}/abi.hpp" abi_text)
string(REGEX MATCH "#define GENIUS_SDK_ABI_VERSION ([0-9]+)" _ "${abi_text}")
set(abi "${CMAKE_MATCH_1}")

file(STRINGS "${lock_file}" lines)
set(locked_abi "")
set(contract "")
set(forwarding "")
set(locked_hashes "")
foreach(line IN LISTS lines)
  if(line MATCHES "^#" OR line STREQUAL "")
    continue()
  elseif(line MATCHES "^abi ([0-9]+)$")
    set(locked_abi "${CMAKE_MATCH_1}")
  elseif(line MATCHES "^contract ([a-z_]+\\.hpp) ([0-9a-f]+)$")
    list(APPEND contract "${CMAKE_MATCH_1}")
    list(APPEND locked_hashes "${CMAKE_MATCH_1}=${CMAKE_MATCH_2}")
  elseif(line MATCHES "^forwarding ([a-z_]+\\.hpp)$")
    list(APPEND forwarding "${CMAKE_MATCH_1}")
  else()
    message(FATAL_ERROR "${lock_file}: cannot read the line '${line}'")
  endif()
endforeach()

set(changed "")
set(hash_lines "")
foreach(header IN LISTS contract)
  if(NOT EXISTS "${include_dir}/${header}")
    message(FATAL_ERROR "contract header genius/${header} (listed in ${lock_file}) is missing")
  endif()
  file(SHA256 "${include_dir}/${header}" hash)
  string(APPEND hash_lines "contract ${header} ${hash}\n")
  if(NOT "${header}=${hash}" IN_LIST locked_hashes)
    list(APPEND changed "${header}")
  endif()
endforeach()

file(GLOB headers RELATIVE "${include_dir}" "${include_dir}/*.hpp")
foreach(header IN LISTS headers)
  if(NOT header IN_LIST contract AND NOT header IN_LIST forwarding AND NOT header STREQUAL "sdk.hpp")
    message(FATAL_ERROR "genius/${header} is new: add it to the contract in ${lock_file} (and bump "
                        "GENIUS_SDK_ABI_VERSION), or make it a helper in genius/helpers/")
  endif()
endforeach()

if(UPDATE)
  if(changed AND abi STREQUAL locked_abi AND NOT SAME_ABI)
    message(FATAL_ERROR "contract headers changed (${changed}) but GENIUS_SDK_ABI_VERSION is still ${abi}: bump it "
                        "in abi.hpp (with a line in its history), or pass --same-abi for a change that alters no "
                        "layout, vtable or meaning")
  endif()
  set(out "# The SDK contract (docs/plugins.md#the-contract-and-its-lock): the headers of sdk/include/genius that\n")
  string(APPEND out "# host and plugins must agree on, locked under an ABI version. Renew with\n")
  string(APPEND out "# scripts/update-contract-lock.sh after bumping GENIUS_SDK_ABI_VERSION.\n")
  string(APPEND out "abi ${abi}\n${hash_lines}")
  foreach(header IN LISTS forwarding)
    string(APPEND out "forwarding ${header}\n")
  endforeach()
  file(WRITE "${lock_file}" "${out}")
  message(STATUS "locked the SDK contract at ABI ${abi}")
  return()
endif()

if(NOT abi STREQUAL locked_abi)
  message(FATAL_ERROR "GENIUS_SDK_ABI_VERSION is ${abi} but ${lock_file} was locked at ${locked_abi}: run "
                      "scripts/update-contract-lock.sh")
endif()
if(changed)
  message(FATAL_ERROR "the SDK contract changed (${changed}) without a new ABI version: bump GENIUS_SDK_ABI_VERSION "
                      "in abi.hpp (with a line in its history) and run scripts/update-contract-lock.sh; a change that "
                      "alters no layout, vtable or meaning: scripts/update-contract-lock.sh --same-abi")
endif()
message(STATUS "SDK contract matches its lock (ABI ${abi})")
