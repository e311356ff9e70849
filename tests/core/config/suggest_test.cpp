#include "config/suggest.hpp"

#include <gtest/gtest.h>

namespace genius::core {
namespace {

TEST(EditDistance, CountsInsertionsDeletionsSubstitutionsAndSwaps) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("beta", "beta"), 0u);
  EXPECT_EQ(edit_distance("beta", "betta"), 1u);  // insertion
  EXPECT_EQ(edit_distance("beta", "bta"), 1u);    // deletion
  EXPECT_EQ(edit_distance("beta", "bete"), 1u);   // substitution
  EXPECT_EQ(edit_distance("beta", "btea"), 1u);   // adjacent swap
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
}

TEST(Nearest, SuggestsOnlyPlausibleTypos) {
  const std::vector<std::string> keys = {"learning_rate", "lr_scheduler", "epochs", "batch_size"};
  EXPECT_EQ(nearest("learning_rat", keys), "learning_rate");
  EXPECT_EQ(nearest("epoch", keys), "epochs");
  EXPECT_EQ(nearest("batchsize", keys), "batch_size");
  EXPECT_EQ(nearest("temperature", keys), "");  // nothing close: no misleading hint
  EXPECT_EQ(nearest("x", {}), "");
}

}  // namespace
}  // namespace genius::core
