// SampleServingOptions: the defaults the brief of the sample service promises, and each bad field named.

#include "coordinator/sample/sample_serving_options.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace tutti::coord {
namespace {

TEST(SampleServingOptionsTest, DefaultsAreValid) {
  const SampleServingOptions options;
  EXPECT_TRUE(ValidateSampleServingOptions(options).ok());
  EXPECT_EQ(options.max_batch_size, 32);
  EXPECT_EQ(options.max_queue_delay_ms, 2);
  EXPECT_EQ(options.default_deadline_s, 30);
  EXPECT_EQ(options.cache_bytes, int64_t{512} << 20);
  EXPECT_EQ(options.device, "cpu");
  EXPECT_TRUE(options.batching);
  for (const std::string device : {"cuda", "cuda:1", "auto"}) {
    SampleServingOptions o;
    o.device = device;
    EXPECT_TRUE(ValidateSampleServingOptions(o).ok()) << device;
  }
}

TEST(SampleServingOptionsTest, BadFieldsAreNamed) {
  const std::vector<std::pair<std::string, std::function<void(SampleServingOptions&)>>> cases = {
      {"max_batch_size", [](SampleServingOptions& o) { o.max_batch_size = 0; }},
      {"max_queue_delay_ms", [](SampleServingOptions& o) { o.max_queue_delay_ms = -1; }},
      {"default_deadline_s", [](SampleServingOptions& o) { o.default_deadline_s = 0; }},
      {"cache_bytes", [](SampleServingOptions& o) { o.cache_bytes = 0; }},
      {"device", [](SampleServingOptions& o) { o.device = "tpu"; }},
      {"device", [](SampleServingOptions& o) { o.device = "cuda:"; }},
      {"batch_threads", [](SampleServingOptions& o) { o.batch_threads = 0; }},
  };
  for (const auto& [field, spoil] : cases) {
    SampleServingOptions options;
    spoil(options);
    const Status status = ValidateSampleServingOptions(options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_EQ(std::string(status.message()).rfind(field + ": ", 0), 0u) << status;
  }
}

}  // namespace
}  // namespace tutti::coord
