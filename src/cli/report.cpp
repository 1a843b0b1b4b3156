#include <poetryops/cli/commands.hpp>
#include <poetryops/util/log.hpp>

#include <iostream>

namespace poetryops::cli {

int report_error(const Error& error) {
    std::string msg = log::redact(error.message);
    for (char& c : msg) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    std::cerr << "poetryops: " << msg << '\n';
    switch (error.kind) {
        case Error::Kind::decode:
        case Error::Kind::invalid:
        case Error::Kind::not_found:
        case Error::Kind::conflict: return 2;
        default: return 1;
    }
}

}  // namespace poetryops::cli
