#include <poetryops/util/result.hpp>

namespace poetryops {

const char* to_string(Error::Kind kind) {
    switch (kind) {
        case Error::Kind::transport: return "transport";
        case Error::Kind::timeout: return "timeout";
        case Error::Kind::http: return "http";
        case Error::Kind::decode: return "decode";
        case Error::Kind::invalid: return "invalid";
        case Error::Kind::conflict: return "conflict";
        case Error::Kind::not_found: return "not_found";
        case Error::Kind::gone: return "gone";
        case Error::Kind::unauthorized: return "unauthorized";
        case Error::Kind::internal: return "internal";
    }
    return "unknown";
}

}  // namespace poetryops
