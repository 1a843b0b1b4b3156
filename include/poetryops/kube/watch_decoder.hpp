#pragma once
/// The watch stream decoder: bytes in, events out.
///
/// A Kubernetes watch response is a stream of JSON objects `{"type":"ADDED","object":{...}}`, one
/// per line. The HTTP layer hands us body bytes in whatever pieces the network produced;
/// WatchDecoder buffers only an incomplete trailing event, so the events it yields do not depend on
/// where the pieces were split.
///
///   kube::WatchDecoder dec;
///   auto r = dec.feed(chunk, [&](kube::WatchEvent&& ev) { ... });
///   if (!r) relist();   // garbage: the stream cannot be trusted any more

#include <poetryops/util/result.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace poetryops::kube {

enum class WatchEventType { added, modified, deleted, bookmark, error };

/// "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR".
const char* to_string(WatchEventType t);

/// One decoded watch event. For `error`, `object` is the API Status (see status_object_error()).
struct WatchEvent {
    WatchEventType type = WatchEventType::added;
    nlohmann::json object;
};

/// Incremental decoder. Thread safety: unsafe (one stream, one decoder).
class WatchDecoder {
public:
    /// `max_event_bytes` bounds the buffer for one event: a stream that never sends a newline is
    /// garbage, not a reason to use unbounded memory.
    explicit WatchDecoder(std::size_t max_event_bytes = 32 * 1024 * 1024)
        : max_event_bytes_(max_event_bytes) {}

    /// Decodes every complete event in `buffered + bytes`, calling `on_event` for each in order. On
    /// malformed input returns Error::Kind::decode (reason "BadWatchEvent") naming the problem;
    /// events before it were delivered, and every later call fails until reset().
    Result<void> feed(std::string_view bytes, const std::function<void(WatchEvent&&)>& on_event);

    /// Call at the end of the stream: delivers a final event that lacked its newline, and fails
    /// (decode, reason "TruncatedWatchEvent") when an incomplete event is buffered, which means the
    /// connection dropped mid-event.
    Result<void> finish(const std::function<void(WatchEvent&&)>& on_event);

    void reset();
    /// Bytes held for an incomplete event.
    std::size_t buffered() const { return partial_.size(); }
    /// Events decoded since construction or reset().
    std::size_t events() const { return events_; }

private:
    Result<void> decode_line(std::string_view line,
                             const std::function<void(WatchEvent&&)>& on_event);

    std::string partial_;
    std::size_t max_event_bytes_;
    std::size_t events_ = 0;
    bool failed_ = false;
};

/// Decodes one complete event line (no trailing newline needed). Used by the decoder and by tests.
Result<WatchEvent> decode_watch_event(std::string_view line);

}  // namespace poetryops::kube
