#include "store/durable_callbacks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tally {
namespace {

// Records "ticket:code" per call, in call order.
class Log {
 public:
  DurableCallbacks::Callback For(uint64_t ticket) {
    return [this, ticket](const absl::Status& status) {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(std::to_string(ticket) + ":" + absl::StatusCodeToString(status.code()));
    };
  }
  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> calls_;
};

TEST(DurableCallbacksTest, CalledInlineWhenAlreadyDurable) {
  DurableCallbacks callbacks(5);
  Log log;
  callbacks.Add(5, log.For(5));
  callbacks.Add(0, log.For(0));
  EXPECT_EQ(log.calls(), (std::vector<std::string>{"5:OK", "0:OK"}));
}

TEST(DurableCallbacksTest, WaitsForTheCommitAndCallsInTicketOrder) {
  DurableCallbacks callbacks(0);
  Log log;
  callbacks.Add(3, log.For(3));
  callbacks.Add(1, log.For(1));
  callbacks.Add(2, log.For(2));
  callbacks.Add(1, log.For(10));  // same ticket: after the first one added
  EXPECT_TRUE(log.calls().empty());
  callbacks.Durable(2);
  EXPECT_EQ(log.calls(), (std::vector<std::string>{"1:OK", "10:OK", "2:OK"}));
  callbacks.Durable(1);  // progress never goes back
  callbacks.Add(2, log.For(2));
  EXPECT_EQ(log.calls().size(), 4u);
  callbacks.Durable(3);
  EXPECT_EQ(log.calls().back(), "3:OK");
}

TEST(DurableCallbacksTest, AFailureFailsEverythingNotYetDurable) {
  DurableCallbacks callbacks(1);
  Log log;
  callbacks.Add(2, log.For(2));
  callbacks.Add(3, log.For(3));
  callbacks.SetFailure(absl::UnavailableError("disk full"));
  callbacks.Add(1, log.For(1));  // durable before the failure: still OK
  callbacks.Add(4, log.For(4));  // inline, with the failure
  EXPECT_EQ(log.calls(),
            (std::vector<std::string>{"2:UNAVAILABLE", "3:UNAVAILABLE", "1:OK", "4:UNAVAILABLE"}));
}

TEST(DurableCallbacksTest, ClosingCallsWhatIsPendingWithItsStatus) {
  Log log;
  {
    DurableCallbacks callbacks(0);
    callbacks.Add(1, log.For(1));
    callbacks.Close(absl::AbortedError("closed"));
    callbacks.Add(2, log.For(2));
  }
  {
    DurableCallbacks callbacks(0);
    callbacks.Add(3, log.For(3));
  }  // the destructor closes too
  EXPECT_EQ(log.calls(), (std::vector<std::string>{"1:ABORTED", "2:ABORTED", "3:ABORTED"}));
}

TEST(DurableCallbacksTest, ACallbackMayAddAnother) {
  DurableCallbacks callbacks(0);
  Log log;
  callbacks.Add(1, [&](const absl::Status&) {
    callbacks.Add(1, log.For(100));  // durable, but a delivery is under way: queued behind it
    callbacks.Add(2, log.For(2));    // not yet durable: queued
    log.For(1)(absl::OkStatus());
  });
  callbacks.Durable(1);
  EXPECT_EQ(log.calls(), (std::vector<std::string>{"1:OK", "100:OK"}));
  callbacks.Durable(2);
  EXPECT_EQ(log.calls().back(), "2:OK");
}

// While one thread calls callbacks, an Add for a durable ticket must not
// overtake a callback of an earlier ticket that is still waiting.
TEST(DurableCallbacksTest, AnInlineCallNeverOvertakesAWaitingEarlierTicket) {
  DurableCallbacks callbacks(0);
  Log log;
  std::atomic<bool> in_first{false};
  std::atomic<bool> release{false};
  callbacks.Add(1, [&](const absl::Status&) {
    in_first = true;
    while (!release) std::this_thread::yield();
    log.For(1)(absl::OkStatus());
  });
  callbacks.Add(2, log.For(2));
  std::thread writer([&] { callbacks.Durable(2); });
  while (!in_first) std::this_thread::yield();
  callbacks.Add(2, log.For(20));  // durable, but 2 has not been called yet
  release = true;
  writer.join();
  EXPECT_EQ(log.calls(), (std::vector<std::string>{"1:OK", "2:OK", "20:OK"}));
}

TEST(DurableCallbacksTest, ManyThreadsEveryCallbackOnceAndTheWritersInOrder) {
  constexpr int kThreads = 4;
  constexpr uint64_t kTickets = 2000;
  DurableCallbacks callbacks(0);
  std::mutex mu;
  std::vector<uint64_t> all;
  std::vector<uint64_t> on_writer;  // those the committing thread called
  std::thread::id writer_id;
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      for (uint64_t i = 1 + t; i <= kTickets; i += kThreads) {
        callbacks.Add(i, [&, i](const absl::Status& status) {
          EXPECT_TRUE(status.ok());
          std::lock_guard<std::mutex> lock(mu);
          all.push_back(i);
          if (std::this_thread::get_id() == writer_id) on_writer.push_back(i);
        });
      }
    });
  }
  std::thread writer([&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      writer_id = std::this_thread::get_id();
    }
    go = true;
    for (uint64_t seq = 1; seq <= kTickets; seq += 7) callbacks.Durable(seq);
    callbacks.Durable(kTickets);
  });
  for (std::thread& t : threads) t.join();
  writer.join();
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), kTickets);
  for (uint64_t i = 0; i < kTickets; ++i) EXPECT_EQ(all[i], i + 1);
  EXPECT_TRUE(std::is_sorted(on_writer.begin(), on_writer.end()));
}

}  // namespace
}  // namespace tally
