// genius launch --nproc N [--master-addr A] [--master-port P] [--grace-seconds S] -- COMMAND [ARGS]...
//
// Starts N local ranks of `genius COMMAND ARGS` with the variables torchrun
// sets (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT), for users without torchrun. When a rank fails, the others
// are given --grace-seconds to stop on their own (they name the failed rank),
// then terminated; the exit code is the first failed rank's.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.hpp"

namespace genius::cli {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void on_signal(int signal) {
  g_interrupted = signal;
}

// A TCP port free on this machine now (the kernel's choice), as torchrun's
// --standalone picks one.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 29500;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 29500;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = ::strsignal(sig);
    return "was killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
  }
  return "stopped (status " + std::to_string(status) + ")";
}

struct Rank {
  pid_t pid = -1;
  bool running = false;
  int status = 0;
};

pid_t start_rank(int rank, int nproc, const std::string& addr, int port, const Args& command) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::setenv("RANK", std::to_string(rank).c_str(), 1);
  ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
  ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
  ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
  ::setenv("MASTER_ADDR", addr.c_str(), 1);
  ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
  ::setenv("OMP_NUM_THREADS", "1", 0);  // as torchrun: one thread per rank unless set
  std::vector<std::string> argv_text = {"genius"};
  argv_text.insert(argv_text.end(), command.begin(), command.end());
  std::vector<char*> argv;
  for (std::string& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv("/proc/self/exe", argv.data());
  std::fprintf(stderr, "genius launch: cannot start rank %d: %s\n", rank, std::strerror(errno));
  ::_exit(127);
}

void signal_all(std::vector<Rank>& ranks, int signal) {
  for (Rank& r : ranks)
    if (r.running) ::kill(r.pid, signal);
}

// Reap finished ranks without blocking; returns how many are still running.
int reap(std::vector<Rank>& ranks, int& first_failed) {
  int running = 0;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    Rank& r = ranks[i];
    if (!r.running) continue;
    int status = 0;
    if (::waitpid(r.pid, &status, WNOHANG) == r.pid) {
      r.running = false;
      r.status = status;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && first_failed < 0) {
        first_failed = static_cast<int>(i);
        std::fprintf(stderr, "genius launch: rank %zu (pid %d) %s\n", i, static_cast<int>(r.pid),
                     describe_status(status).c_str());
      }
    } else {
      ++running;
    }
  }
  return running;
}

}  // namespace

int launch_command(const Args& args) {
  const auto dashes = std::find(args.begin(), args.end(), "--");
  const Args own(args.begin(), dashes);
  const Args command = dashes == args.end() ? Args{} : Args(dashes + 1, args.end());
  po::options_description options("Options");
  options.add_options()("nproc", po::value<int>()->value_name("N"), "ranks to start on this machine")(
      "master-addr", po::value<std::string>()->default_value("127.0.0.1"), "address of rank 0's rendezvous store")(
      "master-port", po::value<int>()->value_name("PORT"), "its port (default: a free one)")(
      "grace-seconds", po::value<double>()->default_value(45.0),
      "after a rank fails, how long the others may take to stop on their own before they are terminated");
  const Parsed vm = parse("launch", "--nproc N [--master-port PORT] -- COMMAND [ARGS]...", own, options,
                          [&](const po::variables_map& given) {
                            if (!given.count("nproc")) throw po::error("missing --nproc N");
                            check_range(given, "nproc", 1, 1024);
                            check_range(given, "master-port", 1, 65535);
                            check_range(given, "grace-seconds", 0);
                            if (command.empty()) throw po::error("missing the command after --, e.g. -- run cfg.toml");
                            if (!is_distributed_command(command[0]))
                              throw po::error("'" + command[0] +
                                              "' does not run on several ranks; launch starts run, explore, pairs, "
                                              "train or eval");
                          });
  if (!vm) return vm.exit_code;
  const int nproc = (*vm)["nproc"].as<int>();
  const std::string addr = (*vm)["master-addr"].as<std::string>();
  const int port = vm->count("master-port") ? (*vm)["master-port"].as<int>() : free_port();
  const double grace = (*vm)["grace-seconds"].as<double>();

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::vector<Rank> ranks(static_cast<std::size_t>(nproc));
  for (int r = 0; r < nproc; ++r) {
    ranks[static_cast<std::size_t>(r)].pid = start_rank(r, nproc, addr, port, command);
    ranks[static_cast<std::size_t>(r)].running = ranks[static_cast<std::size_t>(r)].pid > 0;
  }
  int first_failed = -1;
  bool forwarded = false;
  auto failed_at = std::chrono::steady_clock::time_point{};
  int stage = 0;  // after a failure: 0 waiting, 1 SIGTERM sent, 2 SIGKILL sent
  while (reap(ranks, first_failed) > 0) {
    if (g_interrupted && !forwarded) {
      signal_all(ranks, static_cast<int>(g_interrupted));
      forwarded = true;
    }
    if (first_failed >= 0) {
      if (failed_at == std::chrono::steady_clock::time_point{}) failed_at = std::chrono::steady_clock::now();
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - failed_at).count();
      if (stage == 0 && waited > grace) {
        std::fprintf(stderr, "genius launch: stopping the remaining ranks (SIGTERM)\n");
        signal_all(ranks, SIGTERM);
        signal_all(ranks, SIGCONT);  // a stopped (hung) rank acts on SIGTERM only once it runs
        stage = 1;
      } else if (stage == 1 && waited > grace + 10) {
        signal_all(ranks, SIGKILL);
        stage = 2;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (first_failed < 0) return core::kExitOk;
  const int status = ranks[static_cast<std::size_t>(first_failed)].status;
  return WIFEXITED(status) ? WEXITSTATUS(status) : core::kExitRunFailed;
}

}  // namespace genius::cli
