#pragma once
// Sends requests to two (or more) MetricsTargets split by traffic weights, as a route does between
// the stable and the canary Service. The split is deterministic (smooth weighted round-robin, as
// nginx does it): with weights 95/5 exactly 5 of every 100 requests go to the second backend.
//
//   LoadGenerator load({{stable.url(), 95}, {canary.url(), 5}});
//   load.send(200);                        // now, from this thread
//   load.start(50);                        // or 50 requests/s in the background…
//   load.set_weights({75, 25});            // …following the canary's steps
//   load.stop();
//
// Thread safety: set_weights(), sent() and failures() from any thread; start()/stop()/send() from
// the owning thread.

#include <poetryops/http/client.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace poetryops::test {

struct Backend {
    std::string url;  ///< e.g. MetricsTarget::url()
    int weight = 0;   ///< relative; 0 sends nothing there
};

class LoadGenerator {
public:
    explicit LoadGenerator(std::vector<Backend> backends);
    ~LoadGenerator();
    LoadGenerator(const LoadGenerator&) = delete;
    LoadGenerator& operator=(const LoadGenerator&) = delete;

    /// New weights, one per backend, in the order given to the constructor.
    void set_weights(const std::vector<int>& weights);
    /// Sends `count` requests now, one after the other. Returns how many got an HTTP answer (any
    /// status; a 500 is an answer).
    int send(int count);
    /// Sends `rate` requests per second from `concurrency` threads until stop().
    void start(double rate, int concurrency = 4);
    void stop();

    /// Requests sent to each backend so far (answered or not).
    std::vector<std::uint64_t> sent() const;
    /// Requests that got no HTTP answer (connection refused, timeout).
    std::uint64_t failures() const { return failures_.load(); }

private:
    /// The next backend by smooth weighted round-robin; -1 when every weight is 0.
    int pick();
    bool send_one();

    std::unique_ptr<http::Client> client_;
    mutable std::mutex mu_;
    std::vector<Backend> backends_;
    std::vector<long long> current_;  // smooth WRR state
    std::vector<std::uint64_t> sent_;
    std::atomic<std::uint64_t> failures_{0};
    std::atomic<bool> running_{false};
    std::vector<std::thread> threads_;
    std::chrono::steady_clock::time_point next_slot_;
    std::chrono::nanoseconds period_{0};
};

}  // namespace poetryops::test
