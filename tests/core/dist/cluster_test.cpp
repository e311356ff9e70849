// Cluster over loopback: two ranks as two threads of this process, each
// with its own TCPStore connection and Gloo process group.
#include <future>
#include <thread>

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

#include "dist/cluster.hpp"

namespace genius::core {
namespace {

using ::testing::HasSubstr;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

ClusterSpec spec_of(int rank, int world, int port, double timeout = 10) {
  ClusterSpec s;
  s.rank = rank;
  s.world = world;
  s.local_rank = rank;
  s.local_world = world;
  s.master_port = port;
  s.timeout_seconds = timeout;
  return s;
}

// Run `body(cluster)` on `world` ranks at once; returns what each returned.
template <class F>
auto on_ranks(int world, F body, double timeout = 10) {
  const int port = free_port();
  using R = decltype(body(std::declval<Cluster&>()));
  std::vector<std::future<R>> futures;
  for (int r = 0; r < world; ++r)
    futures.push_back(std::async(std::launch::async, [=] {
      std::unique_ptr<Cluster> c = Cluster::connect(spec_of(r, world, port, timeout));
      return body(*c);
    }));
  std::vector<R> results;
  for (auto& f : futures) results.push_back(f.get());
  return results;
}

TEST(Cluster, OneProcessNeedsNoSockets) {
  auto c = Cluster::single();
  EXPECT_FALSE(c->distributed());
  EXPECT_TRUE(c->leader());
  c->barrier("nothing");
  EXPECT_EQ(c->all_gather("x", "abc"), std::vector<std::string>{"abc"});
  EXPECT_EQ(c->sum("s", {1.5, 2}), (std::vector<double>{1.5, 2}));
}

TEST(Cluster, GathersSumsAndReducesOverTwoRanks) {
  const auto results = on_ranks(2, [](Cluster& c) {
    c.barrier("start");
    const std::vector<std::string> parts = c.all_gather("names", std::string("rank-") + char('0' + c.rank()) + '\0');
    const std::vector<double> sums = c.sum("sum", {double(c.rank() + 1), 0.25});
    // Two buckets' worth of tensors of two dtypes, different values per rank.
    std::vector<at::Tensor> tensors = {torch::full({3, 4}, c.rank() + 1.0),
                                       torch::arange(5, torch::kFloat64) * (c.rank() + 1),
                                       torch::full({7u << 20}, 0.5f * float(c.rank() + 1))};
    c.all_reduce_sum("grads", tensors);
    return std::make_tuple(parts, sums, tensors);
  });
  for (const auto& [parts, sums, tensors] : results) {
    EXPECT_EQ(parts, (std::vector<std::string>{std::string("rank-0\0", 7), std::string("rank-1\0", 7)}));
    EXPECT_EQ(sums, (std::vector<double>{3.0, 0.5}));
    EXPECT_TRUE(torch::equal(tensors[0], torch::full({3, 4}, 3.0)));
    EXPECT_TRUE(torch::equal(tensors[1], torch::arange(5, torch::kFloat64) * 3));
    EXPECT_TRUE(torch::equal(tensors[2], torch::full({7u << 20}, 1.5f)));
  }
}

TEST(Cluster, AFailedRankIsNamedByTheOthers) {
  const auto results = on_ranks(2, [](Cluster& c) -> std::string {
    c.barrier("start");
    if (c.rank() == 1) {
      c.fail("could not read the model");
      return "";
    }
    try {
      c.barrier("after");
    } catch (const ClusterError& e) {
      return e.what();
    }
    return "no error";
  });
  EXPECT_THAT(results[0], HasSubstr("rank 1 failed while rank 0 waited at 'after': could not read the model"));
}

TEST(Cluster, ASilentRankIsNamedWithinTheLivenessWindow) {
  const auto started = std::chrono::steady_clock::now();
  const auto results = on_ranks(
      2,
      [](Cluster& c) -> std::string {
        c.barrier("start");
        if (c.rank() == 1) return "";  // leaves: its heartbeat stops
        try {
          c.barrier("never reached by rank 1");
        } catch (const ClusterError& e) {
          return e.what();
        }
        return "no error";
      },
      /*timeout=*/2);
  EXPECT_THAT(results[0], HasSubstr("rank 1 stopped responding"));
  EXPECT_THAT(results[0], HasSubstr("'never reached by rank 1'"));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), 20);
}

TEST(Cluster, RanksAtDifferentCollectivesAreAnError) {
  const auto results = on_ranks(2, [](Cluster& c) -> std::string {
    try {
      c.barrier(c.rank() == 0 ? "explore 1" : "train 1");
    } catch (const ClusterError& e) {
      return e.what();
    }
    return "no error";
  });
  EXPECT_THAT(results[0], HasSubstr("rank 1 is at 'train 1' while rank 0 is at 'explore 1'"));
}

TEST(Cluster, ANeverStartedRankFailsTheRendezvousNamingIt) {
  ClusterSpec s = spec_of(0, 2, free_port(), /*timeout=*/1);
  try {
    Cluster::connect(s);
    FAIL() << "connected without rank 1";
  } catch (const ClusterError& e) {
    EXPECT_THAT(e.what(), HasSubstr("rank(s) 1 of 2 did not join within 1 s"));
  }
}

TEST(ClusterSpec, ReadsTorchrunVariablesAndNamesBadOnes) {
  ::setenv("RANK", "1", 1);
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("LOCAL_RANK", "1", 1);
  ::setenv("LOCAL_WORLD_SIZE", "2", 1);
  ::setenv("MASTER_ADDR", "node-a", 1);
  ::setenv("MASTER_PORT", "1234", 1);
  const ClusterSpec s = ClusterSpec::from_environment();
  EXPECT_EQ(s.rank, 1);
  EXPECT_EQ(s.world, 4);
  EXPECT_EQ(s.local_world, 2);
  EXPECT_EQ(s.master_addr, "node-a");
  EXPECT_EQ(s.master_port, 1234);
  ::setenv("WORLD_SIZE", "two", 1);
  try {
    ClusterSpec::from_environment();
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("WORLD_SIZE='two'"));
  }
  ::setenv("WORLD_SIZE", "1", 1);
  EXPECT_THROW(ClusterSpec::from_environment(), std::runtime_error);  // RANK 1 of 1
  for (const char* v : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"})
    ::unsetenv(v);
  EXPECT_EQ(ClusterSpec::from_environment().world, 1);
}

}  // namespace
}  // namespace genius::core
