// Smart-HTTP: pkt-line framing and the receive-pack report-status (inside side-band-64k) parser
// (git/detail/smart_http.hpp), on a server's response body.
#include "git/detail/smart_http.hpp"

#include <cstdint>
#include <string_view>

using namespace poetryops::git::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    (void)parse_pkt_lines(body);
    (void)parse_push_response(body, "refs/heads/main");
    return 0;
}
