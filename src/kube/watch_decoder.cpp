#include <poetryops/kube/watch_decoder.hpp>

#include <cstring>

namespace poetryops::kube {
namespace {

Error bad_event(std::string what) {
    return Error::make(Error::Kind::decode, "watch stream: " + std::move(what), "BadWatchEvent");
}

bool blank(std::string_view s) {
    for (char c : s) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
    }
    return true;
}

bool parse_type(std::string_view s, WatchEventType& out) {
    if (s == "ADDED")
        out = WatchEventType::added;
    else if (s == "MODIFIED")
        out = WatchEventType::modified;
    else if (s == "DELETED")
        out = WatchEventType::deleted;
    else if (s == "BOOKMARK")
        out = WatchEventType::bookmark;
    else if (s == "ERROR")
        out = WatchEventType::error;
    else
        return false;
    return true;
}

}  // namespace

const char* to_string(WatchEventType t) {
    switch (t) {
        case WatchEventType::added: return "ADDED";
        case WatchEventType::modified: return "MODIFIED";
        case WatchEventType::deleted: return "DELETED";
        case WatchEventType::bookmark: return "BOOKMARK";
        case WatchEventType::error: return "ERROR";
    }
    return "UNKNOWN";
}

Result<WatchEvent> decode_watch_event(std::string_view line) {
    auto j = nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        return fail(
            bad_event("an event is not valid JSON (" + std::to_string(line.size()) + " bytes)"));
    }
    if (!j.is_object()) return fail(bad_event("an event is not a JSON object"));
    auto type = j.find("type");
    if (type == j.end() || !type->is_string())
        return fail(bad_event("an event has no \"type\" string"));
    WatchEvent ev;
    if (!parse_type(type->get_ref<const std::string&>(), ev.type)) {
        return fail(
            bad_event("unknown event type \"" + type->get<std::string>().substr(0, 40) + "\""));
    }
    auto obj = j.find("object");
    if (obj == j.end() || !obj->is_object()) return fail(bad_event("an event has no \"object\""));
    ev.object = std::move(*obj);
    return ev;
}

Result<void> WatchDecoder::decode_line(std::string_view line,
                                       const std::function<void(WatchEvent&&)>& on_event) {
    if (blank(line)) return ok();
    auto ev = decode_watch_event(line);
    if (!ev) {
        failed_ = true;
        return fail(std::move(ev).error());
    }
    ++events_;
    on_event(std::move(ev).value());
    return ok();
}

Result<void> WatchDecoder::feed(std::string_view bytes,
                                const std::function<void(WatchEvent&&)>& on_event) {
    if (failed_) return fail(bad_event("decoder already failed; relist"));
    std::size_t pos = 0;
    if (!partial_.empty()) {
        // Complete the buffered event first; only this one event is copied.
        const void* nl = std::memchr(bytes.data(), '\n', bytes.size());
        if (nl == nullptr) {
            if (partial_.size() + bytes.size() > max_event_bytes_) {
                failed_ = true;
                return fail(
                    bad_event("an event exceeds " + std::to_string(max_event_bytes_) + " bytes"));
            }
            partial_.append(bytes);
            return ok();
        }
        std::size_t end = static_cast<const char*>(nl) - bytes.data();
        partial_.append(bytes.substr(0, end));
        std::string line = std::move(partial_);
        partial_.clear();
        pos = end + 1;
        POETRYOPS_TRY_VOID(decode_line(line, on_event));
    }
    while (pos < bytes.size()) {
        const void* nl = std::memchr(bytes.data() + pos, '\n', bytes.size() - pos);
        if (nl == nullptr) break;
        std::size_t end = static_cast<const char*>(nl) - bytes.data();
        POETRYOPS_TRY_VOID(decode_line(bytes.substr(pos, end - pos), on_event));
        pos = end + 1;
    }
    if (pos < bytes.size()) {
        if (bytes.size() - pos > max_event_bytes_) {
            failed_ = true;
            return fail(
                bad_event("an event exceeds " + std::to_string(max_event_bytes_) + " bytes"));
        }
        partial_.assign(bytes.substr(pos));
    }
    return ok();
}

Result<void> WatchDecoder::finish(const std::function<void(WatchEvent&&)>& on_event) {
    if (failed_) return fail(bad_event("decoder already failed; relist"));
    if (blank(partial_)) {
        partial_.clear();
        return ok();
    }
    // The server always ends an event with a newline; a complete object without one is still
    // accepted.
    auto ev = decode_watch_event(partial_);
    partial_.clear();
    if (!ev) {
        return fail(Error::make(Error::Kind::decode,
                                "watch stream ended inside an event (connection dropped)",
                                "TruncatedWatchEvent"));
    }
    ++events_;
    on_event(std::move(ev).value());
    return ok();
}

void WatchDecoder::reset() {
    partial_.clear();
    failed_ = false;
    events_ = 0;
}

}  // namespace poetryops::kube
