// The informer cache's MessagePack decoder (runtime/detail/compact_json.hpp): what it decodes must
// encode and decode back to the same DOM.
#include "runtime/detail/compact_json.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace poetryops::runtime::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    auto object = decode_compact(bytes);
    if (!object) return 0;
    auto again = decode_compact(encode_compact(*object));
    if (!again) std::abort();
    return 0;
}
