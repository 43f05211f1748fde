// SSE framing and random ids.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "server/ids.h"
#include "server/sse.h"
#include "server/sse_reader.h"

namespace gptoss::server::test {
namespace {

TEST(Sse, DataEventAndDone) {
  EXPECT_EQ(sse::data(R"({"a":1})"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse::event("response.created", "{}"), "event: response.created\ndata: {}\n\n");
  EXPECT_EQ(sse::done(), "data: [DONE]\n\n");
}

TEST(Sse, PayloadOfSeveralLinesReadsBackWhole) {
  const std::string stream = sse::data("one\ntwo") + sse::event("x", "three\n\nfour") + sse::done();
  const std::vector<ServerEvent> events = read_events(stream);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].data, "one\ntwo");
  EXPECT_EQ(events[1].name, "x");
  EXPECT_EQ(events[1].data, "three\n\nfour");
  EXPECT_EQ(events[2].data, "[DONE]");
}

bool alphanumeric(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

TEST(Ids, PrefixThenRandomCharacters) {
  const std::string id = random_id("chatcmpl-");
  ASSERT_EQ(id.size(), 9u + 24u);
  EXPECT_TRUE(id.starts_with("chatcmpl-"));
  EXPECT_TRUE(alphanumeric(id.substr(9)));
  EXPECT_EQ(random_id("call_", 8).size(), 13u);
}

TEST(Ids, DistinctAcrossThreads) {
  std::vector<std::vector<std::string>> drawn(4);
  std::vector<std::thread> threads;
  for (auto& ids : drawn)
    threads.emplace_back([&ids] {
      for (int i = 0; i < 1000; ++i) ids.push_back(random_id("resp_"));
    });
  for (std::thread& t : threads) t.join();
  std::set<std::string> unique;
  for (const auto& ids : drawn) unique.insert(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), 4000u);
}

}  // namespace
}  // namespace gptoss::server::test
