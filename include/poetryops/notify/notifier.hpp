#pragma once
/// Outgoing notifications (issue #16): a generic JSON webhook signed with HMAC-SHA256, a
/// Slack-compatible incoming webhook and a Microsoft Teams-compatible MessageCard, delivered by one
/// background worker with retries, exponential backoff with jitter and Retry-After.
///
///   notify::Notifier notifier({}, [](const notify::Outcome& o) { ... });
///   notifier.enqueue({.target = t, .message = m, .key = "sha"});  // O(1), never blocks
///
/// The module is an I/O module: it knows events as strings and nothing of the objects that cause
/// them. Deduplication across restarts is the caller's: it gets an Outcome per delivery.

#include <poetryops/http/client.hpp>
#include <poetryops/http/message.hpp>
#include <poetryops/notify/kind.hpp>
#include <poetryops/util/metrics.hpp>
#include <poetryops/util/result.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace poetryops::notify {

/// "webhook", "slack", "teams".
std::string_view to_string(Kind kind);
/// Parses the names to_string() gives; false for anything else.
bool parse_kind(std::string_view s, Kind& out);

/// What happened, in the words every payload uses.
struct Message {
    std::string event{};  ///< reason, e.g. "Promoted"
    std::string ns{};
    std::string name{};
    std::string environment{};
    std::string version{};
    std::string tag{};
    std::string digest{};
    std::string commit{};
    std::string text{};  ///< human-readable message
    std::string time{};  ///< RFC 3339
};

/// Where a notification goes. `url` and `hmac_key` are secrets: never logged.
struct Target {
    std::string name{};
    Kind kind = Kind::webhook;
    std::string url{};
    std::string hmac_key{};  ///< webhook only; empty: unsigned
    std::chrono::milliseconds timeout{10'000};
};

/// The body for `kind` (JSON text).
std::string build_body(Kind kind, const Message& message);

/// The POST for one delivery: body, Content-Type, and for webhooks the headers
/// X-Poetryops-Event, X-Poetryops-Delivery (the dedup key) and, with a key,
/// X-Poetryops-Signature: sha256=<hex HMAC-SHA256 of the body>.
http::Request build_request(const Target& target, const Message& message, std::string_view key);

/// Retry policy: exponential backoff with jitter, honouring Retry-After.
struct RetryPolicy {
    std::chrono::milliseconds initial{1'000};
    std::chrono::milliseconds max_delay{60'000};
    int max_attempts = 6;                        ///< including the first
    std::chrono::milliseconds max_age{600'000};  ///< give up once the delivery is this old
};

/// True for statuses worth another attempt: 408, 425, 429 and 5xx.
bool retryable_status(int status);
/// Retry-After as delay-seconds (RFC 9110 §10.2.3); nullopt when absent or an HTTP-date/garbage.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value);
/// The delay before attempt `attempt + 1` (attempt counts from 1): Retry-After when given (capped
/// at max_delay), else initial*2^(attempt-1) capped at max_delay, scaled by `jitter` in [0.5, 1].
std::chrono::milliseconds retry_delay(const RetryPolicy& policy, int attempt,
                                      std::optional<std::chrono::milliseconds> retry_after,
                                      double jitter);

/// One queued notification.
struct Delivery {
    Target target{};
    Message message{};
    std::string key{};  ///< dedup key (commit sha, or "<uid>/<env>/<digest>/<reason>")
    /// The caller's own reference, never sent: returned in the Outcome, so a caller whose targets
    /// share names and keys (two apps' targets named "slack", one batched commit) knows whose
    /// delivery ended.
    std::string context{};
};

/// The end of one delivery.
struct Outcome {
    std::string target{};
    std::string key{};
    std::string event{};
    bool delivered = false;
    int attempts = 0;
    std::string error{};    ///< when not delivered: the last failure, without the URL
    std::string context{};  ///< the Delivery's
};

struct NotifierOptions {
    std::size_t capacity = 256;  ///< queue bound; enqueue() drops the oldest when full
    RetryPolicy retry{};
    http::ClientOptions client{};
    metrics::MetricsRegistry* metrics = nullptr;  ///< poetryops_notifications_total, _queue_depth
};

/// One worker thread; enqueue() from any thread.
class Notifier {
public:
    using OnOutcome = std::function<void(const Outcome&)>;
    /// Fails when the HTTP client cannot be built (TLS material).
    static Result<std::unique_ptr<Notifier>> create(NotifierOptions options, OnOutcome on_outcome);
    ~Notifier();  ///< stop()
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    /// O(1); never blocks on the network. Returns false when the oldest queued delivery was dropped
    /// to make room (counted as result="dropped").
    bool enqueue(Delivery delivery);
    /// Deliveries waiting (not counting the one in flight).
    std::size_t depth() const;
    /// Ends the worker; queued deliveries are abandoned (the caller re-derives them on restart).
    void stop();

private:
    Notifier(NotifierOptions options, std::unique_ptr<http::Client> client, OnOutcome on_outcome);
    void run();
    Outcome deliver(const Delivery& d);
    bool sleep_for(std::chrono::milliseconds d);
    void count(const Target& t, std::string_view result);

    NotifierOptions options_;
    std::unique_ptr<http::Client> client_;
    OnOutcome on_outcome_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Delivery> queue_;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace poetryops::notify
